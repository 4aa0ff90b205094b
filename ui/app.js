// The console's shell: the session, the navigation and the page for each
// URL (every view is a URL; reload and back work).
import { h, link, loadSession, signOut, currentSession, can, go } from './lib.js';
import * as signin from './page-signin.js';
import * as overview from './page-overview.js';
import * as deployments from './page-deployments.js';
import * as deploymentNew from './page-deployment-new.js';
import * as devices from './page-devices.js';
import * as manifests from './page-manifests.js';
import * as payloads from './page-payloads.js';
import * as keys from './page-keys.js';
import * as audit from './page-audit.js';

const SECTIONS = [
	['/', 'Overview', 'reader'], ['/ui/deployments', 'Deployments', 'reader'],
	['/ui/devices', 'Devices', 'reader'], ['/ui/manifests', 'Manifests', 'reader'],
	['/ui/payloads', 'Payloads', 'reader'], ['/ui/keys', 'Keys', 'admin'], ['/ui/audit', 'Audit', 'reader'],
];

// path → [page module, its parameter]
function route(path) {
	const m = path.match(/^\/ui\/([a-z]+)(?:\/([^/]+))?$/);
	if (path === '/' || path === '/ui/overview') return [overview];
	if (!m) return [null];
	const [, section, id] = m;
	const arg = id ? decodeURIComponent(id) : undefined;
	switch (section) {
	case 'signin': return [signin];
	case 'deployments': return id === 'new' ? [deploymentNew] : [id ? deployments.detail : deployments, arg];
	case 'devices': return [id ? devices.detail : devices, arg];
	case 'manifests': return [id ? manifests.detail : manifests, arg];
	case 'payloads': return [payloads];
	case 'keys': return [keys];
	case 'audit': return [audit];
	default: return [null];
	}
}

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const menu = document.querySelector('.menu');
let leave = null; // the current page's clean-up (closes its event stream)

function drawChrome(path) {
	const s = currentSession();
	document.body.classList.toggle('signed-out', !s);
	nav.hidden = !s;
	menu.hidden = !s;
	const who = document.getElementById('who');
	who.replaceChildren();
	if (!s) return;
	nav.replaceChildren(h('ul', {}, SECTIONS.filter(([, , role]) => can(role)).map(([href, text]) => {
		const a = link(href, text);
		const here = href === '/' ? path === '/' || path === '/ui/overview' : path.startsWith(href);
		if (here) a.setAttribute('aria-current', 'page');
		return h('li', {}, a);
	})));
	who.append(h('span', {}, `${s.key} (${s.role})`),
		h('button', { type: 'button', class: 'secondary', onclick: async () => {
			await signOut();
			go('/ui/signin');
		} }, 'Sign out'));
}

async function render() {
	if (leave) { leave(); leave = null; }
	let path = location.pathname;
	if (!currentSession() && path !== '/ui/signin') {
		history.replaceState(null, '', `/ui/signin?next=${encodeURIComponent(path + location.search)}`);
		path = '/ui/signin';
	}
	drawChrome(path);
	if (window.matchMedia('(max-width: 600px)').matches) {
		nav.classList.add('collapsed');
		menu.setAttribute('aria-expanded', 'false');
	}
	const [page, arg] = route(path);
	main.replaceChildren();
	if (!page) {
		main.append(h('h1', {}, 'Not found'), h('p', {}, 'No console page here. ', link('/', 'Overview')));
		document.title = 'Not found · suitd';
		return;
	}
	main.setAttribute('aria-busy', 'true');
	try {
		leave = (await page.show(main, arg, new URLSearchParams(location.search))) || null;
	} catch (err) {
		main.append(h('p', { class: 'error', role: 'alert' }, String(err.message || err)));
	}
	main.removeAttribute('aria-busy');
	const h1 = main.querySelector('h1');
	document.title = `${h1 ? h1.textContent : 'suitd'} · suitd`;
}

menu.addEventListener('click', () => {
	const open = nav.classList.toggle('collapsed') === false;
	menu.setAttribute('aria-expanded', String(open));
});
window.addEventListener('popstate', render);
window.addEventListener('suitd:navigate', () => { render(); main.focus(); });
window.addEventListener('suitd:signed-out', () => {
	if (location.pathname !== '/ui/signin') go('/ui/signin');
});

await loadSession();
render();
