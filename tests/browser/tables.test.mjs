// Long live tables: a supervisor with 120 agents and 60 waiting tasks. Only
// the rows in view are in the page (lib/rows.js useRowWindow), yet every row
// is there for the person: the table says how many rows it has, the
// keyboard scrolls to the last one, the filter finds an agent whose row was
// not drawn, sorting orders the whole list, and axe-core passes.
// Screenshot: tables.png (the whole page).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, apiGet, axe, launchBrowser, login, newPage, screenshot, startStack, waitFor } from './harness.mjs';

const AGENTS = 120;
const TASKS = 60;
let stack, chrome;
before(async () => {
	stack = await startStack({ simArgs: ['--workers', String(AGENTS), '--seed', '21'] });
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	if (stack) await stack.stop();
	assert.deepEqual(stack.hub.errors(), []);
});

// The rows the page has drawn: [aria-rowindex, data attribute].
async function drawn(page, attr) {
	return page.$$eval(`tr[${attr}]`, (rs, a) => rs.map((r) => [Number(r.getAttribute('aria-rowindex')), r.getAttribute(a)]), attr);
}
// The scrolling box of a table (a focusable region named by the card's heading).
function box(page, region) {
	return page.locator(`.scroll[role="region"][aria-labelledby="${region === 'Agents' ? 'roster-h' : 'tasks-h'}"]`);
}
async function rowCount(page, region) {
	return Number(await box(page, region).locator('table').getAttribute('aria-rowcount'));
}

test('long tables: only the rows in view are drawn; keyboard, filter and sort reach every row', async () => {
	// tasks that stay waiting (no agent has the skill), created before the page opens and after
	for (let i = 0; i < TASKS / 2; i++) await stack.sim.createTask({ from: '+1555700' + String(i).padStart(4, '0'), type: 'inbound', skill: 'nobody' });
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup);
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	for (let i = TASKS / 2; i < TASKS; i++) await stack.sim.createTask({ from: '+1555700' + String(i).padStart(4, '0'), type: 'inbound', skill: 'nobody' });

	// --- roster: 120 agents, sorted by name ---
	const workers = await apiGet(page, '/api/workers');
	assert.equal(workers.length, AGENTS);
	const names = workers.map((w) => w.friendlyName).sort();
	await waitFor('the roster to count every agent', async () => (await rowCount(page, 'Agents')) === AGENTS + 1);
	let rows = await drawn(page, 'data-worker');
	assert.ok(rows.length > 5 && rows.length < AGENTS / 2, `${rows.length} of ${AGENTS} agent rows drawn`);
	// the drawn rows are the first ones, in order, each at its place
	assert.deepEqual(rows.map(([, n]) => n), names.slice(0, rows.length));
	assert.deepEqual(rows.map(([i]) => i), rows.map((_, k) => k + 2));
	// the keyboard reaches the last agent (End in the focused region)
	const region = box(page, 'Agents');
	await region.focus();
	await page.keyboard.press('End');
	await page.locator(`tr[data-worker="${names[AGENTS - 1]}"][aria-rowindex="${AGENTS + 1}"]`).waitFor();
	rows = await drawn(page, 'data-worker');
	assert.ok(rows.length < AGENTS / 2, `${rows.length} rows drawn at the end`);
	assert.deepEqual(rows.map(([, n]) => n), names.slice(AGENTS - rows.length));
	await page.keyboard.press('Home');
	await page.locator(`tr[data-worker="${names[0]}"][aria-rowindex="2"]`).waitFor();
	// sorting orders the whole list: by name descending (a click on the
	// active column) puts the last name first
	await page.getByRole('button', { name: /^Agent/ }).click();
	await waitFor('descending order', async () => (await drawn(page, 'data-worker'))[0][1] === names[AGENTS - 1]);
	rows = await drawn(page, 'data-worker');
	assert.deepEqual(rows.map(([, n]) => n), names.slice().reverse().slice(0, rows.length));
	assert.equal(await page.locator('th[aria-sort="descending"]').getByRole('button').textContent(), 'Agent ▼');
	// the filter finds an agent whose row was not drawn
	const far = names[Math.floor(AGENTS / 2)];
	assert.equal(await page.locator(`tr[data-worker="${far}"]`).count(), 0);
	await page.getByLabel('Filter agents').fill(far);
	await page.locator(`tr[data-worker="${far}"][aria-rowindex="2"]`).waitFor();
	assert.equal(await rowCount(page, 'Agents'), 2);
	assert.equal(await page.locator('tr[data-worker]').count(), 1);
	await page.getByLabel('Filter agents').fill('');
	await waitFor('every agent counted again', async () => (await rowCount(page, 'Agents')) === AGENTS + 1);

	// --- tasks: 60 waiting, oldest first, every one counted ---
	await waitFor('the task table to count every task', async () => (await rowCount(page, 'Tasks')) === TASKS + 1);
	const open = (await apiGet(page, '/api/tasks')).filter((t) => t.status !== 'completed' && t.status !== 'canceled');
	assert.equal(open.length, TASKS);
	await page.getByRole('heading', { name: `Tasks (${TASKS} open)` }).waitFor();
	let trows = await drawn(page, 'data-task');
	assert.ok(trows.length > 5 && trows.length < TASKS, `${trows.length} of ${TASKS} task rows drawn`);
	assert.deepEqual(trows.map(([i]) => i), trows.map((_, k) => k + 2));
	// oldest first: the first row is one of the tasks made before the page
	// opened, the last (reached with the keyboard) one made after
	const caller = (sid) => (open.find((t) => t.sid === sid).attributes || {}).from || '';
	const half = (sid) => Number(caller(sid).slice(-4)) < TASKS / 2;
	assert.ok(half(trows[0][1]), `first row ${caller(trows[0][1])}`);
	const tregion = box(page, 'Tasks');
	await tregion.focus();
	await page.keyboard.press('End');
	await waitFor('the last task row', async () => {
		const r = await drawn(page, 'data-task');
		return r.length && r[r.length - 1][0] === TASKS + 1;
	});
	trows = await drawn(page, 'data-task');
	const all = new Set(open.map((t) => t.sid));
	assert.ok(trows.every(([, sid]) => all.has(sid)));
	assert.ok(trows.length < TASKS);
	assert.ok(!half(trows[trows.length - 1][1]), `last row ${caller(trows[trows.length - 1][1])}`);
	// a person sees the caller in the last row
	await page.getByRole('row').filter({ hasText: caller(trows[trows.length - 1][1]) }).waitFor();

	// accessibility (the spacer rows, aria-rowcount/rowindex) and CSP (the spacers' heights)
	assert.deepEqual(await axe(page), []);
	assert.deepEqual(page.problems, []);
	await page.screenshot({ path: await screenshot(page, 'tables'), fullPage: true });
	await context.close();
});
