// API keys (admin): the list, create (the secret is shown once), revoke.
import { h, api, time, table, errorBox, badge, currentSession } from './lib.js';

export async function show(main) {
	const box = h('div'), out = h('div', { 'aria-live': 'polite' });
	const name = h('input', { id: 'key-name', name: 'name', required: true, pattern: '[A-Za-z0-9._-]{1,64}' });
	const role = h('select', { id: 'key-role', name: 'role' }, ['reader', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
	main.append(h('h1', {}, 'API keys'), h('form', { class: 'actions', onsubmit: async (e) => {
		e.preventDefault();
		out.replaceChildren();
		try {
			const k = await api('POST', '/api/v1/keys', { name: name.value.trim(), role: role.value });
			out.append(h('div', { class: 'secret' }, h('p', {}, `Key ${k.name} (${k.role}): copy it now, it is not shown again.`),
				h('p', { class: 'mono' }, k.key || k.secret || '')));
			name.value = '';
			await load();
		} catch (err) { out.append(errorBox(err)); }
	} }, h('div', {}, h('label', { for: 'key-name' }, 'Name'), name), h('div', {}, h('label', { for: 'key-role' }, 'Role'), role),
	h('button', { type: 'submit' }, 'Create key')), out, box);
	async function load() {
		const list = await api('GET', '/api/v1/keys?limit=200');
		box.replaceChildren(table([
			{ title: 'Name', cell: (k) => k.name },
			{ title: 'Role', cell: (k) => k.role },
			{ title: 'Created', cell: (k) => time(k.created_at) },
			{ title: 'Last used', cell: (k) => time(k.last_used_at) },
			{ title: 'State', cell: (k) => (k.revoked_at ? badge('revoked') : 'active') },
			{ title: 'Actions', cell: (k) => (k.revoked_at || k.name === currentSession().key ? '' : h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${k.name}`, onclick: async () => {
				out.replaceChildren();
				try { await api('DELETE', `/api/v1/keys/${encodeURIComponent(k.name)}`); await load(); } catch (err) { out.append(errorBox(err)); }
			} }, 'Revoke')) },
		], list.items));
	}
	await load();
}
