// boot: the dashboard's first script, a classic one at the top of <head>
// (no imports, a few hundred bytes). It opens the stream before the page's
// modules are even parsed, so the snapshot is on its way while they load and
// evaluate (the browser takes 40-200 ms to open an EventSource here, which
// otherwise came after that). What the source receives until main.js takes
// it over (lib/stream.js, connectStream's `early`) is kept in order.

(() => {
	const url = '/api/stream?batch=1';
	// lib/stream.js's TYPES: every event type trhubd sends on the stream
	const types = ['snapshot', 'batch', 'stats', 'event', 'task', 'worker', 'reservation', 'audit', 'workspace'];
	let es;
	try {
		es = new EventSource(url);
	} catch {
		return; // main.js opens its own
	}
	const messages = [];
	let failed = false;
	const keep = (e) => messages.push([e.type, e]);
	const fail = () => (failed = true);
	for (const t of types) es.addEventListener(t, keep);
	es.addEventListener('error', fail);
	window.trhubEarlyStream = {
		url,
		types,
		// Hands the source over with what it received; the caller adds its own
		// listeners in the same task, so nothing falls between the two.
		take() {
			for (const t of types) es.removeEventListener(t, keep);
			es.removeEventListener('error', fail);
			window.trhubEarlyStream = null;
			return { es, messages, failed };
		},
	};
})();
