// The browser kiosk /kiosk: a sponsor's booth client on a phone, tablet or laptop.
//
// - Pairing exchanges the organiser's one-time code for the kiosk token, which the server sets as
//   an HttpOnly cookie on /kiosk: no script ever holds it. The page's calls go to
//   /kiosk/api/v1/..., where the browser sends that cookie.
// - Badges come from a USB/Bluetooth scanner (a burst of keys wherever the focus is), the camera
//   (BarcodeDetector or the vendored jsQR), or the code typed by hand; a badge's QR holds the
//   token itself or a link /b#token.
// - Every scan is checked at once against the event's badge keys kept from pairing (a forged or
//   foreign badge is refused on the spot, even offline), written to the on-device queue, then sent.
//   Without a connection it stays queued and the screen says QUEUED; the queue is sent by itself
//   when the connection returns. Each scan carries its own client scan id, so a scan sent twice
//   (an answer lost mid-sync) still counts once.
// - The outcome fills the screen: colour, icon and word, a flash and a number per scan, sound and
//   vibration if wanted.

import { ApiProblem, h, joinUserText, status, userText } from './api.js';
import { checkBadge, tokenFromScan } from './badge-check.js';
import { cameraAvailable, startCamera } from './camera.js';
import { lang, onLanguage, plural, problemText, setUpSwitch, t, tNodes, translate } from './i18n.js';
import * as store from './kiosk-store.js';
import { listenForScanner } from './scanner-burst.js';

const API = '/kiosk/api/v1';
/** A scan answered later than this is left in the queue and the screen says QUEUED. */
const SEND_TIMEOUT_MS = 8000;
/** The camera sees a held-up badge many times a second: within this it is one scan. */
const SAME_BADGE_MS = 5000;
/** Waits between attempts to send the queue while the server cannot be reached. */
const RETRY_MS = [2000, 4000, 8000, 15000, 30000];
const PREFS_KEY = 'consentry.kiosk.prefs';
const KIOSK_GONE = ['kiosk_revoked', 'kiosk_token_expired', 'invalid_kiosk_token', 'authentication_required'];

let kiosk = null; // { kiosk_id, event, sponsor, badge_keys } as last confirmed by the server
let leads = [];
let leadsState = 'idle'; // 'idle' | 'loading' | 'loaded' | 'offline'
let camera = null;
let scansThisSession = 0;
let shownScan = 0; // the number of the scan whose outcome is on screen
let outcomeNow = { kind: 'ready' };
/** Whether the sponsor's booth QR is on screen: after a `no_consent` refusal, or on demand. */
let boothShown = false;
let waiting = 0;
let syncing = false;
let retryStep = 0;
let retryTimer = null;
let kioskGone = null;
let lastCode = { token: '', at: 0 };
const inFlight = new Set();
const synced = []; // outcomes the server decided for queued scans, newest first (the last 20)
const prefs = { sound: false, vibrate: true, ...JSON.parse(localStorage.getItem(PREFS_KEY) || '{}') };

// ---------------------------------------------------------------------------------------------
// Talking to the server

/** A kiosk call: JSON in and out, the kiosk cookie sent, and a time limit. */
async function call(method, path, body, timeoutMs = SEND_TIMEOUT_MS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path.startsWith('/kiosk/') ? path : `${API}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch {
    throw new ApiProblem({ code: 'network' }, 0);
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiProblem({ code: 'network' }, response.status);
  }
  if (!response.ok) throw new ApiProblem(data, response.status);
  return data;
}

/** Whether an error means "try again later" rather than "the server said no". */
function transient(err) {
  return err.code === 'network' || err.status >= 500 || err.status === 429 || err.status === 408;
}

function gone(err) {
  return err.status === 401 && KIOSK_GONE.includes(err.code);
}

// ---------------------------------------------------------------------------------------------
// The outcome panel

const SVG = 'http://www.w3.org/2000/svg';
// Each outcome has its own shape as well as its own colour: a tick, a cross, a clock, dots.
const ICONS = {
  ready: ['M30 38V30h8M62 30h8v8M70 62v8h-8M38 70h-8v-8'],
  checking: ['M32 50h.01M50 50h.01M68 50h.01'],
  accepted: ['M29 51l14 14 28-31'],
  refused: ['M34 34l32 32M66 34L34 66'],
  queued: ['M50 30v20l13 9'],
  error: ['M50 30v24M50 68h.01'],
};

function icon(kind) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 100 100');
  const circle = document.createElementNS(SVG, 'circle');
  circle.setAttribute('cx', '50');
  circle.setAttribute('cy', '50');
  circle.setAttribute('r', '44');
  svg.append(circle);
  for (const d of ICONS[kind]) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

function personName(contact) {
  return [contact.first_name, contact.last_name].filter(Boolean).join(' ');
}

/**
 * The words of an outcome, in the current language; `detailNodes`, when set, is `detail` with the
 * attendee's own text isolated, for the screen (the announcement takes the plain `detail`).
 */
function outcomeText(o) {
  switch (o.kind) {
    case 'ready':
      return { word: t('kiosk.ready'), detail: t(camera ? 'kiosk.ready.camera' : 'kiosk.ready.detail') };
    case 'checking':
      return { word: t('kiosk.checking'), detail: t('kiosk.checking.detail') };
    case 'accepted': {
      const c = o.contact;
      const parts = [personName(c), c.company];
      const who = parts.filter(Boolean).join(', ');
      if (!who) return { word: t('kiosk.accepted'), detail: t('kiosk.accepted.detail') };
      return { word: t('kiosk.accepted'), detail: who, detailNodes: joinUserText(parts, ', ') };
    }
    case 'refused':
      return { word: t('kiosk.refused'), detail: t(`kiosk.reason.${o.reason}`) };
    case 'queued':
      return { word: t('kiosk.queued'), detail: plural('kiosk.queued.detail', waiting) };
    default:
      return { word: t('kiosk.error'), detail: o.message };
  }
}

function renderOutcome() {
  const box = document.getElementById('outcome');
  const { word, detail, detailNodes } = outcomeText(outcomeNow);
  box.dataset.outcome = outcomeNow.kind;
  document.getElementById('outcome-icon').replaceChildren(icon(outcomeNow.kind));
  const wordEl = document.getElementById('outcome-word');
  wordEl.textContent = word;
  // Long words (GEACCEPTEERD) get a smaller size so that they still fit a phone's width.
  wordEl.style.setProperty('--letters', String(Math.max(word.length, 6)));
  document.getElementById('outcome-detail').replaceChildren(...(detailNodes ?? [detail]));
  document.getElementById('outcome-count').textContent =
    outcomeNow.number ? t('kiosk.scan.number', { number: outcomeNow.number }) : '';
}

/**
 * The sponsor's booth link as a large QR code, for an attendee who wants the sponsor to have
 * their details: they scan it with their own phone and share there (the booth page, /s/{code}).
 */
function renderBoothShare() {
  const link = kiosk?.sponsor?.booth_qr_url;
  const button = document.getElementById('show-booth');
  button.hidden = !link;
  button.textContent = t(boothShown ? 'kiosk.booth.hide' : 'kiosk.booth.show');
  button.setAttribute('aria-expanded', String(Boolean(link && boothShown)));
  const section = document.getElementById('booth-share');
  section.hidden = !(link && boothShown);
  // The image is asked for only when shown: an offline kiosk does not fetch it for nothing.
  if (!link || !boothShown) return;
  const sponsor = kiosk.sponsor.name;
  document.getElementById('booth-share-line').replaceChildren(...tNodes('kiosk.booth.line', { sponsor }));
  const qr = document.getElementById('booth-qr');
  if (qr.getAttribute('src') !== link) qr.src = link;
  qr.alt = t('kiosk.booth.alt', { sponsor });
  document.getElementById('booth-share-url').textContent = kiosk.sponsor.booth_url;
}

/** Show scan `number`'s outcome, unless a later scan's is already on screen. */
function showOutcome(number, outcome) {
  if (number < shownScan) return;
  shownScan = number;
  outcomeNow = { ...outcome, number };
  renderOutcome();
  // A refusal for want of consent offers the booth link; the next scan's outcome replaces it.
  if (outcome.kind !== 'checking') {
    boothShown = outcome.kind === 'refused' && outcome.reason === 'no_consent';
    renderBoothShare();
  }
  const box = document.getElementById('outcome');
  // The same outcome twice in a row must still look like something happened: restart the flash.
  box.classList.remove('flash');
  void box.offsetWidth;
  box.classList.add('flash');
  if (outcome.kind !== 'checking') {
    const { word, detail } = outcomeText(outcomeNow);
    const share = boothShown && kiosk?.sponsor?.booth_qr_url
      ? ` ${t('kiosk.booth.line', { sponsor: kiosk.sponsor.name })}` : '';
    document.getElementById('announce').textContent = `${word}. ${detail}${share}`;
    signal(outcome.kind);
  }
}

let audio = null;
/** A short sound and vibration per outcome, if the sponsor turned them on. */
function signal(kind) {
  const patterns = { accepted: [60], refused: [90, 60, 90, 60, 90], queued: [200] };
  if (prefs.vibrate && navigator.vibrate && patterns[kind]) navigator.vibrate(patterns[kind]);
  if (!prefs.sound) return;
  const tones = { accepted: [660, 880], refused: [220, 180], queued: [440], error: [220, 180] }[kind];
  if (!tones) return;
  try {
    audio ??= new AudioContext();
    tones.forEach((frequency, i) => {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      oscillator.type = kind === 'accepted' ? 'sine' : 'square';
      gain.gain.value = 0.15;
      oscillator.connect(gain).connect(audio.destination);
      const start = audio.currentTime + i * 0.14;
      oscillator.start(start);
      oscillator.stop(start + 0.12);
    });
  } catch {
    // No audio on this device: the screen says it all.
  }
}

// ---------------------------------------------------------------------------------------------
// Scanning

/** A badge from any source: check it here, keep it on the device, send it. */
async function scan(text) {
  if (!kiosk || kioskGone) return;
  const token = tokenFromScan(text);
  if (!token) return;
  const number = ++scansThisSession;
  let check = await checkBadge(token, kiosk.badge_keys, kiosk.event.id);
  if (!check.ok && check.reason === 'unknown_key' && (await refreshKiosk())) {
    // Signed by a key this device had not seen: perhaps one the organiser added since pairing.
    check = await checkBadge(token, kiosk.badge_keys, kiosk.event.id);
  }
  if (!check.ok && check.reason !== 'unknown_key') {
    showOutcome(number, { kind: 'refused', reason: check.reason });
    return;
  }
  const queuedScan = {
    client_scan_id: clientScanId(),
    badge_token: token,
    scanned_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    queued_at: Date.now(),
  };
  // A key still unknown: a genuine badge of another event, or a forgery. Only the server can
  // tell, so such a scan is asked about now and never queued.
  const verified = check.ok;
  if (!verified && !navigator.onLine) {
    showOutcome(number, { kind: 'refused', reason: 'unknown_key' });
    return;
  }
  // Claimed before it is queued, so that a sync running meanwhile leaves it to this call.
  inFlight.add(queuedScan.client_scan_id);
  // On the device before anything is sent: the scan survives a dead connection, a reload, a crash.
  if (verified) await store.enqueue(queuedScan);
  if (!navigator.onLine) {
    inFlight.delete(queuedScan.client_scan_id);
    await updateWaiting();
    showOutcome(number, { kind: 'queued' });
    scheduleRetry();
    return;
  }
  showOutcome(number, { kind: 'checking' });
  const answer = await send(queuedScan);
  await updateWaiting();
  if (answer.result) {
    showOutcome(number, resultOutcome(answer.result));
    if (answer.result.outcome === 'accepted') loadLeads();
  } else if (answer.later && !verified) {
    showOutcome(number, { kind: 'refused', reason: 'unknown_key' });
  } else if (answer.later) {
    showOutcome(number, { kind: 'queued' });
    scheduleRetry();
  } else {
    showOutcome(number, { kind: 'error', message: problemText(answer.problem.problem) });
  }
}

/**
 * A random (version 4) UUID for a scan. `crypto.randomUUID` exists only in secure contexts, and a
 * kiosk may be opened over plain HTTP on a venue's network; `getRandomValues` exists everywhere.
 */
function clientScanId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function resultOutcome(result) {
  return result.outcome === 'accepted'
    ? { kind: 'accepted', contact: result.lead.contact }
    : { kind: 'refused', reason: result.reason };
}

/**
 * Send one queued scan. `{ result }`: the server decided (and the scan has left the queue);
 * `{ later: true }`: no answer, it stays queued; `{ problem }`: the server refused the request
 * itself (it leaves the queue, except when the kiosk is no longer paired).
 */
async function send(queuedScan) {
  const id = queuedScan.client_scan_id;
  inFlight.add(id);
  try {
    const result = await call('POST', '/scans', {
      client_scan_id: id,
      badge_token: queuedScan.badge_token,
      scanned_at: queuedScan.scanned_at,
    });
    await store.dequeue(id);
    return { result };
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    if (transient(err)) return { later: true };
    if (gone(err)) {
      lostPairing(err);
      return { problem: err };
    }
    await store.dequeue(id);
    return { problem: err };
  } finally {
    inFlight.delete(id);
  }
}

async function updateWaiting() {
  waiting = await store.queueSize();
  renderConnection();
  if (outcomeNow.kind === 'queued') renderOutcome();
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  const wait = RETRY_MS[Math.min(retryStep, RETRY_MS.length - 1)];
  retryStep += 1;
  retryTimer = setTimeout(sync, wait);
}

/**
 * Send every queued scan, oldest first, one tab of this browser at a time. Resolves to whether it
 * reloaded the leads (it does when a sent scan became one).
 */
async function sync() {
  if (syncing || !kiosk || kioskGone) return false;
  syncing = true;
  renderConnection();
  let accepted = false;
  const work = async () => {
    for (const queuedScan of await store.queued()) {
      if (inFlight.has(queuedScan.client_scan_id)) continue;
      const answer = await send(queuedScan);
      if (answer.later) {
        scheduleRetry();
        return;
      }
      if (kioskGone) return;
      synced.unshift(answer.result ? resultOutcome(answer.result) : {
        kind: 'error', message: problemText(answer.problem.problem),
      });
      synced.length = Math.min(synced.length, 20);
      accepted ||= answer.result?.outcome === 'accepted';
      await updateWaiting();
      renderSynced();
    }
    retryStep = 0;
  };
  try {
    if (navigator.locks) await navigator.locks.request('consentry-kiosk-sync', work);
    else await work();
  } finally {
    syncing = false;
    await updateWaiting();
  }
  if (accepted) await loadLeads();
  return accepted;
}

/** Send the queue, then show the leads as they are after it, fetched once. */
async function syncThenLeads() {
  if (!(await sync())) await loadLeads();
}

function renderConnection() {
  const el = document.getElementById('connection');
  let state = 'online';
  let text = t('kiosk.online');
  if (kioskGone) {
    state = 'offline';
    text = t('kiosk.unpaired');
  } else if (!navigator.onLine) {
    state = 'offline';
    text = waiting ? `${t('kiosk.offline')} · ${plural('kiosk.waiting', waiting)}` : t('kiosk.offline');
  } else if (syncing && waiting) {
    state = 'sending';
    text = plural('kiosk.sending', waiting);
  } else if (waiting) {
    state = 'sending';
    text = plural('kiosk.waiting', waiting);
  }
  el.dataset.state = state;
  el.textContent = text;
}

function renderSynced() {
  const list = document.getElementById('synced');
  if (!synced.length) {
    list.replaceChildren();
    return;
  }
  list.replaceChildren(
    h('li', { class: 'synced-title' }, t('kiosk.synced')),
    ...synced.map((o) => {
      const { word, detail, detailNodes } = outcomeText(o);
      return h('li', { 'data-outcome': o.kind }, h('strong', {}, word), ' – ', detailNodes ?? detail);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The camera

async function toggleCamera() {
  const problem = document.getElementById('camera-problem');
  problem.hidden = true;
  if (camera) {
    stopCamera();
    return;
  }
  if (!cameraAvailable()) {
    problem.textContent = t('kiosk.camera.none');
    problem.hidden = false;
    return;
  }
  const viewfinder = document.getElementById('viewfinder');
  viewfinder.hidden = false;
  try {
    camera = await startCamera(document.getElementById('video'), (text) => {
      const token = tokenFromScan(text);
      const now = Date.now();
      // One scan per badge presented, not one per frame while it is held up.
      if (token === lastCode.token && now - lastCode.at < SAME_BADGE_MS) {
        lastCode.at = now;
        return;
      }
      lastCode = { token, at: now };
      scan(text);
    });
    document.getElementById('viewfinder').dataset.engine = camera.engine;
  } catch (err) {
    viewfinder.hidden = true;
    camera = null;
    problem.textContent = t(err?.name === 'NotAllowedError' ? 'kiosk.camera.denied' : 'kiosk.camera.failed');
    problem.hidden = false;
  }
  renderControls();
  if (outcomeNow.kind === 'ready') renderOutcome();
}

function stopCamera() {
  camera?.stop();
  camera = null;
  document.getElementById('viewfinder').hidden = true;
  renderControls();
  if (outcomeNow.kind === 'ready') renderOutcome();
}

function renderControls() {
  document.getElementById('camera').textContent = t(camera ? 'kiosk.camera.stop' : 'kiosk.camera.start');
  const torch = document.getElementById('torch');
  torch.hidden = !camera?.torch;
  torch.setAttribute('aria-pressed', String(Boolean(camera?.torch?.on)));
  document.getElementById('sound').checked = prefs.sound;
  document.getElementById('vibrate').checked = prefs.vibrate;
  document.getElementById('vibrate').closest('label').hidden = !navigator.vibrate;
}

// ---------------------------------------------------------------------------------------------
// Leads: fetched fresh, kept in memory only

async function loadLeads() {
  if (!kiosk || kioskGone) return;
  leadsState = leads.length ? leadsState : 'loading';
  try {
    const all = [];
    for (let page = 1; page <= 50; page += 1) {
      const answer = await call('GET', `/leads?per_page=200&page=${page}`);
      all.push(...answer.leads);
      if (all.length >= answer.total || answer.leads.length === 0) break;
    }
    leads = all;
    leadsState = 'loaded';
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    if (gone(err)) lostPairing(err);
    else if (transient(err)) leadsState = 'offline';
    else status(problemText(err.problem), 'error');
  }
  renderLeads();
}

function matches(lead, words) {
  const c = lead.contact;
  const text = [c.first_name, c.last_name, c.company, c.email, c.job_title, lead.note, ...lead.tags]
    .filter(Boolean).join(' ').toLocaleLowerCase();
  return words.every((w) => text.includes(w));
}

function renderLeads() {
  const list = document.getElementById('leads');
  const summary = document.getElementById('leads-summary');
  const words = document.getElementById('lead-search').value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (leadsState === 'offline' && !leads.length) {
    summary.textContent = t('kiosk.leads.offline');
    list.replaceChildren();
    return;
  }
  if (leadsState === 'loading') {
    summary.textContent = t('loading');
    list.replaceChildren();
    return;
  }
  const shown = leads.filter((lead) => matches(lead, words));
  // The list is drawn anew whenever a scan adds a lead: the field being edited keeps its focus and
  // caret (its unsaved text is in `drafts`).
  const focused = document.activeElement;
  const refocus = list.contains(focused) && focused.id
    ? { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd }
    : null;
  if (words.length) summary.textContent = t('kiosk.leads.found', { shown: shown.length, total: leads.length });
  else if (leads.length) summary.textContent = plural('kiosk.leads.count', leads.length);
  else summary.textContent = t('kiosk.leads.none');
  list.replaceChildren(...shown.map(leadItem));
  const again = refocus && document.getElementById(refocus.id);
  if (again) {
    again.focus();
    if (typeof refocus.start === 'number') again.setSelectionRange(refocus.start, refocus.end);
  }
}

/** Edits not saved yet, by lead id: a new scan redraws the list without losing them. */
const drafts = new Map();

const RATINGS = [0, 1, 2, 3, 4, 5];

function leadItem(lead) {
  const c = lead.contact;
  const id = `lead-${lead.id}`;
  const draft = drafts.get(lead.id) ?? {};
  const rating = h('select', { id: `${id}-rating`, name: 'rating' },
    lead.rating === null ? h('option', { value: '' }, t('kiosk.rating.none')) : null,
    RATINGS.map((n) => h('option', { value: n }, t(`kiosk.rating.${n}`))));
  rating.value = draft.rating ?? String(lead.rating ?? '');
  const note = h('textarea', { id: `${id}-note`, name: 'note', rows: 2, maxlength: 2000, dir: 'auto' });
  note.value = draft.note ?? lead.note ?? '';
  const tags = h('input', {
    type: 'text', id: `${id}-tags`, name: 'tags', autocomplete: 'off', dir: 'auto',
    'aria-describedby': `${id}-tags-hint`,
  });
  tags.value = draft.tags ?? lead.tags.join(', ');
  const keepDraft = () => drafts.set(lead.id, { rating: rating.value, note: note.value, tags: tags.value });
  for (const field of [rating, note, tags]) field.addEventListener('input', keepDraft);
  const saved = h('span', { class: 'saved', role: 'status' });
  const save = async (e) => {
    e.preventDefault();
    saved.textContent = '';
    const body = {
      note: note.value.trim() || null,
      tags: tags.value.split(',').map((tag) => tag.trim()).filter(Boolean),
    };
    if (rating.value !== '') body.rating = Number(rating.value);
    try {
      const updated = await call('PATCH', `/leads/${lead.id}`, body);
      Object.assign(lead, updated);
      drafts.delete(lead.id);
      saved.textContent = t('kiosk.saved');
    } catch (err) {
      if (!(err instanceof ApiProblem)) throw err;
      if (gone(err)) lostPairing(err);
      saved.textContent = transient(err) ? t('kiosk.not_saved.offline') : problemText(err.problem);
    }
  };
  const facts = joinUserText([c.job_title, c.company, c.email, c.phone, c.country], ' · ');
  const when = new Intl.DateTimeFormat(lang() === 'nl' ? 'nl-NL' : 'en-GB', { timeStyle: 'short' })
    .format(new Date(lead.last_scanned_at));
  return h('li', { class: 'lead', 'data-lead': lead.id },
    h('h3', {}, userText(personName(c)) ?? t('kiosk.lead.unnamed')),
    facts.length ? h('p', {}, facts) : null,
    h('p', { class: 'more-plain' }, `${plural('kiosk.scans', lead.scan_count)} · ${t('kiosk.last_scan', { time: when })}`),
    h('form', { onsubmit: save, class: 'lead-form' },
      h('div', { class: 'field' }, h('label', { for: `${id}-rating` }, t('kiosk.rating')), rating),
      h('div', { class: 'field' }, h('label', { for: `${id}-note` }, t('kiosk.note')), note),
      h('div', { class: 'field' }, h('label', { for: `${id}-tags` }, t('kiosk.tags')), tags,
        h('p', { id: `${id}-tags-hint`, class: 'more-plain' }, t('kiosk.tags.hint'))),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, t('kiosk.save')), saved)));
}

// ---------------------------------------------------------------------------------------------
// Pairing

/** Ask the server who this kiosk is (fresh badge keys included). False when it cannot answer. */
async function refreshKiosk() {
  try {
    const info = await call('GET', '/kiosk');
    kiosk = { kiosk_id: info.kiosk_id, event: info.event, sponsor: info.sponsor, badge_keys: info.badge_keys };
    await store.saveKiosk(kiosk);
    return true;
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    if (gone(err)) lostPairing(err);
    return false;
  }
}

/**
 * The server no longer accepts this kiosk (revoked by the organiser, or expired). The queue stays:
 * pairing again for the same booth sends it.
 */
function lostPairing(err) {
  if (kioskGone || !kiosk) return;
  kioskGone = err;
  stopCamera();
  status(`${problemText(err.problem)} ${waiting ? plural('kiosk.lost', waiting) : ''}`.trim(), 'error');
  show();
}

async function pair(e) {
  e.preventDefault();
  const error = document.getElementById('code-error');
  const code = document.getElementById('code');
  error.hidden = true;
  code.removeAttribute('aria-invalid');
  const device = document.getElementById('device').value.trim();
  try {
    const info = await call('POST', '/kiosk/pair', { code: code.value, device_name: device || null });
    const before = await store.loadKiosk();
    // Scans still queued from an earlier pairing of this same booth are sent by this one; anything
    // else left on the device is forgotten.
    if (before?.event.id !== info.event.id || before?.sponsor.id !== info.sponsor.id) {
      await store.forgetAll();
    }
    kiosk = { kiosk_id: info.kiosk_id, event: info.event, sponsor: info.sponsor, badge_keys: info.badge_keys };
    await store.saveKiosk(kiosk);
    kioskGone = null;
    waiting = await store.queueSize();
    // The code is used up; do not leave it in the address bar or the history.
    history.replaceState(null, '', '/kiosk');
    status('');
    show();
    syncThenLeads();
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    error.textContent = problemText(err.problem);
    error.hidden = false;
    if (err.code !== 'network') code.setAttribute('aria-invalid', 'true');
    code.focus();
  }
}

function askToUnpair() {
  const dialog = document.getElementById('unpair-dialog');
  const queuedNote = document.getElementById('unpair-queued');
  queuedNote.hidden = waiting === 0;
  queuedNote.textContent = plural('kiosk.unpair.queued', waiting);
  dialog.returnValue = '';
  dialog.showModal();
}

async function unpair() {
  stopCamera();
  try {
    await call('POST', '/kiosk/unpair');
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    // Offline: the device forgets the kiosk anyway; the organiser can revoke it in the console.
  }
  await store.forgetAll();
  kiosk = null;
  kioskGone = null;
  leads = [];
  drafts.clear();
  synced.length = 0;
  waiting = 0;
  show();
}

// ---------------------------------------------------------------------------------------------
// The page

function show() {
  const paired = Boolean(kiosk) && !kioskGone;
  document.getElementById('pair').hidden = paired;
  document.getElementById('booth').hidden = !paired;
  if (!paired) {
    const code = new URLSearchParams(location.hash.slice(1)).get('code');
    if (code) document.getElementById('code').value = code;
    document.getElementById('code').focus();
    return;
  }
  const title = joinUserText([kiosk.sponsor.name, kiosk.event.name], ' · ');
  document.getElementById('booth-title').replaceChildren(...title);
  document.getElementById('lead-search').placeholder = t('kiosk.search');
  renderConnection();
  renderOutcome();
  renderBoothShare();
  renderControls();
  renderLeads();
  renderSynced();
}

function savePrefs() {
  localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
}

async function start() {
  translate();
  setUpSwitch();
  onLanguage(() => show());
  document.getElementById('pair').addEventListener('submit', pair);
  document.getElementById('scan').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = document.getElementById('scan-input');
    const value = input.value;
    input.value = '';
    await scan(value);
  });
  document.getElementById('camera').addEventListener('click', toggleCamera);
  document.getElementById('show-booth').addEventListener('click', () => {
    boothShown = !boothShown;
    renderBoothShare();
  });
  document.getElementById('torch').addEventListener('click', async () => {
    try {
      await camera?.torch?.set(!camera.torch.on);
    } catch {
      // Some cameras list a torch they cannot switch.
    }
    renderControls();
  });
  document.getElementById('sound').addEventListener('change', (e) => {
    prefs.sound = e.target.checked;
    savePrefs();
    if (prefs.sound) signal('accepted'); // a sample, and browsers start audio only after a tap
  });
  document.getElementById('vibrate').addEventListener('change', (e) => {
    prefs.vibrate = e.target.checked;
    savePrefs();
  });
  document.getElementById('lead-search').addEventListener('input', renderLeads);
  document.getElementById('unpair').addEventListener('click', askToUnpair);
  document.getElementById('unpair-dialog').addEventListener('close', (e) => {
    if (e.target.returnValue === 'unpair') unpair();
  });
  listenForScanner((text) => scan(text), {
    enabled: () => Boolean(kiosk) && !kioskGone && !document.getElementById('unpair-dialog').open,
  });
  window.addEventListener('online', () => {
    retryStep = 0;
    renderConnection();
    refreshKiosk().then(syncThenLeads);
  });
  window.addEventListener('offline', renderConnection);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && waiting) sync();
  });

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/kiosk/sw.js', { scope: '/kiosk' }).catch(() => {
      // Without it the kiosk works online; only a reload without a connection fails.
    });
  }

  kiosk = await store.loadKiosk();
  waiting = await store.queueSize();
  show();
  if (!(await store.durable())) status(t('kiosk.not_durable'), 'error');
  // The server has the last word: a kiosk revoked meanwhile, fresh badge keys.
  if (kiosk && navigator.onLine) {
    const known = await refreshKiosk();
    if (known) {
      show();
      syncThenLeads();
    }
  } else if (kiosk) {
    leadsState = 'offline';
    renderLeads();
  }
  document.body.dataset.ready = 'true';
}

await start();
