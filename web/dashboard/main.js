// The supervisor dashboard (/, /dashboard). ?wallboard=1: large type,
// read-only, dark, for a TV (a wallboard session; no actions).

import { render } from 'preact';
import { effect, signal } from '@preact/signals';
import { connectStream } from '../lib/stream.js';
import { createStore } from '../lib/store.js';
import { applyTheme, loadBranding, loadSession, me, watchSession } from '../lib/session.js';
import { ConfirmDialog, Header, Toast, showToast } from '../lib/ui.js';
import { Tiles } from './tiles.js';
import { alertCount } from './queues.js';
import './dashboard.css';

const wallboard = new URLSearchParams(location.search).get('wallboard') === '1';
const store = createStore();
window.trhubStore = store; // for the benchmarks and for debugging in the console

// The page comes in two steps, so that the first numbers are on screen as
// soon as the snapshot is in: the header and the tiles at once; the queues,
// charts, tables and ticker (later.js, a chunk of its own: with uPlot it is
// most of the page's script, which the browser then neither parses nor runs
// before the first numbers) in the frame after the one that showed them, or
// after REST_AFTER_MS when no snapshot comes (trhubd out of reach: the page
// still shows all its parts, empty).
const later = signal(null);
const REST_AFTER_MS = 1500;
let asked = false;
function showRest() {
	if (asked) return;
	asked = true;
	import('./later.js').then((m) => (later.value = m)).catch((e) => {
		asked = false;
		showToast('Cannot load the rest of the page (' + e.message + '); reload to try again.', 'bad');
	});
}

function Dashboard() {
	const m = me.value;
	const readOnly = wallboard || !m || m.role !== 'supervisor';
	const L = later.value;
	return (
		<>
			<Header title={wallboard ? 'Wallboard' : 'Supervisor dashboard'} readOnly={wallboard} />
			<main class={'dashboard' + (wallboard ? ' wall' : '')}>
				<Tiles store={store} />
				{L ? (
					<>
						<L.Queues store={store} />
						<L.Charts store={store} />
						<L.Tasks store={store} readOnly={readOnly} />
						<L.Roster store={store} readOnly={readOnly} />
						<L.Ticker store={store} max={wallboard ? 8 : 15} />
					</>
				) : null}
			</main>
			<ConfirmDialog />
			<Toast />
		</>
	);
}

// The stream was opened by boot.js, the page's first script, and is taken
// over here; the session and the branding are asked for now, and the page
// renders without waiting for any of them: the tiles need only the
// snapshot, which is applied the moment it arrives (later messages wait for
// an animation frame, lib/store.js). Who is looking (/api/me) comes in
// meanwhile: a worker goes to the agent page, a 401 to the login.
function start() {
	const app = document.getElementById('app');
	applyTheme();
	if (wallboard) document.documentElement.classList.add('wallboard');
	let first = true;
	const stream = connectStream((type, data, id) => {
		store.push(type, data, id);
		if (first && type === 'snapshot') {
			first = false;
			store.flushNow();
			requestAnimationFrame(() => requestAnimationFrame(showRest));
		}
	}, { batch: true, early: window.trhubEarlyStream });
	const b = loadBranding(wallboard ? 'Wallboard' : 'Dashboard');
	render(<Dashboard />, app);
	setTimeout(showRest, REST_AFTER_MS);
	loadSession().then((session) => {
		if (session.role === 'worker') {
			stream.close();
			location.replace('/worker');
			return;
		}
		watchSession();
	}).catch((e) => {
		stream.close();
		render(null, app);
		app.textContent = 'Cannot start: ' + e.message;
	});
	b.then(() => {
		const base = document.title;
		effect(() => {
			const n = alertCount(store.stats.value);
			document.title = n ? `(${n} alert${n > 1 ? 's' : ''}) ${base}` : base;
		});
	});
}

start();
