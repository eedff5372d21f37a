// Problems shown at their form field: the field's input has the id `{prefix}{field}` and its
// message slot `{prefix}{field}-error` (aria-describedby points there).

import { status } from './api.js';
import { t, problemText } from './i18n.js';

/** Hide every field message under `root` and clear the invalid marks. */
export function clearFieldErrors(root = document) {
  for (const el of root.querySelectorAll('.error')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Show `problem` at the field it names, mark it invalid and move the focus there; false when it
 *  names no field of this page. */
export function showFieldError(problem, prefix = '') {
  const input = problem?.field && document.getElementById(`${prefix}${problem.field}`);
  const slot = input && document.getElementById(`${prefix}${problem.field}-error`);
  if (!slot) return false;
  slot.textContent = problemText(problem);
  slot.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
  status(t('form.invalid'), 'error');
  return true;
}
