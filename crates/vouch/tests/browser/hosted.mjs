// Drives the person's page in a real headless Chromium as a person would: by roles and labels,
// by keyboard, with and without JavaScript. Checks each page with axe-core (WCAG 2.2 A and AA
// rules) and keeps a screenshot of it.
//
// Usage: node hosted.mjs <plan.json>
//   plan: {"base": "http://127.0.0.1:port", "screenshots": "<dir>", "pages": [
//     {"name", "path", "heading", "status", "steps": ["…"], "javascript": true|false,
//      "switch_to": {"language": "Español", "heading": "…"}}]}
// Prints one JSON object: {"pages": [{"name", "problems": ["…"], "violations": [...],
// "passes": <axe rules passed>}]}.

import { readFileSync, readdirSync, mkdirSync } from 'node:fs';
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

// The newest message's code, read from the SMTP sink's folder (one .eml file per message).
async function codeFromSink(dir, count) {
  for (let i = 0; i < 200; i++) {
    let files = [];
    try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort(); } catch { files = []; }
    if (files.length >= count) {
      const raw = readFileSync(join(dir, files[count - 1]), 'utf8').replace(/=\r?\n/g, '');
      const m = raw.match(/Your code is (\d{6})/);
      if (m) return m[1];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no code arrived in ${dir}`);
}

// A person completing the email step: the address, the button, the code from the mailbox, the
// field, Enter. Answers the problems seen.
async function emailFlow(page, f) {
  const problems = [];
  await page.goto(plan.base + f.path);
  const address = page.getByRole('textbox', { name: f.email_label, exact: true });
  if (await address.inputValue() !== f.prefilled) problems.push(`address field holds ${await address.inputValue()}`);
  await address.fill(f.address);
  await page.getByRole('button', { name: f.send_button, exact: true }).click();
  await page.waitForLoadState();
  const status = page.getByRole('status');
  if (await status.count() !== 1 || !(await status.innerText()).includes(f.sent_text)) {
    problems.push(`after sending, at ${page.url()}: ${(await page.content()).slice(0, 600)}`);
    return problems;
  }
  await page.screenshot({ path: join(plan.screenshots, `${f.name}-sent.png`), fullPage: true });
  const code = await codeFromSink(f.sink_dir, f.mail_number || 1);
  const field = page.getByRole('textbox', { name: f.code_label, exact: true });
  if (await field.getAttribute('autocomplete') !== 'one-time-code') problems.push('the code field is not autocomplete=one-time-code');
  await field.fill('000000' === code ? '111111' : '000000');
  await field.press('Enter');
  await page.waitForLoadState();
  const alert = page.getByRole('alert');
  if (await alert.count() !== 1 || !(await alert.innerText()).includes(f.wrong_text)) {
    problems.push(`after a wrong code, at ${page.url()}: ${await page.locator('main').innerText()}`);
    return problems;
  }
  await page.screenshot({ path: join(plan.screenshots, `${f.name}-wrong.png`), fullPage: true });
  const again = page.getByRole('textbox', { name: f.code_label, exact: true });
  await again.fill(code);
  await again.press('Enter');
  await page.waitForLoadState();
  if (f.callback_prefix) {
    // The last step done: the browser is sent back to the service, with the session's status.
    try {
      await page.waitForURL((u) => u.href.startsWith(f.callback_prefix), { timeout: 10000 });
    } catch (e) {
      problems.push(`not sent back to the callback; at ${page.url()}`);
    }
    return problems;
  }
  const step = page.getByRole('listitem').filter({ hasText: f.step_name });
  if (!(await step.innerText()).includes(f.done_text)) problems.push(`after the right code the step reads ${await step.innerText()}`);
  await page.screenshot({ path: join(plan.screenshots, `${f.name}-verified.png`), fullPage: true });
  return problems;
}

try {
  for (const p of plan.pages) {
    const problems = [];
    // axe is injected by the test: the page itself allows no script, so the test's context
    // bypasses the page's CSP for that one purpose.
    const context = await browser.newContext({
      javaScriptEnabled: p.javascript !== false,
      bypassCSP: true,
      locale: p.locale || 'en-US',
      viewport: { width: 420, height: 900 },
    });
    const page = await context.newPage();
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(plan.base)) outside.push(r.url()); });
    const response = await page.goto(plan.base + p.path);
    if (response.status() !== p.status) problems.push(`status ${response.status()}, expected ${p.status}`);
    const h1 = page.getByRole('heading', { level: 1, name: p.heading, exact: true });
    if (await h1.count() !== 1) problems.push(`no level-1 heading "${p.heading}": ${await page.locator('h1').allInnerTexts()}`);
    for (const step of p.steps || []) {
      const item = page.getByRole('listitem').filter({ hasText: step });
      if (await item.count() !== 1) problems.push(`step "${step}" is not one list item`);
    }
    // The language menu is a labelled control a person can reach.
    const menu = page.getByLabel(p.language_label || 'Language', { exact: true });
    if (await menu.count() !== 1) problems.push('no language menu labelled by its visible label');
    // Keyboard: the first Tab reaches the skip link, and it moves focus to the content.
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (first !== p.skip_link) problems.push(`first focus is ${JSON.stringify(first)}, expected the skip link`);
    if (p.javascript !== false) {
      await page.keyboard.press('Enter');
      const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
      if (focused !== 'content') problems.push(`the skip link moved focus to ${JSON.stringify(focused)}`);
    }
    await page.screenshot({ path: join(plan.screenshots, `${p.name}.png`), fullPage: true });

    let violations = [];
    let passes = 0;
    if (p.javascript !== false) {
      await page.addScriptTag({ content: axeSource });
      const report = await page.evaluate(async () => await window.axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      }));
      passes = report.passes.length;
      violations = report.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
    }

    // Changing the language by keyboard and the form's own button works without any script.
    if (p.switch_to) {
      await menu.selectOption({ label: p.switch_to.language });
      await page.getByRole('button', { name: p.switch_to.button, exact: true }).press('Enter');
      await page.waitForLoadState();
      const h = page.getByRole('heading', { level: 1, name: p.switch_to.heading, exact: true });
      if (await h.count() !== 1) problems.push(`after choosing ${p.switch_to.language}: ${await page.locator('h1').allInnerTexts()}`);
      await page.screenshot({ path: join(plan.screenshots, `${p.name}-switched.png`), fullPage: true });
    }
    if (outside.length) problems.push(`requests outside vouch: ${outside.join(', ')}`);
    results.push({ name: p.name, problems, violations, passes });
    await context.close();
  }
  for (const f of plan.flows || []) {
    const context = await browser.newContext({ viewport: { width: 420, height: 900 } });
    const page = await context.newPage();
    let problems;
    try { problems = await emailFlow(page, f); } catch (e) { problems = [String(e)]; }
    results.push({ name: f.name, problems, violations: [], passes: -1 });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages: results }));
