// Browser tests of the web console (issue 18), run by `make check` through
// tests/ui/run.sh: Debian's chromium, headless, driven by playwright-core.
//
//   node console.test.mjs BUILD SCREENSHOTS
//
// Starts the real suitd (tools/dev-run.sh, as `make run` does: a fresh
// state folder, port 0, a self-signed certificate that the browser is told
// to ignore), then through the pages: sign in, upload a payload and a
// manifest, create a staged deployment for 100 devices, pause and resume
// it, run suit-sim (5 of the devices fail) and watch the progress bars
// reach 100 % without a reload, open a failed device's decoded report, sign
// out. A reader key sees no mutating control; the session cookie's flags
// and the CSRF check are asserted; axe-core runs on every page (0 serious
// or critical violations); no console error on any page. Screenshots of
// every page at 1280 and 390 px go to SCREENSHOTS. Prints TAP-like lines.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const build = resolve(process.argv[2] || 'build');
const shots = resolve(process.argv[3] || join(build, 'screenshots'));
const root = resolve(new URL('../..', import.meta.url).pathname);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 60000; // per wait: generous, the assertions are on states, not times

let passed = 0, failed = 0;
function ok(cond, what, extra) {
	if (cond) { passed++; console.log(`ok - ${what}`); return; }
	failed++;
	console.log(`not ok - ${what}`);
	if (extra) console.log(`# ${String(extra).split('\n').join('\n# ')}`);
}

// --- the server --------------------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'suitd-ui.'));
const state = join(tmp, '.dev');
mkdirSync(join(tmp, 'config'));
writeFileSync(join(tmp, 'config/dev.conf'),
	readFileSync(join(root, 'config/dev.conf'), 'utf8').replace(/^listen = .*$/m, 'listen = 127.0.0.1:0'));
const server = spawn(join(root, 'tools/dev-run.sh'), [join(build, 'suitd'), join(tmp, 'config/dev.conf')],
	{ env: { ...process.env, DEV_STATE: state }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
let log = '';
server.stdout.on('data', (d) => { log += d; });
server.stderr.on('data', (d) => { log += d; });
const children = [server];
function cleanup() {
	for (const c of children) { try { process.kill(-c.pid, 'SIGTERM'); } catch { /* gone */ } }
}
process.on('exit', cleanup);

async function until(cond, what, ms = TIMEOUT) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await cond();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

await until(() => /Ctrl-C stops the daemon/.test(log), 'the server banner');
const url = /listening on (https:\/\/[^ \n]+)/.exec(log)[1];
const admin = readFileSync(join(state, 'admin.key'), 'utf8').trim();
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'; // the test's own self-signed server

async function call(method, path, body, key = admin) {
	const res = await fetch(url + path, {
		method, headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
		body: body ? JSON.stringify(body) : undefined,
	});
	const text = await res.text();
	return { status: res.status, body: text ? JSON.parse(text) : null };
}

// 100 devices in group fleet, their tokens for suit-sim; a reader key.
const tokens = [], failing = [];
for (let i = 1; i <= 100; i++) {
	const id = `dev-${String(i).padStart(3, '0')}`;
	const r = await call('POST', '/api/v1/devices', { id, group: 'fleet' });
	(i > 95 ? failing : tokens).push(`${id} ${r.body.token}`);
}
writeFileSync(join(tmp, 'ok.txt'), `${tokens.join('\n')}\n`);
writeFileSync(join(tmp, 'fail.txt'), `${failing.join('\n')}\n`);
const reader = (await call('POST', '/api/v1/keys', { name: 'ui-reader', role: 'reader' })).body.key;
ok(!!reader, 'a reader key is created through the API');

// The payload and its signed manifest (the tour's recipe).
const fw = join(tmp, 'fw.bin');
writeFileSync(fw, Buffer.alloc(200000, 7));
const sha = execFileSync('sha256sum', [fw]).toString().split(' ')[0];
execFileSync(join(build, 'suitd'), ['-c', join(tmp, 'config/dev.conf'), 'manifest', 'create', '--key', join(state, 'author.key'),
	'--payload', fw, '--vendor-domain', 'example.com', '--class-info', 'sensor-v1', '--sequence', '1',
	'--uri', `${url}/device/v1/payloads/${sha}`, '-o', join(tmp, 'fw.suit')]);

// --- the browser --------------------------------------------------------------
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
	args: ['--ignore-certificate-errors', '--no-sandbox'] });
const errors = [];
async function newPage(width, colorScheme = 'light') {
	const ctx = await browser.newContext({ viewport: { width, height: 900 }, ignoreHTTPSErrors: true, colorScheme });
	const page = await ctx.newPage();
	page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
	page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
	page.setDefaultTimeout(TIMEOUT);
	return page;
}

const axeDone = new Set();
// axe-core (evaluated over DevTools, which the page's CSP does not govern)
// and a screenshot at this width; each page is checked once per width.
async function inspect(page, name) {
	await page.waitForSelector('main:not([aria-busy]) h1');
	const w = page.viewportSize().width;
	mkdirSync(shots, { recursive: true });
	await page.screenshot({ path: join(shots, `${name}-${w}.png`) });
	await page.screenshot({ path: join(shots, `${name}-${w}-full.png`), fullPage: true });
	const scroll = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	ok(scroll <= 0, `${name} at ${w} px: no horizontal scrolling`, `scrollWidth exceeds by ${scroll} px`);
	if (axeDone.has(`${name}${w}`)) return;
	axeDone.add(`${name}${w}`);
	if ((await page.evaluate(() => typeof window.axe)) === 'undefined') await page.evaluate(`${AXE}\n;window.axe = axe;`);
	const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
	const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
	ok(bad.length === 0, `${name} at ${w} px: axe-core finds no serious or critical violation`,
		bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`).join('\n'));
}

async function signIn(page, key) {
	await page.goto(`${url}/`);
	await page.waitForURL(/\/ui\/signin/);
	await page.fill('#api-key', key);
	await page.click('button[type=submit]');
	await page.waitForSelector('nav a[aria-current=page]', { state: 'attached' });
}

try {
	const page = await newPage(1280);
	await page.goto(`${url}/`);
	await page.waitForURL(/\/ui\/signin/);
	await inspect(page, 'signin');
	const headers = (await page.request.get(`${url}/`)).headers();
	ok(headers['content-security-policy']?.includes("script-src 'self'") && headers['x-content-type-options'] === 'nosniff'
		&& headers['referrer-policy'] === 'no-referrer' && headers['content-security-policy'].includes("frame-ancestors 'none'"),
	'the console is served with its CSP, nosniff and no-referrer', JSON.stringify(headers));

	// Sign in: the cookie is HttpOnly, Secure, SameSite=Strict.
	await page.fill('#api-key', admin);
	await page.click('button[type=submit]');
	await page.waitForSelector('nav a[aria-current=page]', { state: 'attached' });
	const cookie = (await page.context().cookies()).find((c) => c.name === 'suitd_session');
	ok(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict' && cookie.path === '/',
		'sign-in sets the session cookie HttpOnly, Secure, SameSite=Strict, Path=/', JSON.stringify(cookie));
	ok(!(await page.evaluate(() => document.cookie)).includes('suitd_session'), 'scripts cannot read the session cookie');
	await inspect(page, 'overview');

	// CSRF: the cookie alone does not change state.
	let r = await page.request.post(`${url}/api/v1/devices`, { data: { id: 'csrf-probe' } });
	const problem = await r.json();
	ok(r.status() === 403 && problem.type === 'urn:suitd:csrf-token', 'a cookie-authenticated POST without X-CSRF-Token is 403 (urn:suitd:csrf-token)',
		`${r.status()} ${JSON.stringify(problem)}`);
	r = await page.request.get(`${url}/api/v1/status`);
	ok(r.status() === 200, 'the cookie authenticates a GET of the management API');

	// Upload the payload and the manifest through the pages.
	await page.click('nav >> text=Payloads');
	await page.setInputFiles('#payload-file', fw);
	await page.click('form >> text=Upload');
	await page.waitForSelector(`text=${sha}`);
	ok(await page.locator('[role=progressbar][aria-valuenow="100"]').count() > 0, 'the payload upload shows a progress bar that reaches 100 %');
	await inspect(page, 'payloads');
	await page.click('nav >> text=Manifests');
	await page.setInputFiles('#manifest-file', join(tmp, 'fw.suit'));
	await page.click('form >> text=Upload');
	await page.waitForSelector('text=Stored:');
	await inspect(page, 'manifests');
	await page.click('table a');
	await page.waitForSelector('h1:has-text("Manifest #1")');
	ok((await page.textContent('main')).includes(sha), 'the manifest page shows its component digest');
	await inspect(page, 'manifest');

	// A staged deployment for the 100 devices; a field error first.
	await page.click('nav >> text=Deployments');
	await page.click('text=New deployment');
	await page.waitForSelector('#manifest');
	await inspect(page, 'deployment-new');
	await page.fill('#target-value', 'fleet');
	await page.fill('#stages', '50, 10, 100');
	await page.click('button:has-text("Create deployment")');
	const fieldError = await page.waitForSelector('#stages-error:not(:empty)');
	ok(/stages/.test(await fieldError.textContent()), 'the API\'s validation error is shown next to the stages field', await fieldError.textContent());
	await page.fill('#stages', '10, 50, 100');
	await page.fill('#success', '40');
	await page.fill('#failure', '60');
	await page.click('button:has-text("Create deployment")');
	await page.waitForURL(/\/ui\/deployments\/\d+$/);
	const depId = page.url().split('/').pop();
	await page.waitForSelector('text=Stage 3');
	ok(await page.locator('[role=progressbar]').count() === 3, 'the deployment page has one progress bar per stage');

	// Pause with a reason, resume.
	await page.fill('#pause-reason', 'checking the lab first');
	await page.click('button:has-text("Pause")');
	await page.waitForSelector('text=checking the lab first');
	ok((await page.textContent('main')).includes('paused'), 'pause with a reason: the deployment shows paused and the reason');
	await page.click('button:has-text("Resume")');
	await page.waitForSelector('button:has-text("Pause")');
	ok(true, 'resume: the deployment is active again');
	await inspect(page, 'deployment');

	// suit-sim plays the devices (5 of them fail, with SUIT reports); the
	// bars move without a reload.
	const sim = (file, extra) => {
		const c = spawn(join(build, 'suit-sim'), ['--url', url, '--cacert', join(state, 'tls/cert.pem'), '--trust-anchor', join(state, 'author.pub'),
			'--tokens', file, '--until-done', '--max-poll', '1', '-q', '--summary', `${file}.json`, ...extra], { stdio: 'ignore', detached: true });
		children.push(c);
		return new Promise((res) => c.on('exit', res));
	};
	const navigations = [];
	page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
	const sims = Promise.all([sim(join(tmp, 'ok.txt'), []), sim(join(tmp, 'fail.txt'), ['--fail-rate', '1', '--report', 'suit'])]);
	await page.waitForFunction(() => [...document.querySelectorAll('[role=progressbar]')].length === 3
		&& [...document.querySelectorAll('[role=progressbar]')].every((b) => b.getAttribute('aria-valuenow') === '100'), null, { timeout: 120000 });
	ok(navigations.length === 0, 'every stage\'s progress bar reached 100 % without a reload', navigations.join(' '));
	const codes = await sims;
	ok(codes.every((c) => c === 0), 'both suit-sim runs finished', codes.join(' '));
	await page.waitForSelector('text=completed');
	ok(true, 'the deployment shows completed from the event stream');

	// A failed device's decoded report.
	await page.selectOption('#state', 'failed');
	await page.waitForSelector('table.stack tbody a[href^="/ui/devices/dev-09"]');
	await page.click('table.stack tbody a[href^="/ui/devices/dev-"]');
	await page.waitForSelector('h1:has-text("Device dev-")');
	await page.click('details summary');
	const decoded = await page.textContent('pre');
	ok(/fail|result|reason/i.test(decoded), 'a failed device\'s decoded report is shown', decoded.slice(0, 300));
	ok(await page.locator(`table.stack a[href="/ui/deployments/${depId}"]`).count() === 1
		&& (await page.textContent('table.stack')).includes('failed'),
	'the device\'s assignment timeline shows the deployment and the failure');
	await inspect(page, 'device');
	await page.click('nav >> text=Devices');
	await page.waitForSelector('table.stack');
	await inspect(page, 'devices');
	await page.click('nav >> text=Deployments');
	await page.waitForSelector('table.stack');
	await inspect(page, 'deployments');
	await page.click('nav >> text=Keys');
	await page.waitForSelector('text=ui-reader');
	await inspect(page, 'keys');
	await page.click('nav >> text=Audit');
	await page.waitForSelector('text=deployment.paused');
	await inspect(page, 'audit');
	await page.click('nav >> text=Overview');
	await page.waitForSelector('h1:has-text("Overview")');

	// Reload keeps the session (server-side, cookie) and the page.
	await page.goto(`${url}/ui/deployments/${depId}`);
	await page.waitForSelector('text=Stage 3');
	ok(true, 'a deep link reloads into the same page with the session');

	// Sign out: the session is gone on the server too.
	await page.click('button:has-text("Sign out")');
	await page.waitForURL(/\/ui\/signin/);
	r = await page.request.get(`${url}/api/v1/status`);
	ok(r.status() === 401, 'after sign-out the cookie no longer authenticates', r.status());

	// Narrow screens: every page again at 390 px.
	const narrow = await newPage(390);
	await narrow.goto(`${url}/ui/signin`);
	await inspect(narrow, 'signin');
	await signIn(narrow, admin);
	const pages = [['overview', '/'], ['deployments', '/ui/deployments'], ['deployment', `/ui/deployments/${depId}`],
		['deployment-new', '/ui/deployments/new'], ['devices', '/ui/devices'], ['device', '/ui/devices/dev-096'],
		['manifests', '/ui/manifests'], ['payloads', '/ui/payloads'], ['keys', '/ui/keys'], ['audit', '/ui/audit']];
	for (const [name, path] of pages) {
		await narrow.goto(url + path);
		await inspect(narrow, name);
	}
	ok(await narrow.locator('nav.collapsed').count() === 1, 'the navigation is collapsed behind the menu button at 390 px');
	const devicePage = await narrow.textContent('main');

	// Dark mode follows the system setting; axe checks its contrast too.
	const dark = await newPage(1280, 'dark');
	await signIn(dark, admin);
	for (const [name, path] of [['overview-dark', '/'], ['deployment-dark', `/ui/deployments/${depId}`], ['deployment-new-dark', '/ui/deployments/new']]) {
		await dark.goto(url + path);
		await inspect(dark, name);
	}
	ok(await dark.evaluate(() => getComputedStyle(document.body).backgroundColor) === 'rgb(13, 17, 23)', 'dark mode: the page is dark');

	// A reader sees no mutating control.
	const rd = await newPage(1280);
	await signIn(rd, reader);
	const mutating = 'button:has-text("Pause"), button:has-text("Resume"), button:has-text("Cancel"), button:has-text("Upload"), button:has-text("Delete"), button:has-text("Revoke"), a:has-text("New deployment"), input[type=file]';
	for (const path of [`/ui/deployments/${depId}`, '/ui/deployments', '/ui/payloads', '/ui/manifests', '/']) {
		await rd.goto(url + path);
		await rd.waitForSelector('main:not([aria-busy]) h1');
		const n = await rd.locator(mutating).count();
		ok(n === 0, `reader: no mutating control on ${path}`, `${n} found`);
	}
	ok(await rd.locator('nav >> text=Keys').count() === 0, 'reader: no Keys section');
	ok(devicePage.length > 0, 'the device page renders at 390 px');
	// Chromium logs every 4xx answer to fetch() as a console error: the one
	// the test provokes on purpose (the invalid stages) is expected.
	const unexpected = errors.filter((e) => !/\/ui\/deployments\/new: Failed to load resource: .* 400/.test(e));
	ok(errors.length - unexpected.length === 1, 'the deliberate validation error is the only 4xx the browser logged', errors.join('\n'));
	ok(unexpected.length === 0, 'no other console error on any page', unexpected.join('\n'));
} catch (err) {
	ok(false, 'the browser tour ran to its end', `${err.stack}\n--- server log tail:\n${log.split('\n').slice(-20).join('\n')}`);
} finally {
	await browser.close();
	cleanup();
	if (!failed) rmSync(tmp, { recursive: true, force: true }); else console.log(`# kept ${tmp}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
