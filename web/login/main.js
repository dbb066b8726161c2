// The login page: POST /login with the name and password in a JSON body (no
// secret ever in a URL), then back to where the person was (?next=, same
// site only). With ?wallboard=1 it asks for the wallboard token instead.

import { render } from 'preact';
import { signal } from '@preact/signals';
import { api, safeNext } from '../lib/api.js';
import { applyTheme, branding, loadBranding } from '../lib/session.js';
import './login.css';

const params = new URLSearchParams(location.search);
const next = safeNext(params.get('next') || '/');
const wallboard = params.get('wallboard') === '1' || /[?&]wallboard=1/.test(next);
const error = signal(params.get('expired') ? 'Your session ended; please log in again.' : '');
const busy = signal(false);

async function submit(e) {
	e.preventDefault();
	const f = e.currentTarget;
	const body = wallboard
		? { wallboardToken: f.elements.token.value }
		: { username: f.elements.username.value, password: f.elements.password.value };
	busy.value = true;
	error.value = '';
	try {
		const who = await api('/login', { method: 'POST', body, on401: null });
		let dest = next;
		if (dest === '/' && who && who.role === 'worker') dest = '/worker';
		location.replace(dest);
	} catch (err) {
		if (err.status === 401) error.value = wallboard ? 'That wallboard token is not valid.' : 'Wrong user name or password.';
		else if (err.status === 429) error.value = 'Too many attempts; wait a minute and try again.';
		else error.value = 'Cannot log in: ' + err.message;
		if (!wallboard) f.elements.password.value = '';
	} finally {
		busy.value = false;
	}
}

function Login() {
	const b = branding.value;
	return (
		<main class="login">
			<h1>
				{b.logo ? <img class="logo" src={'/custom/' + b.logo} alt="" /> : null}
				{b.title || 'trhub'}
			</h1>
			<form method="post" action="/login" onSubmit={submit}>
				{wallboard ? (
					<>
						<label for="token">Wallboard token</label>
						<input id="token" name="token" type="password" autocomplete="off" required />
						<p class="hint">A read-only session for a wall display; it lasts until revoked.</p>
					</>
				) : (
					<>
						<label for="username">User name</label>
						<input id="username" name="username" autocomplete="username" required autofocus />
						<label for="password">Password</label>
						<input id="password" name="password" type="password" autocomplete="current-password" required />
					</>
				)}
				<button class="primary" type="submit" disabled={busy.value}>{busy.value ? 'Logging in…' : 'Log in'}</button>
				{error.value ? <p class="error" role="alert">{error.value}</p> : null}
			</form>
		</main>
	);
}

applyTheme();
loadBranding('Log in');
render(<Login />, document.getElementById('app'));
