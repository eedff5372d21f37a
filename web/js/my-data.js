// The readable copy of one's data, /m/{token}/data: the same data as the JSON download
// (`GET /api/v1/me/{token}/export`), set out for a person to read or print: their details, each
// choice with its sentence and history, the sponsors that scanned their badge, and the exports
// that included them.

import { api, h, status, joinUserText, ApiProblem } from './api.js';
import { historyLine, purposeNames } from './consent-history.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, formatDate, formatDateTime, problemText, lang } from './i18n.js';

const token = decodeURIComponent(location.pathname.split('/')[2] || '');
const DETAILS = ['first_name', 'last_name', 'email', 'company', 'job_title', 'phone', 'country'];
let data = null;

function countryName(code) {
  if (!code) return code;
  return new Intl.DisplayNames([document.documentElement.lang], { type: 'region', fallback: 'code' }).of(code);
}

function render() {
  const zone = data.event.time_zone;
  const r = data.registration;
  document.title = `${t('data.title')} – ${data.event.name}`;
  document.getElementById('event-name').textContent = data.event.name;
  document.getElementById('as-of').replaceChildren(...tNodes('data.as_of', {
    date: formatDateTime(data.exported_at, zone),
    deleted: formatDate(data.event.data_deleted_at, zone),
  }));
  document.getElementById('back').href = `/m/${encodeURIComponent(token)}`;

  document.getElementById('details').replaceChildren(...DETAILS.flatMap((field) => {
    const value = field === 'country' ? countryName(r.details.country) : r.details[field];
    return [h('dt', {}, t(`contact.${field}`)), h('dd', { dir: 'auto' }, value || t('data.not_given'))];
  }));
  document.getElementById('registered').textContent = t('data.registered', {
    date: formatDateTime(r.registered_at, zone),
    notice: r.notice_version,
  });
  const restricted = document.getElementById('restricted');
  restricted.hidden = !r.restricted_at;
  if (r.restricted_at) restricted.textContent = t('manage.restricted', { date: formatDateTime(r.restricted_at, zone) });

  const names = purposeNames(data.consents);
  document.getElementById('choices').replaceChildren(...data.consents.map((c) => h('li', {},
    h('p', {}, tNodes(c.granted ? 'data.choice.allowed' : 'data.choice.not_allowed', { purpose: names.get(c.purpose) })),
    h('p', { class: 'more' }, c.text))));
  document.getElementById('history').replaceChildren(...data.consent_history.map((record) =>
    h('li', {}, historyLine(record, names, zone, r.registered_at))));

  document.getElementById('leads').replaceChildren(...(data.leads.length
    ? data.leads.map((lead) => h('li', {},
      h('p', {}, tNodes('data.lead', {
        sponsor: lead.sponsor,
        since: formatDateTime(lead.first_scanned_at, zone),
      })),
      lead.note || lead.tags.length || lead.rating !== null
        ? h('p', { class: 'more' }, t('data.lead.notes'), ' ',
          joinUserText([lead.note ?? '', lead.tags.join(', ')], ' · '),
          lead.rating !== null ? ` · ${t('data.lead.rating', { rating: lead.rating })}` : '')
        : null))
    : [h('li', {}, t('data.leads.none'))]));

  document.getElementById('recipients').replaceChildren(...(data.recipients.length
    ? data.recipients.map((x) => h('li', {}, tNodes('manage.recipients.item',
      { sponsor: x.sponsor, date: formatDate(x.exported_at, zone) })))
    : [h('li', {}, t('manage.recipients.none'))]));
}

async function load() {
  try {
    data = await api('GET', `/me/${encodeURIComponent(token)}/export?lang=${lang()}`);
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    // The page still has a heading: what happened, then why.
    document.getElementById('unavailable').hidden = false;
    status(problemText(err.problem), 'error');
    return;
  }
  status('');
  render();
  document.getElementById('page').hidden = false;
}

translate();
setUpSwitch();
// Another language: the sentences come again from the server, written in it.
onLanguage(async () => {
  if (!data) return;
  try {
    data = await api('GET', `/me/${encodeURIComponent(token)}/export?lang=${lang()}`);
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
  }
  render();
});
document.getElementById('print').addEventListener('click', () => window.print());
load();
