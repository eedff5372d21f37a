// Offline badge check for the kiosk: is a scanned badge token signed by one of the event's keys
// (the JWKS the kiosk cached at pairing), and is it for this event? The server decides again when
// the scan reaches it; this check lets a kiosk without network answer "not a badge of ours" at
// once instead of queueing a forgery or a badge of another event.
//
// A badge token is a compact JWS: base64url(header).base64url(payload).base64url(signature), with
// header {"alg":"EdDSA","kid":…}, payload {"bid":…,"eid":…,"iat":…} (ids as 22 base64url
// characters = 16 bytes) and an Ed25519 signature over the ASCII bytes of `header.payload`. The
// checks mirror the server's (badge/src/lib.rs), so a token the server refuses is not accepted
// here either.
//
// Ed25519 is verified with WebCrypto where the browser has it (Chromium 137+, Firefox 129+,
// Safari 17+), else with the vendored noble-ed25519, loaded only then.

/** The answers; `reason` values are the server's scan refusal reasons where they mean the same. */
const INVALID = Object.freeze({ ok: false, reason: 'invalid_badge' });
const UNKNOWN_KEY = Object.freeze({ ok: false, reason: 'unknown_key' });

// Far above a real badge token (about 240 characters), far below anything that would make a scan
// slow to refuse.
const MAX_TOKEN_LENGTH = 2048;

// Resolved against this module, not the site root, so the same file works in the browser
// (/js/badge-check.js → /vendor/…) and in Node from the file system (the tests).
const NOBLE_URL = new URL('../vendor/noble-ed25519/index.js', import.meta.url).href;

/**
 * The badge token in a scanned text. A badge QR holds either the bare token or a link
 * `https://host/b#<token>`: the token is in the fragment, so that opening the link never sends it
 * to a server. Returns '' for an empty scan.
 */
export function tokenFromScan(text) {
  if (typeof text !== 'string') return '';
  const trimmed = text.trim();
  const hash = trimmed.lastIndexOf('#');
  return hash === -1 ? trimmed : trimmed.slice(hash + 1).trim();
}

/**
 * Checks `token` against the event's public keys `jwks` ({keys: [...]}, as cached at pairing) and
 * the kiosk's event `eventId` (a UUID string). Resolves to `{ ok: true, kid }` or
 * `{ ok: false, reason }` with reason
 *   'invalid_badge'  not a badge token, not EdDSA, a bad signature, a bad key, or signed by one
 *                    of this event's keys for another event: a forgery or junk;
 *   'unknown_key'    its `kid` is not among the cached keys: a key rotated in after pairing or a
 *                    forgery, which only the server can tell apart.
 * Never throws: every malformed input is 'invalid_badge'.
 */
export async function checkBadge(token, jwks, eventId) {
  try {
    return await check(token, jwks, eventId);
  } catch {
    // Whatever slipped through the explicit checks is still not a badge we can accept.
    return INVALID;
  }
}

async function check(token, jwks, eventId) {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return INVALID;
  const parts = token.split('.');
  if (parts.length !== 3) return INVALID;
  const [headerPart, payloadPart, signaturePart] = parts;

  // Everything about the token's shape is checked before looking at keys, so junk is
  // 'invalid_badge' whatever kid it claims, never 'unknown_key' (which asks the server).
  const header = jsonPart(headerPart);
  // Only EdDSA: rules out `alg: none` and HS256-keyed-with-the-public-key confusions.
  if (!header || header.alg !== 'EdDSA' || typeof header.kid !== 'string' || !header.kid) {
    return INVALID;
  }
  const claims = jsonPart(payloadPart);
  const eid = claims && eventIdOfClaims(claims);
  if (!eid) return INVALID;
  const signature = base64urlBytes(signaturePart);
  if (!signature || signature.length !== 64) return INVALID;

  const x = publicKeyOf(jwks, header.kid);
  if (!x) return UNKNOWN_KEY;

  const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
  const verified = await verifyEd25519(header.kid, x, signature, signed);
  // null: this browser cannot verify Ed25519 at all. Like an unknown key, only the server can
  // decide, so the kiosk answers as it does for one rather than refusing a genuine badge.
  if (verified === null) return UNKNOWN_KEY;
  if (!verified) return INVALID;

  // A key signs only its own event's badges, and the kiosk caches only its event's keys: claims
  // for another event under one of them are a forgery, as the server (badge/src/lib.rs `verify`)
  // rules too. A genuine badge of another event has a kid of its own: 'unknown_key'.
  if (eid !== String(eventId).toLowerCase()) return INVALID;
  return { ok: true, kid: header.kid };
}

/**
 * The event id of badge claims as a hyphenated lowercase UUID, or null unless the claims are
 * exactly {bid, eid, iat} with 16-byte ids and an integer time, as the server requires
 * (`deny_unknown_fields`).
 */
function eventIdOfClaims(claims) {
  const names = Object.keys(claims).sort();
  if (names.length !== 3 || names[0] !== 'bid' || names[1] !== 'eid' || names[2] !== 'iat') {
    return null;
  }
  if (!Number.isSafeInteger(claims.iat)) return null;
  const bid = typeof claims.bid === 'string' ? base64urlBytes(claims.bid) : null;
  const eid = typeof claims.eid === 'string' ? base64urlBytes(claims.eid) : null;
  if (!bid || bid.length !== 16 || !eid || eid.length !== 16) return null;
  const hex = Array.from(eid, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A JSON object encoded as base64url UTF-8, or null. */
function jsonPart(part) {
  const bytes = base64urlBytes(part);
  if (!bytes) return null;
  try {
    // fatal: invalid UTF-8 is a malformed token, not something to repair.
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Unpadded base64url to bytes, or null. Strict like the server's decoder: no padding, no other
 * alphabet, and no stray bits in the last character, so one token has exactly one spelling.
 */
function base64urlBytes(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    return null;
  }
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  const canonical = btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return canonical === text ? bytes : null;
}

/** The 32-byte Ed25519 public key with this kid in the JWKS, or null if there is no usable one. */
function publicKeyOf(jwks, kid) {
  const keys = Array.isArray(jwks?.keys) ? jwks.keys : [];
  const jwk = keys.find((k) => k && k.kid === kid);
  // Keys of another type, or marked for another use, cannot have signed a badge: as the server
  // does, skip them, which leaves this kid unknown.
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return null;
  if ((jwk.use !== undefined && jwk.use !== 'sig') || (jwk.alg !== undefined && jwk.alg !== 'EdDSA')) {
    return null;
  }
  const x = base64urlBytes(jwk.x);
  return x && x.length === 32 ? x : null;
}

// ---------------------------------------------------------------------------------------------
// Ed25519: WebCrypto where it works, noble-ed25519 elsewhere.

// RFC 8032 §7.1, test 1: the empty message. Verifying a known signature, not just importing a
// key, shows the browser's Ed25519 really works before badge answers depend on it.
const PROBE_KEY = hexBytes('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const PROBE_SIGNATURE = hexBytes(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
);

let webCryptoSupport = null; // Promise<boolean>, decided once per page
let noble = null; // Promise of the noble module, imported at most once
const cryptoKeys = new Map(); // kid → { x, key: Promise<CryptoKey> }: import each key once

/** Whether badge signatures are verified with the browser's WebCrypto (else noble-ed25519). */
export async function usesWebCryptoEd25519() {
  webCryptoSupport ??= (async () => {
    try {
      const key = await crypto.subtle.importKey('raw', PROBE_KEY, { name: 'Ed25519' }, false, [
        'verify',
      ]);
      return await crypto.subtle.verify({ name: 'Ed25519' }, key, PROBE_SIGNATURE, new Uint8Array(0));
    } catch {
      // NotSupportedError (no Ed25519 in this browser's WebCrypto) or any other failure.
      return false;
    }
  })();
  return webCryptoSupport;
}

/** true or false, or null when neither WebCrypto nor noble-ed25519 can verify here. */
async function verifyEd25519(kid, x, signature, data) {
  if (await usesWebCryptoEd25519()) {
    let entry = cryptoKeys.get(kid);
    if (!entry || !sameBytes(entry.x, x)) {
      entry = {
        x,
        key: crypto.subtle.importKey('raw', x, { name: 'Ed25519' }, false, ['verify']),
      };
      cryptoKeys.set(kid, entry);
    }
    try {
      return await crypto.subtle.verify({ name: 'Ed25519' }, await entry.key, signature, data);
    } catch {
      // WebCrypto works (the probe passed), so a rejected key is a bad key: not a valid badge.
      return false;
    }
  }
  let verifyAsync;
  try {
    noble ??= import(NOBLE_URL);
    ({ verifyAsync } = await noble);
  } catch {
    // Not loaded (offline before the file was ever cached, say): this kiosk cannot verify now,
    // which is not the badge's fault. Forget the failure so the next scan tries again.
    noble = null;
    return null;
  }
  try {
    // zip215: false is RFC 8032's strict rule, as the server's verifier and WebCrypto apply it,
    // so both paths accept the same signatures.
    return await verifyAsync(signature, data, x, { zip215: false });
  } catch {
    // noble validates its inputs by throwing; it also throws without crypto.subtle (a page not
    // served over HTTPS), where again nothing can be verified.
    return globalThis.crypto?.subtle ? false : null;
  }
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}
