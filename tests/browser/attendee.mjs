// The attendee's whole path in a real browser: register on /e/{slug} with one of three sponsors,
// open the manage page, withdraw that consent, download the data, switch to Dutch, erase.

import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { assertAccessible, launch, newPage, screenshot, step, done, url } from './harness.mjs';

const browser = await launch();
// The form's refusals answer 422/409; the browser logs each failed fetch as a console error.
const page = await newPage(browser, { locale: 'en-GB', allow: [/status of 4\d\d/] });
const email = `grace-${Date.now()}@example.org`;
let manageUrl;

await step('the registration page shows the event, its notice and unticked sponsors', async () => {
  const response = await page.goto(url('/e/consentry-demo'));
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');
  assert.match(response.headers()['content-security-policy'], /default-src 'self'/);
  await page.getByRole('heading', { level: 1, name: 'Consentry Demo Summit' }).waitFor();
  await page.getByRole('heading', { name: 'Privacy notice' }).waitFor();
  const sponsors = page.locator('#sponsor-list input[type=checkbox]');
  assert.equal(await sponsors.count(), 3);
  for (const box of await sponsors.all()) assert.equal(await box.isChecked(), false);
  assert.equal(await page.locator('#marketing').isChecked(), false);
  // A favicon, named by the page and also where browsers look for one unasked.
  assert.equal(await page.locator('link[rel=icon]').getAttribute('href'), '/favicon.svg');
  const favicon = await page.request.get(url('/favicon.ico'));
  assert.equal(favicon.status(), 200);
  assert.equal(favicon.headers()['content-type'], 'image/svg+xml');
  await screenshot(page, 'register.png');
  await assertAccessible(page, 'register');
});

await step('in Dutch, the notice and every consent sentence are the Dutch ones', async () => {
  await page.getByRole('button', { name: 'Nederlands' }).click();
  const notice = page.locator('#notice');
  await notice.filter({ hasText: 'verwerkt je aanmelding' }).waitFor();
  assert.equal(await notice.getAttribute('lang'), 'nl');
  await page.locator('#sponsor-list label', { hasText: 'Ik ga ermee akkoord dat Acme Analytics' }).waitFor();
  assert.match(await page.locator('#marketing-text').textContent(), /^Ik wil graag/);
  await screenshot(page, 'register-nl.png');
  await assertAccessible(page, 'register-nl');
  await page.getByRole('button', { name: 'English' }).click();
  await page.locator('#sponsor-list label', { hasText: 'I agree that Acme Analytics' }).waitFor();
  assert.equal(await notice.getAttribute('lang'), 'en');
});

await step('every refusal is shown at its field at once, the first focused', async () => {
  await page.getByRole('button', { name: 'Register' }).click();
  const age = page.locator('#age_confirmed-error');
  await age.waitFor({ state: 'visible' });
  assert.equal(await age.textContent(), 'Please confirm your age to register.');
  for (const field of ['first_name', 'last_name', 'email']) {
    assert.equal(await page.locator(`#${field}-error`).isVisible(), true, field);
    assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), 'true', field);
  }
  assert.equal(await page.locator('#first_name-error').textContent(), 'Please fill this in.');
  // The inputs take no more than the server does: its bounds, from the public event view.
  assert.equal(await page.locator('#first_name').getAttribute('maxlength'), '100');
  assert.equal(await page.locator('#company').getAttribute('maxlength'), '200');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'first_name');

  // The round: last name empty, e-mail `bad`, phone `abc`, age ticked. One answer.
  await page.locator('#first_name').fill('Grace');
  await page.locator('#email').fill('bad');
  await page.locator('#phone').fill('abc');
  await page.locator('#age_confirmed').check();
  await page.getByRole('button', { name: 'Register' }).click();
  await page.locator('#phone-error').waitFor({ state: 'visible' });
  for (const field of ['last_name', 'email', 'phone']) {
    assert.equal(await page.locator(`#${field}-error`).isVisible(), true, field);
  }
  for (const field of ['first_name', 'age_confirmed']) {
    assert.equal(await page.locator(`#${field}-error`).isVisible(), false, field);
    assert.equal(await page.locator(`#${field}`).getAttribute('aria-invalid'), null, field);
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), 'last_name');
  await screenshot(page, 'register-errors.png');
  await assertAccessible(page, 'register-errors');
  await page.locator('#phone').fill('');
});

await step('registering with one sponsor shows the badge and the manage link', async () => {
  await page.getByLabel('First name', { exact: true }).fill('Grace');
  await page.getByLabel('Last name', { exact: true }).fill('Hopper');
  await page.getByLabel('E-mail address', { exact: true }).fill(email);
  // The country is picked by its name; the code is what is sent.
  await page.getByLabel('Country (optional)').selectOption({ label: 'Netherlands' });
  await page.getByLabel(/^Acme Analytics/).check();
  await page.getByLabel(/years or older/).check();
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'You are registered' }).waitFor();
  const badge = page.locator('#badge');
  await badge.waitFor();
  await page.waitForFunction(() => document.getElementById('badge').naturalWidth > 0);
  manageUrl = await page.locator('#manage-link').getAttribute('href');
  assert.match(manageUrl, /^\/m\/[A-Za-z0-9_-]{43}$/);
  assert.match(await page.locator('#mailed').textContent(), /e-mailed/);
  await screenshot(page, 'registered.png');
  await assertAccessible(page, 'registered');
});

await step('the manage page shows the badge and each consent as a switch', async () => {
  const response = await page.goto(url(manageUrl));
  assert.equal(response.headers()['cache-control'], 'no-store');
  await page.getByRole('heading', { level: 1, name: /Your registration/ }).waitFor();
  assert.equal(await page.getByRole('switch', { name: 'Acme Analytics' }).isChecked(), true);
  assert.equal(await page.getByRole('switch', { name: 'Globex Cloud' }).isChecked(), false);
  await page.waitForFunction(() => document.getElementById('badge').naturalWidth > 0);
  await screenshot(page, 'manage.png');
  await assertAccessible(page, 'manage');
});

await step('the manage page remembers its link on this phone, and forgets it when asked', async () => {
  const token = manageUrl.split('/')[2];
  const stored = () => page.evaluate(() => localStorage.getItem('consentry.manage.consentry-demo'));
  assert.equal(await stored(), token);
  await page.getByText(/remembers your manage link, on this device only/).waitFor();
  await page.getByRole('button', { name: 'Forget this phone' }).click();
  await page.locator('#phone-toggle-saved', { hasText: 'Saved.' }).waitFor();
  assert.equal(await stored(), null);
  await page.getByText(/does not remember your manage link/).waitFor();
  // Forgotten stays forgotten when the page is opened again, until the person asks.
  await page.reload();
  await page.getByRole('button', { name: 'Remember this phone' }).waitFor();
  assert.equal(await stored(), null);
  await page.getByRole('button', { name: 'Remember this phone' }).click();
  await page.getByRole('button', { name: 'Forget this phone' }).waitFor();
  assert.equal(await stored(), token);
  await assertAccessible(page, 'manage-phone');
  // Opened afresh, with no "Saved." left over for the next step.
  await page.reload();
  await page.getByRole('button', { name: 'Forget this phone' }).waitFor();
  assert.equal(await stored(), token);
});

await step('withdrawing the consent takes one key and shows in the history in plain words', async () => {
  const acme = page.getByRole('switch', { name: 'Acme Analytics' });
  await acme.focus();
  await page.keyboard.press('Space');
  await page.locator('#status', { hasText: 'Saved.' }).waitFor();
  assert.equal(await acme.isChecked(), false);
  // The focus stays on the switch the person used, and "Saved." shows beside it.
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('role')), 'switch');
  assert.match(await page.evaluate(() => document.activeElement.id), /acme|sponsor/i);
  const saved = page.locator('.consent', { has: acme }).locator('.saved');
  assert.equal(await saved.textContent(), 'Saved.');
  await page.getByText('History of your choices').click();
  const history = await page.locator('#history li').allTextContents();
  assert.equal(history.length, 2, history.join(' | '));
  assert.match(history[0], /^You allowed Acme Analytics on .+, when you registered\. Signed receipt$/);
  assert.match(history[1], /^You withdrew your consent for Acme Analytics on .+, on these pages\. Signed receipt$/);
  await page.locator('#history').scrollIntoViewIfNeeded();
  await screenshot(page, 'manage-history.png');
  await assertAccessible(page, 'manage-history');
});

await step('each history entry downloads a signed receipt that verifies with the published key', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#history li').nth(1).getByRole('link', { name: 'Signed receipt' }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^consent-receipt-[0-9a-f-]+\.jws$/);
  const receipt = (await readFile(await download.path(), 'utf8')).trim();
  const [header, payload, signature] = receipt.split('.');
  const { kid, alg, typ } = JSON.parse(Buffer.from(header, 'base64url'));
  assert.deepEqual([alg, typ], ['EdDSA', 'consent-receipt+jwt']);
  // Checked here with Node's own crypto, not Consentry's code: any JWS library can.
  const keys = await (await fetch(url('/.well-known/consent-receipt-keys.json'))).json();
  const jwk = keys.keys.find((k) => k.kid === kid);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const signed = Buffer.from(`${header}.${payload}`);
  assert.equal(verify(null, signed, key, Buffer.from(signature, 'base64url')), true);
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  assert.equal(claims.action, 'withdrawn');
  assert.equal(claims.recipient.name, 'Acme Analytics');
  assert.equal(claims.occasion, 'manage');
  assert.ok(!receipt.includes(Buffer.from(email).toString('base64url')) && !JSON.stringify(claims).includes(email));
  const tampered = Buffer.from(`${header}.${payload.slice(0, -2)}AA`);
  assert.equal(verify(null, tampered, key, Buffer.from(signature, 'base64url')), false);
});

await step('the data download holds everything, including the consent history', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#download').click(),
  ]);
  const data = JSON.parse(await readFile(await download.path(), 'utf8'));
  assert.equal(data.registration.details.email, email);
  assert.equal(data.registration.details.last_name, 'Hopper');
  assert.equal(data.registration.details.country, 'NL');
  assert.deepEqual(data.consent_history.map((r) => r.granted), [true, false]);
  // Both through the pages' own routes: the server recorded the channel, the page sent none.
  assert.deepEqual(data.consent_history.map((r) => r.channel), ['web', 'web']);
});

await step('the readable copy of the data says it all in words, ready to print', async () => {
  await page.getByRole('link', { name: 'Read or print your data' }).click();
  await page.getByRole('heading', { level: 1, name: /^Your data: Consentry Demo Summit/ }).waitFor();
  const details = await page.locator('#details').innerText();
  for (const expected of ['Grace', 'Hopper', email, 'Netherlands']) assert.match(details, new RegExp(expected));
  assert.deepEqual(await page.locator('#choices > li > p:first-child').allTextContents(), [
    'You do not allow Acme Analytics.', 'You do not allow Globex Cloud.',
    'You do not allow Initech Security.', 'You do not allow News from the organiser.',
  ]);
  const history = await page.locator('#history li').allTextContents();
  assert.equal(history.length, 2);
  assert.match(history[0], /^You allowed Acme Analytics on .+, when you registered\.$/);
  assert.equal(await page.locator('#leads').innerText(), 'No sponsor holds your details.');
  await screenshot(page, 'my-data.png');
  await assertAccessible(page, 'my-data');
  await page.getByRole('link', { name: 'Back to your registration' }).click();
  await page.getByRole('heading', { level: 1, name: /Your registration/ }).waitFor();
});

await step('the page switches to Dutch', async () => {
  await page.getByRole('button', { name: 'Nederlands' }).click();
  await page.getByRole('heading', { level: 1, name: /Je aanmelding/ }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'nl');
  // The consent sentences come from the server in Dutch, and the page's title follows.
  await page.locator('.consent .more', { hasText: 'Ik ga ermee akkoord dat Acme Analytics' }).waitFor();
  assert.match(await page.title(), /^Je aanmelding – /);
  // Countries are named in the page's language, the choice kept.
  const country = page.locator('#country');
  assert.equal(await country.inputValue(), 'NL');
  assert.equal(await country.locator('option:checked').textContent(), 'Nederland');
  // The first "Loading…" is gone for good, not translated back into "Laden…".
  assert.doesNotMatch(await page.locator('#status').textContent(), /Laden/);
  await screenshot(page, 'manage-nl.png');
  await assertAccessible(page, 'manage-nl');
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('heading', { level: 1, name: /Your registration/ }).waitFor();
});

await step('erasure needs a confirmation, then removes everything', async () => {
  const erase = page.getByRole('button', { name: 'Erase everything now' });
  assert.equal(await erase.isDisabled(), true);
  await page.getByLabel('I understand that this cannot be undone').check();
  await erase.click();
  await page.getByRole('heading', { name: 'Your data has been erased.' }).waitFor();
  // The link opens nothing now: the phone no longer remembers it.
  assert.equal(await page.evaluate(() => localStorage.getItem('consentry.manage.consentry-demo')), null);
  await screenshot(page, 'erased.png');
  await assertAccessible(page, 'erased');
  const again = await page.goto(url(manageUrl));
  assert.equal(again.status(), 200);
  await page.locator('#status[data-kind=error]').waitFor();
  // A page that cannot show what it is for still says so in a heading.
  await page.getByRole('heading', { level: 1, name: 'This page is not available' }).waitFor();
  // The readable copy of the erased data is gone as well, and was never to be cached.
  const copy = await page.goto(url(`${manageUrl}/data`));
  assert.equal(copy.headers()['cache-control'], 'no-store');
  await page.getByRole('heading', { level: 1, name: 'This page is not available' }).waitFor();
  assert.equal(await page.locator('#page').isHidden(), true);
});

await step('on a phone (390 × 844) no page or state scrolls sideways', async () => {
  const phone = await newPage(browser, {
    locale: 'en-GB', viewport: { width: 390, height: 844 }, allow: [/status of 4\d\d/],
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const fits = async (state) => {
    const { scroll, inner } = await phone.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    }));
    assert.ok(scroll <= inner, `${state}: the page is ${scroll} px wide in a ${inner} px window`);
  };
  await phone.goto(url('/e/consentry-demo'));
  await phone.getByRole('heading', { level: 1, name: 'Consentry Demo Summit' }).waitFor();
  await fits('registration form');
  await phone.getByRole('button', { name: 'Register' }).click();
  await phone.locator('#age_confirmed-error').waitFor({ state: 'visible' });
  await fits('form with every error');
  // A long name and company (about 60 characters each), for the printable badge below.
  await phone.locator('#first_name').fill('Anastasia Wilhelmina');
  await phone.locator('#last_name').fill('Theodora van der Oude-Wetering-Smith');
  await phone.locator('#company').fill('Internationale Vereniging voor Privacybescherming en Ethiek');
  await phone.locator('#email').fill(`anastasia-${Date.now()}@example.org`);
  await phone.getByLabel(/years or older/).check();
  await phone.getByRole('button', { name: 'Register' }).click();
  await phone.getByRole('heading', { name: 'You are registered' }).waitFor();
  await fits('registered, with the manage link');
  await screenshot(phone, 'phone-registered.png');
  await assertAccessible(phone, 'phone-registered');
  // The link can be copied with one tap, and the badge kept as a picture.
  await phone.getByRole('button', { name: 'Copy the link' }).click();
  await phone.locator('#copied').filter({ hasText: 'Copied.' }).waitFor();
  assert.equal(
    await phone.evaluate(() => navigator.clipboard.readText()),
    await phone.locator('#manage-link').textContent());
  const png = await phone.request.get(url(await phone.locator('#badge-png').getAttribute('href')));
  assert.equal(png.headers()['content-type'], 'image/png');
  assert.equal(await phone.locator('#badge-png').getAttribute('download'), 'badge.png');

  // The printable A6 badge: every line of text inside the page, none over another or the code.
  const manageHref = await phone.locator('#manage-link').getAttribute('href');
  await phone.goto(url(await phone.locator('#printable').getAttribute('href')));
  const boxes = await phone.evaluate(() => [...document.querySelectorAll('text')].map((t) => {
    const b = t.getBBox();
    return { text: t.textContent, x: b.x, y: b.y, right: b.x + b.width, bottom: b.y + b.height };
  }));
  assert.equal(boxes.length, 3, JSON.stringify(boxes));
  assert.match(boxes.map((b) => b.text).join(' '), /Oude-Wetering-Smith/);
  for (const b of boxes) assert.ok(b.x >= 0 && b.right <= 105, `${b.text}: ${b.x}–${b.right} mm`);
  for (let i = 1; i < boxes.length; i++) {
    assert.ok(boxes[i].y >= boxes[i - 1].bottom - 0.5, `${boxes[i].text} overlaps the line above`);
  }
  assert.ok(boxes[2].bottom <= 58, 'the company ends above the code');
  await phone.goto(url(manageHref));
  await phone.getByRole('heading', { level: 1, name: /Your registration/ }).waitFor();
  await fits('manage page');
  await screenshot(phone, 'phone-manage.png');
  await assertAccessible(phone, 'phone-manage');
  await phone.goto(url('/e/no-such-event'));
  await phone.getByRole('heading', { level: 1, name: 'This page is not available' }).waitFor();
  await fits('unknown event');
  await phone.close();
});

await step('a Dutch phone (390 × 844): every state in Dutch, fitting and accessible', async () => {
  // The language comes from the phone's own (navigator.languages), as for a Dutch attendee.
  const phone = await newPage(browser, {
    locale: 'nl-NL', viewport: { width: 390, height: 844 }, allow: [/status of 4\d\d/],
  });
  const check = async (state) => {
    assert.equal(await phone.evaluate(() => document.documentElement.lang), 'nl', state);
    const { scroll, inner } = await phone.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
    }));
    assert.ok(scroll <= inner, `${state}: the page is ${scroll} px wide in a ${inner} px window`);
    await assertAccessible(phone, state);
    await screenshot(phone, `phone-nl-${state}.png`);
  };
  await phone.goto(url('/e/consentry-demo'));
  await phone.locator('#sponsor-list label', { hasText: 'Ik ga ermee akkoord dat' }).first().waitFor();
  await check('register');
  await phone.locator('#submit').click();
  await phone.locator('#age_confirmed-error').waitFor({ state: 'visible' });
  assert.equal(await phone.locator('#first_name-error').textContent(), 'Vul dit in.');
  await check('register-errors');
  await phone.locator('#first_name').fill('Lotte');
  await phone.locator('#last_name').fill('de Vries');
  await phone.locator('#email').fill(`lotte-${Date.now()}@example.org`);
  await phone.locator('#country').selectOption({ label: 'Nederland' });
  await phone.locator('#sponsor-list input[type=checkbox]').first().check();
  await phone.locator('#age_confirmed').check();
  await phone.locator('#submit').click();
  await phone.locator('#done').waitFor();
  await check('registered');
  await phone.goto(url(await phone.locator('#manage-link').getAttribute('href')));
  await phone.locator('#page').waitFor();
  await phone.locator('.consent .more', { hasText: 'Ik ga ermee akkoord dat' }).first().waitFor();
  // The grant made on a Dutch page was of the Dutch sentence, and the ledger says so.
  await phone.getByText('Geschiedenis van je keuzes').click();
  assert.match(await phone.locator('#history li').first().textContent(), /^Je gaf .+ toestemming op .+, bij je aanmelding\. Ondertekend bewijs$/);
  await check('manage');
  const data = JSON.parse(await phone.evaluate(async () => {
    const token = location.pathname.split('/')[2];
    return (await fetch(`/api/v1/me/${token}/export`)).text();
  }));
  assert.deepEqual(data.consent_history.map((r) => r.language), ['nl']);
  await phone.goto(url(`${new URL(phone.url()).pathname}/data`));
  await phone.locator('#page').waitFor();
  await check('my-data');
  await phone.close();
});

await step('the accessibility check sees a violation when there is one', async () => {
  await page.evaluate(() => document.getElementById('main').append(Object.assign(
    document.createElement('img'), { src: '/favicon.svg' })));
  await assert.rejects(assertAccessible(page, 'an image without alt'), /image-alt/);
});

await done();
