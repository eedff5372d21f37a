// The registration page /e/{slug}: the event, its privacy notice, one unticked opt-in per sponsor
// (its sentence names what it would receive; then its description and privacy policy), marketing
// apart, age confirmation; on success the badge, the printable badge and the manage link.

import { api, pageApi, h, status, ApiProblem } from './api.js';
import { clearFieldErrors, showFieldError } from './fields.js';
import { countrySelect, fillCountries, loadCountries } from './countries.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, formatDateTime, formatDate, problemText, lang } from './i18n.js';

const slug = decodeURIComponent(location.pathname.split('/')[2] || '');
const FIELDS = [
  ['first_name', 'text', 'given-name', true],
  ['last_name', 'text', 'family-name', true],
  ['email', 'email', 'email', true],
  ['company', 'text', 'organization', false],
  ['job_title', 'text', 'organization-title', false],
  ['phone', 'tel', 'tel', false],
  ['country', 'text', 'country', false],
];
let event = null;

function renderDetails() {
  const box = document.getElementById('details');
  if (box.childElementCount === 0) {
    for (const [name, type, autocomplete, required] of FIELDS) {
      box.append(h('div', { class: 'field' },
        h('label', { for: name, id: `${name}-label` }),
        name === 'country'
          ? countrySelect({ id: name, name, 'aria-describedby': `${name}-error` })
          // Names and companies may be written right to left: the field follows what is typed.
          : h('input', {
            id: name, name, type, autocomplete, required, dir: 'auto',
            'aria-describedby': `${name}-error`,
            // The server's own bound for the field (the public event view publishes it).
            maxlength: event.field_max_chars?.[name],
          }),
        h('p', { class: 'error', id: `${name}-error`, hidden: true })));
    }
  }
  for (const [name] of FIELDS) {
    document.getElementById(`${name}-label`).textContent = t(`field.${name}`);
  }
  fillCountries(document.getElementById('country'));
}

function renderEvent() {
  document.title = `${event.name} – Consentry`;
  document.getElementById('event-name').textContent = event.name;
  document.getElementById('event-when').textContent =
    `${formatDateTime(event.starts_at, event.time_zone)} – ${formatDateTime(event.ends_at, event.time_zone)}`;
  document.getElementById('event-where').textContent = event.venue;
  const notice = document.getElementById('notice');
  notice.textContent = event.privacy_notice;
  // A Dutch page may show the English notice (the organiser wrote none in Dutch): said so to
  // screen readers, which then read it in English.
  notice.lang = event.privacy_notice_language;
  document.getElementById('deleted-on').textContent =
    t('notice.deleted', { date: formatDate(event.data_deleted_at, event.time_zone) });
  const list = document.getElementById('sponsor-list');
  const ticked = new Set([...list.querySelectorAll('input:checked')].map((i) => i.value));
  list.replaceChildren(...event.sponsors.map((s) => h('div', { class: 'sponsor' },
    h('div', { class: 'choice' },
      h('input', { type: 'checkbox', id: `sponsor-${s.id}`, value: s.id, checked: ticked.has(s.id),
        'aria-describedby': `sponsor-${s.id}-more` }),
      h('label', { for: `sponsor-${s.id}` }, h('strong', { dir: 'auto' }, s.name), ' — ', s.consent_text)),
    // What the sponsor receives is in its sentence (the one agreed to): not said a second time.
    h('div', { class: 'more', id: `sponsor-${s.id}-more` },
      s.description ? h('p', { dir: 'auto' }, s.description) : null,
      h('p', {}, h('a', { href: s.privacy_policy_url, rel: 'noopener noreferrer', target: '_blank' },
        tNodes('sponsors.policy', { name: s.name })))))));
  document.getElementById('sponsors').hidden = event.sponsors.length === 0;
  document.getElementById('marketing-text').textContent = event.marketing_consent_text;
  document.getElementById('age-text').textContent = t('age.confirm', { age: event.min_age });
  renderDetails();
}

/** The public event view, its consent sentences in the page's language. */
function eventPath() {
  return `/events/${encodeURIComponent(slug)}?lang=${lang()}`;
}

async function load() {
  try {
    [event] = await Promise.all([api('GET', eventPath()), loadCountries()]);
  } catch (e) {
    // The page still has a heading: what happened, then why.
    document.getElementById('unavailable').hidden = false;
    status(problemText(e.problem), 'error');
    return;
  }
  status('');
  renderEvent();
  document.getElementById('event').hidden = false;
  document.getElementById('register').hidden = !event.registration_open;
  document.getElementById('closed').hidden = event.registration_open;
}

/** A refusal that names no field of the form is shown above the submit button. */
function showError(problem) {
  if (showFieldError(problem)) return;
  const message = problemText(problem);
  const slot = document.getElementById('form-error');
  slot.textContent = message;
  slot.hidden = false;
  status(message, 'error');
}

async function submit(e) {
  e.preventDefault();
  clearFieldErrors();
  const value = (id) => document.getElementById(id).value;
  const optional = (id) => value(id).trim() || null;
  const body = {
    first_name: value('first_name'),
    last_name: value('last_name'),
    email: value('email'),
    company: optional('company'),
    job_title: optional('job_title'),
    phone: optional('phone'),
    country: optional('country'),
    age_confirmed: document.getElementById('age_confirmed').checked,
    notice_version: event.privacy_notice_version,
    sponsor_opt_ins: [...document.querySelectorAll('#sponsor-list input:checked')].map((i) => i.value),
    marketing_opt_in: document.getElementById('marketing').checked,
    // The language of the sentences shown: the ledger records it with each sentence's hash.
    language: event.language,
  };
  const button = document.getElementById('submit');
  button.disabled = true;
  status(t('register.sending'));
  try {
    // The page's own route: the server records the consents as given on the web page.
    const created = await pageApi('POST', `/e/${encodeURIComponent(slug)}/registrations`, body);
    showDone(created);
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    showError(err.problem);
    if (err.code === 'notice_outdated') await load();
  } finally {
    button.disabled = false;
  }
}

/** Put the manage link on the clipboard, and say so next to the button. */
async function copyLink(text) {
  const said = document.getElementById('copied');
  try {
    await navigator.clipboard.writeText(text);
    said.textContent = t('register.copied');
  } catch {
    // No clipboard (an old browser, or permission refused): the link stays there to copy by hand.
    said.textContent = t('register.copy.failed');
  }
}

function showDone(created) {
  document.getElementById('event').hidden = true;
  const done = document.getElementById('done');
  const badge = document.getElementById('badge');
  badge.src = created.badge.svg_url.replace(/^https?:\/\/[^/]+/, '');
  badge.alt = t('register.badge.alt');
  document.getElementById('printable').href = created.badge.printable_url.replace(/^https?:\/\/[^/]+/, '');
  document.getElementById('badge-png').href = created.badge.png_url.replace(/^https?:\/\/[^/]+/, '');
  const link = document.getElementById('manage-link');
  link.href = `/m/${created.manage_token}`;
  link.textContent = `${location.origin}/m/${created.manage_token}`;
  document.getElementById('copy-link').onclick = () => copyLink(link.textContent);
  document.getElementById('mailed').textContent =
    t(created.confirmation_email_sent ? 'register.mailed' : 'register.not_mailed');
  done.hidden = false;
  status(t('register.done'));
  done.focus();
}

translate();
setUpSwitch();
// Another language: the consent sentences come again from the server, written in it, and
// what was ticked stays ticked.
onLanguage(async () => {
  if (!event) return;
  try {
    event = await api('GET', eventPath());
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
  }
  renderEvent();
});
document.getElementById('register').addEventListener('submit', submit);
load();
