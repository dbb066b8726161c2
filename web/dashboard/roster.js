// roster: every agent, sortable and filterable, with the supervisor's
// "set activity" action (confirmed, result shown).
//
// A row renders again only when its worker, its current task or the
// activities changed (pure rows); the time in activity ticks in place
// (Age). Sorting by time in activity needs no clock: every agent's time
// grows alike, so the order taken at any instant holds. Only the rows in
// view are in the DOM (useRowWindow), after the filter and the sort.

import { signal } from '@preact/signals';
import { api } from '../lib/api.js';
import { num, secs } from '../lib/format.js';
import { ageAt } from '../lib/store.js';
import { Age, Spacer, pure, useRowWindow } from '../lib/rows.js';
import { confirmAction } from '../lib/ui.js';

const sortKey = signal('name');
const sortDir = signal(1);
const filter = signal('');


function SortHeader({ k, label, cls }) {
	const active = sortKey.value === k;
	return (
		<th scope="col" class={cls} aria-sort={active ? (sortDir.value > 0 ? 'ascending' : 'descending') : 'none'}>
			<button type="button" class="sort" onClick={() => {
				if (active) sortDir.value = -sortDir.value;
				else { sortKey.value = k; sortDir.value = 1; }
			}}>{label}{active ? (sortDir.value > 0 ? ' ▲' : ' ▼') : ''}</button>
		</th>
	);
}

export function Roster({ store, readOnly }) {
	const tasks = store.tasks.value;
	const acts = store.activities.value;
	const t = Date.now();
	const f = filter.value.trim().toLowerCase();
	let rows = [...store.workers.value.values()].map((w) => {
		const res = currentRes(w);
		const task = res ? tasks.get(res.taskSid) || null : null;
		return {
			w,
			name: w.friendlyName || w.sid,
			activity: w.activityName || '',
			inActivity: ageAt(w.timeInActivityS, w.rxMs, t),
			task,
			caller: taskCaller(task),
			handled: w.today ? w.today.handled : null,
			missed: w.today ? (w.today.rejected || 0) + (w.today.timedOut || 0) : null,
			aht: w.today ? w.today.avgHandleTimeS : null,
		};
	});
	if (f) rows = rows.filter((r) => (r.name + ' ' + r.activity + ' ' + r.caller).toLowerCase().includes(f));
	const k = sortKey.value;
	rows.sort((a, b) => {
		const x = a[k] ?? -1;
		const y = b[k] ?? -1;
		return (x < y ? -1 : x > y ? 1 : 0) * sortDir.value;
	});
	const cols = readOnly ? 7 : 8;
	const win = useRowWindow(rows.length);
	return (
		<section class="card" aria-labelledby="roster-h">
			<h2 id="roster-h">Agents</h2>
			{!readOnly ? (
				<p>
					<label for="roster-filter">Filter agents </label>
					<input id="roster-filter" type="search" value={filter.value} onInput={(e) => (filter.value = e.currentTarget.value)} placeholder="name, activity, caller" />
				</p>
			) : null}
			<div class="scroll" tabIndex={0} role="region" aria-labelledby="roster-h" ref={win.ref}>
				<table class="live roster" aria-rowcount={rows.length ? rows.length + 1 : undefined}>
					<thead>
						<tr aria-rowindex={1}>
							<SortHeader k="name" label="Agent" />
							<SortHeader k="activity" label="Activity" />
							<SortHeader k="inActivity" label="Time in activity" cls="num" />
							<th scope="col">Task / caller</th>
							<SortHeader k="handled" label="Handled" cls="num" />
							<SortHeader k="missed" label="Missed" cls="num" />
							<SortHeader k="aht" label="AHT" cls="num" />
							{!readOnly ? <th scope="col">Set activity</th> : null}
						</tr>
					</thead>
					<tbody>
						<Spacer px={win.top} cols={cols} />
						{rows.slice(win.first, win.last).map((r, i) => <WorkerRow key={r.w.sid} w={r.w} task={r.task} acts={acts} row={win.first + i + 2} readOnly={readOnly} />)}
						<Spacer px={win.bottom} cols={cols} />
						{!rows.length ? <tr><td colSpan={cols} class="muted">{f ? 'No agent matches.' : 'No agents.'}</td></tr> : null}
					</tbody>
				</table>
			</div>
		</section>
	);
}

function currentRes(w) {
	return (w.reservations || []).find((x) => x.status === 'accepted') || (w.reservations || [])[0] || null;
}

function taskCaller(task) {
	return task && task.attributes ? task.attributes.from || task.attributes.name || '' : '';
}

const WorkerRow = pure(function WorkerRow({ w, task, acts, row, readOnly }) {
	const name = w.friendlyName || w.sid;
	const activity = w.activityName || '';
	const res = currentRes(w);
	const caller = taskCaller(task);
	const today = w.today;
	return (
		<tr data-worker={name} aria-rowindex={row}>
			<th scope="row">{name}</th>
			<td><span class={'badge ' + (w.available ? 'ok' : '')}>{activity || '—'}</span></td>
			<td class="num"><Age ageS={w.timeInActivityS} rxMs={w.rxMs} /></td>
			<td>{res ? <span>{task ? task.queueName || '' : ''} {caller} <span class="muted">({res.status})</span></span> : <span class="muted">—</span>}</td>
			<td class="num">{num(today ? today.handled : null)}</td>
			<td class="num">{num(today ? (today.rejected || 0) + (today.timedOut || 0) : null)}</td>
			<td class="num">{secs(today ? today.avgHandleTimeS : null)}</td>
			{!readOnly ? (
				<td>
					<label class="sr-only" for={'act-' + w.sid}>Activity for {name}</label>
					<select id={'act-' + w.sid} value="" onChange={(e) => {
						const a = acts.find((x) => x.sid === e.currentTarget.value);
						e.currentTarget.value = '';
						if (!a) return;
						confirmAction(`Set ${name} to ${a.friendlyName}?`, `Now: ${activity}.`, 'Set activity', async () => {
							await api(`/api/workers/${w.sid}/activity`, { method: 'POST', body: { activitySid: a.sid } });
							return `${name} is now ${a.friendlyName}.`;
						});
					}}>
						<option value="">Set…</option>
						{acts.filter((a) => a.friendlyName !== activity).map((a) => <option key={a.sid} value={a.sid}>{a.friendlyName}</option>)}
					</select>
				</td>
			) : null}
		</tr>
	);
});
