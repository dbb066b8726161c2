// A supervisor watches the contact center: logs in, sees tiles, tables and
// charts that match /api/stats while the emulator generates traffic, sees a
// new task within a second, and the page passes axe-core. The wallboard
// shows the same numbers read-only. Screenshots: dashboard.png, wallboard.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, WALLBOARD_TOKEN, apiGet, axe, launchBrowser, login, newPage, findRow, screenshot, scrollToRow, signedPost, tableRows, startStack, waitFor } from './harness.mjs';

let stack, chrome;
before(async () => {
	// A 2 s service-level threshold, so that waiting callers cross it within the test;
	// short abandons: 5 s for the workspace, the support queue its own 3 s, and none in
	// the escalation queue a test creates later (an override by name waits for its queue).
	stack = await startStack({
		simArgs: ['--agents', '4', '--calls-per-minute', '40', '--seed', '11'],
		env: { TRHUB_SLA_THRESHOLD_S: '2', TRHUB_SHORT_ABANDON_S: '5' },
		config: 'short_abandon_s.support = 3\nshort_abandon_s.escalation = 0\n',
	});
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
	// the short-abandon rule beside each service level: the workspace's on its tile, the
	// queue's own in its row, as /api/stats applied them
	assert.equal(st.shortAbandonS, 5);
	const slTile = page.locator('.tiles [role="group"][aria-label="Service level"]');
	await slTile.getByText(/\d+ hang-ups < 5 s not counted/).waitFor();
	const sq = (await apiGet(page, '/api/stats')).queues.find((q) => q.name === 'support');
	assert.equal(sq.shortAbandonS, 3);
	await page.locator('tr[data-queue="support"] th').getByText('SL within 2 s, hang-ups < 3 s not counted').waitFor();
	// task table: the open tasks of /api/tasks
	await waitFor('task table equal to /api/tasks', async () => {
		const tasks = (await apiGet(page, '/api/tasks')).filter((t) => t.status !== 'completed' && t.status !== 'canceled');
		const { rows, count } = await tableRows(page, 'data-task');
		return count === tasks.length && rows.length === tasks.length && tasks.every((t) => rows.includes(t.sid));
	});
	// roster: every worker
	const workers = await apiGet(page, '/api/workers');
	await waitFor('roster rows', async () => {
		const { rows, count } = await tableRows(page, 'data-worker');
		return count === workers.length && rows.length === workers.length && workers.every((w) => rows.includes(w.friendlyName));
	});
	// charts drawn from the snapshot's series plus live stats
	await waitFor('two charts', async () => (await page.locator('.uplot canvas').count()) === 2);
	// a new task appears within a second of TaskRouter creating it
	const caller = '+1555' + String(Date.now()).slice(-7);
	const t0 = Date.now();
	const task = await stack.sim.createTask({ from: caller, type: 'inbound' });
	await scrollToRow(page, `tr[data-task="${task.sid}"]`, 1000);
	const latency = Date.now() - t0;
	assert.ok(latency <= 1000, `new task shown after ${latency} ms`);
	// the task's row shows its caller (once an agent has it, the roster's row does too)
	await page.locator(`tr[data-task="${task.sid}"]`).filter({ hasText: caller }).waitFor({ timeout: 1000 });
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
	const trow = await scrollToRow(page, `tr[data-task="${stuck.sid}"]`);
	await trow.getByRole('button', { name: /Cancel task/ }).click();
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
	await waitFor('task canceled in TaskRouter', async () => (await stack.sim.task(stuck.sid)).assignment_status === 'canceled');
	await trow.waitFor({ state: 'detached' });
	assert.equal(await findRow(page, `tr[data-task="${stuck.sid}"]`), false, 'the canceled task is still in the table');
	// a refused action says why
	const gone = await stack.sim.createTask({ from: '+15557770001', type: 'inbound', skill: 'nobody' });
	const grow = await scrollToRow(page, `tr[data-task="${gone.sid}"]`);
	await grow.getByRole('button', { name: /Cancel task/ }).click();
	await stack.sim.rest('POST', `${stack.sim.ws}/Tasks/${gone.sid}`, { AssignmentStatus: 'canceled' }).catch(() => {});
	await page.getByRole('dialog').getByRole('button', { name: 'Cancel task' }).click();
	await page.getByRole('status').filter({ hasText: /Refused|Done|canceled/ }).waitFor();
	assert.deepEqual(page.problems, []);
	await context.close();
});

// A worker of the test's own queue (not a generator agent: only the test and the
// supervisor act on its tasks), holding one accepted reservation for a new task.
async function heldTask(worker, from, conference) {
	const task = await stack.sim.createTask({ from, type: 'inbound' }, { WorkflowSid: escalation.workflow });
	const res = await waitFor(`a reservation of ${from} for ${worker.friendly_name}`, async () =>
		(await stack.sim.rest('GET', `${stack.sim.ws}/Tasks/${task.sid}/Reservations`)).reservations.find((r) => r.worker_sid === worker.sid && r.reservation_status === 'pending'));
	await stack.sim.rest('POST', `${stack.sim.ws}/Tasks/${task.sid}/Reservations/${res.sid}`,
		conference ? { Instruction: 'conference', From: '+18005550100', EndConferenceOnExit: 'true' } : { ReservationStatus: 'accepted' });
	return task;
}

let escalation;
test('supervisor actions: complete a stuck task and end a call, each confirmed; the emulator shows both', async () => {
	// a queue and a workflow of the test's own, served by a worker of its own
	const q = await stack.sim.rest('POST', `${stack.sim.ws}/TaskQueues`, { FriendlyName: 'escalation', TargetWorkers: 'skills HAS "escalation"' });
	const wf = await stack.sim.rest('POST', `${stack.sim.ws}/Workflows`, { FriendlyName: 'to-escalation', Configuration: JSON.stringify({ task_routing: { filters: [], default_filter: { queue: q.sid } } }) });
	escalation = { queue: q.sid, workflow: wf.sid };
	const available = await stack.sim.activitySid('Available');
	const carol = await stack.sim.createWorker('carol', ['escalation']);
	await stack.sim.rest('POST', `${stack.sim.ws}/Workers/${carol.sid}`, { ActivitySid: available });
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup);
	await page.locator('[data-connection="live"]').waitFor();

	// carol accepted and walked away: the task sits in "assigned"; the supervisor completes it
	const stuck = await heldTask(carol, '+15556660001', false);
	const row = await scrollToRow(page, `tr[data-task="${stuck.sid}"]`);
	await row.getByText('assigned', { exact: true }).waitFor();
	await row.getByRole('button', { name: 'Complete task +15556660001' }).click();
	const dialog = page.getByRole('dialog', { name: 'Complete the task of +15556660001?' });
	await dialog.waitFor();
	assert.match(await dialog.textContent(), /Status now: assigned/);
	assert.deepEqual(await axe(page), []);
	await dialog.getByRole('button', { name: 'Complete', exact: true }).click();
	await page.getByRole('status').filter({ hasText: 'Task of +15556660001 completed.' }).waitFor();
	await waitFor('task completed in TaskRouter', async () => (await stack.sim.task(stuck.sid)).assignment_status === 'completed');
	await row.waitFor({ state: 'detached' });
	assert.equal(await findRow(page, `tr[data-task="${stuck.sid}"]`), false, 'the completed task is still in the table');
	// the new queue turns short abandons off while the workspace has them: its row says so
	await page.locator('tr[data-queue="escalation"] th').getByText('SL within 2 s, every hang-up counted').waitFor();

	// carol, free again, is on a call (a conference) the supervisor ends from the task table
	const call = await heldTask(carol, '+15556660002', true);
	const crow = await scrollToRow(page, `tr[data-task="${call.sid}"]`);
	const end = crow.getByRole('button', { name: 'End call +15556660002' });
	await end.waitFor();
	const cf = JSON.parse((await stack.sim.task(call.sid)).attributes).conference.sid;
	const conf = () => stack.sim.rest('GET', `/2010-04-01/Accounts/${stack.sim.env.TWILIO_ACCOUNT_SID}/Conferences/${cf}.json`);
	assert.equal((await conf()).status, 'in-progress');
	// the dialog's own Cancel leaves the call alone
	await end.click();
	const cdialog = page.getByRole('dialog', { name: 'End the call with +15556660002?' });
	await cdialog.getByRole('button', { name: 'Cancel', exact: true }).click();
	await cdialog.waitFor({ state: 'hidden' });
	assert.equal((await conf()).status, 'in-progress');
	await end.click();
	await cdialog.getByRole('button', { name: 'End call', exact: true }).click();
	await page.getByRole('status').filter({ hasText: 'Call with +15556660002 ended.' }).waitFor();
	await waitFor('conference completed in the emulator', async () => (await conf()).status === 'completed');
	// the call is over: the task leaves "assigned" (the agent wraps up)
	await waitFor('task no longer assigned', async () => (await stack.sim.task(call.sid)).assignment_status !== 'assigned');
	assert.deepEqual(page.problems, []);
	await context.close();
});
