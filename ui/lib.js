// Shared by every page: DOM building, display formatting, the API client
// and the session. Numbers and times stay as the API gives them until shown.

const numberFormat = new Intl.NumberFormat();
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const ROLES = { reader: 1, operator: 2, admin: 3 };

// h('a', {href: '/x'}, 'text', child...): an element; attributes starting
// with "on" are listeners; null children are skipped.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	for (const c of children.flat()) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : String(c));
	}
	return el;
}

export const num = (n) => (n === null || n === undefined ? '—' : numberFormat.format(n));

// A time in the browser's zone, the UTC value on hover.
export function time(iso) {
	if (!iso) return h('span', { class: 'muted' }, '—');
	return h('time', { datetime: iso, title: iso }, timeFormat.format(new Date(iso)));
}

export const badge = (text) => h('span', { class: `badge ${text}` }, text);

// A bar with role=progressbar: the share of devices that are done, the
// successful part in green, the failed part in red after it.
export function progress(label, ok, total, failed = 0) {
	const pct = (n) => (total ? Math.round((n * 100) / total) : 0);
	const done = pct(ok + failed);
	const bar = h('div', {
		class: 'bar', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100,
		'aria-valuenow': done, 'aria-valuetext': `${done} % done: ${num(ok)} succeeded, ${num(failed)} failed of ${num(total)}`,
	});
	const good = h('span');
	good.style.width = `${pct(ok)}%`; // CSSOM: allowed by style-src 'self'
	bar.append(good);
	if (failed) {
		const bad = h('span', { class: 'bad' });
		bad.style.left = `${pct(ok)}%`;
		bad.style.width = `${pct(failed)}%`;
		bar.append(bad);
	}
	return bar;
}

// A table that becomes stacked cards on narrow screens (app.css).
export function table(columns, rows, caption) {
	return h('table', { class: 'stack' },
		caption ? h('caption', { class: 'muted' }, caption) : null,
		h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.title)))),
		h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, columns.map((c) =>
			h('td', { 'data-label': c.title, class: c.num ? 'num' : null }, c.cell(r)))))
			: h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'Nothing here yet.'))));
}

// A keyset-paged table in box: load() shows the first page, the More button
// appends the next one. path(after) is the API path of the page after that
// cursor (null: the first).
export function pagedTable(box, columns, path, moreText = 'More') {
	const more = h('button', { type: 'button', class: 'secondary' }, moreText);
	let next = null;
	async function load(after = null) {
		const page = await api('GET', path(after));
		const t = table(columns, page.items);
		if (after) more.replaceWith(t); else box.replaceChildren(t);
		next = page.next;
		if (next) box.append(more); else more.remove();
	}
	more.addEventListener('click', () => load(next));
	return { load, more: () => next !== null };
}

export class ApiError extends Error {
	constructor(status, problem) {
		super(problem.detail || problem.title || `HTTP ${status}`);
		this.status = status;
		this.problem = problem;
	}
}

let session = null;
export const currentSession = () => session;
export const can = (role) => !!session && ROLES[session.role] >= ROLES[role];

async function problemOf(res) {
	try { return await res.json(); } catch { return { title: res.statusText }; }
}

// A request with the session cookie; state changes carry the CSRF token.
export async function api(method, path, body, headers = {}) {
	const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
	if (method !== 'GET' && session) init.headers['X-CSRF-Token'] = session.csrf_token;
	if (body !== undefined) {
		if (body instanceof Blob) init.body = body;
		else { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
	}
	const res = await fetch(path, init);
	if (res.status === 401 && path !== '/ui/session') {
		session = null;
		window.dispatchEvent(new Event('suitd:signed-out'));
	}
	if (!res.ok) throw new ApiError(res.status, await problemOf(res));
	return res.status === 204 ? null : res.json();
}

// An upload with progress events (fetch cannot report upload progress).
export function upload(path, file, type, onProgress) {
	return new Promise((resolve, reject) => {
		const x = new XMLHttpRequest();
		x.open('POST', path);
		x.setRequestHeader('Content-Type', type);
		x.setRequestHeader('X-CSRF-Token', session ? session.csrf_token : '');
		x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
		x.onload = () => {
			let body = {};
			try { body = JSON.parse(x.responseText); } catch { /* empty */ }
			if (x.status >= 200 && x.status < 300) resolve(body);
			else reject(new ApiError(x.status, body));
		};
		x.onerror = () => reject(new ApiError(0, { title: 'network error' }));
		x.send(file);
	});
}

// The session of the cookie, if any (204: none).
export async function loadSession() {
	try { session = await api('GET', '/ui/session'); } catch { session = null; }
	return session;
}

export async function signIn(key) {
	session = await api('POST', '/ui/session', { api_key: key });
	return session;
}

export async function signOut() {
	try { await api('DELETE', '/ui/session'); } finally { session = null; }
}

// The problem's text where the user acted.
export function errorBox(err) {
	const p = err instanceof ApiError ? err.problem : { title: String(err) };
	return h('p', { class: 'error', role: 'alert' }, p.title || 'Error', p.detail ? `: ${p.detail}` : '');
}

// Follow a link inside the console without a reload.
export function go(path) {
	history.pushState(null, '', path);
	window.dispatchEvent(new Event('suitd:navigate'));
}

export function link(href, text) {
	return h('a', { href, onclick: (e) => {
		if (e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
		e.preventDefault();
		go(href);
	} }, text);
}

// The event types the console follows (the stream names each in its
// "event:" field, which onmessage does not see).
const EVENT_TYPES = [
	'deployment.created', 'deployment.paused', 'deployment.resumed', 'deployment.canceled',
	'deployment.completed', 'deployment.stage_opened', 'deployment.retried', 'deployment.deleted',
	'deployment.assigned', 'deployment.prepared',
	...['pending', 'delivered', 'downloading', 'downloaded', 'installing', 'installed', 'confirmed',
		'failed', 'timed_out', 'canceled', 'skipped'].map((s) => `assignment.${s}`),
	'device.created', 'device.updated', 'device.deleted', 'manifest.uploaded', 'payload.uploaded',
];

// Events of the stream (SSE) for this query, each handed to onEvent as
// its type and a function that parses its data (a page that only counts
// events does not parse thousands a second); the EventSource reconnects by
// itself with Last-Event-ID. Returns the closer.
export function events(query, onEvent) {
	const src = new EventSource(`/api/v1/events${query ? `?${query}` : ''}`);
	const handler = (e) => onEvent(e.type, () => JSON.parse(e.data));
	for (const t of EVENT_TYPES) src.addEventListener(t, handler);
	return () => src.close();
}

// Run fn at most once per ms, trailing call kept: live pages refetch counters
// at a bounded rate whatever the event rate.
export function throttle(fn, ms) {
	let timer = null, again = false;
	return () => {
		if (timer) { again = true; return; }
		fn();
		timer = setTimeout(function tick() {
			if (again) { again = false; fn(); timer = setTimeout(tick, ms); } else timer = null;
		}, ms);
	};
}
