// Drives the reviewer console in a real headless Chromium as a reviewer would: by labels and
// roles, keyboard where it matters. Checks the queue and the session page with axe-core and keeps
// a screenshot of every page.
//
// Usage: node console.mjs <plan.json>
//   plan: {"base", "screenshots", "reviewer": {"email", "password"}, "viewer": {"email",
//          "password"}, "search": "<vendor data>", "number": <session number>,
//          "viewer_session": "<id>"}
// Prints one JSON object: {"pages": [{"name", "problems": ["…"], "violations": [...], "passes"}]}.

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(plan.screenshots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
const results = [];

async function axe(page) {
  await page.addScriptTag({ content: axeSource });
  const report = await page.evaluate(async () => await window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
  }));
  return {
    passes: report.passes.length,
    violations: report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })),
  };
}

async function shot(page, name) {
  await page.screenshot({ path: join(plan.screenshots, `${name}.png`), fullPage: true });
}

async function heading(page, name, problems) {
  const h = page.getByRole('heading', { level: 1, name, exact: true });
  if (await h.count() !== 1) problems.push(`at ${page.url()}: no level-1 heading "${name}": ${await page.locator('h1').allInnerTexts()}`);
}

async function logIn(page, who, problems) {
  await page.goto(plan.base + '/console/');
  await heading(page, 'Log in to review sessions', problems);
  await page.getByLabel('Email', { exact: true }).fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForLoadState();
  await heading(page, 'Sessions to review', problems);
}

// axe is injected by the test: the console allows no script, so the context bypasses its CSP.
const newContext = () => browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });

try {
  {
    const context = await newContext();
    const page = await context.newPage();
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(plan.base)) outside.push(r.url()); });
    let problems = [];
    await page.goto(plan.base + '/console/');
    await shot(page, 'login');
    results.push({ name: 'login', problems: [], ...(await axe(page)) });

    await logIn(page, plan.reviewer, problems);
    await shot(page, 'queue');
    results.push({ name: 'queue', problems, ...(await axe(page)) });

    problems = [];
    await page.getByRole('searchbox', { name: 'Search', exact: true }).fill(plan.search);
    await page.getByRole('button', { name: 'Apply filters', exact: true }).press('Enter');
    await page.waitForLoadState();
    if (!page.url().includes(`q=${encodeURIComponent(plan.search)}`)) problems.push(`the search is not in the URL: ${page.url()}`);
    const rows = page.getByRole('row').filter({ hasText: plan.search });
    if (await rows.count() !== 1) problems.push(`${await rows.count()} rows for "${plan.search}"`);
    await shot(page, 'queue-searched');
    await rows.getByRole('link', { name: `#${plan.number}`, exact: true }).click();
    await page.waitForLoadState();
    await heading(page, `Session #${plan.number}`, problems);
    const trail = page.getByText('Trail verified: every row is chained to the one before.');
    if (await trail.count() !== 1) problems.push('no verified-trail badge');
    await shot(page, 'session');
    results.push({ name: 'session', problems, ...(await axe(page)) });

    problems = [];
    await page.getByRole('radio', { name: 'Approve', exact: true }).check();
    await page.getByLabel('Reason (shown on the review trail)', { exact: true }).fill('Checked the document by hand.');
    await page.getByRole('button', { name: 'Record decision', exact: true }).click();
    await page.waitForLoadState();
    const done = page.getByRole('status').filter({ hasText: 'Decision recorded.' });
    if (await done.count() !== 1) problems.push(`after deciding: ${(await page.locator('main').innerText()).slice(0, 400)}`);
    const status = await page.locator('#session-status').innerText();
    if (status !== 'Approved') problems.push(`status shown: ${status}`);
    const row = page.getByRole('row').filter({ hasText: 'Checked the document by hand.' });
    if (await row.count() !== 1) problems.push('the decision is not on the trail shown');
    await shot(page, 'session-decided');

    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForLoadState();
    if (await page.getByText('You have logged out.').count() !== 1) problems.push(`after logging out: ${page.url()}`);
    await page.goBack();
    await page.reload();
    await heading(page, 'Log in to review sessions', problems);
    if (outside.length) problems.push(`requests outside vouch: ${outside.join(', ')}`);
    results.push({ name: 'decide-and-log-out', problems, violations: [], passes: -1 });
    await context.close();
  }
  {
    const context = await newContext();
    const page = await context.newPage();
    const problems = [];
    await logIn(page, plan.viewer, problems);
    await page.goto(`${plan.base}/console/sessions/${plan.viewer_session}`);
    if (await page.getByText('Your role (viewer) can read sessions but not decide them.').count() !== 1) problems.push('no word that a viewer cannot decide');
    if (await page.getByRole('button', { name: 'Record decision' }).count() !== 0) problems.push('a viewer is offered the decision form');
    await shot(page, 'session-viewer');
    results.push({ name: 'session-viewer', problems, ...(await axe(page)) });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages: results }));
