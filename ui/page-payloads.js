// Payloads: upload with a progress bar, the list, delete (admin).
import { h, api, num, time, table, can, upload, errorBox } from './lib.js';
import { uploadForm } from './page-manifests.js';

export async function show(main) {
	main.append(h('h1', {}, 'Payloads'));
	if (can('operator')) {
		main.append(uploadForm('payload-file', 'Image file', '', async (f, onProgress) => {
			const p = await upload(`/api/v1/payloads?name=${encodeURIComponent(f.name.slice(0, 200))}`, f, 'application/octet-stream', onProgress);
			load();
			return h('span', { class: 'mono' }, p.sha256);
		}));
	}
	const box = h('div');
	const out = h('div', { 'aria-live': 'polite' });
	main.append(out, box);
	async function load() {
		const list = await api('GET', '/api/v1/payloads?limit=200');
		const cols = [
			{ title: 'Name', cell: (p) => p.name || '—' },
			{ title: 'SHA-256', cell: (p) => h('span', { class: 'mono' }, p.sha256) },
			{ title: 'Size', num: true, cell: (p) => `${num(p.size)} B` },
			{ title: 'Uploaded', cell: (p) => time(p.created_at) },
		];
		if (can('admin')) {
			cols.push({ title: 'Actions', cell: (p) => h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${p.name || p.sha256}`,
				onclick: async () => {
					out.replaceChildren();
					try { await api('DELETE', `/api/v1/payloads/${p.sha256}`); await load(); } catch (err) { out.append(errorBox(err)); }
				} }, 'Delete') });
		}
		box.replaceChildren(table(cols, list.items));
	}
	await load();
}
