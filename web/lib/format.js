// format: how numbers read on the pages. A value that has no sample (null,
// undefined) reads "—", never 0. Durations read m:ss / h:mm:ss.

export const NONE = '—';

export function isNum(v) {
	return typeof v === 'number' && Number.isFinite(v);
}

export function num(v) {
	return isNum(v) ? String(v) : NONE;
}

// Seconds with the precision they have: whole seconds stay whole.
export function secs(v) {
	if (!isNum(v)) return NONE;
	return (Number.isInteger(v) ? String(v) : v.toFixed(1)) + ' s';
}

export function pct(v) {
	if (!isNum(v)) return NONE;
	return (Number.isInteger(v) ? String(v) : v.toFixed(1)) + ' %';
}

export function clock(s) {
	if (!isNum(s)) return NONE;
	s = Math.max(0, Math.floor(s));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const ss = String(s % 60).padStart(2, '0');
	return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// One formatter for the page's life: toLocaleTimeString with options builds
// a new one per call (~0.3 ms each, the largest JavaScript cost of the
// ticker at 1,000 events/s).
let hms = null;
export function timeOfDay(ms) {
	if (!isNum(ms)) return NONE;
	hms = hms || new Intl.DateTimeFormat([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
	return hms.format(ms);
}

// "activity<Name>Workers": the stats key trhubd writes for an activity.
export function activityKey(name) {
	return 'activity' + String(name).replace(/\s+/g, '') + 'Workers';
}
