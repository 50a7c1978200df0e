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
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages: results }));
