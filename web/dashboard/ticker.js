// ticker: the newest events, as they arrive.

import { timeOfDay } from '../lib/format.js';

export function Ticker({ store, max = 15 }) {
	const ev = store.events.value.slice(0, max);
	return (
		<section class="card ticker" aria-labelledby="ticker-h">
			<h2 id="ticker-h">Events</h2>
			<ol aria-live="polite" aria-relevant="additions">
				{ev.map((e) => (
					<li key={e.Sid || e.seq} data-event={e.EventType}>
						<time class="muted">{timeOfDay(Number(e.TimestampMs) || null)}</time> <strong>{e.EventType}</strong>{' '}
						<span>{e.WorkerName || e.TaskQueueName || ''} {e.EventDescription ? '· ' + e.EventDescription : ''}</span>
					</li>
				))}
				{!ev.length ? <li class="muted">No events yet.</li> : null}
			</ol>
		</section>
	);
}
