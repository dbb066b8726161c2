// A supervisor watches the contact center: logs in, sees tiles, tables and
// charts that match /api/stats while the emulator generates traffic, sees a
// new task within a second, and the page passes axe-core. The wallboard
// shows the same numbers read-only. Screenshots: dashboard.png, wallboard.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, WALLBOARD_TOKEN, apiGet, axe, launchBrowser, login, newPage, screenshot, signedPost, startStack, waitFor } from './harness.mjs';

let stack, chrome;
before(async () => {
	// A 2 s service-level threshold, so that waiting callers cross it within the test.
	stack = await startStack({ simArgs: ['--agents', '4', '--calls-per-minute', '40', '--seed', '11'], env: { TRHUB_SLA_THRESHOLD_S: '2' } });
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	if (stack) await stack.stop();
	assert.deepEqual(stack.hub.errors(), []);
});

// What a tile shows for a /api/stats value: "—" for no sample, else the digits.
function expected(v) {
	if (v === null || v === undefined) return '—';
	return String(Number.isInteger(v) ? v : v.toFixed(1));
}
function shown(text) {
	return text.trim() === '—' ? '—' : text.replace(/[^\d.]/g, '');
}

async function tilesMatchStats(page) {
	const st = await apiGet(page, '/api/stats');
	const tiles = await page.$$eval('[data-stat]', (els) => els.filter((e) => e.closest('.tiles')).map((e) => [e.dataset.stat, e.textContent]));
	assert.ok(tiles.length >= 12, 'at least 12 tiles carry data-stat');
	const bad = [];
	for (const [key, text] of tiles) {
		if (key === 'longestWaitingAge') continue; // ticks live; checked below
		if (!(key in st)) bad.push(`${key}: not in /api/stats`);
		else if (shown(text) !== expected(st[key])) bad.push(`${key}: page ${text} vs ${st[key]}`);
	}
	if (bad.length) throw new Error(bad.join('; '));
	return st;
}

test('supervisor: tiles, tables and charts follow /api/stats; a new task shows within 1 s', async () => {
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup);
	await page.waitForURL(stack.hub.base + '/');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	// tiles = /api/stats at some instant while traffic flows
	const st = await waitFor('tiles equal to /api/stats', () => tilesMatchStats(page));
	// every activity of the workspace has a tile
	for (const name of Object.keys(st.workersByActivity)) {
		await page.locator(`.tiles [data-stat="activity${name.replace(/\s+/g, '')}Workers"]`).waitFor();
	}
	// per-queue table: one row per queue, waiting as in /api/stats
	await waitFor('queue table equal to /api/stats', async () => {
		const s = await apiGet(page, '/api/stats');
		const rows = await page.$$eval('tr[data-queue]', (rs) => rs.map((r) => [r.dataset.queue, r.querySelector('[data-stat="waiting"]').textContent]));
		return rows.length === s.queues.length && s.queues.every((q) => rows.some(([n, w]) => n === q.name && w === String(q.waiting)));
	});
	// task table: the open tasks of /api/tasks
	await waitFor('task table equal to /api/tasks', async () => {
		const tasks = (await apiGet(page, '/api/tasks')).filter((t) => t.status !== 'completed' && t.status !== 'canceled');
		const rows = await page.$$eval('tr[data-task]', (rs) => rs.map((r) => r.dataset.task));
		return rows.length === Math.min(200, tasks.length) && tasks.slice(0, 50).every((t) => rows.includes(t.sid));
	});
	// roster: every worker
	const workers = await apiGet(page, '/api/workers');
	await waitFor('roster rows', async () => (await page.locator('tr[data-worker]').count()) === workers.length);
	// charts drawn from the snapshot's series plus live stats
	await waitFor('two charts', async () => (await page.locator('.uplot canvas').count()) === 2);
	// a new task appears within a second of TaskRouter creating it
	const caller = '+1555' + String(Date.now()).slice(-7);
	const t0 = Date.now();
	const task = await stack.sim.createTask({ from: caller, type: 'inbound' });
	await page.locator(`tr[data-task="${task.sid}"]`).waitFor({ timeout: 1000 });
	const latency = Date.now() - t0;
	assert.ok(latency <= 1000, `new task shown after ${latency} ms`);
	await page.getByRole('row').filter({ hasText: caller }).waitFor({ timeout: 1000 });
	// threshold alerts: a queue whose longest wait passed its threshold is marked, and the tab says so
	await stack.sim.createTask({ from: '+15558880000', type: 'inbound', skill: 'nobody' });
	await page.locator('tr[data-queue].alert').getByText(/wait > 2 s/).waitFor({ timeout: 20000 });
	await waitFor('the alert in the tab title', async () => /^\(\d+ alerts?\) /.test(await page.title()));
	// ticker shows the event
	await page.locator('.ticker li[data-event="task.created"]').first().waitFor();
	// a recording callback for the task gives its row a recording link
	const rec = `https://api.twilio.com/2010-04-01/Accounts/${stack.sim.env.TWILIO_ACCOUNT_SID}/Recordings/RE${'5'.repeat(32)}`;
	assert.equal(await signedPost(stack, `/taskrouter_recording_callback?TaskSid=${task.sid}`,
		{ AccountSid: stack.sim.env.TWILIO_ACCOUNT_SID, RecordingSid: 'RE' + '5'.repeat(32), RecordingUrl: rec, RecordingStatus: 'completed' }), 204);
	assert.equal(await page.locator(`tr[data-task="${task.sid}"]`).getByRole('link', { name: 'Recording' }).getAttribute('href'), rec);
	// accessibility and CSP
	assert.deepEqual(await axe(page), []);
	assert.deepEqual(page.problems, []);
	// the screenshot with the simulated agents at work (they log in over a few seconds)
	await waitFor('agents on calls', async () => (await apiGet(page, '/api/stats')).assignedTasks >= 2, 30000).catch(() => {});
	await screenshot(page, 'dashboard');
	// the dark theme passes axe too (contrast)
	await page.emulateMedia({ colorScheme: 'dark' });
	assert.deepEqual(await axe(page), []);
	await screenshot(page, 'dashboard-dark');
	// no request ever carried the password in its URL
	assert.ok(page.requests.every((r) => !r.url.includes(USERS.sup)), 'password in a URL');
	await context.close();
});

test('wallboard: large, dark, read-only, same numbers, no login form on the TV once signed in', async () => {
	const { page, context } = await newPage(chrome.browser, { viewport: { width: 1920, height: 1080 } });
	// A TV gets its long-lived session once, from the wallboard token.
	const r = await page.request.post(stack.hub.base + '/login', { data: { wallboardToken: WALLBOARD_TOKEN }, headers: { Origin: stack.hub.base } });
	assert.equal(r.status(), 200);
	await page.goto(stack.hub.base + '/?wallboard=1');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	assert.ok(await page.evaluate(() => document.documentElement.classList.contains('wallboard')));
	await waitFor('wallboard tiles equal to /api/stats', () => tilesMatchStats(page));
	assert.equal(await page.getByRole('button', { name: /Cancel|Complete|End call|Log out/ }).count(), 0, 'no actions on a wallboard');
	assert.equal(await page.locator('form, input[type=password]').count(), 0);
	await waitFor('task rows', async () => (await page.locator('tr[data-task]').count()) > 0);
	await waitFor('agents on calls', async () => (await apiGet(page, '/api/stats')).assignedTasks >= 2, 30000).catch(() => {});
	assert.deepEqual(await axe(page), []);
	assert.deepEqual(page.problems, []);
	await screenshot(page, 'wallboard');
	await context.close();
});

test('supervisor actions: set an agent activity and cancel a stuck task, each confirmed', async () => {
	const bob = await stack.sim.createWorker('bob', ['billing']);
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup);
	await page.locator('[data-connection="live"]').waitFor();
	const row = page.locator('tr[data-worker="bob"]');
	await row.waitFor();
	await row.getByLabel('Activity for bob').selectOption({ label: 'Unavailable' });
	const dialog = page.getByRole('dialog', { name: 'Set bob to Unavailable?' });
	await dialog.waitFor();
	assert.deepEqual(await axe(page), []);
	await dialog.getByRole('button', { name: 'Set activity' }).click();
	await page.getByRole('status').filter({ hasText: 'bob is now Unavailable' }).waitFor();
	await waitFor('bob Unavailable in TaskRouter', async () => (await stack.sim.worker(bob.sid)).activity_name === 'Unavailable');
	await row.getByText('Unavailable', { exact: true }).first().waitFor();
	// a task nobody can take: the supervisor cancels it
	const stuck = await stack.sim.createTask({ from: '+15557770000', type: 'inbound', skill: 'nobody' });
	const trow = page.locator(`tr[data-task="${stuck.sid}"]`);
	await trow.waitFor();
	await trow.getByRole('button', { name: /Cancel task/ }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
	await waitFor('task canceled in TaskRouter', async () => (await stack.sim.task(stuck.sid)).assignment_status === 'canceled');
	await trow.waitFor({ state: 'detached' });
	// a refused action says why
	const gone = await stack.sim.createTask({ from: '+15557770001', type: 'inbound', skill: 'nobody' });
	const grow = page.locator(`tr[data-task="${gone.sid}"]`);
	await grow.waitFor();
	await grow.getByRole('button', { name: /Cancel task/ }).click();
	await stack.sim.rest('POST', `${stack.sim.ws}/Tasks/${gone.sid}`, { AssignmentStatus: 'canceled' }).catch(() => {});
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
	await page.getByRole('status').filter({ hasText: /Refused|Done|canceled/ }).waitFor();
	assert.deepEqual(page.problems, []);
	await context.close();
});
