// Drives the emulator's logs explorer in Debian's headless Chromium against a running emulator
// that tests/api/browser.rs has seeded. Usage: node explorer.test.mjs EMULATOR_URL SCREENSHOT_DIR
//
// Exits 0 after printing "explorer test: ok"; any failed check throws and exits 1.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, screenshotDir] = process.argv.slice(2);
if (!url || !screenshotDir) {
  console.error('usage: node explorer.test.mjs EMULATOR_URL SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });
const TIMEOUT = 20_000;
const XSS_TEXT = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '<script>window.__xss=1;alert(2)</script>';

async function api(path, body) {
  const response = await fetch(new URL(path, url), {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const data = await response.json();
  assert.ok(response.ok, `${path}: ${JSON.stringify(data)}`);
  return data;
}

// How many entries the REST API itself lists for a filter (the page must agree).
async function countMatching(filter) {
  let count = 0;
  let pageToken;
  do {
    const data = await api('/v2/entries:list', {
      resourceNames: ['projects/demo', 'projects/billing'], filter, pageSize: 1000, pageToken,
    });
    count += (data.entries || []).length;
    pageToken = data.nextPageToken;
  } while (pageToken);
  return count;
}

function step(name) {
  console.log(`- ${name}`);
}

// playwright-core gives every launch a fresh profile (its own --user-data-dir in a temp dir).
// Without the background-networking flags Chromium dials out at start, which a closed network
// refuses.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

const dialogs = [];
const pageErrors = [];
const consoleErrors = [];

function watch(page) {
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.setDefaultTimeout(TIMEOUT);
}

async function ready(page) {
  await page.waitForSelector('body[data-state="ready"]');
}

async function runQuery(page, text) {
  await page.fill('#query', text);
  await page.evaluate(() => { document.body.dataset.state = 'typing'; });
  await page.press('#query', 'Enter');
  await ready(page);
}

async function rowCount(page) {
  return page.locator('#entries > li').count();
}

async function summaryTotal(page) {
  return Number(await page.getAttribute('#summary', 'data-total'));
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page);

  step('the page loads with a strict CSP and shows the seeded entries');
  const response = await page.goto(url);
  const csp = response.headers()['content-security-policy'] || '';
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await ready(page);
  const total = await summaryTotal(page);
  assert.ok(total > 20, `expected the seeded entries, the summary says ${total}`);
  assert.equal(await rowCount(page), Math.min(total, 50));
  const barCount = await page.locator('#histogram rect').count();
  assert.ok(barCount > 3, `the histogram should have bars, has ${barCount}`);
  const barSum = await page.$$eval('#histogram rect', (rects) => rects.reduce((n, r) => n + Number(r.dataset.count), 0));
  assert.equal(barSum, total, 'the histogram bars add up to the total');
  const severities = await page.$$eval('#histogram rect', (rects) => new Set(rects.map((r) => r.dataset.severity)).size);
  assert.ok(severities >= 4, `bars are stacked by severity (${severities} severities)`);
  await page.screenshot({ path: join(screenshotDir, 'explorer.png') });

  step('"/" focuses the query box; a parse error points at its position');
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'query');
  await page.fill('#query', 'resource.type="k8s_container" AND severity>=');
  await page.press('#query', 'Enter');
  await page.waitForSelector('#query-error:not([hidden])');
  const message = await page.textContent('#query-error .message');
  assert.match(message, /1:45/, message);
  const pointer = await page.textContent('#query-error .pointer');
  assert.equal(pointer.split('\n')[1].indexOf('^'), 44, pointer);

  step('a query shows the same rows as the REST API, and the histogram agrees');
  const warnings = 'resource.type="k8s_container" AND severity>=WARNING';
  await runQuery(page, warnings);
  assert.ok(await page.isHidden('#query-error'));
  const expectedWarnings = await countMatching(warnings);
  assert.ok(expectedWarnings > 2 && expectedWarnings < 50, `seeded warnings: ${expectedWarnings}`);
  assert.equal(await rowCount(page), expectedWarnings);
  assert.equal(await summaryTotal(page), expectedWarnings);
  const rowSeverities = await page.$$eval('#entries > li', (rows) => rows.map((r) => r.dataset.severity));
  assert.ok(rowSeverities.every((s) => ['WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'].includes(s)), rowSeverities.join());

  step('the severity picker narrows the results');
  await page.selectOption('#severity', 'ERROR');
  await ready(page);
  assert.equal(await rowCount(page), await countMatching(`${warnings} AND severity>=ERROR`));
  await page.selectOption('#severity', '');
  await ready(page);

  step('an entry expands to its JSON, and a field adds itself to the query');
  await runQuery(page, 'jsonPayload.message:"GET /api/orders"');
  const row = page.locator('#entries > li').first();
  await row.locator('.entry-toggle').click();
  assert.equal(await row.locator('.entry-toggle').getAttribute('aria-expanded'), 'true');
  await page.waitForSelector('#entries > li .entry-detail:not([hidden])');
  const detail = await row.locator('.entry-detail').textContent();
  assert.match(detail, /"jsonPayload"/);
  assert.match(detail, /"k8s_container"/);
  await page.screenshot({ path: join(screenshotDir, 'explorer-entry.png') });
  const add = row.locator('button.add-field[data-clause^="resource.labels.pod_name="]');
  const clause = await add.getAttribute('data-clause');
  await page.evaluate(() => { document.body.dataset.state = 'clicked'; });
  await add.click();
  await ready(page);
  const query = await page.inputValue('#query');
  assert.ok(query.endsWith(`\n${clause}`), query);
  const expectedPod = await countMatching(query);
  assert.ok(expectedPod >= 1);
  assert.equal(await rowCount(page), expectedPod);

  step('live tail shows a new matching entry without reloading, and only matching ones');
  await runQuery(page, 'logName="projects/demo/logs/live"');
  assert.equal(await rowCount(page), 0);
  await page.evaluate(() => { window.__loadedAt = performance.timeOrigin; });
  await page.click('#tail');
  await page.waitForSelector('body[data-tail="ready"]');
  const resource = { type: 'k8s_container', labels: { project_id: 'demo', location: 'asia-northeast1-a', cluster_name: 'shop', namespace_name: 'default', pod_name: 'fastapi-7d9c5b-x2x7q', container_name: 'fastapi' } };
  await api('/v2/entries:write', {
    entries: [
      { logName: 'projects/demo/logs/other', resource, severity: 'INFO', textPayload: 'not for this tail' },
      { logName: 'projects/demo/logs/live', resource, severity: 'WARNING', textPayload: `live tail arrived ${XSS_TEXT}` },
    ],
  });
  await page.waitForSelector('#entries > li.arrived');
  assert.equal(await rowCount(page), 1);
  assert.equal(await page.textContent('#entries > li .summary'), `live tail arrived ${XSS_TEXT}`);
  assert.equal(await page.evaluate(() => performance.timeOrigin), await page.evaluate(() => window.__loadedAt), 'no reload');

  step('live tail keeps only the newest 500 rows and says so');
  await api('/v2/entries:write', {
    entries: Array.from({ length: 520 }, (_, i) => (
      { logName: 'projects/demo/logs/live', resource, severity: 'INFO', textPayload: `burst ${i}` })),
  });
  await page.waitForFunction(() => document.querySelector('#tail-status').textContent.includes('521 new entries'));
  assert.equal(await page.locator('#entries > li.arrived').count(), 500);
  assert.match(await page.textContent('#tail-status'), /showing the newest 500/);
  assert.equal(await page.textContent('#entries > li .summary'), 'burst 519');
  await page.click('#tail');
  assert.equal(await page.getAttribute('#tail', 'aria-pressed'), 'false');

  step('attacker-controlled payloads render as text and run nothing');
  await runQuery(page, 'textPayload:"onerror" OR jsonPayload.userAgent:"script"');
  assert.ok(await rowCount(page) >= 2);
  const summaries = await page.$$eval('#entries .summary', (nodes) => nodes.map((n) => n.textContent));
  assert.ok(summaries.includes(XSS_TEXT), summaries.join('\n'));
  await page.getByText(XSS_TEXT, { exact: true }).first().waitFor({ state: 'visible' });
  const jsonRow = page.locator('#entries > li', { hasText: 'User agent' }).first();
  await jsonRow.locator('.entry-toggle').click();
  await page.getByText(JSON.stringify(XSS_SCRIPT)).first().waitFor({ state: 'visible' });
  assert.equal(await page.locator('#entries img, #entries script, #entries iframe').count(), 0);
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => typeof window.__xss), 'undefined');
  assert.deepEqual(dialogs, []);

  step('large results page in: 50 at a time, "Load more" until all are shown');
  await page.selectOption('#range', '1d');
  await ready(page);
  await runQuery(page, 'logName="projects/demo/logs/batch"');
  const batchTotal = await summaryTotal(page);
  assert.equal(batchTotal, await countMatching('logName="projects/demo/logs/batch"'));
  assert.ok(batchTotal > 100, `batch entries: ${batchTotal}`);
  assert.equal(await rowCount(page), 50);
  assert.ok(await page.isVisible('#more'));
  while (await page.isVisible('#more')) {
    const before = await rowCount(page);
    await page.click('#more').catch(() => {});
    await page.waitForFunction((n) => document.querySelectorAll('#entries > li').length > n || document.getElementById('more').hidden, before);
  }
  assert.equal(await rowCount(page), batchTotal);
  const ids = await page.$$eval('#entries .summary', (nodes) => nodes.map((n) => n.textContent));
  assert.equal(new Set(ids).size, batchTotal, 'no entry is listed twice');

  step('the query, range and severity survive a reload (kept in the URL)');
  await page.reload();
  await ready(page);
  assert.equal(await page.inputValue('#query'), 'logName="projects/demo/logs/batch"');
  assert.equal(await page.inputValue('#range'), '1d');
  await context.close();

  step('a narrow window has no horizontal scrolling');
  const narrow = await browser.newContext({ viewport: { width: 400, height: 800 } });
  const small = await narrow.newPage();
  watch(small);
  await small.goto(url);
  await ready(small);
  assert.equal(await small.evaluate(() => document.documentElement.scrollWidth), 400);
  assert.ok(await small.locator('#histogram rect').count() > 3);
  await small.screenshot({ path: join(screenshotDir, 'explorer-narrow.png') });
  await narrow.close();

  assert.deepEqual(dialogs, [], 'no dialog opened');
  assert.deepEqual(pageErrors, [], 'no script error');
  // The parse-error check's validate call answers 400 on purpose; anything else (a CSP
  // violation would be one) is a failure.
  const unexpected = consoleErrors.filter((m) => !/status of 400/.test(m));
  assert.deepEqual(unexpected, [], 'no console error');
  console.log('explorer test: ok');
} catch (error) {
  console.error(error);
  console.error({ dialogs, pageErrors, consoleErrors });
  process.exitCode = 1;
} finally {
  await browser.close();
}
