// Deployments: the list with filters, and one deployment with its stages,
// counts, devices by state, pause / resume / cancel, updated live from the
// event stream.
import { h, api, num, time, link, badge, table, can, errorBox, events, throttle, progress, pagedTable } from './lib.js';
import { stageBars, failureRate, failures } from './page-overview.js';

const STATES = ['pending', 'delivered', 'downloading', 'downloaded', 'installing', 'installed',
	'confirmed', 'failed', 'timed_out', 'canceled', 'skipped'];

function select(id, label, options, value) {
	const s = h('select', { id, name: id }, options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)));
	return [h('label', { for: id }, label), s];
}

export async function show(main, _arg, query) {
	const status = query.get('status') || '';
	const list = h('div');
	const [statusLabel, statusSelect] = select('status', 'Status', [['', 'Any'], ['active', 'Active'], ['preparing', 'Preparing'], ['paused', 'Paused'],
		['completed', 'Completed'], ['canceled', 'Canceled']], status);
	statusSelect.addEventListener('change', () => {
		const q = statusSelect.value ? `?status=${statusSelect.value}` : '';
		history.replaceState(null, '', `/ui/deployments${q}`);
		paged.load(); // defined below, before any change can happen
	});
	main.append(h('h1', {}, 'Deployments'),
		can('operator') ? h('p', {}, link('/ui/deployments/new', 'New deployment')) : null,
		h('div', { class: 'filters' }, h('div', {}, statusLabel, statusSelect)), list);
	const paged = pagedTable(list, [
		{ title: 'Deployment', cell: (d) => link(`/ui/deployments/${d.id}`, d.name || `Deployment ${d.id}`) },
		{ title: 'Status', cell: (d) => badge(d.status) },
		{ title: 'Target', cell: (d) => target(d.target) },
		{ title: 'Progress', cell: (d) => progress(`Deployment ${d.id}`, d.counts.confirmed + d.counts.skipped, d.devices, failures(d.counts)) },
		{ title: 'Devices', num: true, cell: (d) => num(d.devices) },
		{ title: 'Created', cell: (d) => time(d.created_at) },
	], (after) => {
		const q = new URLSearchParams({ limit: '50' });
		if (statusSelect.value) q.set('status', statusSelect.value);
		if (after) q.set('after', after);
		return `/api/v1/deployments?${q}`;
	});
	await paged.load();
}

function target(t) {
	if (t.kind === 'devices') return 'device list';
	return `${t.kind} ${t[t.kind]}`;
}

export const detail = { show: showDetail };

async function showDetail(main, id) {
	const head = h('div'), stages = h('div'), countsBox = h('div'), controls = h('div'), devicesBox = h('div');
	const out = h('div', { 'aria-live': 'polite' });
	main.append(h('h1', {}, `Deployment ${id}`), head, controls, out, h('h2', {}, 'Stages'), stages,
		h('h2', {}, 'Devices by state'), countsBox, h('h2', {}, 'Devices'), devicesBox);
	let d;

	async function refresh() {
		d = await api('GET', `/api/v1/deployments/${encodeURIComponent(id)}`);
		main.querySelector('h1').textContent = d.name || `Deployment ${d.id}`;
		head.replaceChildren(h('dl', { class: 'facts' },
			h('dt', {}, 'Status'), h('dd', {}, badge(d.status), d.paused ? ` — ${d.paused.automatic ? 'by suitd' : `by ${d.paused.by}`}${d.paused.reason ? `: ${d.paused.reason}` : ''}` : ''),
			h('dt', {}, 'Manifest'), h('dd', { class: 'mono' }, link(`/ui/manifests/${d.manifest}`, d.manifest), ` (sequence ${num(d.sequence_number)})`),
			h('dt', {}, 'Target'), h('dd', {}, target(d.target)),
			h('dt', {}, 'Devices'), h('dd', {}, num(d.devices)),
			h('dt', {}, 'Failure rate'), h('dd', {}, `${failureRate(d)} (pauses above ${d.rollout.failure_threshold} %)`),
			h('dt', {}, 'Created'), h('dd', {}, time(d.created_at), ` by ${d.created_by}`)));
		stages.replaceChildren(...stageBars(d));
		countsBox.replaceChildren(table([
			{ title: 'State', cell: (s) => badge(s) },
			{ title: 'Devices', num: true, cell: (s) => num(d.counts[s]) },
		], STATES.filter((s) => d.counts[s])));
		drawControls();
	}

	function drawControls() {
		controls.replaceChildren();
		if (!can('operator') || d.status === 'completed' || d.status === 'canceled') return;
		const act = async (what, body) => {
			out.replaceChildren();
			try {
				await api('POST', `/api/v1/deployments/${d.id}/${what}`, body);
				await refresh();
				out.append(h('p', {}, `Deployment ${what === 'cancel' ? 'canceled' : `${what}d`}.`));
			} catch (err) { out.append(errorBox(err)); }
		};
		if (d.status === 'active') {
			const reason = h('input', { id: 'pause-reason', name: 'reason', maxlength: 200 });
			controls.append(h('form', { class: 'actions', onsubmit: (e) => { e.preventDefault(); act('pause', reason.value ? { reason: reason.value } : undefined); } },
				h('div', {}, h('label', { for: 'pause-reason' }, 'Reason for pausing ', h('span', { class: 'hint' }, '(optional)')), reason),
				h('button', { type: 'submit' }, 'Pause')));
		} else if (d.status === 'paused') {
			const ack = h('input', { type: 'checkbox', id: 'ack', name: 'acknowledge' });
			controls.append(h('form', { class: 'actions', onsubmit: (e) => { e.preventDefault(); act('resume', ack.checked ? { acknowledge: true } : undefined); } },
				h('label', { for: 'ack', class: 'check' }, ack, ` I have looked at the ${num(failures(d.counts))} failures`),
				h('button', { type: 'submit' }, 'Resume')));
		}
		const sure = h('input', { type: 'checkbox', id: 'cancel-sure' });
		const cancel = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Cancel deployment');
		sure.addEventListener('change', () => { cancel.disabled = !sure.checked; });
		controls.append(h('form', { class: 'actions', onsubmit: (e) => { e.preventDefault(); act('cancel'); } },
			h('label', { for: 'cancel-sure', class: 'check' }, sure, ' Cancel: devices not yet updated get nothing'), cancel));
	}

	// The devices table, filtered by state, paged by keyset.
	const [stateLabel, stateSelect] = select('state', 'State', [['', 'Any'], ...STATES.map((s) => [s, s])], '');
	const rows = h('div');
	const devices = pagedTable(rows, [
		{ title: 'Device', cell: (a) => link(`/ui/devices/${encodeURIComponent(a.device)}`, a.device) },
		{ title: 'Stage', num: true, cell: (a) => num(a.stage) },
		{ title: 'State', cell: (a) => badge(a.state) },
		{ title: 'Reason', cell: (a) => a.reason || '' },
		{ title: 'Updated', cell: (a) => time(a.updated_at) },
	], (after) => {
		const q = new URLSearchParams({ limit: '50' });
		if (stateSelect.value) q.set('state', stateSelect.value);
		if (after) q.set('after', after);
		return `/api/v1/deployments/${encodeURIComponent(id)}/devices?${q}`;
	}, 'More devices');
	stateSelect.addEventListener('change', () => devices.load());
	devicesBox.append(h('div', { class: 'filters' }, h('div', {}, stateLabel, stateSelect)), rows);

	await refresh();
	await devices.load();
	// Counters are read at most twice a second whatever the event rate; the
	// devices table (a page of rows) every 3 s.
	const live = throttle(() => refresh().catch(() => {}), 500);
	const liveRows = throttle(() => { if (!devices.more()) devices.load().catch(() => {}); }, 3000);
	// A large deployment's assignments are written without events while it
	// is "preparing" (issue 15): its progress is polled every 2 s meanwhile.
	let timer = null, left = false;
	const poll = () => {
		timer = !left && d.status === 'preparing'
			? setTimeout(() => refresh().then(poll, poll), 2000) : null;
	};
	poll();
	const close = events(`deployment=${encodeURIComponent(id)}`, () => { live(); liveRows(); });
	return () => { left = true; if (timer) clearTimeout(timer); close(); };
}
