// The live stream survives a network blip and a trhubd restart: the
// indicator says so, the page resyncs from a fresh snapshot, shows the same
// numbers as /api/stats afterwards, and its ticker holds no event twice.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, apiGet, launchBrowser, login, newPage, startRelay, startStack, waitFor } from './harness.mjs';

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
	const rows = await page.$$eval('tr[data-task]', (rs) => rs.map((r) => r.dataset.task));
	const open = (await apiGet(page, '/api/tasks')).filter((t) => t.status !== 'completed' && t.status !== 'canceled');
	return rows.length === Math.min(200, open.length);
}

async function noDuplicateEvents(page) {
	const keys = await page.evaluate(() => window.trhubStore.events.value.map((e) => e.Sid || 'seq' + e.seq));
	assert.equal(new Set(keys).size, keys.length, 'an event shown twice');
}

test('network blip: reconnecting, then live with the same numbers as /api/stats', async () => {
	const relay = await startRelay(stack.hub.port);
	const { page, context } = await newPage(chrome.browser);
	await login(page, relay.base, 'sup', USERS.sup);
	const live = page.locator('[data-connection="live"]');
	await live.waitFor();
	relay.cut(true);
	await page.locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
	// events keep happening while the page is away
	await stack.sim.createTask({ from: '+15550009999', type: 'inbound' });
	relay.cut(false);
	await live.waitFor({ timeout: 30000 });
	await waitFor('page equal to /api/stats after the blip', () => sameAsStats(page));
	await page.getByRole('row').filter({ hasText: '+15550009999' }).waitFor();
	await noDuplicateEvents(page);
	await context.close();
	relay.close();
});

test('trhubd restarts: the page reconnects (log in again: sessions live in memory) and matches /api/stats', async () => {
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup);
	await page.locator('[data-connection="live"]').waitFor();
	await stack.hub.stop();
	await page.locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
	await stack.hub.start();
	// trhubd forgot the session: the page asks for a login and comes back
	await page.waitForURL(/\/login\?next=/, { timeout: 40000 });
	await page.getByLabel('User name').fill('sup');
	await page.getByLabel('Password').fill(USERS.sup);
	await page.getByRole('button', { name: 'Log in' }).click();
	await page.locator('[data-connection="live"]').waitFor();
	await waitFor('page equal to /api/stats after the restart', () => sameAsStats(page));
	await noDuplicateEvents(page);
	await context.close();
});
