// Consent at the booth, on the attendee's own phone, with two browser contexts: the booth's kiosk
// on a laptop and the attendee's phone (390×844). The kiosk refuses a badge for `no_consent`
// without learning anything of its holder and shows the sponsor's booth link as a QR code; the attendee, on a phone that opened its manage link
// once, opens the sponsor's booth link, reads what the sponsor would receive and shares with one
// button, and the kiosk's next scan is ACCEPTED. A second attendee on a fresh phone (in Dutch) has
// no remembered link: the page e-mails a one-time link (read from the outbox), which shares once.
// First the organiser's console shows the booth link and prints its sign.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { assertAccessible, demo, done, launch, newPage, screenshot, step, url } from './harness.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const SPONSOR = 'Acme Analytics';
const stamp = Date.now();

// ---------------------------------------------------------------------------------------------
// The attendees, the organiser and the booth, through the API

const event = await (await fetch(url('/api/v1/events/consentry-demo'))).json();
const sponsorId = event.sponsors.find((s) => s.name === SPONSOR).id;

async function register(first, last) {
  const email = `${first.toLowerCase()}-${stamp}@example.org`;
  const response = await fetch(url('/api/v1/events/consentry-demo/registrations'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      first_name: first, last_name: last, email, company: `${last} Works`, age_confirmed: true,
      notice_version: event.privacy_notice_version, sponsor_opt_ins: [],
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 201, text);
  const created = JSON.parse(text);
  return { first, last, email, badge: created.badge.token, manage: created.manage_token };
}

const remembered = await register('Rosa', 'Remembered');
const mailed = await register('Mees', 'Gemaild');

const login = await (await fetch(url('/api/v1/auth/login'), {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: demo.email, password: demo.password }),
})).json();
const organiser = { authorization: `Bearer ${login.token}` };
const eventId = (await (await fetch(url('/api/v1/events'), { headers: organiser })).json())
  .find((e) => e.slug === 'consentry-demo').id;
const sponsor = await (await fetch(url(`/api/v1/events/${eventId}/sponsors/${sponsorId}`), { headers: organiser })).json();
const boothPath = `/s/${sponsor.booth_code}`;

/** A pairing link for a new kiosk of the sponsor, as the organiser's console gives it. */
async function newKiosk() {
  const response = await fetch(url(`/api/v1/events/${eventId}/sponsors/${sponsorId}/kiosks`), {
    method: 'POST', headers: organiser,
  });
  assert.equal(response.status, 201);
  return (await response.json()).pairing_url;
}

/** The one-time booth link mailed to `person`, waited for in the server's outbox. */
async function mailedLink(person) {
  const outbox = path.join(demo.dataDir, 'outbox');
  for (let i = 0; i < 100; i++) {
    for (const dir of await readdir(outbox).catch(() => [])) {
      for (const file of await readdir(path.join(outbox, dir)).catch(() => [])) {
        const mail = (await readFile(path.join(outbox, dir, file), 'utf8')).replace(/=\r?\n/g, '');
        if (!mail.includes(`To: ${person.email}`)) continue;
        const link = mail.match(/https?:\/\/\S+\/s\/[A-Za-z0-9_-]+#[A-Za-z0-9_-]{43}/);
        if (link) return new URL(link[0]);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no booth link mailed to ${person.email}`);
}

const browser = await launch();

// ---------------------------------------------------------------------------------------------
// The organiser's console: the booth link and its printable sign

// Before logging in, the console asks who is logged in: a 401 the browser logs as an error.
const console_ = await newPage(browser, { locale: 'en-GB', allow: [/status of 401/], viewport: { width: 1280, height: 860 } });

await step('console: each sponsor shows its booth link and QR code, and prints a booth sign', async () => {
  await console_.goto(url('/admin'));
  await console_.getByLabel('E-mail address').fill(demo.email);
  await console_.getByLabel('Password').fill(demo.password);
  await console_.getByRole('button', { name: 'Log in' }).click();
  await console_.getByRole('link', { name: 'Consentry Demo Summit' }).click();
  await console_.getByRole('heading', { level: 1, name: 'Consentry Demo Summit' }).waitFor();
  const item = console_.locator('#sponsors li', { hasText: SPONSOR });
  await item.getByText('Edit').click();
  await item.getByRole('heading', { name: 'Booth link' }).waitFor();
  assert.equal(await item.getByRole('link', { name: url(boothPath) }).getAttribute('href'), url(boothPath));
  const qr = item.getByRole('img', { name: `QR code of the booth link of ${SPONSOR}: scan it with your own phone to share your details there` });
  await console_.waitForFunction((el) => el.naturalWidth > 0, await qr.elementHandle());
  await screenshot(console_, 'console-booth-link.png');
  await assertAccessible(console_, 'console-booth-link');
  const [sign] = await Promise.all([
    console_.context().waitForEvent('page'),
    item.getByRole('link', { name: 'Print booth sign' }).click(),
  ]);
  await sign.getByRole('heading', { level: 1, name: SPONSOR }).waitFor();
  await sign.getByText(`Want ${SPONSOR} to have your details? Scan this with your phone.`).waitFor();
  await sign.getByText(`Wil je dat ${SPONSOR} je gegevens krijgt? Scan dit met je telefoon.`).waitFor();
  await sign.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
  assert.equal(await sign.locator('#link').textContent(), url(boothPath));
  await screenshot(sign, 'console-booth-sign.png');
  await assertAccessible(sign, 'console-booth-sign');
  await sign.close();
});

// ---------------------------------------------------------------------------------------------
// The booth's kiosk, on a laptop

const kiosk = await newPage(browser, { locale: 'en-GB', viewport: { width: 1280, height: 860 } });

async function waitForOutcome(kind, text) {
  await kiosk.locator(`#outcome[data-outcome=${kind}]`, text ? { hasText: text } : {}).waitFor();
}
/** The badge typed into the kiosk, as a sponsor does when the camera is awkward. */
async function scan(person) {
  await kiosk.getByLabel('Badge code or link').fill(person.badge);
  await kiosk.getByRole('button', { name: 'Check badge' }).click();
}
/** Nothing of `person` anywhere on the kiosk's screen or in what it keeps. */
async function kioskKnowsNothingOf(person) {
  const seen = await kiosk.evaluate(() => document.body.innerText + JSON.stringify({ ...localStorage }));
  for (const secret of [person.first, person.last, person.email]) {
    assert.ok(!seen.includes(secret), `${secret} is on the kiosk`);
  }
}

await step('kiosk: paired; a badge without consent is REFUSED and the booth QR shows, nothing of the attendee', async () => {
  await kiosk.goto(await newKiosk());
  await kiosk.getByRole('button', { name: 'Pair' }).click();
  await waitForOutcome('ready');
  // On demand, before any scan.
  await kiosk.getByRole('button', { name: 'Show the sharing code' }).click();
  await kiosk.getByRole('img', { name: `QR code of the booth link of ${SPONSOR}: scan it with your own phone to share your details there` }).waitFor();
  await kiosk.getByRole('button', { name: 'Hide the sharing code' }).click();
  await kiosk.locator('#booth-share').waitFor({ state: 'hidden' });
  await kiosk.getByText('Type a badge code').click();
  await scan(remembered);
  await waitForOutcome('refused');
  assert.equal(await kiosk.locator('#outcome-word').textContent(), 'REFUSED');
  await kiosk.locator('#booth-share-line', { hasText: `Want ${SPONSOR} to have your details? Scan this with your phone.` }).waitFor();
  assert.match(await kiosk.locator('#announce').textContent(), /Scan this with your phone\.$/);
  const qr = kiosk.locator('#booth-qr');
  await kiosk.waitForFunction(() => document.getElementById('booth-qr').naturalWidth > 0);
  assert.equal(await qr.getAttribute('src'), `/api/v1/booths/${sponsor.booth_code}/qr.svg`);
  assert.match(await kiosk.locator('#booth-share-url').textContent(), new RegExp(`${boothPath}$`));
  assert.ok((await qr.boundingBox()).width >= 280, 'the QR code is large');
  await kioskKnowsNothingOf(remembered);
  await kiosk.waitForTimeout(500);
  await screenshot(kiosk, 'kiosk-1-refused-with-qr.png');
  await assertAccessible(kiosk, 'kiosk-1-refused-with-qr');
});

// ---------------------------------------------------------------------------------------------
// A phone that opened its manage link once

const phone = await newPage(browser, { locale: 'en-GB', ...PHONE });

await step('phone: the manage link, opened once, is remembered on this phone', async () => {
  await phone.goto(url(`/m/${remembered.manage}`));
  await phone.getByRole('button', { name: 'Forget this phone' }).waitFor();
  // The badge image loaded before the phone moves on (a request cut short is a failure here).
  await phone.waitForFunction(() => document.getElementById('badge').naturalWidth > 0);
});

await step('phone: the booth link shows the sponsor, what it receives, its policy and one button', async () => {
  const response = await phone.goto(url(boothPath));
  assert.equal(response.headers()['cache-control'], 'no-store');
  await phone.getByRole('heading', { level: 1, name: `Share your details with ${SPONSOR}` }).waitFor();
  const page = await phone.locator('#page').textContent();
  assert.match(page, /receives these details when it scans your badge: first name, last name, e-mail address/);
  assert.ok(page.includes(event.sponsors.find((s) => s.id === sponsorId).consent_text));
  assert.equal(await phone.getByRole('link', { name: `Privacy policy of ${SPONSOR}` }).getAttribute('href'),
    event.sponsors.find((s) => s.id === sponsorId).privacy_policy_url);
  assert.equal(await phone.locator('#ask').isHidden(), true, 'no e-mail field on a remembered phone');
  await screenshot(phone, 'phone-1-booth.png');
  await assertAccessible(phone, 'phone-1-booth');
});

await step('phone: one button shares; the confirmation says what the sponsor receives', async () => {
  await phone.getByRole('button', { name: `Share my details with ${SPONSOR}` }).click();
  await phone.getByRole('heading', { level: 1, name: new RegExp(`^Done: ${SPONSOR} receives your first name, .* when they scan your badge again\\.$`) }).waitFor();
  assert.equal(await phone.getByRole('link', { name: 'Your registration and choices' }).getAttribute('href'),
    `/m/${remembered.manage}`);
  await screenshot(phone, 'phone-2-shared.png');
  await assertAccessible(phone, 'phone-2-shared');
});

await step('kiosk: the next scan of that badge is ACCEPTED, and the ledger says booth', async () => {
  await scan(remembered);
  await waitForOutcome('accepted', `${remembered.first} ${remembered.last}`);
  assert.equal(await kiosk.locator('#booth-share').isHidden(), true, 'the QR code is gone');
  await kiosk.waitForTimeout(500);
  await screenshot(kiosk, 'kiosk-2-accepted.png');
  const me = await (await fetch(url(`/api/v1/me/${remembered.manage}`))).json();
  const last = me.consent_history.at(-1);
  assert.deepEqual([last.purpose, last.granted, last.channel, last.occasion, last.language],
    [`sponsor:${sponsorId}`, true, 'booth', 'booth', 'en']);
});

// ---------------------------------------------------------------------------------------------
// A fresh phone, in Dutch: the e-mailed link

// The used link's refusal answers 404; the browser logs each failed fetch as a console error.
const fresh = await newPage(browser, { locale: 'nl-NL', allow: [/status of 404/], ...PHONE });

await step('fresh phone (Dutch): no remembered link, so the page offers to e-mail one', async () => {
  await fresh.goto(url(boothPath));
  await fresh.getByRole('heading', { level: 1, name: `Deel je gegevens met ${SPONSOR}` }).waitFor();
  assert.equal(await fresh.locator('#proven').isHidden(), true);
  await fresh.getByRole('textbox', { name: 'E-mailadres' }).fill(mailed.email);
  await fresh.getByRole('button', { name: 'Mail me een link' }).click();
  await fresh.locator('#status', { hasText: /Als dit adres is aangemeld voor .*, is er een link naar onderweg/ }).waitFor();
  await screenshot(fresh, 'fresh-1-asked.png');
  await assertAccessible(fresh, 'fresh-1-asked');
  // An unknown address gets the very same answer.
  await fresh.getByRole('textbox', { name: 'E-mailadres' }).fill(`nobody-${stamp}@example.org`);
  await fresh.getByRole('button', { name: 'Mail me een link' }).click();
  await fresh.locator('#status', { hasText: /is er een link naar onderweg/ }).waitFor();
});

await step('fresh phone: the mailed link shares once, in Dutch, and the kiosk then accepts', async () => {
  await scan(mailed);
  await waitForOutcome('refused');
  await kioskKnowsNothingOf(mailed);
  const link = await mailedLink(mailed);
  assert.equal(link.pathname, boothPath);
  await fresh.goto(url(`${link.pathname}${link.hash}`));
  await fresh.getByRole('button', { name: `Mijn gegevens delen met ${SPONSOR}` }).waitFor();
  assert.equal(new URL(fresh.url()).hash, '', 'the token is gone from the address bar');
  await screenshot(fresh, 'fresh-2-linked.png');
  await fresh.getByRole('button', { name: `Mijn gegevens delen met ${SPONSOR}` }).click();
  await fresh.getByRole('heading', { level: 1, name: new RegExp(`^Klaar: ${SPONSOR} ontvangt je`) }).waitFor();
  await screenshot(fresh, 'fresh-3-shared.png');
  await assertAccessible(fresh, 'fresh-3-shared');
  await scan(mailed);
  await waitForOutcome('accepted', `${mailed.first} ${mailed.last}`);
  const me = await (await fetch(url(`/api/v1/me/${mailed.manage}`))).json();
  const last = me.consent_history.at(-1);
  assert.deepEqual([last.channel, last.occasion, last.language], ['booth', 'booth', 'nl']);
  // Used once: the same link opens nothing now, and the page offers a new one.
  await fresh.goto(url(`${link.pathname}${link.hash}`));
  await fresh.getByRole('button', { name: `Mijn gegevens delen met ${SPONSOR}` }).click();
  await fresh.locator('#status', { hasText: /Deze link werkt niet \(meer\)/ }).waitFor();
  await fresh.getByRole('textbox', { name: 'E-mailadres' }).waitFor();
});

await done();
