// A browser following a deployment page while a rollout runs
// (bench/fleet.sh with CONSOLE=1): Debian's chromium, headless, through the
// console's own sign-in, on /ui/deployments/ID until the page says
// "completed". Printed: the events the page received (total, peak per
// second), the deployment reads it made, the main thread's long tasks
// (over 50 ms: what would make the page feel stuck) and the bars at the end.
//   node bench/console_watch.mjs URL API_KEY DEPLOYMENT
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(resolve(new URL('../tests/ui/', import.meta.url).pathname) + '/');
const { chromium } = require('playwright-core');
const [url, key, dep] = process.argv.slice(2);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true, args: ['--ignore-certificate-errors', '--no-sandbox'] });
const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
// Count what the page's EventSource delivers and the main thread's long
// tasks; init scripts run over DevTools, outside the page's CSP.
await ctx.addInitScript(() => {
	window.__events = [];
	window.__long = [];
	const Orig = window.EventSource;
	window.EventSource = class extends Orig {
		addEventListener(type, fn, opts) {
			super.addEventListener(type, (e) => { window.__events.push(performance.now()); fn(e); }, opts);
		}
	};
	new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
		.observe({ type: 'longtask', buffered: true });
});
const page = await ctx.newPage();
let reads = 0;
page.on('request', (r) => { if (r.url().endsWith(`/api/v1/deployments/${dep}`)) reads++; });
await page.goto(`${url}/ui/signin`);
await page.fill('#api-key', key);
await page.click('button[type=submit]');
await page.waitForSelector('nav a[aria-current=page]', { state: 'attached' });
await page.goto(`${url}/ui/deployments/${dep}`);
await page.waitForSelector('main:not([aria-busy]) h1');
const t0 = Date.now();
reads = 0;
await page.waitForSelector('.badge.completed', { timeout: 1800000 });
const secs = (Date.now() - t0) / 1000;
const r = await page.evaluate(() => {
	const per = new Map();
	for (const t of window.__events) per.set(Math.floor(t / 1000), (per.get(Math.floor(t / 1000)) || 0) + 1);
	return { events: window.__events.length, peak: Math.max(0, ...per.values()), long: window.__long,
		bars: [...document.querySelectorAll('[role=progressbar]')].map((b) => b.getAttribute('aria-valuenow')) };
});
console.log(`  console: ${r.events} events in ${secs.toFixed(1)} s (${(r.events / secs).toFixed(0)}/s, peak ${r.peak} in one second), ` +
	`${reads} deployment reads (${(reads / secs).toFixed(1)}/s), ${r.long.length} long tasks (max ${Math.round(Math.max(0, ...r.long))} ms), bars at ${r.bars.join(' ')} %`);
await browser.close();
