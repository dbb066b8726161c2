// ui: the pieces every page shows: the header (brand, live-connection
// indicator, who is logged in, theme, logout), a result toast, and the
// confirmation dialog every state-changing action goes through.

import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { connection } from './stream.js';
import { branding, logout, me, toggleTheme } from './session.js';

const CONN_TEXT = { connecting: 'Connecting', live: 'Live', reconnecting: 'Reconnecting', offline: 'Offline' };

export function Connection() {
	const c = connection.value;
	return (
		<span class={'conn ' + c} role="status" aria-live="polite" data-connection={c}>
			{CONN_TEXT[c]}
		</span>
	);
}

export function Header({ title, readOnly, children }) {
	const b = branding.value;
	const m = me.value;
	return (
		<header class="top">
			<h1>
				{b.logo ? <img class="logo" src={'/custom/' + b.logo} alt="" /> : null}
				<span>{b.title || 'trhub'}</span>{' '}
				<span class="muted">· {title}</span>
			</h1>
			{children}
			<Connection />
			{m && !readOnly ? <span class="who">{m.workerName || m.identity} ({m.role})</span> : null}
			{!readOnly ? <button type="button" onClick={toggleTheme} aria-label="Switch light or dark theme">◐</button> : null}
			{m && !m.local && !readOnly ? <button type="button" onClick={logout}>Log out</button> : null}
		</header>
	);
}

// --- result toast ---
export const toast = signal(null);
let toastTimer = null;
export function showToast(text, kind = 'ok') {
	toast.value = { text, kind };
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => (toast.value = null), 6000);
}
export function Toast() {
	const t = toast.value;
	return (
		<div role="status" aria-live="polite" class="toast-region">
			{t ? <div class={'toast ' + t.kind}>{t.text}</div> : null}
		</div>
	);
}

// --- confirmation ---
export const pending = signal(null); // { question, detail, confirm, run }
export function confirmAction(question, detail, confirm, run) {
	pending.value = { question, detail, confirm, run };
}
export function ConfirmDialog() {
	const ref = useRef(null);
	const p = pending.value;
	useEffect(() => {
		const d = ref.current;
		if (!d) return;
		if (p && !d.open) d.showModal();
		if (!p && d.open) d.close();
	}, [p]);
	const close = () => (pending.value = null);
	const go = async () => {
		const run = p.run;
		close();
		try {
			const msg = await run();
			showToast(msg || 'Done', 'ok');
		} catch (e) {
			showToast('Refused: ' + (e.message || e), 'bad');
		}
	};
	return (
		<dialog ref={ref} onClose={close} aria-labelledby="confirm-q">
			{p ? (
				<div>
					<h2 id="confirm-q">{p.question}</h2>
					{p.detail ? <p>{p.detail}</p> : null}
					<div class="actions">
						<button type="button" onClick={close}>Cancel</button>
						<button type="button" class="primary" onClick={go}>{p.confirm}</button>
					</div>
				</div>
			) : null}
		</dialog>
	);
}
