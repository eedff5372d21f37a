// USB and Bluetooth badge scanners are keyboards: they type the badge's text a few milliseconds
// per key and press Enter. A burst like that is a scan wherever the focus is, so it is taken out
// of whatever field has focus (a lead's note, the search box) and handed to `onScan`; a person's
// typing, tens of milliseconds per key at the very fastest, is left alone.
//
// The first few keys of a burst land in the field before it can be told from typing; once it is
// recognised the field is put back as it was. A fast burst that ends without Enter (a scanner set
// up without it, or typing that happened to be fast) is given back to the field as typed.

/** Longest gap between two keys of one burst, in ms. Scanners: 1–15; people: 60 and more. */
const BURST_GAP_MS = 35;
/** This many fast keys in a row are a burst rather than two keys pressed together. */
const BURST_KEYS = 4;
/** Shorter bursts are not badges (a badge token is ~240 characters, its link longer). */
const SHORTEST_SCAN = 16;

function snapshot(el) {
  const field = el && ('value' in el) && !(el instanceof HTMLButtonElement) ? el : null;
  if (!field) return null;
  let start = null;
  let end = null;
  try {
    start = field.selectionStart;
    end = field.selectionEnd;
  } catch {
    // <select> and some input types have no selection.
  }
  return { field, value: field.value, start, end };
}

function putBack(saved) {
  if (!saved || saved.field.value === saved.value) return;
  saved.field.value = saved.value;
  if (saved.start !== null) {
    try {
      saved.field.setSelectionRange(saved.start, saved.end);
    } catch {
      // Not a text field.
    }
  }
  saved.field.dispatchEvent(new Event('input', { bubbles: true }));
}

function typeInto(saved, text) {
  if (!saved || saved.start === null || !text) return;
  saved.field.setRangeText(text, saved.start, saved.end, 'end');
  saved.field.dispatchEvent(new Event('input', { bubbles: true }));
}

/**
 * Listen for scanner bursts on the whole page. `onScan(text)` gets each burst's text;
 * `enabled()` says whether bursts are scans right now (false while pairing, say).
 */
export function listenForScanner(onScan, { enabled = () => true } = {}) {
  let keys = [];
  let last = 0;
  let burst = false;
  let saved = null;
  let timer = null;

  const reset = () => {
    keys = [];
    burst = false;
    saved = null;
    clearTimeout(timer);
  };
  // Not a scan after all: what was held back goes where it was typed.
  const giveBack = () => {
    if (burst) typeInto(saved, keys.join(''));
    reset();
  };

  window.addEventListener('keydown', (e) => {
    if (!enabled() || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Shift' || e.key === 'CapsLock') return; // scanners send Shift for capitals
    const now = e.timeStamp;
    const fast = keys.length > 0 && now - last <= BURST_GAP_MS;

    if (e.key === 'Enter') {
      if (burst && fast && keys.length >= SHORTEST_SCAN) {
        // The burst's Enter must not submit the form the field is in.
        e.preventDefault();
        e.stopImmediatePropagation();
        const text = keys.join('');
        reset();
        onScan(text);
      } else {
        giveBack();
      }
      return;
    }
    if (e.key.length !== 1) {
      giveBack();
      return;
    }
    if (fast) {
      keys.push(e.key);
      last = now;
      if (!burst && keys.length >= BURST_KEYS) {
        burst = true;
        putBack(saved);
      }
      if (burst) e.preventDefault();
    } else {
      giveBack();
      // Perhaps the first key of a burst: it lands in the field like any key.
      keys = [e.key];
      last = now;
      saved = snapshot(document.activeElement);
    }
    clearTimeout(timer);
    timer = setTimeout(giveBack, BURST_GAP_MS * 4);
  }, { capture: true });
}
