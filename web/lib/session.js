// session: who is logged in (GET /api/me), logout, and the branding
// (GET /custom/branding.json: {"title", "logo"} from web_custom_dir).

import { signal } from '@preact/signals';
import { api, ApiError, goLogin } from './api.js';

export const me = signal(null);
export const branding = signal({ title: 'trhub' });

// Resolves to the session, or goes to the login page (401). A trhubd built
// without the login module answers 404: it serves loopback clients only,
// as a local supervisor.
export async function loadSession() {
	try {
		me.value = await api('/api/me');
	} catch (e) {
		if (e instanceof ApiError && e.status === 404) me.value = { identity: 'local', role: 'supervisor', local: true };
		else throw e;
	}
	return me.value;
}

// An expired session is noticed within CHECK_MS (the stream alone would not
// say: trhubd keeps an open stream), and the page goes to the login, which
// brings the person back here.
export const CHECK_MS = 10000;
export function watchSession() {
	if (me.value && me.value.local) return;
	setInterval(async () => {
		try {
			me.value = await api('/api/me');
		} catch {
			// 401: api() went to the login page; network errors: the stream shows it
		}
	}, CHECK_MS);
}

export async function logout() {
	try {
		await api('/logout', { method: 'POST', on401: null });
	} catch {
		// already logged out: the login page is where we go either way
	}
	goLogin();
}

export async function loadBranding(pageTitle) {
	try {
		const res = await fetch('/custom/branding.json', { credentials: 'same-origin' });
		if (res.ok) {
			const b = await res.json();
			if (b && typeof b === 'object') branding.value = { ...branding.value, ...b };
		}
	} catch {
		// default branding
	}
	document.title = `${pageTitle} · ${branding.value.title || 'trhub'}`;
	return branding.value;
}

export function applyTheme() {
	const t = localStorage.getItem('trhub.theme');
	if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
}

export function toggleTheme() {
	const cur = document.documentElement.dataset.theme ||
		(matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
	const next = cur === 'dark' ? 'light' : 'dark';
	document.documentElement.dataset.theme = next;
	localStorage.setItem('trhub.theme', next);
}
