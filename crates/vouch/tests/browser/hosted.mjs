// Drives the person's page in a real headless Chromium as a person would: by roles and labels,
// by keyboard, with and without JavaScript. Checks each page with axe-core (WCAG 2.2 A and AA
// rules) and keeps a screenshot of it.
//
// Capture flows ("captures" in the plan) complete a sandbox KYC session through the page: the
// document and the selfie taken with Chromium's fake camera (a .y4m file the test wrote), or
// uploaded after the camera was refused, or uploaded with JavaScript off; then the email code
// from the SMTP sink; then the return to the callback.
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
// A second browser for the capture flows, with a fake camera that shows the test's video file.
const cameraBrowser = plan.camera_file ? await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${plan.camera_file}`],
}) : null;

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
  // (Capture forms each keep an empty live region for the camera's announcements.)
  const status = page.getByRole('status').filter({ hasText: f.sent_text });
  if (await status.count() !== 1) {
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

// The list item of a step, by its visible name.
function stepItem(page, name) {
  return page.getByRole('listitem').filter({ has: page.getByText(name, { exact: true }) });
}

// Waits (the page reloads itself while engines check) until the step's state reads `state`.
async function waitForStep(page, name, state, problems) {
  for (let i = 0; i < 100; i++) {
    const item = stepItem(page, name);
    if (await item.count() === 1 && (await item.innerText()).includes(state)) return true;
    await page.waitForTimeout(200);
  }
  problems.push(`step ${name} never read "${state}": ${await page.locator('main').innerText()}`);
  return false;
}

// One file of a capture step, as the flow's person provides it.
async function provide(page, f, step, label, file, problems) {
  const item = stepItem(page, step);
  if (f.mode === 'camera' || f.mode === 'refused') {
    const open = item.getByRole('button', { name: f.camera_open, exact: true }).first();
    await open.click();
    if (f.mode === 'camera') {
      const take = item.getByRole('button', { name: f.camera_take, exact: true });
      await take.waitFor({ state: 'visible' });
      // Let the fake camera deliver frames before taking the photo.
      await page.waitForFunction(() => [...document.querySelectorAll('video')].some((v) => v.videoWidth > 0));
      await page.screenshot({ path: join(plan.screenshots, `${f.name}-${step}-camera.png`), fullPage: true });
      await take.click();
      const status = item.getByRole('status');
      await status.filter({ hasText: f.taken_text }).waitFor({ timeout: 5000 }).catch(() => {
        problems.push(`${step}: no "${f.taken_text}" after taking the photo`);
      });
      const chosen = await item.getByLabel(label, { exact: true }).evaluate((i) => i.files.length);
      if (chosen !== 1) problems.push(`${step}: the photo taken is not in the file field`);
      return;
    }
    await item.getByRole('status').filter({ hasText: f.refused_text }).waitFor({ timeout: 5000 }).catch(() => {
      problems.push(`${step}: the refused camera was not announced`);
    });
  }
  await item.getByLabel(label, { exact: true }).setInputFiles(file);
}

async function captureFlow(page, f) {
  const problems = [];
  const shot = (what) => page.screenshot({ path: join(plan.screenshots, `${f.name}-${what}.png`), fullPage: true });
  await page.goto(plan.base + f.path);
  await shot('1-start');
  // The document: its type, its front (a passport has no back).
  await stepItem(page, f.document_step).getByLabel(f.document_type_label, { exact: true })
    .selectOption({ label: f.document_type });
  await provide(page, f, f.document_step, f.front_label, f.front_file, problems);
  await shot('2-document-ready');
  await stepItem(page, f.document_step).getByRole('button', { name: f.send, exact: true }).click();
  await page.waitForLoadState();
  const received = page.getByRole('status').filter({ hasText: f.received_text });
  if (await received.count() < 1) problems.push(`after sending the document: ${await page.locator('main').innerText()}`);
  await shot('3-document-sent');
  await waitForStep(page, f.document_step, f.done_text, problems);
  // The selfie.
  await provide(page, f, f.selfie_step, f.selfie_label, f.selfie_file, problems);
  await shot('4-selfie-ready');
  await stepItem(page, f.selfie_step).getByRole('button', { name: f.send, exact: true }).click();
  await page.waitForLoadState();
  await waitForStep(page, f.selfie_step, f.done_text, problems);
  await shot('5-selfie-done');
  // The email code, from the mailbox.
  await page.getByRole('button', { name: f.send_code, exact: true }).click();
  await page.waitForLoadState();
  const code = await codeFromSink(f.sink_dir, f.mail_number);
  const field = page.getByRole('textbox', { name: f.code_label, exact: true });
  await field.fill(code);
  await shot('6-code');
  await field.press('Enter');
  // Then the automatic steps, the page reloading itself, and the way back to the service.
  try {
    await page.waitForURL((u) => u.href.startsWith(f.callback_prefix), { timeout: 20000 });
  } catch (e) {
    problems.push(`not sent back to the callback; at ${page.url()}: ${await page.locator('body').innerText()}`);
  }
  return problems;
}

// A shop page embedding a session with Didit's own web SDK: the person completes the email
// step inside the SDK's frame; the SDK must hear vouch's events and report the completion.
// On an origin the application does not allow, the frame must stay empty.
async function embedFlow(page, f) {
  const problems = [];
  await page.goto(f.shop_url);
  const frame = page.frameLocator('iframe');
  if (!f.allowed) {
    await page.waitForTimeout(2500);
    const events = await page.evaluate(() => window.events.map((e) => e.type));
    if (events.includes('didit:ready')) problems.push(`a refused origin heard: ${events}`);
    if (await frame.getByRole('heading', { level: 1 }).count() !== 0) problems.push('the page rendered inside a refused frame');
    await page.screenshot({ path: join(plan.screenshots, `${f.name}.png`), fullPage: true });
    return problems;
  }
  await frame.getByRole('button', { name: f.send_code, exact: true }).click();
  const code = await codeFromSink(f.sink_dir, f.mail_number);
  const field = frame.getByRole('textbox', { name: f.code_label, exact: true });
  await field.fill(code);
  await page.screenshot({ path: join(plan.screenshots, `${f.name}-code.png`), fullPage: true });
  await field.press('Enter');
  try {
    await page.waitForFunction(() => window.results.length > 0, null, { timeout: 10000 });
  } catch (e) {
    problems.push(`the SDK reported no result; events: ${JSON.stringify(await page.evaluate(() => window.events))}`);
    return problems;
  }
  await page.screenshot({ path: join(plan.screenshots, `${f.name}-done.png`), fullPage: true });
  const { events, results } = await page.evaluate(() => ({ events: window.events, results: window.results }));
  const types = events.map((e) => e.type);
  for (const t of ['didit:started', 'didit:ready', 'didit:status_updated', 'didit:step_started',
    'didit:step_completed', 'didit:layout', 'didit:completed']) {
    if (!types.includes(t)) problems.push(`the SDK never heard ${t}: ${types}`);
  }
  const layout = events.find((e) => e.type === 'didit:layout');
  if (layout && !(layout.data.contentHeight > 0 && layout.data.dir === 'ltr')) problems.push(`didit:layout: ${JSON.stringify(layout)}`);
  const completedStep = events.find((e) => e.type === 'didit:step_completed');
  if (completedStep && completedStep.data.step !== 'feature_email_verification_1') problems.push(`didit:step_completed: ${JSON.stringify(completedStep)}`);
  const ready = events.find((e) => e.type === 'didit:ready');
  if (ready && ready.data.sessionId !== f.session_id) problems.push(`didit:ready names ${ready.data.sessionId}`);
  if (events.some((e) => typeof e.timestamp !== 'number')) problems.push('an event without a timestamp');
  const r = results[0];
  if (r.type !== 'completed' || r.session?.sessionId !== f.session_id || r.session?.status !== 'Approved') {
    problems.push(`the SDK's result: ${JSON.stringify(r)}`);
  }
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
  for (const f of plan.captures || []) {
    const context = await cameraBrowser.newContext({
      viewport: { width: 420, height: 900 },
      javaScriptEnabled: f.mode !== 'nojs',
      permissions: f.mode === 'camera' ? ['camera'] : [],
    });
    const page = await context.newPage();
    const outside = [];
    page.on('request', (r) => {
      const u = r.url();
      const own = u.startsWith(plan.base) || u.startsWith(`blob:${plan.base}`) || u.startsWith(f.callback_prefix.split('?')[0]);
      if (!own) outside.push(u);
    });
    let problems;
    try { problems = await captureFlow(page, f); } catch (e) { problems = [String(e)]; }
    if (outside.length) problems.push(`requests outside vouch: ${outside.join(', ')}`);
    results.push({ name: f.name, problems, violations: [], passes: -1 });
    await context.close();
  }
  for (const f of plan.embeds || []) {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    const page = await context.newPage();
    let problems;
    try { problems = await embedFlow(page, f); } catch (e) { problems = [String(e)]; }
    results.push({ name: f.name, problems, violations: [], passes: -1 });
    await context.close();
  }
} finally {
  await browser.close();
  if (cameraBrowser) await cameraBrowser.close();
}
console.log(JSON.stringify({ pages: results }));
