// The audit trail: who did what, newest first, paged by `before`.
import { h, api, time, table, link } from './lib.js';

export async function show(main, _arg, query) {
	const q = new URLSearchParams({ limit: '50' });
	for (const k of ['actor', 'action', 'before']) if (query.get(k)) q.set(k, query.get(k));
	const page = await api('GET', `/api/v1/audit?${q}`);
	main.append(h('h1', {}, 'Audit trail'), table([
		{ title: 'When', cell: (e) => time(e.at) },
		{ title: 'What', cell: (e) => e.type },
		{ title: 'Subject', cell: (e) => h('span', { class: 'mono' }, e.subject || '') },
		{ title: 'Who', cell: (e) => e.actor || '' },
	], page.items));
	if (page.next) {
		const n = new URLSearchParams(query);
		n.set('before', page.next);
		main.append(h('p', {}, link(`/ui/audit?${n}`, 'Older')));
	}
}
