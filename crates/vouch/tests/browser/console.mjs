// Drives the reviewer console in a real headless Chromium as a reviewer would: by labels and
// roles, keyboard where it matters. Checks the queue and the session page with axe-core and keeps
// a screenshot of every page.
//
// Usage: node console.mjs <plan.json>
//   plan: {"base", "screenshots", "reviewer"|"second"|"viewer": {"email", "password"},
//          "search": "<vendor data>", "number": <its session number>, "approve_number",
//          "person_email", "viewer_session": "<id>", "staged_session": "<id of a four-eyes app>"}
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

    // The keyboard: "?" shows the shortcuts, Escape hides them, "j" and "k" move between sessions.
    problems = [];
    await page.keyboard.press('?');
    const help = page.locator('#shortcuts');
    if (!(await help.evaluate((d) => d.open))) problems.push('"?" did not open the shortcuts');
    if (!(await help.innerText()).includes('Next / previous session')) problems.push('the shortcuts do not list j / k');
    await shot(page, 'queue-shortcuts');
    await page.keyboard.press('Escape');
    if (await help.evaluate((d) => d.open)) problems.push('Escape did not close the shortcuts');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (focused !== '#1') problems.push(`after j j k the focus is on ${JSON.stringify(focused)}`);
    results.push({ name: 'queue-keyboard', problems, violations: [], passes: -1 });

    // Find the session through search, open it, claim it.
    problems = [];
    await page.getByRole('searchbox', { name: 'Search', exact: true }).fill(plan.search);
    await Promise.all([
      page.waitForURL(/[?&]q=/),
      page.getByRole('button', { name: 'Apply filters', exact: true }).press('Enter'),
    ]);
    if (!page.url().includes(`q=${encodeURIComponent(plan.search)}`)) problems.push(`the search is not in the URL: ${page.url()}`);
    const rows = page.getByRole('row').filter({ hasText: plan.search });
    if (await rows.count() !== 1) problems.push(`${await rows.count()} rows for "${plan.search}"`);
    await shot(page, 'queue-searched');
    await rows.getByRole('link', { name: `#${plan.number}`, exact: true }).click();
    await page.waitForLoadState();
    await heading(page, `Session #${plan.number}`, problems);
    await page.getByRole('button', { name: 'Claim', exact: true }).click();
    await page.waitForLoadState();
    const claimed = await page.locator('#claim-line').innerText();
    if (!claimed.startsWith('You have claimed this session until')) problems.push(`after claiming: ${claimed}`);
    if (await page.getByText('Trail verified: every row is chained to the one before.').count() !== 1) problems.push('no verified-trail badge');

    // Compare the document and the selfie, zoomed in and turned a quarter.
    const compare = page.locator('.compare img');
    if (await compare.count() !== 2) problems.push(`${await compare.count()} images side by side`);
    for (const name of ['OCR: front', 'LIVENESS: selfie']) {
      const img = page.getByRole('img', { name, exact: true }).first();
      const loaded = await img.evaluate((i) => i.complete && i.naturalWidth > 0);
      if (!loaded) problems.push(`the image "${name}" did not load`);
    }
    await shot(page, 'session');
    results.push({ name: 'session', problems, ...(await axe(page)) });
    problems = [];
    await page.getByRole('link', { name: 'Zoom in', exact: true }).click();
    await page.getByRole('link', { name: /^Rotate/ }).click();
    await page.waitForLoadState();
    const cls = await compare.first().getAttribute('class');
    if (cls !== 'zoom-2 rotate-90') problems.push(`the viewer's image is ${cls}`);
    await page.locator('#media-heading').scrollIntoViewIfNeeded();
    await shot(page, 'session-media-zoomed');

    // Send the document back with a reason and an email, previewed first.
    await page.getByRole('checkbox', { name: 'Redo OCR', exact: true }).check();
    await page.getByLabel('Reason shown to the person (OCR)', { exact: true }).fill('The photo of the document is blurred.');
    await page.getByRole('radio', { name: 'Ask for steps again', exact: true }).check();
    await page.getByRole('checkbox', { name: 'Email the person', exact: true }).check();
    await page.getByLabel('Their email address', { exact: true }).fill(plan.person_email);
    await page.getByRole('button', { name: 'Preview the email', exact: true }).click();
    await page.waitForLoadState();
    const preview = page.getByRole('region', { name: 'The email that will be sent' });
    if (await preview.count() !== 1) problems.push(`no email preview: ${(await page.locator('main').innerText()).slice(0, 500)}`);
    else if (!(await preview.innerText()).includes('The photo of the document is blurred.')) problems.push('the preview lacks the reason');
    if (!(await page.getByRole('checkbox', { name: 'Redo OCR', exact: true }).isChecked())) problems.push('the preview lost the chosen step');
    await preview.scrollIntoViewIfNeeded();
    await shot(page, 'session-email-preview');
    await page.getByRole('button', { name: 'Record decision', exact: true }).click();
    await page.waitForLoadState();
    if (await page.getByRole('status').filter({ hasText: 'Decision recorded.' }).count() !== 1) problems.push(`after resubmitting: ${(await page.locator('main').innerText()).slice(0, 400)}`);
    const status = await page.locator('#session-status').innerText();
    if (status !== 'Resubmitted') problems.push(`status shown: ${status}`);
    await shot(page, 'session-resubmitted');

    // Approve another, found by its number.
    await page.goto(plan.base + `/console/?q=${plan.approve_number}`);
    await page.getByRole('link', { name: `#${plan.approve_number}`, exact: true }).click();
    await page.waitForLoadState();
    await page.getByLabel('Reason (shown on the review trail)', { exact: true }).fill('Checked the document by hand.');
    // "a" prepares the approval and waits: nothing is decided until Enter on "Record decision".
    await page.locator('h1').click();
    await page.keyboard.press('a');
    if (!(await page.getByRole('radio', { name: 'Approve', exact: true }).isChecked())) problems.push('"a" did not choose Approve');
    const onButton = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (onButton !== 'Record decision') problems.push(`after "a" the focus is on ${JSON.stringify(onButton)}`);
    if (await page.locator('#session-status').innerText() !== 'In Review') problems.push('"a" decided without confirmation');
    await shot(page, 'session-keyboard-approve');
    // Enter submits the form: wait for the page it leads to (a key press does not wait for it).
    await Promise.all([page.waitForURL(/decided=1/), page.keyboard.press('Enter')]);
    if (await page.locator('#session-status').innerText() !== 'Approved') problems.push('the second session is not approved');
    const row = page.getByRole('row').filter({ hasText: 'Checked the document by hand.' });
    if (await row.count() !== 1) problems.push('the decision is not on the trail shown');
    await shot(page, 'session-decided');

    // Four-eyes: the decision waits, and its author is not offered its approval.
    await page.goto(`${plan.base}/console/sessions/${plan.staged_session}`);
    if (await page.getByText('Four-eyes review is on for this application').count() !== 1) problems.push('no four-eyes notice');
    await page.getByRole('radio', { name: 'Approve', exact: true }).check();
    await page.getByRole('button', { name: 'Record decision', exact: true }).click();
    await page.waitForLoadState();
    if (await page.getByRole('status').filter({ hasText: 'Decision staged' }).count() !== 1) problems.push(`after staging: ${(await page.locator('main').innerText()).slice(0, 400)}`);
    if (!(await page.locator('#staged-line').innerText()).startsWith('Your decision waits for a second reviewer')) problems.push('the author is not told its decision waits');
    if (await page.getByRole('button', { name: 'Approve the staged decision' }).count() !== 0) problems.push('the author is offered to approve its own decision');
    await shot(page, 'session-staged');

    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.waitForLoadState();
    if (await page.getByText('You have logged out.').count() !== 1) problems.push(`after logging out: ${page.url()}`);
    await page.goBack();
    await page.reload();
    await heading(page, 'Log in to review sessions', problems);
    if (outside.length) problems.push(`requests outside vouch: ${outside.join(', ')}`);
    results.push({ name: 'claim-compare-resubmit-decide-stage', problems, violations: [], passes: -1 });
    await context.close();
  }
  {
    // The second reviewer approves the staged decision.
    const context = await newContext();
    const page = await context.newPage();
    const problems = [];
    await logIn(page, plan.second, problems);
    const queue = page.getByRole('row').filter({ hasText: 'Staged' });
    if (await queue.count() !== 0) problems.push('another application\'s staged session shows in the first queue');
    await page.goto(`${plan.base}/console/sessions/${plan.staged_session}`);
    const line = await page.locator('#staged-line').innerText();
    if (!line.startsWith('rita@acme.example decided: Approved')) problems.push(`staged line: ${line}`);
    await shot(page, 'session-second-reviewer');
    results.push({ name: 'session-second-reviewer', problems: [], ...(await axe(page)) });
    await page.getByRole('button', { name: 'Approve the staged decision', exact: true }).click();
    await page.waitForLoadState();
    if (await page.locator('#session-status').innerText() !== 'Approved') problems.push('the staged decision did not take effect');
    await shot(page, 'session-seconded');
    results.push({ name: 'second-approves', problems, violations: [], passes: -1 });
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
    if (await page.getByRole('button', { name: 'Claim' }).count() !== 0) problems.push('a viewer is offered to claim');
    await shot(page, 'session-viewer');
    results.push({ name: 'session-viewer', problems, ...(await axe(page)) });
    await context.close();
  }
  {
    // In Spanish, at a phone's width: the login, the queue and a session page.
    const context = await browser.newContext({ bypassCSP: true, locale: 'es-ES', viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const problems = [];
    await page.goto(plan.base + '/console/');
    await heading(page, 'Inicia sesión para revisar verificaciones', problems);
    await shot(page, 'login-es-phone');
    results.push({ name: 'login-es-phone', problems: [], ...(await axe(page)) });
    await page.getByLabel('Correo electrónico', { exact: true }).fill(plan.viewer.email);
    await page.getByLabel('Contraseña', { exact: true }).fill(plan.viewer.password);
    await page.getByRole('button', { name: 'Iniciar sesión', exact: true }).click();
    await page.waitForLoadState();
    await heading(page, 'Verificaciones por revisar', problems);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await shot(page, 'queue-es-phone');
    results.push({ name: 'queue-es-phone', problems: [...problems], ...(await axe(page)) });
    await page.goto(`${plan.base}/console/sessions/${plan.viewer_session}`);
    if (await page.getByText('Tu rol (lector) permite leer verificaciones, no decidirlas.').count() !== 1) problems.push('the session page is not in Spanish');
    await shot(page, 'session-es-phone');
    // The queue's table scrolls sideways on a phone; the page itself is no wider than it.
    if (wide > 0) problems.push(`the queue page is ${wide}px wider than the phone`);
    results.push({ name: 'session-es-phone', problems, ...(await axe(page)) });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ pages: results }));
