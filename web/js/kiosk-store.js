// What the booth kiosk keeps on the device, in IndexedDB (it survives reloads and going offline):
//
// - `kiosk`: which kiosk this is (event, sponsor) and the event's public badge keys, so the page
//   opens and checks badge signatures without a connection. Nothing secret: the kiosk token itself
//   is an HttpOnly cookie that no script can read.
// - `queue`: scans not yet answered by the server, each with its client scan id and the time of
//   the scan. It holds badge tokens only (a random badge id, no personal data), and each entry is
//   deleted as soon as the server has answered it.
//
// Leads (names, e-mail addresses) are never stored here: they are personal data the sponsor holds
// only while the attendee's consent lasts, so the page fetches them fresh and keeps them in memory.

const DB_NAME = 'consentry-kiosk';
const DB_VERSION = 1;

let opened = null;
/** Set when the browser gives no IndexedDB (some private modes): the kiosk then keeps its queue in
 * memory, and says that it does ([`durable`]). */
let memory = null;

function database() {
  opened ??= new Promise((resolve, reject) => {
    if (!('indexedDB' in globalThis)) {
      reject(new Error('no IndexedDB'));
      return;
    }
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta');
      if (!db.objectStoreNames.contains('queue')) {
        db.createObjectStore('queue', { keyPath: 'client_scan_id' });
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

/** A stand-in for the two stores, with the same requests, when IndexedDB cannot be opened. */
function memoryStores() {
  const stores = { meta: new Map(), queue: new Map() };
  const request = (result) => {
    const r = { result };
    queueMicrotask(() => r.onsuccess?.());
    return r;
  };
  const store = (name) => ({
    get: (key) => request(stores[name].get(key)),
    getAll: () => request([...stores[name].values()]),
    count: () => request(stores[name].size),
    put: (value, key) => request(stores[name].set(key ?? value.client_scan_id, value) && undefined),
    delete: (key) => request(stores[name].delete(key) && undefined),
    clear: () => request(stores[name].clear()),
  });
  return { meta: store('meta'), queue: store('queue') };
}

/** Whether what the kiosk keeps survives a reload (false only without IndexedDB). */
export async function durable() {
  try {
    await database();
    return true;
  } catch {
    return false;
  }
}

/** Run `work(store)` in one transaction over `storeName` and resolve when it has committed. */
async function inStore(storeName, mode, work) {
  let db;
  try {
    db = await database();
  } catch {
    memory ??= memoryStores();
    const request = work(memory[storeName]);
    return new Promise((resolve) => {
      if (!request) resolve(undefined);
      else request.onsuccess = () => resolve(request.result);
    });
  }
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(storeName, mode);
    let result;
    const request = work(transaction.objectStore(storeName));
    if (request) request.onsuccess = () => { result = request.result; };
    transaction.oncomplete = () => resolve(result);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

/** The paired kiosk as last confirmed by the server, or null. */
export async function loadKiosk() {
  return (await inStore('meta', 'readonly', (s) => s.get('kiosk'))) ?? null;
}

export async function saveKiosk(kiosk) {
  await inStore('meta', 'readwrite', (s) => s.put(kiosk, 'kiosk'));
}

/** Forget the kiosk and its queue (after unpairing, or when the server no longer knows it). */
export async function forgetAll() {
  await inStore('meta', 'readwrite', (s) => s.clear());
  await inStore('queue', 'readwrite', (s) => s.clear());
}

/** Keep a scan until the server has answered it. Resolves once it is on disk. */
export async function enqueue(scan) {
  await inStore('queue', 'readwrite', (s) => s.put(scan));
}

/** The waiting scans, oldest first. */
export async function queued() {
  const all = (await inStore('queue', 'readonly', (s) => s.getAll())) ?? [];
  return all.sort((a, b) => a.queued_at - b.queued_at);
}

export async function queueSize() {
  return (await inStore('queue', 'readonly', (s) => s.count())) ?? 0;
}

/** The server has answered this scan: nothing of it stays on the device. */
export async function dequeue(clientScanId) {
  await inStore('queue', 'readwrite', (s) => s.delete(clientScanId));
}
