// Manifests: upload a .suit envelope, the list, and one manifest's facts.
import { h, api, num, time, link, table, can, upload, errorBox, progress } from './lib.js';

export function uploadForm(id, label, accept, send) {
	const file = h('input', { id, name: 'file', type: 'file', accept, required: true });
	const bar = h('div');
	const out = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'actions', onsubmit: async (e) => {
		e.preventDefault();
		out.replaceChildren();
		if (!file.files.length) return;
		const f = file.files[0];
		try {
			const r = await send(f, (done, total) => bar.replaceChildren(progress(`Upload of ${f.name}`, done, total)));
			out.append(h('p', {}, 'Stored: ', r));
		} catch (err) { out.append(errorBox(err)); }
	} }, h('div', {}, h('label', { for: id }, label), file), h('button', { type: 'submit' }, 'Upload'));
	return h('div', {}, form, bar, out);
}

export async function show(main) {
	const box = h('div');
	main.append(h('h1', {}, 'Manifests'));
	if (can('operator')) {
		main.append(uploadForm('manifest-file', 'SUIT envelope (.suit)', '.suit,.cbor,application/suit-envelope+cose',
			async (f, onProgress) => {
				const m = await upload('/api/v1/manifests', f, 'application/suit-envelope+cose', onProgress);
				await load();
				return link(`/ui/manifests/${m.digest.value}`, m.digest.value);
			}));
	}
	main.append(box);
	async function load() {
		const list = await api('GET', '/api/v1/manifests?limit=100');
		box.replaceChildren(table([
			{ title: 'Digest', cell: (m) => h('span', { class: 'mono' }, link(`/ui/manifests/${m.digest.value}`, `${m.digest.value.slice(0, 16)}…`)) },
			{ title: 'Sequence', num: true, cell: (m) => num(m.sequence_number) },
			{ title: 'Components', num: true, cell: (m) => num(m.components.length) },
			{ title: 'Signer', cell: (m) => m.signers.map((s) => `${s.alg} ${s.result}`).join(', ') || 'unsigned' },
			{ title: 'Uploaded', cell: (m) => time(m.created_at) },
		], list.items));
	}
	await load();
}

export const detail = { show: showDetail };

async function showDetail(main, digest) {
	const m = await api('GET', `/api/v1/manifests/${encodeURIComponent(digest)}`);
	main.append(h('h1', {}, `Manifest #${m.sequence_number}`), h('dl', { class: 'facts' },
		h('dt', {}, 'Digest'), h('dd', { class: 'mono' }, `${m.digest.alg} ${m.digest.value}`),
		h('dt', {}, 'Sequence number'), h('dd', {}, num(m.sequence_number)),
		h('dt', {}, 'Size'), h('dd', {}, `${num(m.size)} bytes`),
		h('dt', {}, 'Signers'), h('dd', {}, m.signers.map((s) => h('div', { class: 'mono' }, `${s.alg} ${s.result} kid ${s.kid || '—'}`))),
		h('dt', {}, 'Uploaded'), h('dd', {}, time(m.created_at))));
	main.append(h('h2', {}, 'Components'), table([
		{ title: 'Index', num: true, cell: (c) => num(c.index) },
		{ title: 'Vendor / class', cell: (c) => h('span', { class: 'mono' }, `${c.vendor_id || '—'} / ${c.class_id || '—'}`) },
		{ title: 'Image digest', cell: (c) => h('span', { class: 'mono' }, c.digests.map((d) => d.value).join(' ')) },
		{ title: 'Size', num: true, cell: (c) => c.sizes.map(num).join(', ') },
		{ title: 'URI', cell: (c) => h('span', { class: 'mono' }, c.uris.join(' ')) },
	], m.components));
	const text = Object.entries(m.text || {});
	main.append(h('h2', {}, 'Text'), text.length ? h('dl', { class: 'facts' }, text.flatMap(([k, v]) =>
		[h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])) : h('p', { class: 'muted' }, 'None.'));
}
