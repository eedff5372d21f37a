// Problems shown at their form field: the field's input has the id `{prefix}{field}` and its
// message slot `{prefix}{field}-error` (aria-describedby points there).

import { status } from './api.js';
import { plural, problemText } from './i18n.js';

/** Hide every field message under `root` and clear the invalid marks. */
export function clearFieldErrors(root = document) {
  for (const el of root.querySelectorAll('.error')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Show `problem` at the fields it names (`errors`: every field in error, in form order; else
 *  its own `field`), mark each invalid and move the focus to the first; false when it names no
 *  field of this page. */
export function showFieldError(problem, prefix = '') {
  const errors = problem?.errors?.length ? problem.errors : [problem];
  let first = null;
  let shown = 0;
  for (const error of errors) {
    const input = error?.field && document.getElementById(`${prefix}${error.field}`);
    const slot = input && document.getElementById(`${prefix}${error.field}-error`);
    if (!slot) continue;
    slot.textContent = problemText(error);
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    first ??= input;
    shown += 1;
  }
  if (!first) return false;
  first.focus();
  status(plural('form.invalid', shown), 'error');
  return true;
}
