// Sign in with an API key: exchanged once for the session cookie.
import { h, signIn, errorBox, go } from './lib.js';

export function show(main, _arg, query) {
	const key = h('input', { id: 'api-key', name: 'api_key', type: 'password', autocomplete: 'off', required: true });
	const out = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'stack', onsubmit: async (e) => {
		e.preventDefault();
		out.replaceChildren();
		try {
			await signIn(key.value.trim());
			key.value = '';
			const next = query.get('next') || '/';
			go(next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/ui/signin') ? next : '/');
		} catch (err) {
			out.append(errorBox(err));
			key.focus();
		}
	} },
	h('div', {}, h('label', { for: 'api-key' }, 'API key ', h('span', { class: 'hint' }, '(suitd_ak_…; it is sent once and never stored in the browser)')), key),
	h('div', {}, h('button', { type: 'submit' }, 'Sign in')), out);
	main.append(h('h1', {}, 'Sign in to suitd'), form);
	key.focus();
}
