// The organiser and the sponsor in a real browser: the organiser logs in to /admin, sees the
// dashboard and the purge countdown, names the venue's network, creates a kiosk; the browser kiosk
// pairs with the code and scans badges through its input (accepted, refused); the organiser
// exports the leads and revokes the kiosk.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { assertAccessible, launch, newPage, screenshot, step, done, url, demo } from './harness.mjs';

const browser = await launch();
const admin = await newPage(browser, { locale: 'en-GB', allow: [/status of 4\d\d/] });
const kiosk = await newPage(browser, { locale: 'en-GB', allow: [/status of 4\d\d/] });
const stamp = Date.now();
const email = `grace-${stamp}@example.org`;
const device = `Booth tablet ${stamp}`;

async function register(email, optIns) {
  const event = await (await fetch(url('/api/v1/events/consentry-demo'))).json();
  const sponsorIds = event.sponsors.filter((s) => optIns.includes(s.name)).map((s) => s.id);
  const response = await fetch(url('/api/v1/events/consentry-demo/registrations'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      first_name: 'Grace', last_name: `Hopper${optIns.length ? '' : ' Refuser'}`, email,
      company: 'Navy Labs', age_confirmed: true, notice_version: event.privacy_notice_version,
      sponsor_opt_ins: sponsorIds,
    }),
  });
  assert.equal(response.status, 201);
  return (await response.json()).badge.token;
}

const consenting = await register(email, ['Acme Analytics']);
const refusing = await register(`refuser-${stamp}@example.org`, []);
let code;

await step('the organiser logs in and opens the demo event', async () => {
  assert.ok(demo.email && demo.password, 'the demo login is passed in');
  await admin.goto(url('/admin'));
  await admin.getByLabel('E-mail address').fill(demo.email);
  await admin.getByLabel('Password').fill(demo.password);
  await admin.getByRole('button', { name: 'Log in' }).click();
  await admin.getByRole('link', { name: 'Consentry Demo Summit' }).click();
  await admin.getByRole('heading', { level: 1, name: 'Consentry Demo Summit' }).waitFor();
  assert.match(await admin.locator('#registrations').textContent(), /Registrations: [1-9]\d*/);
  assert.match(await admin.locator('#purge').textContent(), /Attendee data is deleted on .* in \d+ days/);
  assert.equal(await admin.locator('svg.chart').count(), 3);
  // Where each sponsor's opt-ins came from, as a table a screen reader can walk.
  const occasions = admin.getByRole('table', { name: "Where each sponsor's current opt-ins were given" });
  const acme = occasions.getByRole('row', { name: /Acme Analytics/ });
  const form = Number(await acme.getByRole('cell').first().textContent());
  assert.ok(form >= 1, 'the opt-in made with the registration form is counted there');
  await screenshot(admin, 'admin-event.png');
  await assertAccessible(admin, 'admin-event');
});

await step('the organiser names the venue network in the event settings', async () => {
  await admin.getByText('Event settings').click();
  const networks = admin.getByLabel(/^Venue networks/);
  // A catch-all is refused at the field…
  await networks.fill('0.0.0.0/0');
  await admin.getByRole('button', { name: 'Save event' }).click();
  await admin.locator('#event-venue_networks-error', { hasText: 'at most an IPv4 /16' }).waitFor();
  assert.equal(await networks.getAttribute('aria-invalid'), 'true');
  // …a venue's network is saved, as the server cleaned it.
  await networks.fill('203.0.113.7/24');
  await admin.getByRole('button', { name: 'Save event' }).click();
  await admin.waitForFunction(() => document.getElementById('event-venue_networks')?.value === '203.0.113.0/24');
});

await step('the organiser creates a kiosk and sees its code as text and QR', async () => {
  await admin.getByRole('button', { name: 'New kiosk for Acme Analytics' }).click();
  code = (await admin.locator('#pairing-code').textContent()).trim();
  assert.match(code, /^[A-Z0-9]{4}-?[A-Z0-9]{4}$/);
  await admin.waitForFunction(() => document.querySelector('#pairing img').naturalWidth > 0);
  await screenshot(admin, 'admin-kiosk-code.png');
  await assertAccessible(admin, 'admin-kiosk-code');
});

await step('the browser kiosk pairs with the code', async () => {
  await kiosk.goto(url('/kiosk'));
  await kiosk.getByLabel('Pairing code').fill(code);
  await kiosk.getByLabel('Name of this device (optional)').fill(device);
  await kiosk.getByRole('button', { name: 'Pair' }).click();
  await kiosk.getByRole('heading', { level: 1, name: 'Acme Analytics · Consentry Demo Summit' }).waitFor();
});

await step('a consenting badge typed by a USB scanner is ACCEPTED and becomes a lead', async () => {
  await kiosk.keyboard.type(consenting);
  await kiosk.keyboard.press('Enter');
  await kiosk.locator('#outcome[data-outcome=accepted]').waitFor();
  assert.equal(await kiosk.locator('#outcome-word').textContent(), 'ACCEPTED');
  await kiosk.locator('#leads li', { hasText: email }).waitFor();
  await screenshot(kiosk, 'kiosk-accepted.png');
  await assertAccessible(kiosk, 'kiosk-accepted');
});

await step('a badge without consent is REFUSED with its reason only', async () => {
  await kiosk.getByText('Type a badge code').click();
  await kiosk.getByLabel('Badge code or link').fill(refusing);
  await kiosk.getByLabel('Badge code or link').press('Enter');
  await kiosk.locator('#outcome[data-outcome=refused]').waitFor();
  assert.equal(await kiosk.locator('#outcome-word').textContent(), 'REFUSED');
  assert.match(await kiosk.locator('#outcome-detail').textContent(), /can allow you from the link/);
  assert.equal(await kiosk.locator('#leads li', { hasText: 'Refuser' }).count(), 0);
  await screenshot(kiosk, 'kiosk-refused.png');
  await assertAccessible(kiosk, 'kiosk-refused');
});

await step('the sponsor rates the lead and adds a note', async () => {
  const lead = kiosk.locator('#leads li', { hasText: email });
  await lead.getByLabel('Rating').selectOption('4');
  await lead.getByLabel('Note').fill('Wants a demo in March');
  await lead.getByRole('button', { name: 'Save' }).click();
  await lead.locator('.saved', { hasText: 'Saved.' }).waitFor();
});

await step('the organiser exports the leads with the note, and the kiosk shows as paired', async () => {
  await admin.reload();
  await admin.getByRole('heading', { level: 1, name: 'Consentry Demo Summit' }).waitFor();
  await admin.locator('#kiosks li', { hasText: device }).waitFor();
  assert.match(await admin.locator('#kiosks li', { hasText: device }).textContent(), /paired.*last seen/);
  const [download] = await Promise.all([
    admin.waitForEvent('download'),
    admin.locator('#exports li', { hasText: 'Acme Analytics' }).getByRole('link', { name: 'CSV' }).click(),
  ]);
  const csv = await readFile(await download.path(), 'utf8');
  assert.match(csv, new RegExp(email));
  assert.match(csv, /Wants a demo in March/);
  assert.doesNotMatch(csv, /Refuser/);
  // The export is in the audit log (ids and counts only).
  await admin.reload();
  await admin.locator('#audit tr', { hasText: 'leads_exported' }).first().waitFor();
  await screenshot(admin, 'admin-after-export.png');
  await assertAccessible(admin, 'admin-after-export');
});

await step('a revoked kiosk stops at its next scan', async () => {
  await admin.locator('#kiosks li', { hasText: device }).getByRole('button', { name: 'Revoke' }).click();
  await admin.locator('#kiosks li', { hasText: device }).filter({ hasText: 'revoked' }).waitFor();
  await kiosk.getByLabel('Badge code or link').fill(consenting);
  await kiosk.getByLabel('Badge code or link').press('Enter');
  await kiosk.locator('#status', { hasText: 'unpaired by the organiser' }).waitFor();
  await kiosk.getByRole('heading', { name: 'Pair this device' }).waitFor();
});

await done();
