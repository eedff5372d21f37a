// Helpers for browser scenarios: each scenario is a plain Node script (`node tests/browser/X.mjs`)
// that drives a real headless Chromium against a running `consentry serve`.
//
//   import { launch, newPage, screenshot, step, done, url } from './harness.mjs';
//   const browser = await launch();
//   const page = await newPage(browser, { locale: 'de-DE' });
//   await step('open the home page', async () => { await page.goto(url('/')); });
//   await step('screenshot', () => screenshot(page, 'home.png'));
//   await done();
//
// Environment:
//   CONSENTRY_BASE_URL            the server under test (required), e.g. http://127.0.0.1:8080
//   CONSENTRY_BROWSER_ARTIFACTS   where screenshots go (default target/browser-artifacts/<scenario>)
//   CONSENTRY_CHROMIUM            the browser binary (default /usr/bin/chromium)
//   CONSENTRY_DEMO_EMAIL, CONSENTRY_DEMO_PASSWORD, CONSENTRY_DATA_DIR: set by the Rust test.
//
// After every step, every page opened with `newPage` is checked: a console error, an uncaught
// exception, a failed request, a response with status 5xx, or any request to another origin than
// the server under test (blocked, never sent) fails that step. Pages must make no third-party
// requests. Expected console errors (the browser logs one for every 4xx answer to `fetch`, say)
// are allowed per page with `newPage(browser, { allow: [/regex/] })` or `allow(page, /regex/)`.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const scenarioName = path.basename(process.argv[1] ?? 'scenario', '.mjs');

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    fail(`environment variable ${name} is not set (the Rust test tests/tests/browser.rs sets it)`);
  }
  return value;
}

/** The server under test, e.g. `http://127.0.0.1:41234` (no trailing slash). */
export const baseUrl = requiredEnv('CONSENTRY_BASE_URL').replace(/\/+$/, '');
const baseOrigin = new URL(baseUrl).origin;

/** Absolute URL of `path` on the server under test. */
export function url(path) {
  return new URL(path, `${baseUrl}/`).href;
}

/** The demo organiser's login and the server's data directory (outbox mails live there). */
export const demo = {
  email: process.env.CONSENTRY_DEMO_EMAIL,
  password: process.env.CONSENTRY_DEMO_PASSWORD,
  dataDir: process.env.CONSENTRY_DATA_DIR,
};

/** Where screenshots go; created on first use. */
export const artifactsDir = path.resolve(
  process.env.CONSENTRY_BROWSER_ARTIFACTS ||
    path.join(here, '..', '..', 'target', 'browser-artifacts', scenarioName),
);

const browsers = [];
const pages = [];
let stepNumber = 0;
let finished = false;

/** A headless Chromium: `/usr/bin/chromium` or `$CONSENTRY_CHROMIUM`. */
export async function launch(options = {}) {
  const executablePath = process.env.CONSENTRY_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    fail(
      `no Chromium at ${executablePath}: install it with \`apt-get install chromium\` ` +
        '(Debian), or point CONSENTRY_CHROMIUM at a Chromium binary',
    );
  }
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // playwright-core's defaults already include --no-sandbox (needed as root),
    // --disable-dev-shm-usage and --disable-background-networking.
    ...options,
  });
  browsers.push(browser);
  return browser;
}

/**
 * A page in a fresh context (no shared cookies or storage), with its problems recorded.
 * `locale` sets the browser language (`Accept-Language`, `navigator.language`); other options go
 * to `browser.newContext` (`timezoneId`, `viewport`, `permissions`...). `allow` lists regexes
 * of problems this page may have (matched against the problem's text).
 */
export async function newPage(browser, { locale = 'en-GB', allow: allowed = [], ...contextOptions } = {}) {
  const context = await browser.newContext({ locale, ...contextOptions });
  const page = await context.newPage();
  const record = { page, context, problems: [], allowed: [...allowed], reported: 0 };
  pages.push(record);
  const problem = (text) => {
    if (!record.allowed.some((re) => re.test(text))) record.problems.push(text);
  };

  const sameOrigin = (u) => {
    try {
      const parsed = new URL(u);
      if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return true;
      // WebSockets to the same host and port count as the server under test.
      const asHttp = parsed.protocol === 'wss:' ? 'https:' : parsed.protocol === 'ws:' ? 'http:' : parsed.protocol;
      return `${asHttp}//${parsed.host}` === baseOrigin;
    } catch {
      return false;
    }
  };
  const thirdParty = new Set();

  // Every request of the context (pages, workers, service workers) is seen here...
  context.on('request', (request) => {
    if (!sameOrigin(request.url())) {
      thirdParty.add(request.url());
      problem(`third-party request: ${request.method()} ${request.url()}`);
    }
  });
  // ...and anything not for the server under test is blocked before it leaves the browser.
  await context.route(
    (u) => !sameOrigin(u.href),
    (route) => route.abort('blockedbyclient'),
  );
  await context.routeWebSocket(
    () => true,
    (ws) => {
      if (sameOrigin(ws.url())) {
        ws.connectToServer();
      } else {
        problem(`third-party WebSocket: ${ws.url()}`);
        ws.close();
      }
    },
  );
  context.on('requestfailed', (request) => {
    if (thirdParty.has(request.url())) return; // already reported, and blocked by us
    problem(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  context.on('response', (response) => {
    if (response.status() >= 500) {
      problem(`server error: ${response.request().method()} ${response.url()} -> ${response.status()}`);
    }
  });
  page.on('console', (message) => {
    if (message.type() === 'error') {
      const where = message.location();
      const at = where?.url ? ` (${where.url}:${where.lineNumber})` : '';
      problem(`console error: ${message.text()}${at}`);
    }
  });
  page.on('pageerror', (error) => problem(`uncaught exception: ${error.stack || error.message}`));
  page.on('crash', () => problem('the page crashed'));
  return page;
}

/** Allow problems matching `regex` on `page` from now on (an expected 4xx in the console, say). */
export function allow(page, regex) {
  const record = pages.find((r) => r.page === page);
  if (!record) throw new Error('allow(): not a page from newPage()');
  record.allowed.push(regex);
}

/** Save a full-page screenshot of `page` as `name` (`home.png`) in the artifacts directory. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, name.endsWith('.png') ? name : `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`    screenshot: ${file}`);
  return file;
}

function newProblems() {
  const found = [];
  for (const record of pages) {
    for (const text of record.problems.slice(record.reported)) found.push(text);
    record.reported = record.problems.length;
  }
  return found;
}

async function closeAll() {
  await Promise.allSettled(browsers.map((b) => b.close()));
}

function fail(message) {
  console.error(`\nFAILED: ${message}`);
  process.exit(1);
}

/**
 * Run one step of the scenario: print it, run `fn`, then check the pages for problems. The first
 * failing step (a thrown error, a problem, or more than `timeout` ms) ends the scenario: a
 * screenshot of every open page goes to the artifacts directory and the process exits with 1.
 */
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Check the page as it stands with axe-core (WCAG 2.1 A and AA rules) and fail on any violation,
 * naming each rule and the elements it found. `state` says what was checked, in the message.
 * axe is evaluated through the DevTools protocol, which the pages' CSP does not govern: nothing is
 * added to the page itself.
 */
export async function assertAccessible(page, state) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  if (violations.length) {
    const lines = violations.map((v) => `${v.id}: ${v.help} (${v.nodes.join(', ')})`);
    throw new Error(`${state}: ${violations.length} accessibility violation(s):\n  ${lines.join('\n  ')}`);
  }
}

export async function step(name, fn, { timeout = 30_000 } = {}) {
  const number = ++stepNumber;
  const started = Date.now();
  console.log(`[${number}] ${name}`);
  let error;
  let timer;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms`)), timeout);
      }),
    ]);
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  // Late console messages and request failures of this step arrive asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const problems = newProblems();
  if (!error && problems.length === 0) {
    console.log(`    ok (${Date.now() - started} ms)`);
    return;
  }
  const lines = [`step [${number}] "${name}" of scenario ${scenarioName} failed`];
  if (error) lines.push(`  error: ${error.stack || error}`);
  for (const p of problems) lines.push(`  ${p}`);
  for (const [i, record] of pages.entries()) {
    if (record.page.isClosed()) continue;
    try {
      mkdirSync(artifactsDir, { recursive: true });
      const file = path.join(artifactsDir, `failed-step-${number}-page-${i + 1}.png`);
      await record.page.screenshot({ path: file, fullPage: true, timeout: 5_000 });
      lines.push(`  page ${i + 1} at ${record.page.url()}: screenshot ${file}`);
    } catch (e) {
      lines.push(`  page ${i + 1} at ${record.page.url()}: no screenshot (${e.message})`);
    }
  }
  await closeAll();
  fail(lines.join('\n'));
}

/** End the scenario: a last check for problems, close the browsers, report success. */
export async function done() {
  await step('no problems left over', () => {});
  finished = true;
  await closeAll();
  console.log(`scenario ${scenarioName} passed (${stepNumber} steps)`);
}

process.on('unhandledRejection', async (reason) => {
  await closeAll();
  fail(`unhandled promise rejection: ${reason?.stack || reason}`);
});
process.on('exit', (code) => {
  if (code === 0 && !finished) {
    console.error(`\nFAILED: scenario ${scenarioName} ended without calling done()`);
    process.exitCode = 1;
  }
});
