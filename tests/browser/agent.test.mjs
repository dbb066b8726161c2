// An agent takes calls on /worker: logs in, goes Available, gets an offer
// with a countdown, accepts, ends the conference, completes, and is put in
// the post-work activity; rejects one; lets one time out. The emulator (its
// REST API) is the judge. Screenshot: agent.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, axe, launchBrowser, login, newPage, screenshot, startStack, waitFor } from './harness.mjs';

let stack, chrome, alice;
before(async () => {
	stack = await startStack({
		simArgs: ['--reservation-timeout', '6', '--seed', '5'],
		env: { TRHUB_CONFERENCE_POST_WORK_ACTIVITY: 'Unavailable' },
	});
	alice = await stack.sim.createWorker('alice');
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	if (stack) await stack.stop();
	assert.deepEqual(stack.hub.errors(), []);
});

async function agentPage() {
	const { page, context } = await newPage(chrome.browser);
	await context.grantPermissions(['notifications'], { origin: stack.hub.base });
	await login(page, stack.hub.base, 'alice', USERS.alice, '/worker');
	await page.waitForURL(stack.hub.base + '/worker');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	return { page, context };
}

async function goAvailable(page) {
	await page.getByRole('group', { name: 'Change activity' }).getByRole('button', { name: 'Available', exact: true }).click();
	await waitFor('alice Available in TaskRouter', async () => (await stack.sim.worker(alice.sid)).activity_name === 'Available');
	await page.locator('[data-activity="Available"]').waitFor();
}

test('agent: available, offer, accept, end conference, complete, post-work activity', async () => {
	const { page, context } = await agentPage();
	await goAvailable(page);
	const task = await stack.sim.createTask({ from: '+15550001111', type: 'inbound', name: 'Ada' });
	const offer = page.getByRole('region', { name: /Incoming: \+15550001111/ });
	await offer.waitFor();
	await offer.getByRole('timer').waitFor();
	// the countdown runs to the workflow's reservation timeout (6 s here), not a default
	assert.match(await offer.getByRole('timer').textContent(), /^0:0[0-6] left$/);
	assert.match(await offer.textContent(), /support/);
	assert.deepEqual(await axe(page), []);
	await screenshot(page, 'agent');
	await page.getByRole('button', { name: /Accept/ }).click();
	await waitFor('task assigned in TaskRouter', async () => (await stack.sim.task(task.sid)).assignment_status === 'assigned');
	const inHand = page.getByRole('region', { name: /On a task: \+15550001111/ });
	await inHand.waitFor();
	await screenshot(page, 'agent-call');
	await inHand.getByRole('button', { name: 'End conference' }).click();
	await waitFor('task wrapping', async () => ['wrapping', 'completed'].includes((await stack.sim.task(task.sid)).assignment_status));
	const complete = inHand.getByRole('button', { name: 'Complete' });
	if ((await stack.sim.task(task.sid)).assignment_status === 'wrapping') await complete.click();
	await waitFor('task completed', async () => (await stack.sim.task(task.sid)).assignment_status === 'completed');
	await waitFor('post-work activity in TaskRouter', async () => (await stack.sim.worker(alice.sid)).activity_name === 'Unavailable');
	await page.locator('[data-activity="Unavailable"]').waitFor();
	await page.getByRole('region', { name: 'No task' }).waitFor();
	// the log says what happened
	const log = await page.getByRole('region', { name: 'Log' }).textContent();
	for (const what of ['Task offered', 'Accepted', 'Ended the call', 'Now Unavailable']) assert.ok(log.includes(what), `log lacks "${what}": ${log}`);
	assert.deepEqual(page.problems, []);
	await context.close();
});

test('agent: reject with the R key, then an offer times out', async () => {
	const { page, context } = await agentPage();
	await goAvailable(page);
	const t1 = await stack.sim.createTask({ from: '+15550002222', type: 'inbound' });
	await page.getByRole('region', { name: /Incoming: \+15550002222/ }).waitFor();
	// a reload loses nothing: the offer, its countdown and the log come back
	const before = await page.getByRole('timer').textContent();
	await page.reload();
	await page.getByRole('region', { name: /Incoming: \+15550002222/ }).waitFor();
	assert.ok((await page.getByRole('region', { name: 'Log' }).textContent()).includes('Task offered: +15550002222'));
	const after = await page.getByRole('timer').textContent();
	assert.ok(after <= before, `countdown restarted: ${before} -> ${after}`);
	// Twilio refuses once: the agent is told why, and the offer stays
	await stack.sim.control('POST', '/sim/faults', { method: 'POST', path: '/v1/Workspaces/*/Workers/*/Reservations/*', status: 400, code: 20001, message: 'The reservation cannot be rejected now', count: 1 });
	await page.keyboard.press('r');
	await page.getByRole('status').filter({ hasText: /Twilio refused: .*cannot be rejected now/ }).waitFor();
	assert.match(await page.getByRole('region', { name: 'Log' }).textContent(), /refused/);
	await page.keyboard.press('r');
	await waitFor('reservation rejected', async () => {
		const res = await stack.sim.rest('GET', `${stack.sim.ws}/Tasks/${t1.sid}/Reservations`);
		return res.reservations.some((r) => r.worker_sid === alice.sid && r.reservation_status === 'rejected');
	});
	await page.getByRole('region', { name: /Incoming: \+15550002222/ }).waitFor({ state: 'detached' });
	assert.ok((await page.getByRole('region', { name: 'Log' }).textContent()).includes('Rejected +15550002222'));
	await stack.sim.rest('POST', `${stack.sim.ws}/Tasks/${t1.sid}`, { AssignmentStatus: 'canceled' });
	// back to Available, the tab in the background: an offer notifies and rings
	await goAvailable(page);
	await page.evaluate(() => {
		window.testNotes = [];
		window.testRings = 0;
		window.Notification = function (title, opts) { window.testNotes.push([title, opts.body]); };
		Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
		const AC = window.AudioContext;
		window.AudioContext = function () { window.testRings++; return new AC(); };
	});
	const t2 = await stack.sim.createTask({ from: '+15550003333', type: 'inbound' });
	const offer = page.getByRole('region', { name: /Incoming: \+15550003333/ });
	await offer.waitFor();
	await waitFor('a notification and a ring', async () => {
		const r = await page.evaluate(() => [window.testNotes, window.testRings]);
		return r[0].some(([t, b]) => t === 'Incoming task' && b === '+15550003333') && r[1] >= 1;
	});
	// nobody answers: the countdown runs out, TaskRouter times it out
	await waitFor('reservation timed out', async () => {
		const res = await stack.sim.rest('GET', `${stack.sim.ws}/Tasks/${t2.sid}/Reservations`);
		return res.reservations.some((r) => r.worker_sid === alice.sid && r.reservation_status === 'timeout');
	}, 20000);
	await offer.waitFor({ state: 'detached' });
	assert.deepEqual(page.problems, []);
	await context.close();
});
