// tiles: the numbers a supervisor reads first. Every tile showing a
// /api/stats value carries data-stat="<key>"; no sample reads "—".

import { activityKey, clock, isNum, num, pct, secs } from '../lib/format.js';
import { now } from '../lib/store.js';
import { branding } from '../lib/session.js';

// The service-level target (%): branding.json's slTargetPct, else 80. Green
// at or above it, amber within 10 points below, red further below.
export function slTarget() {
	const t = branding.value.slTargetPct;
	return typeof t === 'number' && t > 0 && t <= 100 ? t : 80;
}

export function slClass(v, target = slTarget()) {
	if (!isNum(v)) return '';
	if (v >= target) return 'ok';
	if (v >= target - 10) return 'warn';
	return 'bad';
}
const SL_WORD = { ok: 'on target', warn: 'near target', bad: 'below target', '': 'no sample' };

// "100 %" -> 100 and a smaller unit, so that big numbers fit their tile.
function unitSplit(value) {
	const m = /^(.*\d)( %| s)$/.exec(value);
	return m ? [m[1], <span class="unit">{m[2]}</span>] : value;
}

function Tile({ label, stat, value, cls, note }) {
	return (
		<div class={'tile ' + (cls || '')} role="group" aria-label={label}>
			<div class="label">{label}</div>
			<div class="value" data-stat={stat}>{unitSplit(value)}</div>
			{note ? <div class="note">{note}</div> : null}
		</div>
	);
}

export function Tiles({ store }) {
	const st = store.stats.value;
	const ws = store.workspace.value;
	const workers = store.workers.value;
	if (!st) return <p class="muted">Waiting for the first statistics…</p>;
	const tasksOf = (k) => num(st[k]);
	// An agent "on a task" holds an accepted reservation (Available or not).
	let onTask = 0;
	let idle = 0;
	for (const w of workers.values()) {
		const busy = (w.reservations || []).some((r) => r.status === 'accepted');
		if (busy) onTask++;
		else if (w.available) idle++;
	}
	const activities = (store.activities.value.length ? store.activities.value : (ws && ws.activities) || []).map((a) => a.friendlyName);
	for (const name of Object.keys(st.workersByActivity || {})) if (!activities.includes(name)) activities.push(name);
	const elapsed = (now.value - store.statsRx.value) / 1000;
	const longest = isNum(st.longestWaitingAge) && st.longestWaitingAge > 0 ? st.longestWaitingAge + Math.max(0, elapsed) : st.longestWaitingAge;
	const sl = slClass(st.serviceLevel);
	return (
		<div class="tiles">
			<div class="tile-group" role="group" aria-label="Tasks">
				<h2>Tasks</h2>
				<Tile label="Pending" stat="pendingTasks" value={tasksOf('pendingTasks')} />
				<Tile label="Reserved" stat="reservedTasks" value={tasksOf('reservedTasks')} />
				<Tile label="Assigned" stat="assignedTasks" value={tasksOf('assignedTasks')} />
				<Tile label="Wrapping" stat="wrappingTasks" value={tasksOf('wrappingTasks')} />
				<Tile label="Completed today" stat="tasksCompleted" value={tasksOf('tasksCompleted')} />
				<Tile label="Canceled today" stat="abandoned" value={tasksOf('abandoned')} />
			</div>
			<div class="tile-group" role="group" aria-label="Agents">
				<h2>Agents</h2>
				{activities.map((name) => (
					<Tile key={name} label={name} stat={activityKey(name)} value={num(st[activityKey(name)] ?? (st.workersByActivity || {})[name])} />
				))}
				<Tile label="On a task" value={String(onTask)} note="accepted reservation" />
				<Tile label="Idle" value={String(idle)} note="available, no task" />
			</div>
			<div class="tile-group" role="group" aria-label="Service">
				<h2>Service today</h2>
				<Tile label="Service level" stat="serviceLevel" value={pct(st.serviceLevel)} cls={sl}
					note={`≤${num(st.slThresholdS)} s, target ${slTarget()} %: ${SL_WORD[sl]}` +
						(isNum(st.shortAbandonS) ? `; ${st.shortAbandoned} hang-ups < ${st.shortAbandonS} s not counted` : '')} />
				<Tile label="Avg speed of answer" stat="asa" value={secs(st.asa)} />
				<Tile label="Avg acceptance" stat="avgTaskAcceptanceTime" value={secs(st.avgTaskAcceptanceTime)} />
				<Tile label="Abandoned" stat="abandonmentRate" value={pct(st.abandonmentRate)} note={`${num(st.abandoned)} canceled of ${num(st.tasksCreated)}`} />
				<Tile label="Longest waiting" stat="longestWaitingAge" value={isNum(longest) && longest > 0 ? clock(longest) : isNum(longest) ? '0:00' : '—'} />
			</div>
		</div>
	);
}
