// The browser kiosk /kiosk: pair with the organiser's code (from the form or a `#code=` link),
// then scan badges through a focused input (USB scanners type the code and Enter) or the camera
// where the browser has BarcodeDetector, show a big ACCEPTED/REFUSED, and keep the sponsor's
// leads with rating and note. The kiosk token stays on this device (localStorage).

import { api, h, status, ApiProblem } from './api.js';
import { t, translate, setUpSwitch, onLanguage, problemText } from './i18n.js';

const STORAGE_KEY = 'consentry.kiosk';
let kiosk = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
let leads = [];
let detector = null;
let stream = null;
let lastToken = { value: '', at: 0 };

function token() {
  return kiosk?.token;
}

function fail(err) {
  if (!(err instanceof ApiProblem)) throw err;
  status(problemText(err.problem), 'error');
  if (['kiosk_revoked', 'kiosk_token_expired', 'invalid_kiosk_token'].includes(err.code)) {
    unpair(false);
  }
}

function show() {
  const paired = Boolean(kiosk);
  document.getElementById('pair').hidden = paired;
  document.getElementById('booth').hidden = !paired;
  if (paired) {
    document.getElementById('booth-title').textContent = `${kiosk.sponsor.name} · ${kiosk.event.name}`;
    renderLeads();
    const camera = document.getElementById('camera');
    camera.textContent = t(stream ? 'kiosk.camera.stop' : 'kiosk.camera.start');
    camera.hidden = !detector;
    document.getElementById('camera-none').hidden = Boolean(detector);
    document.getElementById('scan-input').focus();
  } else {
    const code = new URLSearchParams(location.hash.slice(1)).get('code');
    if (code) document.getElementById('code').value = code;
    document.getElementById('code').focus();
  }
}

async function pair(e) {
  e.preventDefault();
  const error = document.getElementById('code-error');
  error.hidden = true;
  const device = document.getElementById('device').value.trim();
  try {
    const paired = await api('POST', '/kiosks/pair', {
      code: document.getElementById('code').value,
      device_name: device || null,
    });
    kiosk = { token: paired.token, event: paired.event, sponsor: paired.sponsor };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(kiosk));
    // The code is used up; do not leave it in the address bar or history.
    history.replaceState(null, '', '/kiosk');
    status('');
    show();
    await loadLeads();
  } catch (err) {
    if (err instanceof ApiProblem && err.code !== 'network') {
      error.textContent = problemText(err.problem);
      error.hidden = false;
      document.getElementById('code').setAttribute('aria-invalid', 'true');
      document.getElementById('code').focus();
    } else {
      fail(err);
    }
  }
}

function unpair(confirmFirst = true) {
  if (confirmFirst && !window.confirm(t('kiosk.unpair'))) return;
  stopCamera();
  kiosk = null;
  leads = [];
  localStorage.removeItem(STORAGE_KEY);
  show();
}

function result(accepted, detail) {
  const box = document.getElementById('result');
  box.hidden = false;
  box.dataset.outcome = accepted ? 'accepted' : 'refused';
  document.getElementById('result-word').textContent = t(accepted ? 'kiosk.accepted' : 'kiosk.refused');
  document.getElementById('result-detail').textContent = detail;
}

async function scan(badgeToken) {
  const value = badgeToken.trim();
  if (!value) return;
  try {
    const answer = await api('POST', '/scans', {
      badge_token: value,
      client_scan_id: crypto.randomUUID(),
      scanned_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    }, token());
    if (answer.outcome === 'accepted') {
      const c = answer.lead.contact;
      result(true, [c.first_name, c.last_name, c.company].filter(Boolean).join(' · '));
      await loadLeads();
    } else {
      result(false, t(`reason.${answer.reason}`));
    }
  } catch (err) {
    fail(err);
  }
}

async function loadLeads() {
  try {
    leads = (await api('GET', '/leads?per_page=200', undefined, token())).leads;
    renderLeads();
  } catch (err) {
    fail(err);
  }
}

function renderLeads() {
  const list = document.getElementById('leads');
  if (!leads.length) {
    list.replaceChildren(h('li', {}, t('kiosk.leads.none')));
    return;
  }
  list.replaceChildren(...leads.map((lead) => {
    const c = lead.contact;
    const id = `lead-${lead.id}`;
    const rating = h('select', { id: `${id}-rating` },
      ['', 0, 1, 2, 3, 4, 5].map((n) => h('option', { value: n, selected: (lead.rating ?? '') === n },
        n === '' ? '–' : '★'.repeat(n) || '0')));
    const note = h('input', { type: 'text', id: `${id}-note`, value: lead.note ?? '', maxlength: 2000 });
    const save = async (e) => {
      e.preventDefault();
      try {
        const body = { note: note.value.trim() || null };
        if (rating.value !== '') body.rating = Number(rating.value);
        await api('PATCH', `/leads/${lead.id}`, body, token());
        status(t('manage.saved'));
      } catch (err) {
        fail(err);
      }
    };
    return h('li', { class: 'lead' },
      h('form', { onsubmit: save },
        h('p', {}, h('strong', {}, [c.first_name, c.last_name].filter(Boolean).join(' ')),
          c.company ? ` · ${c.company}` : '', c.email ? ` · ${c.email}` : '',
          ` · ${t('kiosk.scans', { count: lead.scan_count })}`),
        h('div', { class: 'row' },
          h('label', { for: `${id}-rating` }, t('kiosk.rating')), rating,
          h('label', { for: `${id}-note` }, t('kiosk.note')), note,
          h('button', { type: 'submit' }, t('kiosk.save')))));
  }));
}

async function startCamera() {
  const video = document.getElementById('video');
  stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  show();
  const tick = async () => {
    if (!stream) return;
    try {
      for (const code of await detector.detect(video)) {
        const now = Date.now();
        // The same badge in front of the camera is one scan, not one per frame.
        if (code.rawValue !== lastToken.value || now - lastToken.at > 4000) {
          lastToken = { value: code.rawValue, at: now };
          await scan(code.rawValue);
        }
      }
    } catch {
      // A frame that cannot be read is skipped.
    }
    setTimeout(tick, 250);
  };
  tick();
}

function stopCamera() {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
  stream = null;
  document.getElementById('video').hidden = true;
}

async function setUpCamera() {
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices) return;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (formats.includes('qr_code')) detector = new window.BarcodeDetector({ formats: ['qr_code'] });
  } catch {
    detector = null;
  }
}

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
  input.focus();
});
document.getElementById('camera').addEventListener('click', async () => {
  try {
    if (stream) stopCamera(); else await startCamera();
  } catch {
    status(t('kiosk.camera.none'), 'error');
  }
  show();
});
document.getElementById('unpair').addEventListener('click', () => unpair(true));
await setUpCamera();
show();
if (kiosk) loadLeads();
