// queues: one row per queue; a queue whose longest wait passes its
// threshold or whose service level is below target is flagged (text and
// colour), and alertCount() feeds the tab title.

import { clock, isNum, num, pct, secs } from '../lib/format.js';
import { slClass, slTarget } from './tiles.js';

export function queueAlerts(q) {
	const out = [];
	if (isNum(q.longestWaiting) && isNum(q.slThreshold) && q.longestWaiting > q.slThreshold) out.push('wait > ' + q.slThreshold + ' s');
	if (isNum(q.serviceLevel) && q.serviceLevel < slTarget()) out.push('SL < ' + slTarget() + ' %');
	return out;
}

// The queue's short-abandon rule (its own short_abandon_s.<queue>); when the
// workspace tile shows a rule this queue does not apply, the row says so.
function shortRule(q, st) {
	if (isNum(q.shortAbandonS)) return `, hang-ups < ${q.shortAbandonS} s not counted`;
	return isNum(st.shortAbandonS) ? ', every hang-up counted' : '';
}

export function alertCount(stats) {
	return ((stats && stats.queues) || []).filter((q) => queueAlerts(q).length).length;
}

export function Queues({ store }) {
	const st = store.stats.value;
	const queues = (st && st.queues) || [];
	return (
		<section class="card" aria-labelledby="queues-h">
			<h2 id="queues-h">Queues</h2>
			<div class="qwrap"><table>
				<thead>
					<tr>
						<th scope="col">Queue</th>
						<th scope="col" class="num">Waiting</th>
						<th scope="col" class="num">Longest</th>
						<th scope="col" class="num">SL %</th>
						<th scope="col" class="num">ASA</th>
						<th scope="col" class="num"><abbr title="available / eligible agents">Agents</abbr></th>
					</tr>
				</thead>
				<tbody>
					{queues.map((q) => {
						const alerts = queueAlerts(q);
						return (
							<tr key={q.sid} class={alerts.length ? 'alert' : ''} data-queue={q.name}>
								<th scope="row">
									{q.name || q.sid}<span class="muted sub">SL within {num(q.slThreshold)} s{shortRule(q, st)}</span>
									{alerts.length ? <div class="badge bad alert-note">⚠ {alerts.join(', ')}</div> : null}
								</th>
								<td class="num" data-stat="waiting">{num(q.waiting)}</td>
								<td class="num" data-stat="longestWaiting">{isNum(q.longestWaiting) ? clock(q.longestWaiting) : '—'}</td>
								<td class="num" data-stat="serviceLevel"><span class={'badge ' + slClass(q.serviceLevel)}>{pct(q.serviceLevel)}</span></td>
								<td class="num" data-stat="asa">{secs(q.asa)}</td>
								<td class="num">{num(q.availableWorkers)} / {num(q.eligibleWorkers)}</td>
							</tr>
						);
					})}
					{!queues.length ? <tr><td colSpan={6} class="muted">No queue statistics yet.</td></tr> : null}
				</tbody>
			</table></div>
		</section>
	);
}
