// tasks: the live task table (open tasks, oldest first) with the
// supervisor's actions: end the conference, complete, cancel, each confirmed.

import { api } from '../lib/api.js';
import { clock, num } from '../lib/format.js';
import { ageAt, now } from '../lib/store.js';
import { confirmAction } from '../lib/ui.js';

const STATUS_CLASS = { pending: 'warn', reserved: 'warn', assigned: 'ok', wrapping: '' };

function caller(t) {
	const a = t.attributes || {};
	return a.from || a.name || a.caller || '';
}

export function Tasks({ store, readOnly }) {
	const t = now.value;
	const rows = [...store.tasks.value.values()]
		.filter((x) => x.status !== 'completed' && x.status !== 'canceled')
		.map((x) => ({ x, age: ageAt(x.ageS, x.rxMs, t) }))
		.sort((a, b) => (b.age ?? 0) - (a.age ?? 0));
	const shown = rows.slice(0, 200);
	return (
		<section class="card" aria-labelledby="tasks-h">
			<h2 id="tasks-h">Tasks <span class="muted">({rows.length} open{rows.length > shown.length ? `, oldest ${shown.length} shown` : ''})</span></h2>
			<div class="scroll" tabIndex={0} role="region" aria-labelledby="tasks-h">
				<table>
					<thead>
						<tr>
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
						{shown.map(({ x, age }) => (
							<tr key={x.sid} data-task={x.sid}>
								<th scope="row">{caller(x) || <span class="muted">{x.sid.slice(0, 10)}…</span>}</th>
								<td>{x.channel || '—'}</td>
								<td>{x.queueName || '—'}</td>
								<td>{x.workerName || '—'}</td>
								<td class="num">{num(x.priority)}</td>
								<td><span class={'badge ' + (STATUS_CLASS[x.status] ?? '')}>{x.status}</span></td>
								<td class="num">{clock(age)}</td>
								<td>{x.recordingUrl ? <a href={x.recordingUrl} rel="noopener noreferrer" target="_blank">Recording</a> : <span class="muted">—</span>}</td>
								{!readOnly ? <td class="actions"><TaskActions t={x} who={caller(x) || x.sid} /></td> : null}
							</tr>
						))}
						{!rows.length ? <tr><td colSpan={9} class="muted">No open tasks.</td></tr> : null}
					</tbody>
				</table>
			</div>
		</section>
	);
}

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
