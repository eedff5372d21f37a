// The manage page /m/{token}: badge, each consent as a switch with its history, withdraw all,
// whether this phone remembers the link (for sharing at a sponsor's booth), the sponsors that
// received my data, download, correction, restriction and erasure.

import { api, pageApi, h, status, ApiProblem } from './api.js';
import { clearFieldErrors, showFieldError } from './fields.js';
import { countrySelect, fillCountries, loadCountries } from './countries.js';
import { historyLine, purposeNames } from './consent-history.js';
import { forget, remember, rememberedToken, wasForgotten } from './this-phone.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, formatDate, formatDateTime, problemText, lang } from './i18n.js';

const token = decodeURIComponent(location.pathname.split('/')[2] || '');
const base = `/me/${encodeURIComponent(token)}`;
const FIELDS = ['first_name', 'last_name', 'email', 'company', 'job_title', 'phone', 'country'];
let me = null;

function fail(err) {
  if (!(err instanceof ApiProblem)) throw err;
  status(problemText(err.problem), 'error');
}

/** Where the last change was saved: the id of the control the person used, told "Saved." beside it. */
let savedAt = null;

/** "Saved." beside the control `id` names, when it is the one the last change came from. */
function savedNote(id) {
  return h('span', { class: 'saved', id: `${id}-saved`, role: 'status' }, savedAt === id ? t('manage.saved') : '');
}

/** The manage view, its consent sentences in the page's language. */
function mine() {
  return `${base}?lang=${lang()}`;
}

async function reload() {
  try {
    me = await api('GET', mine());
  } catch (err) {
    fail(err);
  }
  render();
}

function render() {
  // Rendering replaces the switches: the focus goes back to where the person was.
  const focused = document.activeElement?.id;
  const zone = me.event.time_zone;
  document.title = `${t('manage.title')} – ${me.event.name}`;
  document.getElementById('event-name').textContent = me.event.name;
  document.getElementById('deleted-on').textContent =
    t('manage.deleted_on', { date: formatDate(me.event.data_deleted_at, zone) });
  const note = document.getElementById('restricted-note');
  note.hidden = !me.restricted_at;
  if (me.restricted_at) note.textContent = t('manage.restricted', { date: formatDateTime(me.restricted_at, zone) });
  document.getElementById('badge').src = `/api/v1${base}/badge.svg`;
  document.getElementById('badge').alt = t('register.badge.alt');
  document.getElementById('printable').href = `/api/v1${base}/badge-print.svg`;
  document.getElementById('download').href = `/api/v1${base}/export`;
  document.getElementById('readable').href = `/m/${encodeURIComponent(token)}/data`;

  const names = purposeNames(me.consents);
  document.getElementById('consents').replaceChildren(...me.consents.map((c) => {
    const id = `consent-${c.purpose.replace(/[^a-z0-9-]/gi, '-')}`;
    return h('li', { class: 'consent' },
      h('div', { class: 'choice' },
        h('input', { type: 'checkbox', role: 'switch', id, checked: c.granted,
          'aria-describedby': `${id}-text`,
          onchange: (e) => change([{ purpose: c.purpose, granted: e.target.checked }], false, id) }),
        h('label', { for: id }, h('strong', { dir: 'auto' }, names.get(c.purpose))),
        savedNote(id)),
      h('p', { id: `${id}-text`, class: 'more' }, c.text));
  }));
  document.getElementById('withdraw-all').disabled = !me.consents.some((c) => c.granted);
  document.getElementById('history').replaceChildren(...me.consent_history.map((r) =>
    h('li', {}, historyLine(r, names, zone, me.registered_at),
      r.has_receipt ? [' ', h('a', {
        href: `/api/v1${base}/receipts/${encodeURIComponent(r.id)}`,
        download: `consent-receipt-${r.id}.jws`,
      }, t('manage.history.receipt'))] : null)));
  const remembered = rememberedToken(me.event.slug) === token;
  document.getElementById('phone-note').textContent =
    t(remembered ? 'manage.phone.remembered' : 'manage.phone.forgotten');
  document.getElementById('phone-toggle').textContent =
    t(remembered ? 'manage.phone.forget' : 'manage.phone.remember');
  for (const id of ['withdraw-all', 'details-save', 'phone-toggle']) {
    document.getElementById(`${id}-saved`).textContent = savedAt === id ? t('manage.saved') : '';
  }

  const recipients = document.getElementById('recipients');
  recipients.replaceChildren(...(me.recipients.length
    ? me.recipients.map((r) => h('li', {}, tNodes('manage.recipients.item',
      { sponsor: r.sponsor, date: formatDate(r.exported_at, zone) })))
    : [h('li', {}, t('manage.recipients.none'))]));

  const details = document.getElementById('details');
  if (details.childElementCount === 0) {
    for (const name of FIELDS) {
      details.append(h('div', { class: 'field' },
        h('label', { for: name, id: `${name}-label` }),
        name === 'country'
          ? countrySelect({ id: name, name, 'aria-describedby': `${name}-error` })
          // Names and companies may be written right to left: the field follows what is typed.
          : h('input', { id: name, name, type: name === 'email' ? 'email' : 'text', dir: 'auto',
            'aria-describedby': `${name}-error`, maxlength: me.event.field_max_chars?.[name] }),
        h('p', { class: 'error', id: `${name}-error`, hidden: true })));
    }
  }
  for (const name of FIELDS) {
    document.getElementById(`${name}-label`).textContent = t(`field.${name}`);
    const input = document.getElementById(name);
    if (name === 'country') fillCountries(input, document.activeElement === input ? input.value : me.details.country);
    else if (document.activeElement !== input) input.value = me.details[name] ?? '';
  }
  const pending = document.getElementById('pending-email');
  pending.hidden = !me.pending_email;
  pending.replaceChildren(...(me.pending_email
    ? tNodes('manage.email.pending', { email: me.pending_email }) : []));
  document.getElementById('restrict').textContent =
    t(me.restricted_at ? 'manage.restrict.off' : 'manage.restrict.on');
  if (focused && document.activeElement?.id !== focused) document.getElementById(focused)?.focus();
}

async function load() {
  try {
    [me] = await Promise.all([api('GET', mine()), loadCountries()]);
  } catch (err) {
    // The page still has a heading: what happened, then why.
    document.getElementById('unavailable').hidden = false;
    fail(err);
    return;
  }
  // This phone remembers the link, for a sponsor's booth page, unless the person told it not to.
  if (!wasForgotten(me.event.slug)) remember(me.event.slug, token);
  status('');
  render();
  document.getElementById('page').hidden = false;
}

function togglePhone() {
  const slug = me.event.slug;
  if (rememberedToken(slug) === token) {
    forget(slug);
  } else if (!remember(slug, token)) {
    return status(t('manage.phone.unavailable'), 'error');
  }
  savedAt = 'phone-toggle';
  render();
  status(t('manage.saved'));
}

async function change(consents, withdrawAll = false, from = 'withdraw-all') {
  try {
    // The page's own route: the server records the changes as made on the web page.
    await pageApi('PUT', `/m/${encodeURIComponent(token)}/consents`, { consents, withdraw_all: withdrawAll, language: me.language });
    me = await api('GET', mine());
    savedAt = from;
    render();
    status(t('manage.saved'));
  } catch (err) {
    fail(err);
    render();
  }
}

async function correct(e) {
  e.preventDefault();
  clearFieldErrors();
  const change = {};
  for (const name of FIELDS) {
    const value = document.getElementById(name).value.trim();
    const before = me.details[name] ?? '';
    if (value !== before) change[name] = value === '' ? null : value;
  }
  if (Object.keys(change).length === 0) return status(t('manage.saved'));
  try {
    me = await api('PATCH', mine(), change);
    savedAt = 'details-save';
    render();
    // A new address changes only when the link mailed to it is followed.
    if ('email' in change && me.pending_email) {
      status(tNodes('manage.email.pending', { email: me.pending_email }));
    } else {
      status(t('manage.saved'));
    }
  } catch (err) {
    if (!(err instanceof ApiProblem && showFieldError(err.problem))) fail(err);
  }
}

async function toggleRestriction() {
  try {
    await api(me.restricted_at ? 'DELETE' : 'POST', `${base}/restriction`);
    me = await api('GET', mine());
    render();
    status(t('manage.saved'));
  } catch (err) {
    fail(err);
  }
}

async function erase() {
  try {
    const erased = await api('DELETE', base);
    // The link opens nothing any more: this phone has nothing left to remember.
    forget(me.event.slug, false);
    document.getElementById('page').hidden = true;
    const box = document.getElementById('erased-recipients');
    if (erased.recipients.length) {
      box.replaceChildren(h('p', {}, t('manage.erased.recipients')), h('ul', {},
        erased.recipients.map((r) => h('li', {}, tNodes('manage.recipients.item',
          { sponsor: r.sponsor, date: formatDate(r.exported_at, me.event.time_zone) })))));
    }
    const done = document.getElementById('erased');
    done.hidden = false;
    status(t('manage.erased'));
    done.focus();
    me = null;
  } catch (err) {
    fail(err);
  }
}

translate();
setUpSwitch();
// Another language: the consent sentences come again from the server, written in it.
onLanguage(() => {
  if (!me) return;
  render();
  reload();
});
document.getElementById('withdraw-all').addEventListener('click', () => change([], true));
document.getElementById('correct').addEventListener('submit', correct);
document.getElementById('restrict').addEventListener('click', toggleRestriction);
document.getElementById('phone-toggle').addEventListener('click', togglePhone);
document.getElementById('erase-confirm').addEventListener('change', (e) => {
  document.getElementById('erase').disabled = !e.target.checked;
});
document.getElementById('erase').addEventListener('click', erase);
load();
