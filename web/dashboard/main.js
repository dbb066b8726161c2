// The supervisor dashboard (/, /dashboard). ?wallboard=1: large type,
// read-only, dark, for a TV (a wallboard session; no actions).

import { render } from 'preact';
import { effect } from '@preact/signals';
import { connectStream } from '../lib/stream.js';
import { createStore } from '../lib/store.js';
import { applyTheme, loadBranding, loadSession, me, watchSession } from '../lib/session.js';
import { ConfirmDialog, Header, Toast } from '../lib/ui.js';
import { Tiles } from './tiles.js';
import { Queues, alertCount } from './queues.js';
import { Roster } from './roster.js';
import { Tasks } from './tasks.js';
import { Ticker } from './ticker.js';
import { Charts } from './charts.js';
import './dashboard.css';

const wallboard = new URLSearchParams(location.search).get('wallboard') === '1';
const store = createStore();
window.trhubStore = store; // for the benchmarks and for debugging in the console

function Dashboard() {
	const m = me.value;
	const readOnly = wallboard || !m || m.role !== 'supervisor';
	return (
		<>
			<Header title={wallboard ? 'Wallboard' : 'Supervisor dashboard'} readOnly={wallboard} />
			<main class={'dashboard' + (wallboard ? ' wall' : '')}>
				<Tiles store={store} />
				<Queues store={store} />
				<Charts store={store} />
				<Tasks store={store} readOnly={readOnly} />
				<Roster store={store} readOnly={readOnly} />
				<Ticker store={store} max={wallboard ? 8 : 15} />
			</main>
			<ConfirmDialog />
			<Toast />
		</>
	);
}

// The stream, the session and the branding are asked for at once; the page
// renders as soon as it knows who is looking (a 401 goes to the login).
async function start() {
	applyTheme();
	if (wallboard) document.documentElement.classList.add('wallboard');
	const stream = connectStream(store.push, { batch: true });
	const b = loadBranding(wallboard ? 'Wallboard' : 'Dashboard');
	const session = await loadSession();
	if (session.role === 'worker') {
		stream.close();
		location.replace('/worker');
		return;
	}
	render(<Dashboard />, document.getElementById('app'));
	watchSession();
	await b;
	const base = document.title;
	effect(() => {
		const n = alertCount(store.stats.value);
		document.title = n ? `(${n} alert${n > 1 ? 's' : ''}) ${base}` : base;
	});
}

start().catch((e) => {
	document.getElementById('app').textContent = 'Cannot start: ' + e.message;
});
