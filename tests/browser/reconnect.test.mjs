// The live stream survives a network blip and a trhubd restart, with events
// flowing meanwhile: the indicator says so, the page catches up (the batches
// it missed replayed, or a fresh snapshot), shows the same numbers as
// /api/stats afterwards, and its event list is trhubd's: no event twice, none
// missing (the sequence numbers run without a hole, and the newest match the
// ring trhubd sends a new client).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, apiGet, launchBrowser, login, newPage, startRelay, scrollToRow, startStack, tableRows, waitFor } from './harness.mjs';

let stack, chrome;
before(async () => {
	stack = await startStack({ simArgs: ['--agents', '3', '--calls-per-minute', '60', '--seed', '3'] });
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	if (stack) await stack.stop();
});

const KEYS = ['pendingTasks', 'reservedTasks', 'assignedTasks', 'wrappingTasks', 'tasksCompleted', 'abandoned', 'totalTasks'];

async function sameAsStats(page) {
	const st = await apiGet(page, '/api/stats');
	for (const k of KEYS) {
		const el = page.locator(`.tiles [data-stat="${k}"]`);
		if (!(await el.count())) continue;
		if ((await el.textContent()).trim() !== String(st[k])) return false;
	}
	const { rows, count } = await tableRows(page, 'data-task');
	const open = (await apiGet(page, '/api/tasks')).filter((t) => t.status !== 'completed' && t.status !== 'canceled');
	return count === open.length && rows.length === open.length && open.every((t) => rows.includes(t.sid));
}

// The page's events against trhubd's ring: no Sid twice, sequence numbers
// without a hole, and the newest (up to 50) the very ones a new client's
// snapshot lists. Traffic goes on, so the caller retries until both agree.
async function sameEventsAsTrhubd(page) {
	const r = await page.evaluate(() => new Promise((resolve) => {
		const es = new EventSource('/api/stream');
		es.addEventListener('snapshot', (e) => {
			es.close();
			const d = JSON.parse(e.data);
			const mine = window.trhubStore.events.value.map((x) => [x.seq, x.Sid]);
			resolve({ server: d.events.map((x) => [x.seq, x.Sid]), mine });
		});
		es.onerror = () => { es.close(); resolve(null); };
	}));
	if (!r) return false;
	const sids = r.mine.map((x) => x[1]);
	assert.equal(new Set(sids).size, sids.length, 'an event shown twice');
	const seqs = r.mine.map((x) => x[0]).sort((a, b) => a - b);
	for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `event ${seqs[i - 1] + 1} missing from the page`);
	if (!r.server.length || !seqs.length) return false;
	const bySeq = new Map(r.mine);
	const newest = r.server.slice(-Math.min(r.server.length, r.mine.length));
	return seqs[seqs.length - 1] === r.server[r.server.length - 1][0] && newest.every(([q, s]) => bySeq.get(q) === s);
}

async function burst(n) {
	for (let i = 0; i < n; i++) await stack.sim.createTask({ from: '+1555000' + String(9000 + i), type: 'inbound' });
}

test('network blip mid-traffic: the missed batches are replayed, no event missing or twice, same numbers as /api/stats', async () => {
	const relay = await startRelay(stack.hub.port);
	// A second dashboard, not behind the relay, keeps trhubd's batches going
	// (with no batched client, trhubd keeps none and a returning page gets a snapshot).
	const other = await newPage(chrome.browser);
	await login(other.page, stack.hub.base, 'sup', USERS.sup);
	await other.page.locator('[data-connection="live"]').waitFor();
	const { page, context } = await newPage(chrome.browser);
	await login(page, relay.base, 'sup', USERS.sup);
	const live = page.locator('[data-connection="live"]');
	await live.waitFor();
	try {
		await burst(3);
		await waitFor('events on the page before the blip', async () => (await page.evaluate(() => window.trhubStore.events.value.length)) > 0);
		relay.cut(true);
		await page.locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
		await burst(5); // events while the page is away
		relay.cut(false);
		await live.waitFor({ timeout: 30000 });
		await scrollToRow(page, 'tr[data-task]', 15000, '+15550009004');
		await waitFor('page equal to /api/stats after the blip', () => sameAsStats(page));
		await waitFor('the page\'s events equal to trhubd\'s after the blip', () => sameEventsAsTrhubd(page));
		assert.equal(await page.evaluate(() => window.trhubStore.snapshots), 1, 'resumed from the kept batches, not from a new snapshot');
	} finally {
		await context.close();
		await other.context.close();
		relay.close();
	}
});

test('network blip with no other dashboard: trhubd kept no batch, the page resyncs from a fresh snapshot, no event missing or twice', async () => {
	const relay = await startRelay(stack.hub.port);
	const { page, context } = await newPage(chrome.browser);
	await login(page, relay.base, 'sup', USERS.sup);
	const live = page.locator('[data-connection="live"]');
	await live.waitFor();
	try {
		await burst(2);
		await waitFor('events on the page before the blip', async () => (await page.evaluate(() => window.trhubStore.events.value.length)) > 0);
		relay.cut(true);
		await page.locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
		// trhubd saw the page go: no stream client left
		await waitFor('trhubd to notice the cut', async () => /^trhubd_sse_clients 0$/m.test(await (await fetch(stack.hub.base + '/metrics')).text()));
		await burst(60); // more events than a snapshot lists: the page's list starts again
		relay.cut(false);
		await live.waitFor({ timeout: 30000 });
		await waitFor('the fresh snapshot', async () => (await page.evaluate(() => window.trhubStore.snapshots)) === 2);
		await scrollToRow(page, 'tr[data-task]', 15000, '+15550009059');
		await waitFor('page equal to /api/stats after the blip', () => sameAsStats(page));
		await waitFor('the page\'s events equal to trhubd\'s after the blip', () => sameEventsAsTrhubd(page));
	} finally {
		await context.close();
		relay.close();
	}
});

test('trhubd restarts mid-traffic: the page reconnects (log in again: sessions live in memory), resyncs from a snapshot and matches /api/stats and the ring', async () => {
	const { page, context } = await newPage(chrome.browser);
	try {
		await login(page, stack.hub.base, 'sup', USERS.sup);
		await page.locator('[data-connection="live"]').waitFor();
		await burst(2);
		await stack.hub.stop();
		await page.locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
		await burst(3);
		await stack.hub.start();
		// trhubd forgot the session: the page asks for a login and comes back
		await page.waitForURL(/\/login\?next=/, { timeout: 40000 });
		await page.getByLabel('User name').fill('sup');
		await page.getByLabel('Password').fill(USERS.sup);
		await page.getByRole('button', { name: 'Log in' }).click();
		await page.locator('[data-connection="live"]').waitFor();
		await burst(2);
		await waitFor('page equal to /api/stats after the restart', () => sameAsStats(page));
		await waitFor('the page\'s events equal to trhubd\'s after the restart', () => sameEventsAsTrhubd(page));
	} finally {
		await context.close();
	}
});
