// The booth kiosk's service worker: keeps the kiosk's own files (page, style, scripts, QR
// decoder) on the device so that /kiosk opens and scans without a connection. Venue Wi-Fi comes
// and goes; a sponsor reloading the page must not get the browser's error page.
//
// It stores files only, never an answer of the API: leads are personal data and are fetched fresh,
// and scans made offline wait in the page's own queue (IndexedDB), not here. Requests to the API
// are not touched at all, so they reach the server (or fail) exactly as the page sent them.

const CACHE = 'consentry-kiosk-shell-v1';
const SHELL = [
  '/kiosk',
  '/style.css',
  '/js/kiosk.js',
  '/js/api.js',
  '/js/i18n.js',
  '/js/kiosk-store.js',
  '/js/scanner-burst.js',
  '/js/camera.js',
  '/js/badge-check.js',
  '/js/qr-worker.js',
  '/vendor/jsqr/jsQR.js',
  '/vendor/noble-ed25519/index.js',
  '/kiosk/manifest.webmanifest',
  '/kiosk/icon.svg',
];
/** How long a file may take from the network before the stored copy is used instead. */
const NETWORK_WAIT_MS = 3000;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// Network first, so a new version of the kiosk arrives with the next load; the stored copy when
// the network fails or hangs (Wi-Fi that is "connected" but passes nothing).
async function shellFile(request, path) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok) await cache.put(path, response.clone());
    return response;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, NETWORK_WAIT_MS, null));
  try {
    const response = await Promise.race([fromNetwork, timeout]);
    if (response) return response;
  } catch {
    // Offline: the stored copy below.
  }
  const stored = await cache.match(path);
  if (stored) return stored;
  return fromNetwork;
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(shellFile(event.request, url.pathname));
});
