// log: what happened on this page, newest first; kept in sessionStorage so a
// reload does not lose it.

import { signal } from '@preact/signals';
import { timeOfDay } from '../lib/format.js';

const KEY = 'trhub.worker.log';
const MAX = 100;

function load() {
	try {
		const v = JSON.parse(sessionStorage.getItem(KEY) || '[]');
		return Array.isArray(v) ? v : [];
	} catch {
		return [];
	}
}

export const entries = signal(load());

export function log(text, kind = '') {
	const next = [{ t: Date.now(), text, kind }, ...entries.value].slice(0, MAX);
	entries.value = next;
	try {
		sessionStorage.setItem(KEY, JSON.stringify(next));
	} catch {
		// storage full or disabled: the panel still shows it
	}
}

export function LogPanel() {
	return (
		<section class="card log" aria-labelledby="log-h">
			<h2 id="log-h">Log</h2>
			<ol aria-live="polite">
				{entries.value.map((e, i) => (
					<li key={e.t + ':' + i} class={e.kind}>
						<time class="muted">{timeOfDay(e.t)}</time> {e.kind === 'bad' ? '⚠ ' : ''}{e.text}
					</li>
				))}
				{!entries.value.length ? <li class="muted">Nothing yet.</li> : null}
			</ol>
		</section>
	);
}
