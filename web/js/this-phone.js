// The manage link a phone remembers for an event, so that a sponsor's booth page (/s/{code}) can
// tell the registrant from anyone else without their typing anything. Kept in this browser's
// localStorage only, one entry per event slug; nothing is sent anywhere until the person presses
// the booth page's button. The manage page remembers it when opened and forgets it on request
// (and a forgotten phone stays forgotten until the person asks again).

const tokenKey = (slug) => `consentry.manage.${slug}`;
const forgottenKey = (slug) => `consentry.manage.${slug}.forgotten`;

function storage() {
  try {
    return window.localStorage;
  } catch {
    // Storage refused (a private window, a policy): the booth page then offers the e-mailed link.
    return null;
  }
}

/** The manage token this phone remembers for the event `slug`, if any. */
export function rememberedToken(slug) {
  return storage()?.getItem(tokenKey(slug)) || null;
}

/** Whether the person asked this phone to forget the event's manage link. */
export function wasForgotten(slug) {
  return storage()?.getItem(forgottenKey(slug)) === '1';
}

/** Remember `token` for `slug` on this phone. */
export function remember(slug, token) {
  const store = storage();
  if (!store) return false;
  store.setItem(tokenKey(slug), token);
  store.removeItem(forgottenKey(slug));
  return true;
}

/** Forget the event's manage link on this phone; `forEver` keeps it from being remembered again. */
export function forget(slug, forEver = true) {
  const store = storage();
  if (!store) return;
  store.removeItem(tokenKey(slug));
  if (forEver) store.setItem(forgottenKey(slug), '1');
}
