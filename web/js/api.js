// The API on the same origin. Every error answer is application/problem+json; callers get it as
// an ApiProblem with its stable `code` and, for validation errors, the `field`.

export class ApiProblem extends Error {
  constructor(problem, status) {
    super(problem?.title || `HTTP ${status}`);
    this.problem = problem || {};
    this.status = status;
    this.code = this.problem.code || 'network';
    this.field = this.problem.field;
  }
}

/** Call the API; `token` is a Bearer token (a kiosk's), otherwise the session cookie goes along. */
export async function api(method, path, body, token) {
  return call(method, `/api/v1${path}`, body, token);
}

/**
 * Call one of the pages' own routes (`/e/{slug}/registrations`, `/m/{token}/consents`): the
 * API's operations, recorded by the server as given through Consentry's web page.
 */
export async function pageApi(method, path, body) {
  return call(method, path, body);
}

async function call(method, url, body, token) {
  const headers = body === undefined ? {} : { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiProblem({ code: 'network' }, 0);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiProblem(data, response.status);
  return data;
}

/** Create an element with attributes and children (strings become text, never HTML). */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Text someone typed (a name, a company, an event), isolated in a `<bdi>`: right-to-left text then
 * cannot reorder the words around it. Null for an empty value, so that `h()` leaves it out.
 */
export function userText(value) {
  return typeof value === 'string' && value !== '' ? h('bdi', {}, value) : null;
}

/** The non-empty `parts`, each isolated (see `userText`), with `separator` between them. */
export function joinUserText(parts, separator) {
  const nodes = [];
  for (const part of parts) {
    const node = userText(part);
    if (!node) continue;
    if (nodes.length) nodes.push(document.createTextNode(separator));
    nodes.push(node);
  }
  return nodes;
}

/**
 * Announce `message` to screen readers and show it in `#status`: a string, or nodes (from `tNodes`)
 * when it holds someone's text that must stay isolated.
 */
export function status(message, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  // Its first words ("Loading…") came from the page's translations; from now on the page says
  // what it is, and a language switch must not put "Loading…" back.
  el.removeAttribute('data-i18n');
  if (Array.isArray(message)) el.replaceChildren(...message);
  else el.textContent = message;
  el.dataset.kind = kind;
}
