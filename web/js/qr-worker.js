// QR decoding off the main thread, for browsers without BarcodeDetector (Safari, Firefox, desktop
// Chromium on Linux and Windows). jsQR takes tens of milliseconds per camera frame; here that time
// cannot freeze the kiosk's page or its video.
//
// A classic worker (not a module worker) because jsQR is a UMD bundle that defines `self.jsQR`
// through importScripts, and module workers arrived late in Firefox.
//
// Protocol: the page posts {id, width, height, data} with `data` an RGBA Uint8ClampedArray (from
// getImageData, its buffer transferred so nothing is copied); the worker answers {id, text}, text
// being the QR code's content or null. `id` lets the page drop answers to frames it no longer
// waits for. Every message gets exactly one answer, so the page can keep one frame in flight.

importScripts('/vendor/jsqr/jsQR.js');

self.onmessage = (event) => {
  const { id, width, height, data } = event.data ?? {};
  let text = null;
  try {
    // 'attemptBoth' also tries the inverted image: light-on-dark codes and screens showing a
    // badge decode too, at about twice the cost of a frame without a code.
    const code = self.jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
    text = code ? code.data : null;
  } catch {
    // A malformed message (wrong size, not a pixel buffer) or a jsQR failure counts as "no code
    // in this frame": an exception would leave the page waiting for an answer that never comes.
    text = null;
  }
  self.postMessage({ id, text });
};
