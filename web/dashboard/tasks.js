// tasks: the live task table (open tasks, oldest first) with the
// supervisor's actions: end the conference, complete, cancel, each confirmed.
//
// Only rows whose task changed render again (pure rows: the store keeps an
// unchanged task's record), and the ages tick in place (Age), so the
// one-second clock does not re-render the table. The order by age does not
// change with time (every age grows alike), so it is taken at any instant.
// Every open task is in the table, but only the rows in view are in the
// DOM (useRowWindow: aria-rowcount / aria-rowindex, spacer rows).

import { api } from '../lib/api.js';
import { num } from '../lib/format.js';
import { ageAt } from '../lib/store.js';
import { Age, Spacer, pure, useRowWindow } from '../lib/rows.js';
import { confirmAction } from '../lib/ui.js';

const STATUS_CLASS = { pending: 'warn', reserved: 'warn', assigned: 'ok', wrapping: '' };

function caller(t) {
	const a = t.attributes || {};
	return a.from || a.name || a.caller || '';
}

export function Tasks({ store, readOnly }) {
	const t = Date.now();
	const rows = [...store.tasks.value.values()]
		.filter((x) => x.status !== 'completed' && x.status !== 'canceled')
		.map((x) => ({ x, age: ageAt(x.ageS, x.rxMs, t) }))
		.sort((a, b) => (b.age ?? 0) - (a.age ?? 0));
	const cols = readOnly ? 8 : 9;
	const win = useRowWindow(rows.length);
	return (
		<section class="card" aria-labelledby="tasks-h">
			<h2 id="tasks-h">Tasks <span class="muted">({rows.length} open)</span></h2>
			<div class="scroll" tabIndex={0} role="region" aria-labelledby="tasks-h" ref={win.ref}>
				<table class="live tasks" aria-rowcount={rows.length ? rows.length + 1 : undefined}>
					<thead>
						<tr aria-rowindex={1}>
							<th scope="col">Caller</th>
							<th scope="col">Channel</th>
							<th scope="col">Queue</th>
							<th scope="col">Agent</th>
							<th scope="col" class="num">Priority</th>
							<th scope="col">Status</th>
							<th scope="col" class="num">Age</th>
							<th scope="col">Recording</th>
							{!readOnly ? <th scope="col">Actions</th> : null}
						</tr>
					</thead>
					<tbody>
						<Spacer px={win.top} cols={cols} />
						{rows.slice(win.first, win.last).map(({ x }, i) => <TaskRow key={x.sid} x={x} row={win.first + i + 2} readOnly={readOnly} />)}
						<Spacer px={win.bottom} cols={cols} />
						{!rows.length ? <tr><td colSpan={cols} class="muted">No open tasks.</td></tr> : null}
					</tbody>
				</table>
			</div>
		</section>
	);
}

const TaskRow = pure(function TaskRow({ x, row, readOnly }) {
	return (
		<tr data-task={x.sid} aria-rowindex={row}>
			<th scope="row">{caller(x) || <span class="muted">{x.sid.slice(0, 10)}…</span>}</th>
			<td>{x.channel || '—'}</td>
			<td>{x.queueName || '—'}</td>
			<td>{x.workerName || '—'}</td>
			<td class="num">{num(x.priority)}</td>
			<td><span class={'badge ' + (STATUS_CLASS[x.status] ?? '')}>{x.status}</span></td>
			<td class="num"><Age ageS={x.ageS} rxMs={x.rxMs} /></td>
			<td>{x.recordingUrl ? <a href={x.recordingUrl} rel="noopener noreferrer" target="_blank">Recording</a> : <span class="muted">—</span>}</td>
			{!readOnly ? <td class="actions"><TaskActions t={x} who={caller(x) || x.sid} /></td> : null}
		</tr>
	);
});

function TaskActions({ t, who }) {
	const out = [];
	if (t.conferenceSid && (t.status === 'assigned' || t.status === 'wrapping'))
		out.push(<button type="button" key="end" aria-label={`End call ${who}`} onClick={() => confirmAction(`End the call with ${who}?`, 'Every participant is disconnected.', 'End call', async () => {
			await api(`/api/conferences/${t.conferenceSid}/end`, { method: 'POST', body: {} });
			return `Call with ${who} ended.`;
		})}>End call</button>);
	if (t.status === 'assigned' || t.status === 'wrapping')
		out.push(<button type="button" key="complete" aria-label={`Complete task ${who}`} onClick={() => confirmAction(`Complete the task of ${who}?`, `Status now: ${t.status}.`, 'Complete', async () => {
			await api(`/api/tasks/${t.sid}/complete`, { method: 'POST', body: {} });
			return `Task of ${who} completed.`;
		})}>Complete</button>);
	out.push(<button type="button" key="cancel" class="danger" aria-label={`Cancel task ${who}`} onClick={() => confirmAction(`Cancel the task of ${who}?`, 'The caller leaves the queue; use this for stuck tasks.', 'Cancel task', async () => {
		await api(`/api/tasks/${t.sid}/cancel`, { method: 'POST', body: { reason: 'canceled by a supervisor from the dashboard' } });
		return `Task of ${who} canceled.`;
	})}>Cancel</button>);
	return out;
}
