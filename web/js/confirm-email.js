// The page /confirm-email#{token}, linked from the mail sent to a new address: one button that
// confirms the change. The token is read from the fragment (which never reaches a server) and
// removed from the address bar; it is sent only in the body of the POST. The button, rather than
// confirming on load, keeps mail scanners that open links from confirming for the person.

import { api, status, ApiProblem } from './api.js';
import { t, tNodes, translate, setUpSwitch, onLanguage, problemText } from './i18n.js';

const token = decodeURIComponent(location.hash.slice(1));
if (location.hash) history.replaceState(null, '', location.pathname);
let done = null;

function render() {
  if (done) status(tNodes('confirm.done', { email: done.email, event: done.event }));
}

async function confirm() {
  const button = document.getElementById('confirm');
  button.disabled = true;
  try {
    done = await api('POST', '/email-changes/confirm', { token });
    button.hidden = true;
    render();
  } catch (err) {
    if (!(err instanceof ApiProblem)) throw err;
    const key = `confirm.problem.${err.code}`;
    status(t(key) !== key ? t(key) : problemText(err.problem), 'error');
    button.disabled = err.code !== 'rate_limited' && err.code !== 'network';
  }
}

translate();
setUpSwitch();
onLanguage(render);
const button = document.getElementById('confirm');
if (!token) {
  button.disabled = true;
  status(t('confirm.problem.not_found'), 'error');
}
button.addEventListener('click', confirm);
