// A new deployment: a manifest, a target, stages and thresholds. The API
// validates; its error is shown next to the field it names.
import { h, api, errorBox, go, ApiError } from './lib.js';

function field(id, label, input, hint) {
	return h('div', { 'data-field': id }, h('label', { for: id }, label, hint ? h('span', { class: 'hint' }, ` ${hint}`) : ''), input,
		h('div', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' }));
}

// "field 'rollout.stages' must ..." → the form field it is about.
function fieldOf(detail) {
	const m = /field '([a-z_.]+)/.exec(detail || '');
	if (!m) return /manifest/.test(detail || '') ? 'manifest' : /target|group|tag|device/.test(detail || '') ? 'target-value' : null;
	const f = m[1];
	if (f.startsWith('target')) return 'target-value';
	return { manifest: 'manifest', name: 'name', 'rollout.stages': 'stages', 'rollout.success_threshold': 'success',
		'rollout.failure_threshold': 'failure', 'rollout.device_timeout': 'timeout' }[f] || null;
}

export async function show(main) {
	const manifests = await api('GET', '/api/v1/manifests?limit=200');
	const manifest = h('select', { id: 'manifest', name: 'manifest', required: true },
		manifests.items.map((m) => h('option', { value: m.digest.value },
			`#${m.sequence_number} ${m.digest.value.slice(0, 16)}… (${m.text && m.text.model ? m.text.model : m.components.length + ' component(s)'})`)));
	const name = h('input', { id: 'name', name: 'name', maxlength: 128 });
	const kinds = ['group', 'tag', 'devices'];
	const kind = h('fieldset', {}, h('legend', {}, 'Target'),
		kinds.map((k, i) => h('label', {}, h('input', { type: 'radio', name: 'kind', value: k, checked: i === 0 }),
			k === 'devices' ? 'Device list' : k === 'group' ? 'Group' : 'Tag')));
	const value = h('input', { id: 'target-value', name: 'target', required: true });
	const stages = h('input', { id: 'stages', name: 'stages', value: '10, 50, 100', inputmode: 'numeric' });
	const success = h('input', { id: 'success', name: 'success_threshold', type: 'number', min: 0, max: 100, value: 95 });
	const failure = h('input', { id: 'failure', name: 'failure_threshold', type: 'number', min: 0, max: 100, value: 5 });
	const timeout = h('input', { id: 'timeout', name: 'device_timeout', type: 'number', min: 1, value: 86400 });
	const out = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'stack', novalidate: true, onsubmit: submit },
		field('manifest', 'Manifest', manifest),
		field('name', 'Name', name, '(optional)'),
		kind,
		field('target-value', 'Group, tag, or device ids', value, '(device ids separated by spaces or commas)'),
		field('stages', 'Stages', stages, '(percent of the target released in each stage, rising to 100)'),
		field('success', 'Success threshold %', success, '(confirmed share that opens the next stage)'),
		field('failure', 'Failure threshold %', failure, '(failed share that pauses the deployment)'),
		field('timeout', 'Device timeout, seconds', timeout),
		h('div', {}, h('button', { type: 'submit' }, 'Create deployment')), out);
	main.append(h('h1', {}, 'New deployment'), manifests.items.length ? form : h('p', {}, 'Upload a manifest first.'));

	async function submit(e) {
		e.preventDefault();
		out.replaceChildren();
		for (const el of form.querySelectorAll('.field-error')) el.replaceChildren();
		for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
		const k = form.querySelector('input[name=kind]:checked').value;
		const v = value.value.trim();
		const body = {
			manifest: manifest.value,
			target: k === 'devices' ? { devices: v.split(/[\s,]+/).filter(Boolean) } : { [k]: v },
			rollout: {
				stages: stages.value.split(/[\s,]+/).filter(Boolean).map(Number),
				success_threshold: Number(success.value), failure_threshold: Number(failure.value),
				device_timeout: Number(timeout.value),
			},
		};
		if (name.value.trim()) body.name = name.value.trim();
		try {
			const d = await api('POST', '/api/v1/deployments', body);
			go(`/ui/deployments/${d.id}`);
		} catch (err) {
			const f = err instanceof ApiError ? fieldOf(err.problem.detail) : null;
			const box = f && form.querySelector(`#${f}-error`);
			if (box) {
				box.append(err.problem.detail);
				const input = form.querySelector(`#${f}`);
				input.setAttribute('aria-invalid', 'true');
				input.setAttribute('aria-describedby', `${f}-error`);
				input.focus();
			} else out.append(errorBox(err));
		}
	}
}
