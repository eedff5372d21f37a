// The browser kiosk as a sponsor at a booth uses it: a phone (390×844) whose browser has neither
// BarcodeDetector nor Ed25519 in WebCrypto (as older Safari), scanning with its camera — Chromium's
// fake camera playing a video made here from two real badge PNGs — then losing the connection:
// scans queue, a forged badge is refused on the spot, the page reloads offline, and the queue is
// sent once the connection is back, each scan counted once even when an answer is lost mid-sync.
// A scanner burst typed into a lead's note becomes a scan. Then a desktop browser reads a badge
// link typed by hand and downloads the booth's leads as CSV, and a phone's own camera opening a
// badge link lands on the page about the badge. Screenshots of every state go to the artifacts.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { allow, artifactsDir, assertAccessible, demo, done, launch, newPage, screenshot, step, url } from './harness.mjs';
import { writeY4m } from './fake-camera.mjs';
import { mkdirSync } from 'node:fs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const SPONSOR = 'Acme Analytics';
const stamp = Date.now();

// ---------------------------------------------------------------------------------------------
// The attendees and the kiosks, through the API

const event = await (await fetch(url('/api/v1/events/consentry-demo'))).json();
const sponsorId = event.sponsors.find((s) => s.name === SPONSOR).id;

async function register(first, last, consents) {
  const email = `${first.toLowerCase()}-${stamp}@example.org`;
  const response = await fetch(url('/api/v1/events/consentry-demo/registrations'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      first_name: first, last_name: last, email, company: `${last} Works`, age_confirmed: true,
      notice_version: event.privacy_notice_version, sponsor_opt_ins: consents ? [sponsorId] : [],
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  const { badge } = JSON.parse(text);
  return { first, last, email, token: badge.token, png: Buffer.from(badge.qr_png_base64, 'base64') };
}

const camAccepted = await register('Ada', 'Lovelace', true);
const camRefused = await register('Bob', 'Refuser', false);
const offlineAccepted = await register('Cleo', 'Queued', true);
const offlineRefused = await register('Dan', 'Declined', false);
const burst = await register('Eve', 'Burst', true);

const login = await (await fetch(url('/api/v1/auth/login'), {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: demo.email, password: demo.password }),
})).json();
const organiser = { authorization: `Bearer ${login.token}` };
const eventId = (await (await fetch(url('/api/v1/events'), { headers: organiser })).json())
  .find((e) => e.slug === 'consentry-demo').id;

async function newKiosk() {
  const response = await fetch(url(`/api/v1/events/${eventId}/sponsors/${sponsorId}/kiosks`), {
    method: 'POST', headers: organiser,
  });
  assert.equal(response.status, 201);
  return (await response.json()).pairing_url;
}

/** The booth's leads as the organiser's export sees them: the server's truth, not the page's. */
async function serverLeads() {
  const response = await fetch(url(`/api/v1/events/${eventId}/sponsors/${sponsorId}/leads.json`), { headers: organiser });
  assert.equal(response.status, 200);
  return response.json();
}

function leadOf(leads, person) {
  const found = leads.filter((l) => l.email === person.email || l.contact?.email === person.email);
  assert.ok(found.length <= 1, `one lead per attendee, found ${found.length}`);
  return found[0];
}

// The fake camera: Ada's badge, then Bob's, each for two seconds, looping.
mkdirSync(artifactsDir, { recursive: true });
const video = path.join(artifactsDir, 'fake-camera.y4m');
writeY4m(video, [camAccepted.png, camRefused.png], { fps: 5, secondsEach: 2, blankBetween: 1 });

const browser = await launch({
  args: [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${video}`,
  ],
});

// A phone browser without BarcodeDetector and without Ed25519 in WebCrypto: the kiosk must fall
// back to jsQR for the camera and to noble-ed25519 for the offline badge check.
const phone = await newPage(browser, { locale: 'en-GB', permissions: ['camera'], ...PHONE });
await phone.context().addInitScript(() => {
  delete window.BarcodeDetector;
  const importKey = SubtleCrypto.prototype.importKey;
  SubtleCrypto.prototype.importKey = function (format, key, algorithm, ...rest) {
    const name = typeof algorithm === 'string' ? algorithm : algorithm?.name;
    if (name === 'Ed25519') return Promise.reject(new DOMException('Ed25519', 'NotSupportedError'));
    return importKey.call(this, format, key, algorithm, ...rest);
  };
});

const outcome = (page) => page.locator('#outcome');
async function waitForOutcome(page, kind, text) {
  const box = page.locator(`#outcome[data-outcome=${kind}]`, text ? { hasText: text } : {});
  await box.waitFor();
  return box;
}
async function scanCount(page) {
  return page.locator('#outcome-count').textContent();
}
/** A USB scanner: the badge text typed a few ms a key, then Enter, wherever the focus is. */
async function scannerTypes(page, text) {
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}
/** A screenshot once the outcome's flash is over, so the colours are the ones a sponsor sees. */
async function shot(page, name) {
  await page.waitForTimeout(500);
  await screenshot(page, name);
  await assertAccessible(page, name.replace(/\.png$/, ''));
}
async function noHorizontalScroll(page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
}

// ---------------------------------------------------------------------------------------------
// The phone

await step('phone: the pairing link opens the kiosk with the code filled in', async () => {
  await phone.goto(await newKiosk());
  await phone.getByRole('heading', { name: 'Pair this device' }).waitFor();
  assert.match(await phone.getByLabel('Pairing code').inputValue(), /^[A-Z0-9]{8}$/);
  await shot(phone, 'phone-1-pair.png');
  await phone.getByLabel('Name of this device (optional)').fill('Booth phone');
  await phone.getByRole('button', { name: 'Pair' }).click();
  await phone.getByRole('heading', { level: 1, name: `${SPONSOR} · Consentry Demo Summit` }).waitFor();
  assert.equal(new URL(phone.url()).hash, '', 'the used code is gone from the address bar');
  await waitForOutcome(phone, 'ready');
  await phone.locator('#connection', { hasText: 'Online' }).waitFor();
  await noHorizontalScroll(phone);
  await shot(phone, 'phone-2-ready.png');
});

await step('phone: the kiosk credential is nowhere a script can read it', async () => {
  const seen = await phone.evaluate(() => ({
    cookie: document.cookie,
    local: JSON.stringify({ ...localStorage }),
    session: JSON.stringify({ ...sessionStorage }),
  }));
  for (const [where, text] of Object.entries(seen)) {
    assert.doesNotMatch(text, /eyJ/, `a token in ${where}`);
  }
  const cookies = await phone.context().cookies();
  const kioskCookie = cookies.find((c) => c.name === 'consentry_kiosk');
  assert.ok(kioskCookie, 'the kiosk cookie is set');
  assert.equal(kioskCookie.httpOnly, true);
  assert.equal(kioskCookie.path, '/kiosk');
  assert.equal(kioskCookie.sameSite, 'Strict');
});

await step('phone: the camera (jsQR, no BarcodeDetector) reads a consenting badge: ACCEPTED with the name', async () => {
  await phone.getByRole('button', { name: 'Scan with the camera' }).click();
  await phone.locator('#viewfinder[data-engine=jsQR]').waitFor();
  await waitForOutcome(phone, 'accepted', 'Ada Lovelace');
  assert.equal(await phone.locator('#outcome-word').textContent(), 'ACCEPTED');
  assert.match(await phone.locator('#outcome-detail').textContent(), /^Ada Lovelace, Lovelace Works$/);
  // Name and company each isolated, so that right-to-left text cannot swap them around the comma.
  assert.deepEqual(await phone.locator('#outcome-detail bdi').allTextContents(), ['Ada Lovelace', 'Lovelace Works']);
  await shot(phone, 'phone-3-camera-accepted.png');
}, { timeout: 45_000 });

await step('phone: the camera reads a badge without consent: REFUSED with a sentence to say', async () => {
  await waitForOutcome(phone, 'refused');
  assert.equal(await phone.locator('#outcome-word').textContent(), 'REFUSED');
  assert.match(await phone.locator('#outcome-detail').textContent(), /They can allow you from the link in their confirmation e-mail/);
  assert.doesNotMatch(await outcome(phone).textContent(), /Bob|Refuser/);
  await shot(phone, 'phone-4-camera-refused.png');
  await phone.getByRole('button', { name: 'Stop the camera' }).click();
  await phone.locator('#viewfinder').waitFor({ state: 'hidden' });
}, { timeout: 45_000 });

await step('phone: Ada is a lead on the server, Bob left none', async () => {
  const leads = await serverLeads();
  assert.ok(leadOf(leads, camAccepted), 'Ada is a lead');
  assert.equal(leadOf(leads, camRefused), undefined, 'Bob is not');
  await phone.locator('#leads li', { hasText: 'Ada Lovelace' }).waitFor();
  assert.equal(await phone.locator('#leads li', { hasText: 'Refuser' }).count(), 0);
});

let firstSync = null;
await step('phone: offline, badges are QUEUED and a forged one is refused at once', async () => {
  // The service worker must hold the kiosk's files before the connection goes.
  await phone.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
  // Offline, the service worker still tries the network first for the kiosk's files.
  allow(phone, /request failed: GET .*net::ERR_INTERNET_DISCONNECTED/);
  await phone.context().setOffline(true);
  await phone.locator('#connection[data-state=offline]').waitFor();
  await phone.locator('body').click({ position: { x: 5, y: 5 } });

  await scannerTypes(phone, offlineAccepted.token);
  await waitForOutcome(phone, 'queued', '1 scan waiting');
  assert.equal(await phone.locator('#outcome-word').textContent(), 'QUEUED');
  const first = await scanCount(phone);
  await shot(phone, 'phone-5-offline-queued.png');

  await scannerTypes(phone, offlineRefused.token);
  await waitForOutcome(phone, 'queued', '2 scans waiting');
  assert.notEqual(await scanCount(phone), first, 'two equal outcomes in a row are told apart');
  await phone.locator('#connection', { hasText: '2 scans waiting' }).waitFor();

  // Ada's token with one signature character changed: not signed by the event's key.
  const [h, p, s] = offlineAccepted.token.split('.');
  const forged = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
  await scannerTypes(phone, forged);
  await waitForOutcome(phone, 'refused', 'Not a badge of this event');
  await phone.locator('#connection', { hasText: '2 scans waiting' }).waitFor();
  await shot(phone, 'phone-6-offline-forged.png');
});

await step('phone: reloaded offline, the kiosk opens from the device with its queue', async () => {
  await phone.reload();
  await phone.getByRole('heading', { level: 1, name: `${SPONSOR} · Consentry Demo Summit` }).waitFor();
  await phone.locator('#connection', { hasText: 'Offline · 2 scans waiting' }).waitFor();
  await phone.locator('#leads-summary', { hasText: 'never stored on this device' }).waitFor();
  const queued = await phone.evaluate(async () => {
    const store = await import('/js/kiosk-store.js');
    return (await store.queued()).map((s) => Object.keys(s).sort().join(','));
  });
  assert.deepEqual(queued, Array(2).fill('badge_token,client_scan_id,queued_at,scanned_at'));
  await shot(phone, 'phone-7-offline-reloaded.png');
});

await step('phone: back online, the queue is sent by itself; an answer lost mid-sync counts once', async () => {
  // The first scan sent reaches the server, but its answer is lost on the way back.
  allow(phone, /request failed: POST .*\/kiosk\/api\/v1\/scans/);
  allow(phone, /Failed to load resource: net::ERR_CONNECTION_RESET .*\/kiosk\/api\/v1\/scans/);
  let lost = false;
  await phone.route('**/kiosk/api/v1/scans', async (route) => {
    if (lost) return route.continue();
    lost = true;
    firstSync = route.request().postData();
    await route.fetch();
    await route.abort('connectionreset');
  });
  await phone.context().setOffline(false);
  await phone.locator('#connection', { hasText: 'Online' }).waitFor({ timeout: 20_000 });
  await phone.locator('#synced li[data-outcome=accepted]', { hasText: 'Cleo Queued' }).waitFor();
  await phone.locator('#synced li[data-outcome=refused]').waitFor();
  assert.ok(lost, 'the answer of the first sync was lost');
  await phone.unroute('**/kiosk/api/v1/scans');
  const leads = await serverLeads();
  assert.equal(leadOf(leads, offlineAccepted).scan_count, 1, 'counted once');
  assert.equal(leadOf(leads, offlineRefused), undefined, 'the refused scan left no lead');
  assert.equal(await phone.evaluate(async () => (await import('/js/kiosk-store.js')).queueSize()), 0);
  await phone.locator('#leads li', { hasText: 'Cleo Queued' }).waitFor();
  await shot(phone, 'phone-8-synced.png');
}, { timeout: 45_000 });

await step('phone: replaying a sent scan adds nothing', async () => {
  const status = await phone.evaluate(async (body) => (await fetch('/kiosk/api/v1/scans', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body,
  })).status, firstSync);
  assert.ok(status === 200 || status === 201, `replay answered ${status}`);
  const leads = await serverLeads();
  assert.equal(leadOf(leads, offlineAccepted).scan_count, 1);
});

await step('phone: a scanner burst while a note has focus is a scan, and the note is unchanged', async () => {
  const lead = phone.locator('#leads li', { hasText: 'Cleo Queued' });
  const note = lead.getByLabel('Note');
  await note.click();
  await note.pressSequentially('Met at booth', { delay: 90 });
  await scannerTypes(phone, burst.token);
  await waitForOutcome(phone, 'accepted', 'Eve Burst');
  assert.equal(await note.inputValue(), 'Met at booth');
  await lead.getByLabel('Rating').selectOption({ label: '4 – very interested' });
  await lead.getByLabel('Tags').fill('demo, call back');
  await lead.getByRole('button', { name: 'Save' }).click();
  await lead.locator('.saved', { hasText: 'Saved.' }).waitFor();
  const saved = leadOf(await serverLeads(), offlineAccepted);
  assert.equal(saved.note, 'Met at booth');
  assert.equal(saved.rating, 4);
  await shot(phone, 'phone-9-burst-in-note.png');
});

await step('phone: the leads can be searched', async () => {
  await phone.getByLabel('Search your leads').fill('call back');
  await phone.locator('#leads-summary', { hasText: '1 of 3 leads' }).waitFor();
  assert.equal(await phone.locator('#leads li').count(), 1);
  await phone.getByLabel('Search your leads').fill('');
  await phone.locator('#leads-summary', { hasText: '3 leads' }).waitFor();
});

await step('phone: in Dutch the outcome still fits the screen', async () => {
  await phone.getByRole('button', { name: 'Nederlands' }).click();
  await scannerTypes(phone, camAccepted.token);
  await waitForOutcome(phone, 'accepted', 'Ada Lovelace');
  assert.equal(await phone.locator('#outcome-word').textContent(), 'GEACCEPTEERD');
  await noHorizontalScroll(phone);
  await shot(phone, 'phone-10-dutch-accepted.png');
  await phone.getByRole('button', { name: 'English' }).click();
});

await step('phone: unpairing says that a new code will be needed', async () => {
  await phone.getByRole('button', { name: 'Unpair this device' }).click();
  const dialog = phone.getByRole('dialog', { name: 'Unpair this device?' });
  await dialog.waitFor();
  assert.match(await dialog.textContent(), /new pairing code from the organiser/);
  await shot(phone, 'phone-11-unpair-dialog.png');
  await dialog.getByRole('button', { name: 'Keep it paired' }).click();
  await dialog.waitFor({ state: 'hidden' });
});

await step('phone: a badge link opened by the phone’s own camera lands on the badge page', async () => {
  const page = await phone.context().newPage();
  await page.goto(url(`/b#${camAccepted.token}`));
  await page.getByRole('heading', { level: 1, name: 'This badge holds no personal data' }).waitFor();
  assert.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar');
  await noHorizontalScroll(page);
  await shot(page, 'phone-12-badge-page.png');
  await page.getByRole('button', { name: 'Nederlands' }).click();
  await page.getByRole('heading', { level: 1, name: 'Deze badge bevat geen persoonsgegevens' }).waitFor();
  await noHorizontalScroll(page);
  await shot(page, 'phone-13-badge-page-dutch.png');
  await page.close();
});

// ---------------------------------------------------------------------------------------------
// A laptop at another booth of the same sponsor

const desk = await newPage(browser, { locale: 'en-GB', viewport: { width: 1280, height: 860 } });
// As over plain HTTP on a venue's network, where `crypto.randomUUID` (secure contexts only) is
// missing: scans still get their client scan ids.
await desk.context().addInitScript(() => {
  delete Crypto.prototype.randomUUID;
});

await step('desktop: pair, read a badge link typed by hand, download the booth’s leads', async () => {
  await desk.goto(await newKiosk());
  assert.equal(await desk.evaluate(() => typeof crypto.randomUUID), 'undefined');
  await desk.getByRole('button', { name: 'Pair' }).click();
  await waitForOutcome(desk, 'ready');
  await desk.getByText('Type a badge code').click();
  await desk.getByLabel('Badge code or link').fill(url(`/b#${burst.token}`));
  await desk.getByRole('button', { name: 'Check badge' }).click();
  await waitForOutcome(desk, 'accepted', 'Eve Burst');
  await shot(desk, 'desktop-1-accepted.png');
  const [download] = await Promise.all([
    desk.waitForEvent('download'),
    desk.getByRole('link', { name: 'Download CSV' }).click(),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  for (const person of [camAccepted, offlineAccepted, burst]) assert.match(csv, new RegExp(person.email));
  for (const person of [camRefused, offlineRefused]) assert.doesNotMatch(csv, new RegExp(person.email));
  assert.match(csv, /Met at booth/);
  assert.equal(leadOf(await serverLeads(), burst).scan_count, 2);
});

await step('desktop: unpairing revokes the kiosk and forgets it', async () => {
  await desk.getByRole('button', { name: 'Unpair this device' }).click();
  await desk.getByRole('dialog').getByRole('button', { name: 'Unpair' }).click();
  await desk.getByRole('heading', { name: 'Pair this device' }).waitFor();
  assert.equal((await desk.context().cookies()).filter((c) => c.name === 'consentry_kiosk').length, 0);
  // The kiosk itself is revoked: even a cookie kept elsewhere would no longer open it.
  allow(desk, /status of 401/);
  const status = await desk.evaluate(async () => (await fetch('/kiosk/api/v1/kiosk')).status);
  assert.equal(status, 401);
  await shot(desk, 'desktop-2-unpaired.png');
});

await done();
