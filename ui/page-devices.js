// Devices: filters and keyset paging (each page is a URL: ?after=CURSOR),
// and one device with its identity, software, assignment and decoded
// report history.
import { h, api, num, time, link, badge, table, go, errorBox } from './lib.js';

const STATES = ['pending', 'delivered', 'downloading', 'downloaded', 'installing', 'installed', 'confirmed', 'failed', 'timed_out', 'canceled', 'skipped'];
const FILTERS = [['group', 'Group'], ['tag', 'Tag'], ['assignment_state', 'Assignment state'], ['class_id', 'Class id']];

export async function show(main, _arg, query) {
	const inputs = {};
	const search = h('input', { id: 'device-id', name: 'id', placeholder: 'dev-001' });
	const out = h('div', { 'aria-live': 'polite' });
	const filters = h('form', { class: 'filters', role: 'search', onsubmit: (e) => {
		e.preventDefault();
		const q = new URLSearchParams();
		for (const [k] of FILTERS) if (inputs[k].value.trim()) q.set(k, inputs[k].value.trim());
		go(`/ui/devices${q.size ? `?${q}` : ''}`);
	} }, FILTERS.map(([k, t]) => {
		inputs[k] = k === 'assignment_state'
			? h('select', { id: `f-${k}`, name: k }, ['', ...STATES].map((s) => h('option', { value: s, selected: s === (query.get(k) || '') }, s || 'Any')))
			: h('input', { id: `f-${k}`, name: k, value: query.get(k) || '' });
		return h('div', {}, h('label', { for: `f-${k}` }, t), inputs[k]);
	}), h('div', {}, h('button', { type: 'submit' }, 'Filter')));
	const find = h('form', { class: 'filters', role: 'search', onsubmit: async (e) => {
		e.preventDefault();
		out.replaceChildren();
		const id = search.value.trim();
		try {
			await api('GET', `/api/v1/devices/${encodeURIComponent(id)}`);
			go(`/ui/devices/${encodeURIComponent(id)}`);
		} catch (err) { out.append(errorBox(err)); }
	} }, h('div', {}, h('label', { for: 'device-id' }, 'Find a device by id'), search),
	h('div', {}, h('button', { type: 'submit' }, 'Open')));
	main.append(h('h1', {}, 'Devices'), find, out, filters);

	const q = new URLSearchParams({ limit: '50' });
	for (const [k] of FILTERS) if (query.get(k)) q.set(k, query.get(k));
	if (query.get('after')) q.set('after', query.get('after'));
	const page = await api('GET', `/api/v1/devices?${q}`);
	main.append(table([
		{ title: 'Device', cell: (d) => link(`/ui/devices/${encodeURIComponent(d.id)}`, d.id) },
		{ title: 'Group', cell: (d) => d.group || '' },
		{ title: 'Tags', cell: (d) => d.tags.join(', ') || '—' },
		{ title: 'Sequence', num: true, cell: (d) => num(d.reported_sequence) },
		{ title: 'Assignment', cell: (d) => (d.assignment ? badge(d.assignment.state) : '—') },
		{ title: 'Last seen', cell: (d) => time(d.last_seen_at) },
	], page.items));
	const nav = h('p', { class: 'actions' });
	if (query.get('after')) nav.append(h('button', { type: 'button', class: 'secondary', onclick: () => history.back() }, 'Previous page'));
	if (page.next) {
		const n = new URLSearchParams(query);
		n.set('after', page.next);
		nav.append(link(`/ui/devices?${n}`, 'Next page'));
	}
	main.append(nav);
}

export const detail = { show: showDetail };

async function showDetail(main, id) {
	const d = await api('GET', `/api/v1/devices/${encodeURIComponent(id)}`);
	const sw = d.software;
	main.append(h('h1', {}, `Device ${d.id}`), h('dl', { class: 'facts' },
		h('dt', {}, 'Group'), h('dd', {}, d.group || '—'),
		h('dt', {}, 'Tags'), h('dd', {}, d.tags.join(', ') || '—'),
		h('dt', {}, 'Vendor id'), h('dd', { class: 'mono' }, d.vendor_id || '—'),
		h('dt', {}, 'Class id'), h('dd', { class: 'mono' }, d.class_id || '—'),
		h('dt', {}, 'Running sequence'), h('dd', {}, num(d.reported_sequence)),
		h('dt', {}, 'Software'), h('dd', {}, sw ? [sw.name ? `${sw.name} ${sw.version || ''} · ` : '', 'manifest ',
			link(`/ui/manifests/${sw.manifest}`, `${sw.manifest.slice(0, 16)}…`), ' since ', time(sw.since)] : '—'),
		h('dt', {}, 'Last seen'), h('dd', {}, time(d.last_seen_at)),
		h('dt', {}, 'Registered'), h('dd', {}, time(d.created_at)),
		h('dt', {}, 'Assignment'), h('dd', {}, d.assignment ? [badge(d.assignment.state), ' in ',
			link(`/ui/deployments/${d.assignment.deployment}`, `deployment ${d.assignment.deployment}`)] : 'none')));
	const timeline = await api('GET', `/api/v1/devices/${encodeURIComponent(id)}/assignments?limit=100`);
	main.append(h('h2', {}, 'Assignment timeline'), table([
		{ title: 'Deployment', cell: (a) => link(`/ui/deployments/${a.deployment}`, `Deployment ${a.deployment}`) },
		{ title: 'Stage', num: true, cell: (a) => num(a.stage) },
		{ title: 'State', cell: (a) => badge(a.state) },
		{ title: 'Reason', cell: (a) => a.reason || '' },
		{ title: 'Assigned', cell: (a) => time(a.created_at) },
		{ title: 'Last change', cell: (a) => time(a.updated_at) },
	], timeline.items));
	const reports = await api('GET', `/api/v1/devices/${encodeURIComponent(id)}/reports?limit=50`);
	main.append(h('h2', {}, 'Reports (newest first)'));
	if (!reports.items.length) main.append(h('p', { class: 'muted' }, 'No report yet.'));
	const list = h('ol', { class: 'events' });
	for (const r of reports.items) {
		list.append(h('li', {}, h('details', {}, h('summary', {}, time(r.received_at), ' ', badge(r.state),
			r.reason ? ` ${r.reason}` : '', r.progress !== null ? ` ${r.progress} %` : '', ` · ${r.media_type}`),
		h('dl', { class: 'facts' },
			h('dt', {}, 'Manifest'), h('dd', { class: 'mono' }, r.manifest || '—'),
			h('dt', {}, 'Code'), h('dd', {}, r.code === null ? '—' : String(r.code)),
			h('dt', {}, 'Signature'), h('dd', {}, r.signature ? JSON.stringify(r.signature) : 'none')),
		h('pre', { class: 'mono', 'aria-label': 'Decoded report' }, JSON.stringify(r.body, null, 2)))));
	}
	main.append(list);
}
