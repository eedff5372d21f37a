// The booth page /s/{code}, opened on the attendee's own phone from the QR code a sponsor's kiosk
// shows (or its printed sign): the sponsor, what exactly it would receive and under which
// sentence, and one button. The registrant proves who they are without typing: with the manage
// link this phone remembered (this-phone.js), or with a one-time link e-mailed on request, whose
// token arrives in the fragment (never sent to a server but in the POST's body) and is removed
// from the address bar. Nothing about the attendee is sent anywhere before the button is pressed.

import { api, pageApi, h, status, ApiProblem } from './api.js';
import { clearFieldErrors, showFieldError } from './fields.js';
import { forget, rememberedToken } from './this-phone.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, problemText, lang } from './i18n.js';

const code = decodeURIComponent(location.pathname.split('/')[2] || '');
let linkToken = null;
/** The mailed token from the fragment, removed from the address bar (and so from the history). */
function takeToken() {
  if (!location.hash) return;
  linkToken = decodeURIComponent(location.hash.slice(1)) || null;
  history.replaceState(null, '', location.pathname);
}
takeToken();
let booth = null;
let granted = null;
let asked = false;
/** While a grant is on its way: the button is not pressed twice. */
let sharing = false;

function manageToken() {
  return booth ? rememberedToken(booth.event_slug) : null;
}

function fields() {
  return booth.receives.map((f) => t(`contact.${f}`)).join(', ');
}

function render() {
  if (!booth) return;
  const sponsor = booth.sponsor_name;
  document.title = `${t('booth.title', { sponsor })} – ${booth.event_name}`;
  document.getElementById('title').replaceChildren(...tNodes('booth.title', { sponsor }));
  document.getElementById('event-line').replaceChildren(...tNodes('booth.event', { event: booth.event_name }));
  document.getElementById('description').textContent = booth.sponsor_description;
  document.getElementById('receives').replaceChildren(...tNodes('booth.receives', { sponsor, fields: fields() }));
  document.getElementById('sentence').textContent = booth.consent_text;
  const policy = document.getElementById('policy');
  policy.href = booth.privacy_policy_url;
  policy.replaceChildren(...tNodes('sponsors.policy', { name: sponsor }));

  // The e-mailed link first (it was asked for here), then the phone's remembered manage link.
  const proof = linkToken ? 'linked' : manageToken() ? 'remembered' : null;
  document.getElementById('proven').hidden = !proof;
  document.getElementById('ask').hidden = Boolean(proof);
  if (proof) {
    document.getElementById('proof-note').textContent = t(`booth.${proof}`);
    const button = document.getElementById('share');
    button.replaceChildren(...tNodes('booth.share', { sponsor }));
    button.disabled = sharing;
  }
  if (asked) status(tNodes('booth.ask.sent', { event: booth.event_name }));

  document.getElementById('page').hidden = Boolean(granted);
  document.getElementById('done').hidden = !granted;
  if (granted) {
    document.getElementById('done-title').replaceChildren(...tNodes(
      granted.newly_granted ? 'booth.done' : 'booth.already', { sponsor, fields: fields() }));
    const restricted = document.getElementById('done-restricted');
    restricted.hidden = !granted.restricted;
    restricted.textContent = t('booth.restricted');
    document.getElementById('done-withdraw').textContent = t('booth.withdraw');
    const manage = document.getElementById('manage-link');
    const token = manageToken();
    manage.hidden = !token;
    if (token) {
      manage.href = `/m/${encodeURIComponent(token)}`;
      manage.textContent = t('booth.manage');
    }
  }
}

async function load() {
  try {
    booth = await api('GET', `/booths/${encodeURIComponent(code)}?lang=${lang()}`);
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    document.getElementById('unavailable').hidden = false;
    document.getElementById('page').hidden = true;
    status(problemText(err.problem), 'error');
    return false;
  }
  return true;
}

async function share() {
  sharing = true;
  render();
  const proof = linkToken ? { link_token: linkToken } : { manage_token: manageToken() };
  try {
    granted = await pageApi('POST', `/s/${encodeURIComponent(code)}/grant`, {
      ...proof, language: booth.language, notice_version: booth.notice_version,
    });
    linkToken = null;
    sharing = false;
    status('');
    render();
    document.getElementById('done').focus();
  } catch (err) {
    sharing = false;
    if (!(err instanceof ApiProblem)) throw err;
    if (err.code === 'notice_outdated') {
      // What the sponsor receives changed while the page was open: show the new sentence.
      await load();
      render();
      status(problemText(err.problem), 'error');
    } else if (err.code === 'not_found') {
      // A used or expired e-mailed link, or a remembered link that opens nothing any more: the
      // page offers to e-mail a new one.
      if (proof.link_token) {
        linkToken = null;
        status(t('booth.problem.link'), 'error');
      } else {
        forget(booth.event_slug, false);
        status(t('booth.problem.forgotten'), 'error');
      }
      render();
    } else {
      render();
      status(problemText(err.problem), 'error');
    }
  }
}

async function ask(e) {
  e.preventDefault();
  clearFieldErrors();
  const email = document.getElementById('email').value.trim();
  try {
    await api('POST', `/booths/${encodeURIComponent(code)}/links`, { email, language: lang() });
    asked = true;
    render();
  } catch (err) {
    if (!(err instanceof ApiProblem && showFieldError(err.problem))) {
      if (!(err instanceof ApiProblem)) throw err;
      status(problemText(err.problem), 'error');
    }
  }
}

translate();
setUpSwitch();
// Another language: the sponsor's sentence comes again from the server, written in it.
onLanguage(async () => {
  if (!booth || granted) return render();
  if (await load()) render();
});
// The mailed link opened in the tab that asked for it: the same page, a new fragment.
window.addEventListener('hashchange', () => {
  takeToken();
  // A new link is a new share: the page shows the sponsor and its button again.
  granted = null;
  asked = false;
  status('');
  render();
});
document.getElementById('share').addEventListener('click', share);
document.getElementById('ask').addEventListener('submit', ask);
if (await load()) {
  status('');
  render();
}
