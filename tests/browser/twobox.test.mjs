// Two trhubd behind nginx (doc/scaling.md): a supervisor's dashboard open on
// each instance (directly on its port) and one through nginx shows the same
// numbers on both boxes, equal to each instance's /api/stats and to the
// emulator's own statistics; after kill -9 of the lease holder the surviving
// instance takes the lease, its page keeps updating and still matches, and a
// page that nginx had sent to the dead box asks for a login (sessions live in
// one instance) and then shows the survivor's numbers.
//
// The traffic is the test's own (TaskRouter REST on the emulator: workers,
// tasks, accepts, completions, a hang-up), so it pauses exactly when the test
// stops sending it: trhub-sim's generator cannot be paused. nginx runs
// doc/scaling.md's block through tests/pylib/twobox_nginx.py, as
// tests/integration/test_daemon_twobox.py does. Skipped when nginx is missing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sim, Trhubd, USERS, apiGet, launchBrowser, localGet, login, newPage, root, screenshot, waitFor } from './harness.mjs';

const NGINX = join(root, 'tests/pylib/twobox_nginx.py');
const which = spawnSync('/usr/bin/python3', [NGINX, '--which']);
if (which.status !== 0 && which.status !== 77) throw new Error(`twobox_nginx.py --which: ${which.status} ${which.stderr}`);
const skip = which.status === 77 ? 'nginx is not installed' : false;

const TTL_S = 6;
const WRITE_CAP = 5;

async function freePort() {
	const s = createServer();
	s.listen(0, '127.0.0.1');
	await once(s, 'listening');
	const port = s.address().port;
	s.close();
	await once(s, 'close');
	return port;
}

async function listening(port) {
	return new Promise((resolve) => {
		const c = connect(port, '127.0.0.1');
		c.on('connect', () => { c.destroy(); resolve(true); });
		c.on('error', () => resolve(false));
	});
}

async function lease(hub) {
	const r = await localGet(hub.port, '/readyz');
	return r.status === 200 ? r.json().lease : null;
}

// A counter's sum over its labels in the instance's /metrics.
async function metric(hub, name) {
	const r = await localGet(hub.port, '/metrics');
	assert.equal(r.status, 200);
	return r.body.split('\n').filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

let sim, hubA, hubB, nginx, nginxTmp, front, chrome;
before(async () => {
	if (skip) return;
	hubA = await new Trhubd(null).bind();
	hubB = await new Trhubd(null).bind();
	front = `http://127.0.0.1:${await freePort()}`;
	nginxTmp = mkdtempSync(join(tmpdir(), 'trhub-twobox-'));
	const nginxErr = [];
	nginx = spawn('/usr/bin/python3', [NGINX, nginxTmp, new URL(front).port, String(hubA.port), String(hubB.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
	nginx.stderr.on('data', (d) => nginxErr.push(String(d)));
	await waitFor(`nginx on ${front}`, async () => {
		if (nginx.exitCode !== null) throw new Error('nginx exited: ' + nginxErr.join(''));
		return listening(Number(new URL(front).port));
	});
	// TaskRouter's callbacks go to nginx, which mirrors them to both instances.
	sim = await new Sim(['--event-callback-url', `${front}/taskrouter_event`, '--seed', '12']).start();
	const env = (id) => ({
		TRHUB_PUBLIC_URL: front,
		TRHUB_SYNC_LEASE: 'true',
		TRHUB_SYNC_LEASE_TTL_S: String(TTL_S),
		TRHUB_SYNC_WRITES_PER_S: String(WRITE_CAP),
		TRHUB_TRUSTED_PROXIES: '127.0.0.1',
		TRHUB_INSTANCE_ID: id,
	});
	for (const [hub, id] of [[hubA, 'hub-a'], [hubB, 'hub-b']]) {
		hub.sim = sim;
		hub.extraEnv = env(id);
	}
	await hubA.launch();
	await waitFor('hub-a holding the lease', async () => (await lease(hubA))?.role === 'holder', 3 * TTL_S * 1000);
	await hubB.launch();
	await waitFor('hub-b seeing hub-a hold the lease', async () => (await lease(hubB))?.holder === 'hub-a', 3 * TTL_S * 1000);
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	for (const h of [hubA, hubB]) if (h) await h.stop();
	if (sim) await sim.stop();
	if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
		nginx.kill('SIGTERM');
		await once(nginx, 'exit');
	}
	if (nginxTmp) rmSync(nginxTmp, { recursive: true, force: true });
	for (const h of [hubA, hubB]) if (h) assert.deepEqual(h.errors(), []);
});

// --- the test's own traffic ----------------------------------------------------------

async function pendingReservation(task) {
	return waitFor(`a pending reservation for ${task.sid}`, async () =>
		(await sim.rest('GET', `${sim.ws}/Tasks/${task.sid}/Reservations`)).reservations.find((r) => r.reservation_status === 'pending'));
}
async function accept(task) {
	const r = await pendingReservation(task);
	await sim.rest('POST', `${sim.ws}/Tasks/${task.sid}/Reservations/${r.sid}`, { ReservationStatus: 'accepted' });
}
async function setStatus(task, status, reason) {
	await sim.rest('POST', `${sim.ws}/Tasks/${task.sid}`, { AssignmentStatus: status, ...(reason ? { Reason: reason } : {}) });
}
async function callers(tag, n) {
	const out = [];
	for (let i = 0; i < n; i++) out.push(await sim.createTask({ from: `+1555${tag}${String(i).padStart(3, '0')}`, type: 'inbound' }));
	return out;
}

// --- what the pages show -------------------------------------------------------------

// What a tile shows for a /api/stats value (tiles.js: num, pct, secs; "—" for no sample).
function expected(v) {
	if (v === null || v === undefined) return '—';
	return String(Number.isInteger(v) ? v : v.toFixed(1));
}
function shown(text) {
	return text.trim() === '—' ? '—' : text.replace(/[^\d.]/g, '');
}
function clockS(text) {
	return text.trim() === '—' ? null : text.trim().split(':').reduce((s, p) => s * 60 + Number(p), 0);
}

// What the dashboard shows: the tiles and queue rows (from TaskRouter's statistics,
// which each instance reads itself), and the model-made parts (from the webhooks,
// which nginx mirrors): the agent tiles without a key, the task table (agent,
// status) and the roster (activity, current task, handled, missed).
async function view(page) {
	return page.evaluate(() => {
		const text = (e) => e.textContent.trim();
		const cells = (r, idx) => idx.map((i) => text(r.cells[i]));
		return {
			tiles: Object.fromEntries([...document.querySelectorAll('.tiles [data-stat]')].map((e) => [e.dataset.stat, text(e)])),
			queues: Object.fromEntries([...document.querySelectorAll('tr[data-queue]')].map((r) => [r.dataset.queue,
				Object.fromEntries([...r.querySelectorAll('[data-stat]')].map((e) => [e.dataset.stat, text(e)]))])),
			model: {
				tiles: Object.fromEntries(['On a task', 'Idle'].map((l) => [l, text(document.querySelector(`.tiles [aria-label="${l}"] .value`))])),
				tasks: Object.fromEntries([...document.querySelectorAll('tr[data-task]')].map((r) => [r.dataset.task, cells(r, [3, 5])])),
				roster: Object.fromEntries([...document.querySelectorAll('tr[data-worker]')].map((r) => [r.dataset.worker, cells(r, [1, 3, 4, 5])])),
			},
		};
	});
}

// The live ages tick on the page between statistics; within 2 s is the same number.
const LIVE = new Set(['longestWaitingAge', 'longestWaiting']);
function sameLive(a, b) {
	const x = clockS(a);
	const y = clockS(b);
	return x === y || (x !== null && y !== null && Math.abs(x - y) <= 2);
}

// Differences between a page and the /api/stats it was drawn from.
function pageVsStats(name, v, st) {
	const bad = [];
	const keys = Object.keys(v.tiles);
	if (keys.length < 12) bad.push(`${name}: only ${keys.length} tiles`);
	for (const k of keys) {
		if (!(k in st)) bad.push(`${name} tile ${k}: not in /api/stats`);
		else if (LIVE.has(k)) {
			// the page adds the time since its statistics arrived
			const x = clockS(v.tiles[k]);
			if (st[k] === null ? x !== null : x === null || x < Math.floor(st[k]) - 2 || x > st[k] + 2) bad.push(`${name} ${k}: page ${v.tiles[k]} vs /api/stats ${st[k]} s`);
		} else if (shown(v.tiles[k]) !== expected(st[k])) bad.push(`${name} ${k}: page ${v.tiles[k]} vs /api/stats ${st[k]}`);
	}
	if (Object.keys(v.queues).length !== st.queues.length) bad.push(`${name}: ${Object.keys(v.queues).length} queue rows, /api/stats has ${st.queues.length}`);
	for (const q of st.queues) {
		const row = v.queues[q.name];
		if (!row) bad.push(`${name}: no row for queue ${q.name}`);
		else for (const k of ['waiting', 'serviceLevel', 'asa'])
			if (shown(row[k]) !== expected(q[k])) bad.push(`${name} queue ${q.name} ${k}: page ${row[k]} vs ${q[k]}`);
	}
	return bad;
}

function pageVsPage(a, va, b, vb) {
	const bad = [];
	for (const part of ['tiles', 'queues']) {
		const ka = Object.keys(va[part]).sort();
		const kb = Object.keys(vb[part]).sort();
		if (ka.join() !== kb.join()) bad.push(`${part} of ${a} ${ka} vs ${b} ${kb}`);
	}
	for (const [k, t] of Object.entries(va.tiles))
		if (LIVE.has(k) ? !sameLive(t, vb.tiles[k]) : t !== vb.tiles[k]) bad.push(`tile ${k}: ${a} ${t} vs ${b} ${vb.tiles[k]}`);
	for (const [q, row] of Object.entries(va.queues))
		for (const [k, t] of Object.entries(row))
			if (LIVE.has(k) ? !sameLive(t, vb.queues[q]?.[k]) : t !== vb.queues[q]?.[k]) bad.push(`queue ${q} ${k}: ${a} ${t} vs ${b} ${vb.queues[q]?.[k]}`);
	for (const part of ['tiles', 'tasks', 'roster']) {
		const x = JSON.stringify(Object.entries(va.model[part]).sort());
		const y = JSON.stringify(Object.entries(vb.model[part]).sort());
		if (x !== y) bad.push(`${part}: ${a} ${x} vs ${b} ${y}`);
	}
	return bad;
}

// The emulator's own statistics: what both instances must show.
async function truth() {
	const s = await sim.rest('GET', `${sim.ws}/Statistics`);
	const byStatus = s.realtime.tasks_by_status;
	const open = (await sim.rest('GET', `${sim.ws}/Tasks?PageSize=100`)).tasks.filter((t) => ['pending', 'reserved', 'assigned', 'wrapping'].includes(t.assignment_status));
	return {
		open: Object.fromEntries(open.map((t) => [t.sid, t.assignment_status])),
		pendingTasks: byStatus.pending, reservedTasks: byStatus.reserved, assignedTasks: byStatus.assigned,
		wrappingTasks: byStatus.wrapping, tasksCompleted: s.cumulative.tasks_completed, abandoned: s.cumulative.tasks_canceled,
	};
}

// Every page equal to its instance's /api/stats, every pair of pages equal to each
// other, every /api/stats equal to the emulator's; throws the differences (waitFor retries).
async function allAgree(pages) {
	const t = await truth();
	const seen = [];
	const bad = [];
	for (const [name, page] of pages) {
		const st = await apiGet(page, '/api/stats');
		const v = await view(page);
		bad.push(...pageVsStats(name, v, st));
		for (const [k, n] of Object.entries(t)) if (k !== 'open' && st[k] !== n) bad.push(`${name} /api/stats ${k} ${st[k]}, the emulator ${n}`);
		const rows = JSON.stringify(Object.entries(v.model.tasks).map(([sid, [, status]]) => [sid, status]).sort());
		if (rows !== JSON.stringify(Object.entries(t.open).sort())) bad.push(`${name} task table ${rows}, the emulator's open tasks ${JSON.stringify(t.open)}`);
		if (seen.length) bad.push(...pageVsPage(seen[0][0], seen[0][1], name, v));
		seen.push([name, v]);
	}
	if (bad.length) throw new Error(bad.join('; '));
	return seen[0][1];
}

test('two boxes: the same numbers on either instance, and on the survivor after kill -9 of the writer', { skip }, async () => {
	const t0 = Date.now();
	const marks = [];
	const mark = (what) => marks.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	const pages = Object.fromEntries(await Promise.all([['hub-a', hubA.base], ['hub-b', hubB.base], ['nginx', front]].map(async ([name, base]) => {
		const { page } = await newPage(chrome.browser);
		await login(page, base, 'sup', USERS.sup);
		await page.waitForURL(base + '/');
		await page.locator('[data-connection="live"]').waitFor();
		return [name, page];
	})));
	mark('three pages live');
	// nginx gave this browser to hub-a (ip_hash hashes 127.0.0 to the first server, the
	// same on every run): hub-a knows its session, hub-b does not.
	const cookie = (await pages.nginx.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
	assert.equal((await fetch(hubA.base + '/api/me', { headers: { Cookie: cookie } })).status, 200);
	assert.equal((await fetch(hubB.base + '/api/me', { headers: { Cookie: cookie } })).status, 401);

	// Traffic, then quiet: three agents, five callers; two answered, one of them done and
	// one wrapping up (the lease holder completes it: auto_complete_wrapping), one hangs up
	// while waiting.
	await sim.control('POST', '/sim/workers', { count: 3, activity: 'Available', skills: ['support'], prefix: 'agent' });
	const first = await callers('100', 5);
	await accept(first[0]);
	await accept(first[1]);
	await setStatus(first[0], 'completed', 'resolved');
	await setStatus(first[1], 'wrapping');
	await setStatus(first[4], 'canceled', 'hangup');
	const all = Object.entries(pages);
	const before = await waitFor('the three pages, both /api/stats and the emulator agreeing', () => allAgree(all));
	assert.equal((await lease(hubA)).role, 'holder');
	assert.equal((await lease(hubB)).role, 'standby');
	assert.ok(await metric(hubA, 'trhubd_sync_writes_total') > 0, 'the holder wrote nothing to Sync');
	assert.equal(await metric(hubB, 'trhubd_sync_writes_total'), 0, 'the standby wrote to Sync');
	await screenshot(pages['hub-b'], 'twobox-standby');

	mark('pages agree');
	// Every state hub-b's connection indicator shows from now on (sampled every 50 ms).
	await pages['hub-b'].evaluate(() => {
		window.connSeen = new Set();
		setInterval(() => window.connSeen.add(document.querySelector('[data-connection]')?.dataset.connection), 50);
	});
	// The writer dies with its box.
	hubA.proc.kill('SIGKILL');
	await once(hubA.proc, 'exit');
	const killed = Date.now();
	await pages['hub-a'].locator('[data-connection="reconnecting"], [data-connection="offline"]').waitFor();
	mark('hub-a page reconnecting');
	// Traffic while hub-b takes over: nginx answers TaskRouter through hub-b now.
	const second = await callers('200', 3);
	await accept(first[2]);
	await setStatus(first[2], 'completed', 'resolved');
	await setStatus(second[2], 'canceled', 'hangup');
	await waitFor('hub-b taking the lease', async () => (await lease(hubB))?.role === 'holder', (TTL_S * 4 / 3 + 5) * 1000);
	const took = (Date.now() - killed) / 1000;
	assert.ok(took <= TTL_S * 4 / 3 + 2, `takeover after ${took} s (lease ${TTL_S} s)`);

	mark('hub-b holds the lease');
	// hub-b's page never lost its stream and followed the traffic.
	const survivors = [['hub-b', pages['hub-b']]];
	// nginx now sends the browser that was on hub-a to hub-b, which does not know its
	// session: the login form, then hub-b's dashboard through nginx.
	await pages.nginx.waitForURL(/\/login\?/);
	await login(pages.nginx, front, 'sup', USERS.sup);
	await pages.nginx.waitForURL(front + '/');
	await pages.nginx.locator('[data-connection="live"]').waitFor();
	survivors.push(['nginx', pages.nginx]);
	mark('nginx page logged in again on hub-b');
	const afterKill = await waitFor('hub-b\'s pages, its /api/stats and the emulator agreeing after the takeover', () => allAgree(survivors));
	assert.ok(Number(afterKill.tiles.tasksCompleted) > Number(before.tiles.tasksCompleted), 'completed today did not move');
	assert.ok(Number(afterKill.tiles.abandoned) > Number(before.tiles.abandoned), 'canceled today did not move');
	assert.deepEqual(await pages['hub-b'].evaluate(() => [...window.connSeen]), ['live'], 'hub-b\'s page lost its stream');
	for (const t of second.slice(0, 2)) await pages['hub-b'].locator(`tr[data-task="${t.sid}"]`).waitFor();
	mark('hub-b pages agree');
	// and keeps updating once hub-b writes Sync: one more caller, answered.
	const third = await callers('300', 1);
	await accept(first[3]);
	const last = await waitFor('hub-b\'s pages following the next caller', () => allAgree(survivors));
	await pages['hub-b'].locator(`tr[data-task="${third[0].sid}"]`).waitFor();
	assert.notDeepEqual(last.tiles, afterKill.tiles);
	await screenshot(pages['hub-b'], 'twobox-survivor');

	// No Sync object, the lease included, written faster than the cap by the two writers.
	const writes = (await sim.control('GET', '/sim/counters')).sync_writes || {};
	const names = Object.values(writes).map((w) => w.unique_name);
	assert.ok(names.includes('SyncTaskRouterStats') && names.includes('trhub.lease'), `Sync writes: ${names}`);
	const over = Object.values(writes).filter((w) => w.max_per_second > WRITE_CAP);
	assert.deepEqual(over, [], `writes per second above ${WRITE_CAP}`);
	for (const p of Object.values(pages)) assert.deepEqual(p.problems, []);
	mark('next caller shown');
	console.log(`hub-b took the lease ${took.toFixed(1)} s after the kill; ${marks.join(', ')}`);
});
