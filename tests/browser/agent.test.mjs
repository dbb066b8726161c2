// An agent takes calls on /worker: logs in, goes Available, gets an offer
// with a countdown, accepts, ends the conference, completes, and is put in
// the post-work activity; rejects one; lets one time out. The emulator (its
// REST API) is the judge. Screenshot: agent.png.
//
// The agent is one of the emulator's simulated agents, taken over the way the
// demo's logins are (POST /sim/agents/{name}/claim): while the test holds it
// the traffic generator neither answers its offers nor changes its activity,
// and once released the generator drives it again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, axe, launchBrowser, login, newPage, screenshot, startStack, waitFor } from './harness.mjs';

const AGENT = 'agent-001'; // the traffic generator's first agent
const PASSWORD = 'agent-pass-0123';
// The generator answers an offer within 8 s and ends a call within 180 s; the
// reservation timeout is longer than the first, so an offer can be seen outliving it.
const RESERVATION_TIMEOUT_S = 12;
const GENERATOR_ANSWERS_MS = 8000;
const GENERATOR_HANGS_UP_MS = 180000;

let stack, chrome, agent;
before(async () => {
	stack = await startStack({
		simArgs: ['--agents', '1', '--reservation-timeout', String(RESERVATION_TIMEOUT_S), '--seed', '5'],
		env: { TRHUB_CONFERENCE_POST_WORK_ACTIVITY: 'Unavailable' },
		users: { sup: USERS.sup, [AGENT]: PASSWORD },
		workers: [AGENT],
	});
	// the person (this test) takes the simulated agent over
	const c = await stack.sim.control('POST', `/sim/agents/${AGENT}/claim`);
	assert.equal(c.claimed, true, JSON.stringify(c));
	agent = { sid: c.worker_sid };
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	// hand the agent back even when a test failed half-way
	if (stack) await stack.sim.control('POST', `/sim/agents/${AGENT}/release`).catch(() => {});
	if (stack) await stack.stop();
	assert.deepEqual(stack.hub.errors(), []);
});

// The agent clicks Complete on a wrapping task, unless trhubd completed it first:
// auto_complete_wrapping (on, after 0 s, in this stack) races the click, and the
// button goes when the task does, so a click started just before that would wait
// for a button that is gone. Whichever comes first, the task ends completed.
async function completeUnlessDone(region, sid) {
	const completed = async () => (await stack.sim.task(sid)).assignment_status === 'completed';
	if (!(await completed())) {
		const click = region.getByRole('button', { name: 'Complete' }).click().then(
			() => null,
			(e) => e,
		);
		const gone = waitFor('task completed', completed).then(() => null, () => null);
		const err = await Promise.race([click, gone]);
		if (err && !(await completed())) throw err;
	}
	await waitFor('task completed', completed);
}

async function claimed() {
	return (await stack.sim.control('GET', '/sim/agents')).agents.find((a) => a.worker_sid === agent.sid).claimed;
}

// Moves the emulator's clock (and every timer of its traffic generator) forward.
async function advance(ms) {
	await stack.sim.control('POST', '/sim/clock', { advance_ms: ms });
}

async function reservationOf(taskSid) {
	const res = await stack.sim.rest('GET', `${stack.sim.ws}/Tasks/${taskSid}/Reservations`);
	return res.reservations.find((r) => r.worker_sid === agent.sid);
}

async function agentPage() {
	const { page, context } = await newPage(chrome.browser);
	await context.grantPermissions(['notifications'], { origin: stack.hub.base });
	await login(page, stack.hub.base, AGENT, PASSWORD, '/worker');
	await page.waitForURL(stack.hub.base + '/worker');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	return { page, context };
}

// The page's h1 as it reads (its parts are flex items: innerText puts each on a line).
async function heading(page) {
	return (await page.getByRole('heading', { level: 1 }).innerText()).replace(/\s+/g, ' ').trim();
}

async function goAvailable(page) {
	await page.getByRole('group', { name: 'Change activity' }).getByRole('button', { name: 'Available', exact: true }).click();
	await waitFor(`${AGENT} Available in TaskRouter`, async () => (await stack.sim.worker(agent.sid)).activity_name === 'Available');
	await page.locator('[data-activity="Available"]').waitFor();
}

test('agent: available, offer, accept, end conference, complete, post-work activity', async () => {
	const { page, context } = await agentPage();
	// the brand once (no branding.json here: trhub), the page, and the workspace (the
	// emulator's is also called trhub) apart from them
	assert.equal(await heading(page), 'trhub · Agent');
	assert.equal(await page.title(), 'Agent · trhub');
	assert.equal(await page.getByText('Workspace trhub', { exact: true }).count(), 1);
	await goAvailable(page);
	const task = await stack.sim.createTask({ from: '+15550001111', type: 'inbound', name: 'Ada' });
	const offer = page.getByRole('region', { name: /Incoming: \+15550001111/ });
	await offer.waitFor();
	await offer.getByRole('timer').waitFor();
	// the countdown runs to the workflow's reservation timeout (12 s here), not a default
	assert.match(await offer.getByRole('timer').textContent(), /^0:(0\d|1[0-2]) left$/);
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
	await completeUnlessDone(inHand, task.sid);
	await waitFor('post-work activity in TaskRouter', async () => (await stack.sim.worker(agent.sid)).activity_name === 'Unavailable');
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
		return res.reservations.some((r) => r.worker_sid === agent.sid && r.reservation_status === 'rejected');
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
		return res.reservations.some((r) => r.worker_sid === agent.sid && r.reservation_status === 'timeout');
	}, 20000);
	await offer.waitFor({ state: 'detached' });
	// the caller gives up: nothing is left waiting for the next test
	await stack.sim.rest('POST', `${stack.sim.ws}/Tasks/${t2.sid}`, { AssignmentStatus: 'canceled' });
	assert.deepEqual(page.problems, []);
	await context.close();
});

test('takeover: the generator leaves a claimed agent to the person, and drives it again once released', async () => {
	assert.equal(await claimed(), true);
	const { page, context } = await agentPage();
	await goAvailable(page);
	// an offer to the claimed agent waits for the person: past the generator's answer time
	// it is still pending, and the agent still Available
	const t1 = await stack.sim.createTask({ from: '+15550004444', type: 'inbound' });
	const offer = page.getByRole('region', { name: /Incoming: \+15550004444/ });
	await offer.waitFor();
	await advance(GENERATOR_ANSWERS_MS + 1000);
	assert.equal((await reservationOf(t1.sid)).reservation_status, 'pending');
	assert.equal((await stack.sim.worker(agent.sid)).activity_name, 'Available');
	assert.equal(await offer.count(), 1);
	// the person accepts; past the generator's longest call the call is still on
	await page.keyboard.press('a');
	await waitFor('task assigned in TaskRouter', async () => (await stack.sim.task(t1.sid)).assignment_status === 'assigned');
	const inHand = page.getByRole('region', { name: /On a task: \+15550004444/ });
	await inHand.waitFor();
	await advance(GENERATOR_HANGS_UP_MS + 1000);
	assert.equal((await stack.sim.task(t1.sid)).assignment_status, 'assigned');
	assert.equal((await stack.sim.worker(agent.sid)).activity_name, 'Available');
	await inHand.getByRole('button', { name: 'End conference' }).click();
	await waitFor('task wrapping', async () => ['wrapping', 'completed'].includes((await stack.sim.task(t1.sid)).assignment_status));
	await completeUnlessDone(inHand, t1.sid);
	await page.locator('[data-activity="Unavailable"]').waitFor();
	// a new offer, then the person hands the agent back: the generator answers it
	await goAvailable(page);
	const t2 = await stack.sim.createTask({ from: '+15550005555', type: 'inbound' });
	await page.getByRole('region', { name: /Incoming: \+15550005555/ }).waitFor();
	const r = await stack.sim.control('POST', `/sim/agents/${AGENT}/release`);
	assert.equal(r.claimed, false, JSON.stringify(r));
	assert.equal(await claimed(), false);
	await advance(GENERATOR_ANSWERS_MS + 1000);
	await waitFor('the generator accepted the offer', async () => (await reservationOf(t2.sid)).reservation_status === 'accepted');
	await waitFor('task assigned in TaskRouter', async () => (await stack.sim.task(t2.sid)).assignment_status === 'assigned');
	// the page follows what the generator did
	await page.getByRole('region', { name: /On a task: \+15550005555/ }).waitFor();
	assert.deepEqual(page.problems, []);
	await context.close();
});

// alice is a worker login whose worker TaskRouter does not know: her page loads
// without an error (her snapshot holds no worker, it held a null one) and says so.
test('branding: a title from web_custom_dir names the agent page once, the workspace apart', async () => {
	const branded = await startStack({
		simArgs: ['--agents', '0', '--seed', '7'],
		custom: { 'branding.json': JSON.stringify({ title: 'Acme Support' }) },
	});
	try {
		const { page, context } = await newPage(chrome.browser);
		await login(page, branded.hub.base, 'alice', USERS.alice, '/worker');
		await page.waitForURL(branded.hub.base + '/worker');
		await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
		assert.equal(await heading(page), 'Acme Support · Agent');
		assert.equal(await page.title(), 'Agent · Acme Support');
		assert.equal(await page.getByText('Workspace trhub', { exact: true }).count(), 1);
		await page.getByRole('region', { name: 'Not an agent login' }).waitFor();
		assert.deepEqual(page.problems, []);
		await context.close();
	} finally {
		await branded.stop();
	}
	assert.deepEqual(branded.hub.errors(), []);
});
