// Proves the harness end to end: the home page loads in a real browser with the security headers,
// without console errors or third-party requests, and a screenshot is taken.
import assert from 'node:assert/strict';
import { done, launch, newPage, screenshot, step, url } from './harness.mjs';

const browser = await launch();
const page = await newPage(browser, { locale: 'en-GB' });
let response;

await step('open /', async () => {
  response = await page.goto(url('/'));
  assert.ok(response, 'no response for /');
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { name: 'Consentry' }).waitFor();
});

await step('security headers', async () => {
  const headers = await response.allHeaders();
  assert.ok(headers['content-security-policy'], 'no content-security-policy header');
  assert.equal(headers['referrer-policy'], 'no-referrer');
});

await step('screenshot', () => screenshot(page, 'home.png'));

await done();
