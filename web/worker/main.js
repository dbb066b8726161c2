// The agent page (/worker): the agent's activity, offers with Accept /
// Reject and a countdown, the task in hand (End conference, Complete, then
// the chosen post-work activity), a log, a notification and a ring when the
// tab is in the background. Everything shown comes from the server (the
// snapshot and the stream), so a reload or a network blip loses nothing.

import { render } from 'preact';
import { effect, signal } from '@preact/signals';
import { api } from '../lib/api.js';
import { connectStream } from '../lib/stream.js';
import { createStore } from '../lib/store.js';
import { applyTheme, loadBranding, loadSession, me, watchSession } from '../lib/session.js';
import { Header, Toast } from '../lib/ui.js';
import { Activity, setActivity } from './activity.js';
import { InHand, Offer } from './reservation.js';
import { LogPanel, log } from './log.js';
import { ring } from './ring.js';
import './worker.css';

const store = createStore();
window.trhubStore = store;
const workspace = signal(null);
const postWork = signal(localStorage.getItem('trhub.postWork') || '');
const ringOn = signal(localStorage.getItem('trhub.ring') !== 'off');
const tokenExpiresAtMs = signal(null);
const notifyPerm = signal(typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);

function activities() {
	const w = workspace.value;
	return (w && w.activities) || store.activities.value || [];
}

function myWorker() {
	const m = me.value;
	return m && m.workerSid ? store.workers.value.get(m.workerSid) : null;
}

function myReservations(worker) {
	const res = (worker && worker.reservations) || [];
	return {
		offers: res.filter((r) => r.status === 'pending'),
		held: res.filter((r) => r.status === 'accepted' || r.status === 'wrapping'),
	};
}

async function afterWork() {
	const a = activities().find((x) => x.sid === postWork.value);
	if (a) await setActivity(a, 'after work');
}

function Settings() {
	const acts = activities();
	return (
		<section class="card settings" aria-labelledby="set-h">
			<h2 id="set-h">Settings</h2>
			<p>
				<label for="postwork">After completing a task, go to </label>
				<select id="postwork" value={postWork.value} onChange={(e) => {
					postWork.value = e.currentTarget.value;
					localStorage.setItem('trhub.postWork', postWork.value);
				}}>
					<option value="">(as trhubd is configured)</option>
					{acts.map((a) => <option key={a.sid} value={a.sid}>{a.friendlyName}</option>)}
				</select>
			</p>
			<p>
				<input id="ring" type="checkbox" checked={ringOn.value} onChange={(e) => {
					ringOn.value = e.currentTarget.checked;
					localStorage.setItem('trhub.ring', ringOn.value ? 'on' : 'off');
				}} />
				<label for="ring"> Ring when a task arrives while this tab is in the background</label>
			</p>
			{notifyPerm.value === 'default' ? (
				<p><button type="button" onClick={async () => (notifyPerm.value = await Notification.requestPermission())}>Allow notifications</button></p>
			) : <p class="muted">Notifications: {notifyPerm.value}</p>}
			<p class="muted">Keys: <kbd>A</kbd> accept, <kbd>R</kbd> reject.</p>
		</section>
	);
}

function WorkerPage() {
	const m = me.value;
	const w = myWorker();
	const { offers, held } = myReservations(w);
	const tasks = store.tasks.value;
	const ws = workspace.value || store.workspace.value;
	const timeoutS = ws && ws.reservationTimeoutS;
	return (
		<>
			<Header title="Agent">
				{ws && ws.friendlyName ? <span class="workspace">Workspace <strong>{ws.friendlyName}</strong></span> : null}
			</Header>
			<main class="worker">
				{m && !m.workerSid ? (
					<section class="card" aria-labelledby="notagent-h"><h2 id="notagent-h">Not an agent login</h2><p>This page is for agents. <a href="/">Open the dashboard</a> or log in as an agent.</p></section>
				) : null}
				<div class="col">
					<Activity worker={w} activities={activities()} busy={false} />
					<div aria-live="assertive" class="offers">
						{offers.map((r) => <Offer key={r.sid} res={r} task={tasks.get(r.taskSid)} timeoutS={timeoutS} />)}
					</div>
					{held.map((r) => <InHand key={r.sid} res={r} task={tasks.get(r.taskSid)} afterWork={afterWork} />)}
					{w && !offers.length && !held.length ? <section class="card idle" aria-labelledby="idle-h"><h2 id="idle-h">No task</h2><p class="muted">{w.available ? 'Waiting for the next task.' : 'Set an available activity to receive tasks.'}</p></section> : null}
				</div>
				<div class="col">
					<LogPanel />
					<Settings />
				</div>
			</main>
			<Toast />
		</>
	);
}

// Offers, held tasks and activity changes go to the log; a new offer rings
// and notifies when the tab is hidden.
function watch() {
	const seen = new Set(JSON.parse(sessionStorage.getItem('trhub.seenOffers') || '[]'));
	let lastAct = null;
	effect(() => {
		const w = myWorker();
		if (!w) return;
		if (lastAct !== null && w.activityName !== lastAct) log(`Now ${w.activityName}.`);
		lastAct = w.activityName;
		const tasks = store.tasks.value; // the offer is announced once its task is known
		for (const r of myReservations(w).offers) {
			if (seen.has(r.sid)) continue;
			const task = tasks.get(r.taskSid);
			if (!task) continue;
			seen.add(r.sid);
			sessionStorage.setItem('trhub.seenOffers', JSON.stringify([...seen].slice(-50)));
			const who = (task.attributes && task.attributes.from) || 'a caller';
			log(`Task offered: ${who}${task.queueName ? ' (' + task.queueName + ')' : ''}.`);
			if (document.hidden) {
				if (ringOn.peek()) ring();
				if (notifyPerm.peek() === 'granted') new Notification('Incoming task', { body: who, tag: r.sid });
			}
		}
	});
}

// The worker token (capability + access token) is fetched now and again
// before it expires, so a long shift never runs on a stale one.
async function refreshToken() {
	try {
		const t = await api('/api/worker/token');
		const exp = Math.min(t.capabilityTokenExpiresAtMs || Infinity, t.accessTokenExpiresAtMs || Infinity);
		const ttl = Number.isFinite(exp) ? exp - Date.now() : 3600000;
		tokenExpiresAtMs.value = Number.isFinite(exp) ? exp : null;
		setTimeout(refreshToken, Math.max(30000, ttl * 0.8));
	} catch (e) {
		if (e.status === 404) return; // trhubd without the agent API
		setTimeout(refreshToken, 30000);
	}
}

async function start() {
	applyTheme();
	const b = loadBranding('Agent');
	const session = await loadSession();
	await b;
	try {
		workspace.value = await api('/api/workspace');
	} catch (e) {
		if (e.status !== 404) log('Cannot read the workspace: ' + e.message, 'bad');
	}
	render(<WorkerPage />, document.getElementById('app'));
	watch();
	connectStream(store.push);
	watchSession();
	if (session.workerSid) refreshToken();
}

start().catch((e) => {
	document.getElementById('app').textContent = 'Cannot start: ' + e.message;
});
