// The printable booth sign /s/{code}/sign, linked from the organiser's console: the sponsor's name,
// one line in English and one in Dutch, and the booth link as a large QR code, for attendees to
// open on their own phone (the booth page, /s/{code}). It shows nothing about any attendee.

import { api, status, ApiProblem } from './api.js';
import { problemText, t, tIn, translate } from './i18n.js';

const code = decodeURIComponent(location.pathname.split('/')[2] || '');

async function load() {
  let booth;
  try {
    booth = await api('GET', `/booths/${encodeURIComponent(code)}`);
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    status(problemText(err.problem), 'error');
    return;
  }
  const sponsor = booth.sponsor_name;
  document.title = `${sponsor} – ${t('sign.title')}`;
  document.getElementById('sponsor').textContent = sponsor;
  for (const language of ['en', 'nl']) {
    document.getElementById(`line-${language}`).textContent = tIn(language, 'kiosk.booth.line', { sponsor });
  }
  const qr = document.getElementById('qr');
  qr.src = `/api/v1/booths/${encodeURIComponent(code)}/qr.svg`;
  qr.alt = t('kiosk.booth.alt', { sponsor });
  document.getElementById('link').textContent = `${location.origin}/s/${code}`;
  document.getElementById('event').textContent = booth.event_name;
  document.getElementById('sign').hidden = false;
  status('');
}

translate();
document.getElementById('print').addEventListener('click', () => window.print());
load();
