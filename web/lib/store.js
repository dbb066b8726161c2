// store: one per page. Filled by the snapshot, patched by stream messages.
// Messages are queued and applied in an animation frame inside one signals
// batch, so a thousand messages cost one render; under steady traffic at
// most one such frame every MIN_GAP_MS (a render costs about the same
// whatever it shows, so this is what keeps the main thread mostly idle at
// 1,000 events/s), and a message after a quiet spell goes out in the next
// frame. A hidden tab gets no animation frames; a timer applies the queue
// there.
//
// Clocks that tick are derived at render time: each record keeps the time
// it was received (rxMs, this browser's clock) next to the server's age
// (ageS, timeInActivityS), and `now` ticks once a second.

import { batch, signal } from '@preact/signals';

export const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 1000);

export function ageAt(serverAgeS, rxMs, nowMs) {
	if (typeof serverAgeS !== 'number') return null;
	return serverAgeS + Math.max(0, (nowMs - rxMs) / 1000);
}

const EVENT_LOG = 100;
const MIN_GAP_MS = 100;

export function createStore() {
	const s = {
		stats: signal(null),
		statsRx: signal(0),
		workspace: signal(null),
		activities: signal([]),
		tasks: signal(new Map()),
		workers: signal(new Map()),
		queues: signal([]),
		events: signal([]), // newest first
		series: signal(null),
		lastSeq: 0,
		snapshots: 0, // snapshots applied (the first, and each resync that needed one)
		flushes: 0,
		applied: 0,
		onStats: null, // hook (charts)
		onEvent: null, // hook (notifications)
	};
	let queue = [];
	let scheduled = false;
	const seen = new Set(); // event Sids shown (bounded with the log)

	let lastFlush = -MIN_GAP_MS;

	function flush() {
		scheduled = false;
		lastFlush = performance.now();
		const q = queue;
		queue = [];
		if (!q.length) return;
		const rx = Date.now();
		batch(() => {
			let tasks = null;
			let workers = null;
			let events = null;
			const apply = (type, d) => {
				if (type === 'batch') {
					// one message of many: [type, id, data] items in order
					for (const it of d) apply(it[0], it[2]);
					return;
				}
				if (s.onApply) s.onApply(type, d); // measurement hook (benchmarks)
				switch (type) {
				case 'snapshot': {
					s.stats.value = d.stats || null;
					s.statsRx.value = rx;
					s.workspace.value = d.workspace || null;
					s.activities.value = d.activities || (d.workspace && d.workspace.activities) || [];
					s.queues.value = d.queues || [];
					s.series.value = d.series || null;
					tasks = new Map();
					for (const t of d.tasks || []) tasks.set(t.sid, { ...t, rxMs: rx });
					workers = new Map();
					for (const w of d.workers || []) workers.set(w.sid, { ...w, rxMs: rx });
					// The snapshot's events are the newest of trhubd's ring, in
					// order. When they do not join the ones shown (events were
					// missed, or trhubd restarted) the list starts again from them.
					const sev = d.events || [];
					const first = sev.length ? sev[0].seq : null;
					const newest = d.lastEventId ?? d.last_event_id;
					const joins = typeof first !== 'number' || (s.lastSeq > 0 && first <= s.lastSeq + 1 && newest >= s.lastSeq);
					if (!joins) {
						seen.clear();
						s.lastSeq = 0;
					}
					events = joins ? (events || s.events.value).slice() : [];
					for (const e of sev) addEvent(events, e);
					if (typeof newest === 'number') s.lastSeq = joins ? Math.max(s.lastSeq, newest) : newest;
					s.snapshots++;
					break;
				}
				case 'stats':
					s.stats.value = d;
					s.statsRx.value = rx;
					if (s.onStats) s.onStats(d, rx);
					break;
				// A record is the parsed item itself (the page's own copy) and
				// the latest of a flush wins: a task changed five times in
				// one flush is one new record, and the others keep theirs,
				// so the tables render only the rows that changed.
				case 'task':
					tasks = tasks || new Map(s.tasks.value);
					if (d.removed) tasks.delete(d.sid);
					else tasks.set(d.sid, stamp(d, rx));
					break;
				case 'reservation':
					if (d.task && d.task.sid) {
						tasks = tasks || new Map(s.tasks.value);
						tasks.set(d.task.sid, stamp(d.task, rx));
					}
					break;
				case 'worker':
					workers = workers || new Map(s.workers.value);
					if (d.removed) workers.delete(d.sid);
					else workers.set(d.sid, stamp(d, rx));
					break;
				case 'event':
					events = events || s.events.value.slice();
					addEvent(events, d);
					break;
				case 'workspace':
					s.workspace.value = d;
					if (d.activities) s.activities.value = d.activities;
					break;
				}
			};
			for (const [type, d] of q) apply(type, d);
			if (tasks) s.tasks.value = tasks;
			if (workers) s.workers.value = workers;
			if (events) s.events.value = events.slice(0, EVENT_LOG);
		});
		s.flushes++;
		s.applied += q.length;
		if (s.onFlush) s.onFlush(q.length);
	}

	function stamp(d, rx) {
		d.rxMs = rx;
		return d;
	}

	function addEvent(list, e) {
		const key = e.Sid || 'seq' + e.seq;
		if (seen.has(key)) return; // already shown (resync overlap)
		seen.add(key);
		if (seen.size > 4 * EVENT_LOG) {
			const keep = [...seen].slice(-2 * EVENT_LOG);
			seen.clear();
			for (const k of keep) seen.add(k);
		}
		if (typeof e.seq === 'number') s.lastSeq = Math.max(s.lastSeq, e.seq);
		list.unshift(e);
		if (s.onEvent) s.onEvent(e);
	}

	s.push = (type, data) => {
		queue.push([type, data]);
		if (scheduled) return;
		scheduled = true;
		const wait = lastFlush + MIN_GAP_MS - performance.now();
		if (document.hidden) setTimeout(flush, 250);
		else if (wait > 0) setTimeout(() => requestAnimationFrame(flush), wait);
		else requestAnimationFrame(flush);
	};
	s.flushNow = flush;
	return s;
}
