// stream: the live connection to trhubd (GET /api/stream, Server-Sent
// Events) and the state of that connection for the indicator.
//
// Resync rule: every (re)connection starts from a fresh "snapshot", which
// replaces the page's state; nothing is replayed from Last-Event-ID. trhubd's
// replay only covers "event" messages (task, worker and stats messages carry
// no id), so a replay would leave a gap; a snapshot cannot. EventSource's own
// reconnection (which would send Last-Event-ID) is therefore never used: on
// any error the source is closed and a new one opened after a backoff with
// jitter (0.5 s doubling to 30 s). Events already shown are recognised by
// their sequence number and Sid, so the ticker shows no duplicate.
//
// A stream that stays silent longer than STALE_MS (trhubd sends a heartbeat
// every 15 s) counts as dead. A 401 on /api/me after an error means the
// session expired: the page goes to the login and comes back.

import { signal } from '@preact/signals';
import { api } from './api.js';

export const STALE_MS = 40000;
const TYPES = ['snapshot', 'stats', 'event', 'task', 'worker', 'reservation', 'audit', 'workspace'];

// 'connecting' | 'live' | 'reconnecting' | 'offline'
export const connection = signal('connecting');
export const reconnects = signal(0);

export function connectStream(onMessage, { url = '/api/stream' } = {}) {
	let es = null;
	let attempt = 0;
	let timer = null;
	let lastData = Date.now();
	let stopped = false;

	function open() {
		timer = null;
		if (stopped) return;
		es = new EventSource(url);
		for (const type of TYPES) {
			es.addEventListener(type, (e) => {
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
				}
				onMessage(type, data, e.lastEventId);
			});
		}
		es.onopen = () => {
			lastData = Date.now();
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
