// stream: the live connection to trhubd (GET /api/stream, Server-Sent
// Events) and the state of that connection for the indicator.
//
// Resync rule. With { batch: true } (the dashboard) trhubd sends "batch"
// messages, each an array of [type, id, data] items with an id of its own,
// and the snapshot names the batch its state ends with (batchId). On a
// reconnect the page asks for what came after the last batch it has
// (?lastEventId=): trhubd replays the batches it still keeps, or sends a
// fresh snapshot, which replaces the page's state. Either way nothing is
// missing and nothing comes twice. Without batches (the agent page) every
// (re)connection starts from a fresh snapshot. EventSource's own
// reconnection is never used: on any error the source is closed and a new
// one opened after a backoff with jitter (0.5 s doubling to 30 s). Events
// are also recognised by Sid, so the ticker could not show one twice.
//
// A stream that stays silent longer than STALE_MS (trhubd sends a heartbeat
// every 15 s) counts as dead. A 401 on /api/me after an error means the
// session expired: the page goes to the login and comes back.

import { signal } from '@preact/signals';
import { api } from './api.js';

export const STALE_MS = 40000;
const TYPES = ['snapshot', 'batch', 'stats', 'event', 'task', 'worker', 'reservation', 'audit', 'workspace'];

// 'connecting' | 'live' | 'reconnecting' | 'offline'
export const connection = signal('connecting');
export const reconnects = signal(0);

// `early`: the stream the dashboard's first script opened (dashboard/boot.js),
// taken over by the first connection when it asks for the same URL, with the
// messages it has received meanwhile.
export function connectStream(onMessage, { url = '/api/stream', batch = false, early = null } = {}) {
	let es = null;
	let lastId = null; // the newest batch the page holds (batched streams)
	let attempt = 0;
	let timer = null;
	let lastData = Date.now();
	let stopped = false;

	function open() {
		timer = null;
		if (stopped) return;
		const resume = batch && lastId !== null;
		const src = batch ? `${url}?batch=1${resume ? '&lastEventId=' + lastId : ''}` : url;
		const held = early && early.url === src ? early.take() : null;
		if (early && !held) early.take().es.close();
		early = null;
		es = held ? held.es : new EventSource(src);
		const receive = (type, e) => {
			lastData = Date.now();
			let data;
			try {
				data = JSON.parse(e.data);
			} catch {
				return;
			}
			if (type === 'snapshot') {
				attempt = 0;
				connection.value = 'live';
				if (batch && typeof data.batchId === 'number') lastId = data.batchId;
			} else if (type === 'batch' && e.lastEventId) {
				lastId = e.lastEventId;
			}
			onMessage(type, data, e.lastEventId);
		};
		for (const type of TYPES) es.addEventListener(type, (e) => receive(type, e));
		if (held) {
			for (const [type, e] of held.messages) receive(type, e);
			if (held.failed) setTimeout(fail);
		}
		es.onopen = () => {
			lastData = Date.now();
			if (resume) {
				// trhubd replays what the page missed, or sends a snapshot
				attempt = 0;
				connection.value = 'live';
			}
		};
		es.onerror = () => fail();
	}

	async function fail() {
		if (stopped || timer) return;
		if (es) es.close();
		es = null;
		connection.value = attempt >= 4 ? 'offline' : 'reconnecting';
		reconnects.value++;
		const base = Math.min(30000, 500 * 2 ** attempt);
		const delay = base / 2 + Math.random() * (base / 2);
		attempt++;
		timer = setTimeout(check, delay);
	}

	// Before reopening: is the session still there? (EventSource hides the status.)
	async function check() {
		try {
			await api('/api/me');
			open();
		} catch (e) {
			timer = null;
			if (e.status !== 401) fail(); // network or trhubd down: try again later
		}
	}

	const watchdog = setInterval(() => {
		if (es && Date.now() - lastData > STALE_MS) fail();
	}, 5000);
	addEventListener('online', () => {
		if (connection.value !== 'live' && timer) {
			clearTimeout(timer);
			timer = null;
			attempt = 0;
			check();
		}
	});
	open();
	return {
		close() {
			stopped = true;
			clearInterval(watchdog);
			if (timer) clearTimeout(timer);
			if (es) es.close();
		},
	};
}
