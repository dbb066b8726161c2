// reservation: an offered task (Accept / Reject with a countdown to the
// reservation timeout) and the task in hand (End conference, Complete).
// Accept and Reject answer to the keys A and R as well.

import { useEffect } from 'preact/hooks';
import { api } from '../lib/api.js';
import { clock } from '../lib/format.js';
import { ageAt, now } from '../lib/store.js';
import { showToast } from '../lib/ui.js';
import { log } from './log.js';

export const DEFAULT_TIMEOUT_S = 120;

// When this page first saw an offer: kept across reloads for the countdown.
function offeredAt(sid) {
	const k = 'trhub.offered.' + sid;
	let v = Number(sessionStorage.getItem(k));
	if (!v) {
		v = Date.now();
		sessionStorage.setItem(k, String(v));
	}
	return v;
}

function callerOf(task) {
	const a = (task && task.attributes) || {};
	return a.from || a.name || a.caller || 'unknown caller';
}

async function act(label, path, body) {
	try {
		await api(path, { method: 'POST', body: body || {} });
		log(label + '.');
		return true;
	} catch (e) {
		log(`${label} refused: ${e.message}`, 'bad');
		showToast(`Twilio refused: ${e.message}`, 'bad');
		return false;
	}
}

export function Offer({ res, task, timeoutS }) {
	const t = now.value;
	const since = offeredAt(res.sid);
	// The workflow's reservation timeout comes with the task (reservationTimeoutS).
	const limit = (task && task.reservationTimeoutS) || timeoutS || DEFAULT_TIMEOUT_S;
	const left = Math.max(0, limit - (t - since) / 1000);
	const who = callerOf(task);
	const accept = () => act(`Accepted ${who}`, `/api/reservations/${res.sid}/accept`);
	const reject = () => act(`Rejected ${who}`, `/api/reservations/${res.sid}/reject`);
	useEffect(() => {
		const onKey = (e) => {
			if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
			if (e.ctrlKey || e.metaKey || e.altKey) return;
			if (e.key === 'a' || e.key === 'A') { e.preventDefault(); accept(); }
			if (e.key === 'r' || e.key === 'R') { e.preventDefault(); reject(); }
		};
		addEventListener('keydown', onKey);
		return () => removeEventListener('keydown', onKey);
	}, [res.sid]);
	const attrs = Object.entries((task && task.attributes) || {});
	return (
		<section class="card offer" aria-labelledby="offer-h">
			<h2 id="offer-h">Incoming: {who}</h2>
			<p>
				Queue <strong>{(task && task.queueName) || '—'}</strong> · priority {task ? task.priority : '—'} ·{' '}
				<span class={left < 15 ? 'badge bad' : 'badge warn'} role="timer" aria-label={`${Math.ceil(left)} seconds left to answer`}>
					{clock(left)} left
				</span>
			</p>
			<div class="buttons">
				<button type="button" class="primary big" onClick={accept} aria-keyshortcuts="A">Accept <kbd>A</kbd></button>
				<button type="button" class="danger big" onClick={reject} aria-keyshortcuts="R">Reject <kbd>R</kbd></button>
			</div>
			{attrs.length ? (
				<table class="attrs">
					<caption class="sr-only">Task attributes</caption>
					<tbody>
						{attrs.map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>)}
					</tbody>
				</table>
			) : null}
		</section>
	);
}

export function InHand({ res, task, afterWork }) {
	const t = now.value;
	const who = callerOf(task);
	const status = task ? task.status : res.status;
	const done = async () => {
		if (await act(`Completed ${who}`, `/api/tasks/${task.sid}/complete`) && afterWork) await afterWork();
	};
	return (
		<section class="card inhand" aria-labelledby="inhand-h">
			<h2 id="inhand-h">On a task: {who}</h2>
			<p>
				Queue <strong>{(task && task.queueName) || '—'}</strong> · <span class="badge ok" data-task-status={status}>{status}</span> ·{' '}
				{clock(task ? ageAt(task.ageS, task.rxMs, t) : null)}
			</p>
			<div class="buttons">
				{task && task.conferenceSid && status === 'assigned' ? (
					<button type="button" class="danger" onClick={() => act(`Ended the call with ${who}`, `/api/conferences/${task.conferenceSid}/end`)}>End conference</button>
				) : null}
				{task && (status === 'wrapping' || status === 'assigned') ? (
					<button type="button" class="primary" onClick={done}>Complete</button>
				) : null}
			</div>
		</section>
	);
}
