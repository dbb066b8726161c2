// activity: the agent's activity, time in it, and one button per activity
// of the workspace (names come from TaskRouter, never hard-coded).

import { api } from '../lib/api.js';
import { clock } from '../lib/format.js';
import { ageAt, now } from '../lib/store.js';
import { log } from './log.js';
import { showToast } from '../lib/ui.js';

export async function setActivity(a, why) {
	try {
		await api('/api/worker/activity', { method: 'POST', body: { activitySid: a.sid } });
		log(`Activity set to ${a.friendlyName}${why ? ' (' + why + ')' : ''}.`);
	} catch (e) {
		log(`Could not set ${a.friendlyName}: ${e.message}`, 'bad');
		showToast(`Twilio refused: ${e.message}`, 'bad');
	}
}

export function Activity({ worker, activities, busy }) {
	const t = now.value;
	return (
		<section class="card activity" aria-labelledby="act-h">
			<h2 id="act-h">My activity</h2>
			<p class="current">
				<span class={'badge ' + (worker && worker.available ? 'ok' : '')} data-activity={worker ? worker.activityName : ''}>
					{worker ? worker.activityName : '—'}
				</span>{' '}
				<span class="muted">for <span data-testid="time-in-activity">{worker ? clock(ageAt(worker.timeInActivityS, worker.rxMs, t)) : '—'}</span></span>
			</p>
			<div class="buttons" role="group" aria-label="Change activity">
				{activities.map((a) => {
					const cur = worker && worker.activitySid === a.sid;
					return (
						<button key={a.sid} type="button" class={cur ? 'primary' : ''} aria-pressed={cur ? 'true' : 'false'} disabled={busy}
							onClick={() => !cur && setActivity(a)}>
							{a.friendlyName}
						</button>
					);
				})}
			</div>
		</section>
	);
}
