// The organiser console /admin: log in; events and sponsors (create, edit); kiosks (pairing code
// as text and QR, revoke, last seen); a dashboard drawn in SVG; exports per sponsor and as ZIP;
// erasure notices; the audit log; the purge date with a countdown. Views follow the URL
// fragment (#/ and #/events/{id}) so the browser's back button works. The session is the
// HttpOnly cookie the login sets; the page never sees the token.

import { api, h, status, userText, ApiProblem } from './api.js';
import { clearFieldErrors, showFieldError } from './fields.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, formatDateTime, formatDate, problemText } from './i18n.js';

const view = document.getElementById('view');
let countdown = null;

function fail(err) {
  if (!(err instanceof ApiProblem)) throw err;
  if (err.status === 401) return showLogin(problemText(err.problem));
  status(problemText(err.problem), 'error');
}

/** A form whose fields are [name, label key, attributes]; failures are shown at the field. */
function form(id, fields, submitKey, onSubmit) {
  const el = h('form', { id, novalidate: true },
    fields.map(([name, key, attrs = {}]) => h('div', { class: 'field' },
      h('label', { for: `${id}-${name}` }, t(key)),
      attrs.multiline
        ? h('textarea', { id: `${id}-${name}`, name, rows: 6, dir: attrs.dir, lang: attrs.lang, 'aria-describedby': `${id}-${name}-error` },
          attrs.value ?? '')
        : h('input', { id: `${id}-${name}`, name, 'aria-describedby': `${id}-${name}-error`, ...attrs }),
      h('p', { class: 'error', id: `${id}-${name}-error`, hidden: true }))),
    h('button', { type: 'submit' }, t(submitKey)));
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearFieldErrors(el);
    const values = Object.fromEntries(fields.map(([name]) => [name, el.elements[name].value]));
    try {
      await onSubmit(values);
    } catch (err) {
      if (!(err instanceof ApiProblem && showFieldError(err.problem, `${id}-`))) fail(err);
    }
  });
  return el;
}

function showLogin(message = '') {
  document.getElementById('logout').hidden = true;
  status(message, message ? 'error' : 'info');
  view.replaceChildren(h('h1', {}, t('admin.login')), form('login', [
    ['email', 'field.email', { type: 'email', autocomplete: 'username', dir: 'auto' }],
    ['password', 'admin.password', { type: 'password', autocomplete: 'current-password' }],
  ], 'admin.login', async (v) => {
    await api('POST', '/auth/login', { email: v.email, password: v.password });
    status('');
    route();
  }));
  document.getElementById('login-email').focus();
}

// ---------------------------------------------------------------------------------------------
// Events

const local = (iso) => {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
const iso = (localValue) => (localValue ? new Date(localValue).toISOString().replace(/\.\d{3}Z$/, 'Z') : '');

function eventFields(e = {}) {
  const zone = e.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  return [
    ['name', 'admin.name', { value: e.name ?? '', required: true, dir: 'auto' }],
    ['slug', 'admin.slug', { value: e.slug ?? '', required: true, pattern: '[a-z0-9-]+' }],
    ['venue', 'admin.venue', { value: e.venue ?? '', dir: 'auto' }],
    ['time_zone', 'admin.time_zone', { value: zone }],
    ['starts_at', 'admin.starts_at', { type: 'datetime-local', value: e.starts_at ? local(e.starts_at) : '' }],
    ['ends_at', 'admin.ends_at', { type: 'datetime-local', value: e.ends_at ? local(e.ends_at) : '' }],
    ['retention_days', 'admin.retention_days', { type: 'number', min: 0, max: 30, value: e.retention_days ?? 30 }],
    ['min_age', 'admin.min_age', { type: 'number', min: 13, max: 21, value: e.min_age ?? 16 }],
    ['privacy_notice', 'admin.privacy_notice', { multiline: true, value: e.privacy_notice ?? '', dir: 'auto', lang: 'en' }],
    // Dutch readers are shown this one; left empty, they are shown the English notice.
    ['privacy_notice_nl', 'admin.privacy_notice_nl', { multiline: true, value: e.privacy_notice_nl ?? '', dir: 'auto', lang: 'nl' }],
    // The venue's own networks, one per line: registration from them allows a crowd on site.
    ['venue_networks', 'admin.venue_networks', { multiline: true, value: (e.venue_networks ?? []).join('\n'), dir: 'ltr' }],
  ];
}

const eventBody = (v) => ({
  name: v.name, slug: v.slug, venue: v.venue, time_zone: v.time_zone,
  starts_at: iso(v.starts_at), ends_at: iso(v.ends_at),
  retention_days: Number(v.retention_days), min_age: Number(v.min_age), privacy_notice: v.privacy_notice,
  privacy_notice_nl: v.privacy_notice_nl.trim() === '' ? null : v.privacy_notice_nl,
  venue_networks: v.venue_networks.split(/[\s,]+/).filter((n) => n !== ''),
});

/** Send an event's form; a problem with one venue network (`venue_networks[2]`) is shown at the
 *  list's field, the one input there is for them all. */
async function sendEvent(method, path, values) {
  try {
    return await api(method, path, eventBody(values));
  } catch (err) {
    if (err instanceof ApiProblem) {
      for (const error of [err.problem, ...(err.problem?.errors ?? [])]) {
        if (error?.field?.startsWith('venue_networks[')) error.field = 'venue_networks';
      }
    }
    throw err;
  }
}

async function showEvents() {
  const events = await api('GET', '/events');
  view.replaceChildren(
    h('h1', {}, t('admin.events')),
    events.length
      ? h('ul', { id: 'events' }, events.map((e) => h('li', {},
        h('a', { href: `#/events/${e.id}`, dir: 'auto' }, e.name), ` — ${formatDate(e.starts_at, e.time_zone)}`)))
      : h('p', {}, t('admin.events.none')),
    h('details', {}, h('summary', {}, t('admin.event.new')),
      form('new-event', eventFields(), 'admin.event.create', async (v) => {
        const created = await sendEvent('POST', '/events', v);
        location.hash = `#/events/${created.id}`;
      })));
}

// ---------------------------------------------------------------------------------------------
// One event

function svg(tag, attributes = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Horizontal bars: rows of [label, [[value, class, title]...]], scaled to `max`. */
function barChart(title, rows, max) {
  const rowHeight = 28;
  const width = 640;
  const labelWidth = 180;
  const scale = (v) => (max > 0 ? ((width - labelWidth - 60) * v) / max : 0);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${rows.length * rowHeight + 8}`, role: 'img', class: 'chart' },
    svg('title', {}, title),
    rows.map(([label, parts], i) => {
      let x = labelWidth;
      const y = i * rowHeight + 4;
      const total = parts.reduce((sum, [v]) => sum + v, 0);
      return svg('g', {},
        svg('text', { x: 0, y: y + 17, class: 'chart-label' }, label),
        parts.map(([v, cls, tip]) => {
          const w = scale(v);
          const bar = svg('rect', { x, y, width: Math.max(w, 0), height: rowHeight - 8, class: cls }, svg('title', {}, tip));
          x += w;
          return bar;
        }),
        svg('text', { x: x + 6, y: y + 17, class: 'chart-value' }, rows.percent ? `${Math.round(total * 100)} %` : total));
    }));
  return h('figure', {}, h('figcaption', {}, title), chart);
}

function dashboard(stats) {
  const optins = [[t('admin.marketing'), [[stats.marketing_opt_in_rate, 'bar-optin', `${Math.round(stats.marketing_opt_in_rate * 100)} %`]]],
    ...stats.sponsors.map((s) => [s.name, [[s.opt_in_rate, 'bar-optin', `${Math.round(s.opt_in_rate * 100)} %`]]])];
  optins.percent = true;
  const reasons = [...new Set(stats.sponsors.flatMap((s) => Object.keys(s.scans_refused)))].sort();
  const scans = stats.sponsors.map((s) => [s.name, [
    [s.scans_accepted, 'bar-accepted', `${t('kiosk.accepted')}: ${s.scans_accepted}`],
    ...reasons.map((r, i) => [s.scans_refused[r] ?? 0, `bar-refused-${i % 4}`, `${t('kiosk.refused')} (${r}): ${s.scans_refused[r] ?? 0}`]),
  ]]);
  const maxScans = Math.max(1, ...scans.map(([, parts]) => parts.reduce((a, [v]) => a + v, 0)));
  return h('section', { 'aria-labelledby': 'dash-title' },
    h('h2', { id: 'dash-title' }, t('admin.dashboard')),
    h('p', { id: 'registrations' }, t('admin.registrations', { count: stats.registrations })),
    barChart(t('admin.registrations.chart'), [
      [t('admin.registrations.all'), [[stats.registrations, 'bar-registrations', String(stats.registrations)]]],
      [t('admin.marketing'), [[stats.marketing_opt_ins, 'bar-optin', String(stats.marketing_opt_ins)]]],
      ...stats.sponsors.map((s) => [s.name, [[s.opt_ins, 'bar-optin', String(s.opt_ins)]]]),
    ], Math.max(1, stats.registrations)),
    barChart(t('admin.optins'), optins, 1),
    barChart(t('admin.scans'), scans, maxScans),
    h('ul', { class: 'legend' }, h('li', { class: 'key-accepted' }, t('kiosk.accepted')),
      reasons.map((r, i) => h('li', { class: `key-refused-${i % 4}` }, `${t('kiosk.refused')}: ${t(`reason.${r}`)}`))),
    occasionTable(stats.sponsors));
}

/** Where each sponsor's current opt-ins were given: the registration form, the manage link later,
 *  the booth (and "not recorded" for those given before Consentry recorded it). */
function occasionTable(sponsors) {
  const occasions = ['registration', 'manage', 'booth'];
  if (sponsors.some((s) => s.opt_ins_by_occasion.unknown)) occasions.push('unknown');
  return h('div', { class: 'scroll' }, h('table', { id: 'opt-in-occasions' },
    h('caption', {}, t('admin.occasions')),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('admin.sponsor')),
      occasions.map((o) => h('th', { scope: 'col', class: 'number' }, t(`admin.occasion.${o}`))))),
    h('tbody', {}, sponsors.map((s) => h('tr', {}, h('th', { scope: 'row' }, userText(s.name)),
      occasions.map((o) => h('td', { class: 'number' }, String(s.opt_ins_by_occasion[o] ?? 0))))))));
}

function left(ms) {
  const minutes = Math.floor(ms / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return `${t('admin.days', { n: days })}, ${t('admin.hours', { n: hours })}`;
  if (hours > 0) return `${t('admin.hours', { n: hours })}, ${t('admin.minutes', { n: minutes % 60 })}`;
  return t('admin.minutes', { n: Math.max(minutes, 0) });
}

function purgeLine(event) {
  const p = h('p', { id: 'purge' });
  const update = () => {
    if (event.purged_at) p.textContent = t('admin.purge.done', { date: formatDateTime(event.purged_at, event.time_zone) });
    else {
      const ms = new Date(event.purge_due_at) - Date.now();
      p.textContent = ms <= 0 ? t('admin.purge.now')
        : t('admin.purge.due', { date: formatDateTime(event.purge_due_at, event.time_zone), left: left(ms) });
    }
  };
  update();
  clearInterval(countdown);
  countdown = setInterval(update, 30000);
  return h('section', { 'aria-labelledby': 'purge-title' }, h('h2', { id: 'purge-title' }, t('admin.purge')), p);
}

function kioskList(event, sponsors, kiosks, reload) {
  const names = new Map(sponsors.map((s) => [s.id, s.name]));
  const created = h('div', { id: 'pairing', 'aria-live': 'polite' });
  return h('section', { 'aria-labelledby': 'kiosks-title' },
    h('h2', { id: 'kiosks-title' }, t('admin.kiosks')),
    kiosks.length ? h('ul', { id: 'kiosks' }, kiosks.map((k) => h('li', {},
      userText(k.sponsor_name), ' · ', userText(k.device_name) ?? '—', ` · ${k.status} · `,
      k.last_seen_at ? t('admin.kiosk.last_seen', { time: formatDateTime(k.last_seen_at, event.time_zone) }) : t('admin.kiosk.never'),
      k.status === 'revoked' ? '' : h('button', { type: 'button', class: 'link-button', onclick: async () => {
        try { await api('DELETE', `/events/${event.id}/kiosks/${k.id}`); reload(); } catch (err) { fail(err); }
      } }, t('admin.kiosk.revoke')))))
      : h('p', {}, t('admin.kiosks.none')),
    h('div', { class: 'row' }, sponsors.map((s) => h('button', { type: 'button', class: 'secondary', onclick: async () => {
      try {
        const k = await api('POST', `/events/${event.id}/sponsors/${s.id}/kiosks`, {});
        created.replaceChildren(
          h('p', {}, tNodes('admin.kiosk.code', { sponsor: names.get(s.id), time: formatDateTime(k.pairing_expires_at, event.time_zone) })),
          h('p', { class: 'pairing-code', id: 'pairing-code' }, k.pairing_code),
          h('img', { src: `data:image/svg+xml;base64,${btoa(k.pairing_qr_svg)}`, alt: t('admin.kiosk.qr'), width: 200, height: 200 }),
          h('p', {}, h('a', { href: k.pairing_url, target: '_blank', rel: 'noopener' }, k.pairing_url)));
      } catch (err) { fail(err); }
    } }, tNodes('admin.kiosk.create', { sponsor: s.name })))),
    created);
}

/** A sponsor's booth link, its QR code and its printable sign (`/s/{code}/sign`). */
function boothLink(s) {
  const link = `${location.origin}/s/${s.booth_code}`;
  return h('div', { class: 'booth-link' },
    h('h3', {}, t('admin.sponsor.booth')),
    h('p', {}, t('admin.sponsor.booth.intro')),
    h('p', {}, h('a', { href: link, target: '_blank', rel: 'noopener' }, link)),
    h('img', { src: `/api/v1/booths/${encodeURIComponent(s.booth_code)}/qr.svg`,
      alt: t('kiosk.booth.alt', { sponsor: s.name }), width: 160, height: 160 }),
    h('p', {}, h('a', { href: `/s/${encodeURIComponent(s.booth_code)}/sign`, target: '_blank', rel: 'noopener' },
      t('admin.sponsor.booth.print'))));
}

function sponsorList(event, sponsors, reload) {
  const fields = (s = {}) => [
    ['name', 'admin.sponsor.name', { value: s.name ?? '', dir: 'auto' }],
    ['description', 'admin.sponsor.description', { value: s.description ?? '', dir: 'auto' }],
    ['privacy_policy_url', 'admin.sponsor.policy', { type: 'url', value: s.privacy_policy_url ?? 'https://' }],
  ];
  return h('section', { 'aria-labelledby': 'sponsors-title' },
    h('h2', { id: 'sponsors-title' }, t('admin.sponsors')),
    h('ul', { id: 'sponsors' }, sponsors.map((s) => h('li', {},
      h('details', {}, h('summary', {}, userText(s.name), ' — ', t('admin.sponsor.edit')),
        boothLink(s),
        form(`sponsor-${s.id}`, fields(s), 'admin.sponsor.save', async (v) => {
          await api('PATCH', `/events/${event.id}/sponsors/${s.id}`, v);
          status(t('manage.saved'));
          reload();
        }))))),
    h('details', {}, h('summary', {}, t('admin.sponsor.new')),
      form('new-sponsor', fields(), 'admin.sponsor.add', async (v) => {
        await api('POST', `/events/${event.id}/sponsors`, v);
        status(t('manage.saved'));
        reload();
      })));
}

function exportsList(event, sponsors) {
  const base = `/api/v1/events/${event.id}`;
  return h('section', { 'aria-labelledby': 'exports-title' },
    h('h2', { id: 'exports-title' }, t('admin.exports')),
    h('ul', { id: 'exports' }, sponsors.map((s) => h('li', {}, userText(s.name), ': ',
      h('a', { href: `${base}/sponsors/${s.id}/leads.csv?bom=true`, download: '' }, t('admin.export.csv')), ' · ',
      h('a', { href: `${base}/sponsors/${s.id}/leads.json`, download: '' }, t('admin.export.json'))))),
    h('p', {}, h('a', { href: `${base}/leads.zip`, download: '', id: 'export-zip' }, t('admin.export.zip'))));
}

function noticeList(event, notices, reload) {
  return h('section', { 'aria-labelledby': 'notices-title' },
    h('h2', { id: 'notices-title' }, t('admin.notices')),
    h('p', {}, t('admin.notices.intro')),
    // One notice per sponsor and erased attendee, listing every export of theirs that held them.
    notices.length ? h('ul', { id: 'notices' }, notices.map((n) => h('li', {},
      tNodes('admin.notice.item', { sponsor: n.sponsor, count: n.exports.length }), ' ',
      h('button', { type: 'button', class: 'link-button', onclick: async () => {
        try { await api('POST', `/events/${event.id}/erasure-notices/${n.id}/passed-on`, {}); reload(); } catch (err) { fail(err); }
      } }, t('admin.notice.done')),
      h('ul', {}, n.exports.map((x) => h('li', {}, t('admin.notice.export', {
        date: formatDateTime(x.exported_at, event.time_zone),
        format: x.format.toUpperCase(),
        lead: x.lead_id ?? '—',
      })))))))
      : h('p', {}, t('admin.notices.none')));
}

function auditTable(event, audit) {
  return h('section', { 'aria-labelledby': 'audit-title' },
    h('h2', { id: 'audit-title' }, t('admin.audit')),
    h('div', { class: 'scroll' }, h('table', { id: 'audit' },
      h('thead', {}, h('tr', {}, ['admin.audit.when', 'admin.audit.who', 'admin.audit.what', 'admin.audit.count']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, audit.entries.map((a) => h('tr', {},
        h('td', {}, formatDateTime(a.at, event.time_zone)), h('td', {}, a.actor_kind),
        h('td', {}, a.action), h('td', {}, a.count ?? '')))))));
}

async function showEvent(id) {
  const reload = () => showEvent(id);
  const [event, sponsors, kiosks, stats, notices, audit] = await Promise.all([
    api('GET', `/events/${id}`), api('GET', `/events/${id}/sponsors`), api('GET', `/events/${id}/kiosks`),
    api('GET', `/events/${id}/stats`), api('GET', `/events/${id}/erasure-notices`),
    api('GET', `/events/${id}/audit?per_page=50`),
  ]);
  view.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, t('admin.back'))),
    h('h1', { dir: 'auto' }, event.name),
    h('p', {}, h('a', { href: `/e/${event.slug}`, target: '_blank', rel: 'noopener' }, `${t('admin.public_page')}: /e/${event.slug}`)),
    purgeLine(event),
    dashboard(stats),
    sponsorList(event, sponsors, reload),
    kioskList(event, sponsors, kiosks, reload),
    exportsList(event, sponsors),
    noticeList(event, notices, reload),
    auditTable(event, audit),
    h('details', {}, h('summary', {}, t('admin.event.settings')),
      form('event', eventFields(event), 'admin.event.save', async (v) => {
        await sendEvent('PATCH', `/events/${id}`, v);
        status(t('manage.saved'));
        reload();
      })));
}

async function route() {
  try {
    await api('GET', '/auth/me');
  } catch (err) {
    if (err instanceof ApiProblem && err.status === 401) return showLogin();
    return fail(err);
  }
  document.getElementById('logout').hidden = false;
  const match = location.hash.match(/^#\/events\/([0-9a-f-]{36})$/);
  try {
    if (match) await showEvent(match[1]);
    else await showEvents();
  } catch (err) {
    fail(err);
  }
}

translate();
setUpSwitch();
onLanguage(route);
window.addEventListener('hashchange', route);
document.getElementById('logout').addEventListener('click', async () => {
  try { await api('POST', '/auth/logout', {}); } catch { /* the session ends either way */ }
  showLogin();
});
route();
