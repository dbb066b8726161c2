// api: every request the pages make. JSON in and out, the session cookie
// (same origin), and one rule for a lost session: a 401 sends the person to
// the login page, which brings them back here afterwards. Secrets only ever
// travel in POST bodies, never in a URL.

export class ApiError extends Error {
	constructor(status, body) {
		super((body && (body.detail || body.error)) || `HTTP ${status}`);
		this.status = status;
		this.body = body || {};
	}
}

// Where the login page sends the person back to (same origin paths only).
export function loginUrl() {
	const back = location.pathname + location.search;
	return '/login?next=' + encodeURIComponent(back);
}

export function goLogin() {
	location.assign(loginUrl());
}

// A "next" value is followed only when it is a path on this site.
export function safeNext(next) {
	if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.includes('\\'))
		return '/';
	return next;
}

export async function api(path, { method = 'GET', body, on401 = goLogin } = {}) {
	const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
	if (body !== undefined) {
		opts.headers['Content-Type'] = 'application/json';
		opts.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, opts);
	} catch (e) {
		throw new ApiError(0, { error: 'network', detail: 'cannot reach trhubd' });
	}
	let data = null;
	const text = await res.text();
	if (text) {
		try {
			data = JSON.parse(text);
		} catch {
			data = { error: 'bad_response', detail: text.slice(0, 200) };
		}
	}
	if (res.status === 401 && on401) on401();
	if (!res.ok) throw new ApiError(res.status, data);
	return data;
}
