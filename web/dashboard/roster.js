// roster: every agent, sortable and filterable, with the supervisor's
// "set activity" action (confirmed, result shown).

import { signal } from '@preact/signals';
import { api } from '../lib/api.js';
import { clock, num, secs } from '../lib/format.js';
import { ageAt, now } from '../lib/store.js';
import { confirmAction } from '../lib/ui.js';

const sortKey = signal('name');
const sortDir = signal(1);
const filter = signal('');

function currentTask(w, tasks) {
	const r = (w.reservations || []).find((x) => x.status === 'accepted') || (w.reservations || [])[0];
	if (!r) return null;
	return { res: r, task: tasks.get(r.taskSid) };
}

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
	const t = now.value;
	const f = filter.value.trim().toLowerCase();
	let rows = [...store.workers.value.values()].map((w) => {
		const cur = currentTask(w, tasks);
		return {
			w,
			name: w.friendlyName || w.sid,
			activity: w.activityName || '',
			inActivity: ageAt(w.timeInActivityS, w.rxMs, t),
			cur,
			caller: cur && cur.task && cur.task.attributes ? cur.task.attributes.from || cur.task.attributes.name || '' : '',
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
	return (
		<section class="card" aria-labelledby="roster-h">
			<h2 id="roster-h">Agents</h2>
			{!readOnly ? (
				<p>
					<label for="roster-filter">Filter agents </label>
					<input id="roster-filter" type="search" value={filter.value} onInput={(e) => (filter.value = e.currentTarget.value)} placeholder="name, activity, caller" />
				</p>
			) : null}
			<div class="scroll" tabIndex={0} role="region" aria-labelledby="roster-h">
				<table>
					<thead>
						<tr>
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
						{rows.map((r) => (
							<tr key={r.w.sid} data-worker={r.name}>
								<th scope="row">{r.name}</th>
								<td><span class={'badge ' + (r.w.available ? 'ok' : '')}>{r.activity || '—'}</span></td>
								<td class="num">{clock(r.inActivity)}</td>
								<td>{r.cur ? <span>{r.cur.task ? r.cur.task.queueName || '' : ''} {r.caller} <span class="muted">({r.cur.res.status})</span></span> : <span class="muted">—</span>}</td>
								<td class="num">{num(r.handled)}</td>
								<td class="num">{num(r.missed)}</td>
								<td class="num">{secs(r.aht)}</td>
								{!readOnly ? (
									<td>
										<label class="sr-only" for={'act-' + r.w.sid}>Activity for {r.name}</label>
										<select id={'act-' + r.w.sid} value="" onChange={(e) => {
											const a = acts.find((x) => x.sid === e.currentTarget.value);
											e.currentTarget.value = '';
											if (!a) return;
											confirmAction(`Set ${r.name} to ${a.friendlyName}?`, `Now: ${r.activity}.`, 'Set activity', async () => {
												await api(`/api/workers/${r.w.sid}/activity`, { method: 'POST', body: { activitySid: a.sid } });
												return `${r.name} is now ${a.friendlyName}.`;
											});
										}}>
											<option value="">Set…</option>
											{acts.filter((a) => a.friendlyName !== r.activity).map((a) => <option key={a.sid} value={a.sid}>{a.friendlyName}</option>)}
										</select>
									</td>
								) : null}
							</tr>
						))}
						{!rows.length ? <tr><td colSpan={8} class="muted">{f ? 'No agent matches.' : 'No agents.'}</td></tr> : null}
					</tbody>
				</table>
			</div>
		</section>
	);
}
