// ticker: the newest events, as they arrive. An event's row is made once
// (pure: the event object never changes), so a render adds the new rows
// and drops the old ones without touching the others.

import { timeOfDay } from '../lib/format.js';
import { pure } from '../lib/rows.js';

const EventRow = pure(function EventRow({ e }) {
	return (
		<li data-event={e.EventType}>
			<time class="muted">{timeOfDay(Number(e.TimestampMs) || null)}</time> <strong>{e.EventType}</strong>{' '}
			<span>{e.WorkerName || e.TaskQueueName || ''} {e.EventDescription ? '· ' + e.EventDescription : ''}</span>
		</li>
	);
});

export function Ticker({ store, max = 15 }) {
	const ev = store.events.value.slice(0, max);
	return (
		<section class="card ticker" aria-labelledby="ticker-h">
			<h2 id="ticker-h">Events</h2>
			<ol aria-live="polite" aria-relevant="additions">
				{ev.map((e) => <EventRow key={e.Sid || e.seq} e={e} />)}
				{!ev.length ? <li class="muted">No events yet.</li> : null}
			</ol>
		</section>
	);
}
