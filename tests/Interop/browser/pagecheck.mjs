// What every test of the hosted pages checks on each page it visits, and the chromium they run in.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const axeSource = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** Debian's chromium, headless, with nothing that reaches out to the internet. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A check of one page at one size: axe-core (WCAG 2.x A and AA, best practices; a serious or critical violation is a
 * problem), a visible keyboard focus on its first control, no sideways scrolling, and a full-page screenshot,
 * <outputDir>/<name>-<size>.png. Violations go to report, problems to problems, screenshot paths to shots.
 */
export function pageChecker(outputDir, report, problems, shots) {
  return async function check(page, name, size) {
    await page.waitForLoadState('load');
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
    const violations = result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
    report[`${name}-${size.name}`] = violations;
    for (const v of violations.filter(v => v.impact === 'serious' || v.impact === 'critical'))
      problems.push(`${name} at ${size.name}: axe ${v.impact} ${v.id}: ${v.help} (${v.nodes} elements)`);
    const first = page.locator('input:not([type=hidden]), button, summary, a').first();
    if (await first.count() > 0) {
      await page.keyboard.press('Tab');
      const outline = await page.evaluate(() => {
        const el = document.activeElement;
        const style = el ? getComputedStyle(el) : null;
        return style ? `${style.outlineStyle} ${style.outlineWidth}` : 'none';
      });
      if (outline.startsWith('none') || outline.endsWith(' 0px'))
        problems.push(`${name} at ${size.name}: the focused control has no visible outline (${outline})`);
    }
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0)
      problems.push(`${name} at ${size.name}: the page is ${overflow}px wider than the viewport`);
    const file = join(outputDir, `${name}-${size.name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    shots.push(file);
  };
}

/** Records a page's script errors and console errors (a CSP violation is logged as one) as problems. */
export async function watch(context, page, problems, label, ignoreConsole = () => false) {
  page.setDefaultTimeout(20000);
  page.on('pageerror', e => problems.push(`${label}: page error: ${e}`));
  page.on('console', m => {
    if (m.type() === 'error' && !ignoreConsole(m.text()))
      problems.push(`${label}: console error: ${m.text()}`);
  });
  await context.addInitScript(() => document.addEventListener('securitypolicyviolation', e =>
    console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}`)));
}

/** The app a sign-in returns to: a loopback listener on <port> that records each callback URL and shows a plain page. */
export async function startApp(port, redirectUri) {
  const callbacks = [];
  const app = createServer((req, res) => {
    const url = new URL(req.url, redirectUri);
    if (url.pathname === '/callback')
      callbacks.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><html lang="en"><title>App</title><h1>Back in the app</h1></html>');
  });
  await new Promise(resolve => app.listen(Number(port), '127.0.0.1', resolve));
  return { callbacks, close: () => app.close() };
}

/** Ends a run: <outputDir>/axe.json, the summary (with the axe report) on stdout, and exit 1 with the problems when there are any. */
export function finish(outputDir, report, problems, summary) {
  writeFileSync(join(outputDir, 'axe.json'), JSON.stringify(report, null, 2));
  console.log(JSON.stringify({ ...summary, axe: report }));
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
}
