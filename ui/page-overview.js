// What an operator opens first: devices by state, active deployments with
// per-stage progress and failure rate, recent events (live).
import { h, api, num, time, progress, link, events, throttle, badge } from './lib.js';

export function failures(c) {
	return c.failed + c.timed_out;
}

// One row per stage: confirmed (and skipped) of its devices, failures in red.
export function stageBars(d) {
	return d.stages.map((s) => h('div', { class: 'stage' },
		h('span', {}, `Stage ${s.stage} · ${s.percent} %`, s.open ? '' : ' (closed)'),
		progress(`Deployment ${d.id} stage ${s.stage}`, s.counts.confirmed + s.counts.skipped, s.devices, failures(s.counts)),
		h('span', { class: 'muted' }, `${num(s.counts.confirmed + s.counts.skipped)} / ${num(s.devices)}`)));
}

export function failureRate(d) {
	const done = d.devices - d.counts.pending;
	return d.devices ? `${((failures(d.counts) * 100) / d.devices).toFixed(1)} %` : '—';
}

export async function show(main) {
	const counts = h('div');
	const active = h('div');
	const recent = h('ol', { class: 'events', 'aria-live': 'off' });
	main.append(h('h1', {}, 'Overview'), counts, h('h2', {}, 'Active deployments'), active,
		h('h2', {}, 'Recent events'), recent);

	async function refresh() {
		// A large deployment is "preparing" while its assignments are inserted
		// (issue 15): it is running, so it is shown with the active ones.
		const [o, preparing, running] = await Promise.all([
			api('GET', '/api/v1/overview'),
			api('GET', '/api/v1/deployments?status=preparing&limit=10'),
			api('GET', '/api/v1/deployments?status=active&limit=10'),
		]);
		const list = { items: preparing.items.concat(running.items).slice(0, 10) };
		const a = o.assignments;
		const cards = [
			['Devices registered', o.devices.registered], ['Seen recently', o.devices.seen],
			['Updates in progress', a.pending + a.delivered + a.downloading + a.downloaded + a.installing + a.installed],
			['Confirmed', a.confirmed], ['Failed', a.failed + a.timed_out],
			['Active deployments', o.deployments.active + (o.deployments.preparing || 0)], ['Paused deployments', o.deployments.paused],
		];
		counts.replaceChildren(h('div', { class: 'cards' }, cards.map(([t, n]) =>
			h('div', { class: 'card' }, h('span', { class: 'n' }, num(n)), t))));
		active.replaceChildren(...(list.items.length ? list.items.map((d) => h('section', { class: 'card' },
			h('h3', {}, link(`/ui/deployments/${d.id}`, d.name || `Deployment ${d.id}`), ' ', badge(d.status)),
			h('p', { class: 'muted' }, `${num(d.devices)} devices · failure rate ${failureRate(d)} · stage ${d.current_stage} of ${d.stages.length}`),
			stageBars(d))) : [h('p', { class: 'muted' }, 'No active deployment.')]));
	}
	const audit = await api('GET', '/api/v1/audit?limit=10');
	recent.replaceChildren(...audit.items.map(eventItem));
	await refresh();
	const later = throttle(() => refresh().catch(() => {}), 1000);
	// The list shows the latest events, at most once a second.
	let latest = [];
	const showLatest = throttle(() => {
		recent.prepend(...latest.map((data) => eventItem(data())).reverse());
		latest = [];
		while (recent.children.length > 10) recent.lastChild.remove();
	}, 1000);
	return events('', (type, data) => {
		latest.push(data);
		if (latest.length > 10) latest.shift();
		showLatest();
		if (type.startsWith('deployment.') || type.startsWith('assignment.')) later();
	});
}

export function eventItem(ev) {
	return h('li', {}, time(ev.at), ' ', h('strong', {}, ev.type), ' ', ev.subject || '', ev.actor ? h('span', { class: 'muted' }, ` by ${ev.actor}`) : '');
}
