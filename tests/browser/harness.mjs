// Browser-test harness: trhub-sim and trhubd on loopback with ephemeral
// ports, started by the test, and Debian's chromium driven by
// playwright-core (from web/node_modules, installed by `npm ci`).
//
// Conditions are waited on with deadlines, never with fixed sleeps.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
const require = createRequire(join(root, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const TRHUBD = process.env.TRHUBD || join(root, 'build/daemon/trhubd');
export const SIM = process.env.TRHUB_SIM || join(root, 'build/tests/sim/trhub-sim');
export const WEB_DIR = process.env.TRHUB_WEB_BUILD_DIR || join(root, 'build/web');
export const SHOTS = process.env.TRHUB_SCREENSHOT_DIR || join(process.cwd(), 'browser-screenshots');
export const TIMEOUT = Number(process.env.TRHUB_TEST_TIMEOUT || 15) * 1000;

export const USERS = {
	sup: 'sup-pass-0123',
	alice: 'alice-pass-0123',
};
export const WALLBOARD_TOKEN = 'wallboard-token-0123456789-abcdefghijkl';

export async function waitFor(what, fn, timeout = TIMEOUT) {
	const end = Date.now() + timeout;
	let last;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (e) {
			last = e;
		}
		if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

function lines(stream, sink, onLine) {
	const rl = createInterface({ input: stream });
	rl.on('line', (l) => {
		sink.push(l);
		if (onLine) onLine(l);
	});
}

export class Sim {
	constructor(args = []) {
		this.args = args;
		this.out = [];
		this.err = [];
		this.env = {};
	}
	async start() {
		this.proc = spawn(SIM, ['--listen', '127.0.0.1:0', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
		lines(this.proc.stderr, this.err);
		lines(this.proc.stdout, this.out, (l) => {
			const m = /^([A-Z_]+)=(.*)$/.exec(l);
			if (m) this.env[m[1]] = m[2];
		});
		await waitFor('trhub-sim credentials', () => this.env.TRHUB_TWILIO_BASE_URL && this.env.TWILIO_SYNC_SERVICE_SID);
		this.base = this.env.TRHUB_TWILIO_BASE_URL.replace(/\/$/, '');
		this.ws = '/v1/Workspaces/' + this.env.TWILIO_WORKSPACE_SID;
		return this;
	}
	auth() {
		return 'Basic ' + Buffer.from(`${this.env.TWILIO_ACCOUNT_SID}:${this.env.TWILIO_AUTH_TOKEN}`).toString('base64');
	}
	// TaskRouter REST, as Twilio's API has it (form bodies, Basic auth).
	async rest(method, path, form) {
		const res = await fetch(this.base + path, {
			method,
			headers: { Authorization: this.auth(), ...(form ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}) },
			body: form ? new URLSearchParams(form).toString() : undefined,
		});
		const text = await res.text();
		if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
		return text ? JSON.parse(text) : null;
	}
	async control(method, path, body) {
		const res = await fetch(this.base + path, { method, headers: { 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
		return res.json();
	}
	async activities() {
		return (await this.rest('GET', this.ws + '/Activities?PageSize=50')).activities;
	}
	async activitySid(name) {
		return (await this.activities()).find((a) => a.friendly_name === name).sid;
	}
	async createWorker(name, skills = ['support']) {
		return this.rest('POST', this.ws + '/Workers', { FriendlyName: name, Attributes: JSON.stringify({ skills, contact_uri: 'client:' + name }) });
	}
	async worker(sid) {
		return this.rest('GET', this.ws + '/Workers/' + sid);
	}
	async createTask(attrs, extra = {}) {
		return this.rest('POST', this.ws + '/Tasks', { WorkflowSid: this.env.TWILIO_WORKFLOW_SID, Attributes: JSON.stringify(attrs), ...extra });
	}
	async task(sid) {
		return this.rest('GET', this.ws + '/Tasks/' + sid);
	}
	async stop() {
		if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return; // gone (a test may kill -9 it)
		this.proc.kill('SIGTERM');
		await once(this.proc, 'exit');
	}
}

export class Trhubd {
	constructor(sim, { env = {}, users = USERS, workers = ['alice'], config = '', custom = null } = {}) {
		this.sim = sim;
		this.custom = custom; // { name: contents }: files for web_custom_dir (branding.json, custom.css)
		this.extraEnv = env;
		this.config = config; // trhubd.conf text (per-queue keys exist only in the file)
		this.users = users;
		this.workers = workers;
		this.tmp = mkdtempSync(join(tmpdir(), 'trhub-browser-'));
		this.port = 0;
		this.err = [];
		this.incarnations = 0;
	}
	get base() {
		return `http://127.0.0.1:${this.port}`;
	}
	// Spawns the launcher, which binds the port (the same one on a restart).
	async bind() {
		const specs = Object.entries(this.users).map(([n, p]) => `${n}:${this.workers.includes(n) ? 'worker' : 'supervisor'}:${p}`);
		this.proc = spawn('/usr/bin/python3', [join(here, 'launch_trhubd.py'), TRHUBD, String(this.port), join(this.tmp, 'users'), ...specs],
			{ stdio: ['pipe', 'pipe', 'pipe'] });
		const out = [];
		lines(this.proc.stderr, this.err);
		lines(this.proc.stdout, out);
		const portLine = await waitFor('the launcher to bind', () => out.find((l) => l.startsWith('port ')));
		this.port = Number(portLine.slice(5));
		return this;
	}
	configFile() {
		const path = join(this.tmp, 'trhubd.conf');
		writeFileSync(path, this.config, { mode: 0o600 });
		return path;
	}
	// Hands the environment to the waiting launcher, which execs trhubd.
	async launch() {
		const s = this.sim.env;
		if (this.custom) {
			mkdirSync(join(this.tmp, 'custom'), { recursive: true });
			for (const [name, text] of Object.entries(this.custom)) writeFileSync(join(this.tmp, 'custom', name), text);
		}
		const env = {
			PATH: process.env.PATH,
			TRHUB_ACCOUNT_SID: s.TWILIO_ACCOUNT_SID,
			TRHUB_AUTH_TOKEN: s.TWILIO_AUTH_TOKEN,
			TRHUB_API_KEY: s.TWILIO_API_KEY,
			TRHUB_API_SECRET: s.TWILIO_API_SECRET,
			TRHUB_WORKSPACE_SID: s.TWILIO_WORKSPACE_SID,
			TRHUB_WORKFLOW_SID: s.TWILIO_WORKFLOW_SID,
			TRHUB_SYNC_SERVICE_SID: s.TWILIO_SYNC_SERVICE_SID,
			TRHUB_TWILIO_BASE_URL: s.TRHUB_TWILIO_BASE_URL,
			TRHUB_PUBLIC_URL: this.base,
			TRHUB_STATS_MIN_INTERVAL_MS: '200',
			TRHUB_STATS_MAX_INTERVAL_MS: '1000',
			TRHUB_RECONCILE_INTERVAL_S: '0',
			TRHUB_USERS_FILE: join(this.tmp, 'users'),
			TRHUB_WEB_DIR: WEB_DIR,
			TRHUB_WEB_CUSTOM_DIR: join(this.tmp, 'custom'),
			TRHUB_WALLBOARD_TOKEN: WALLBOARD_TOKEN,
			TRHUB_CONFIG: this.configFile(),
			...Object.fromEntries(['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'].filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
			...this.extraEnv,
		};
		this.proc.stdin.end(JSON.stringify(env) + '\n');
		this.incarnations++;
		await waitFor('trhubd /readyz', async () => (await localGet(this.port, '/readyz')).status === 200);
		return this;
	}
	async start() {
		await this.bind();
		return this.launch();
	}
	async stop() {
		if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return; // gone (a test may kill -9 it)
		this.proc.kill('SIGTERM');
		await once(this.proc, 'exit');
	}
	errors() {
		return this.err.filter((l) => /: (error|crit|alert|emerg|fatal)\b|AddressSanitizer|runtime error/.test(l));
	}
}

// GET from 127.0.0.2: trhubd's local-only routes (/readyz, /metrics) answer a
// loopback client that is not a trusted proxy (a test may make 127.0.0.1 one).
export async function localGet(port, path) {
	const http = await import('node:http');
	return new Promise((resolve, reject) => {
		const req = http.get({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2', timeout: TIMEOUT }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const body = Buffer.concat(chunks).toString();
				resolve({ status: res.statusCode, body, json: () => JSON.parse(body) });
			});
		});
		req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
		req.on('error', reject);
	});
}

// The emulator's callbacks need trhubd's port and trhubd needs the
// emulator's credentials: trhubd's socket is bound first (port known), the
// emulator started with it, then trhubd.
export async function startStack({ simArgs = [], env = {}, users, workers, config, custom } = {}) {
	const hub = await new Trhubd(null, { env, users, workers, config, custom }).bind();
	const sim = await new Sim([...simArgs, '--event-callback-url', `${hub.base}/taskrouter_event`]).start();
	hub.sim = sim;
	await hub.launch();
	return { sim, hub, async stop() { await hub.stop(); await sim.stop(); } };
}

// Playwright gives every launch a fresh, temporary --user-data-dir of its own
// (it refuses one in args), removed on close.
export async function launchBrowser() {
	const browser = await chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	return {
		browser,
		async close() {
			await browser.close();
		},
	};
}

// A page that records every request URL and every console error (CSP
// violations among them) so tests can assert there were none.
export async function newPage(browser, { viewport = { width: 1280, height: 720 } } = {}) {
	const context = await browser.newContext({ viewport });
	const page = await context.newPage();
	page.requests = [];
	page.problems = [];
	page.on('request', (r) => page.requests.push({ url: r.url(), method: r.method(), body: r.postData() }));
	page.on('console', (m) => {
		const t = m.text();
		if (/Content Security Policy|Refused to/.test(t)) page.problems.push('CSP: ' + t);
	});
	page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
	return { context, page };
}

export async function login(page, base, user, password, next = '/') {
	await page.goto(`${base}/login?next=${encodeURIComponent(next)}`);
	await page.getByLabel('User name').fill(user);
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Log in' }).click();
}

export async function axe(page) {
	await page.evaluate(axeSource);
	const r = await page.evaluate(async () => {
		const res = await window.axe.run(document, { resultTypes: ['violations'] });
		return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
	});
	return r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page, name) {
	mkdirSync(SHOTS, { recursive: true });
	const path = join(SHOTS, name + '.png');
	await page.screenshot({ path });
	return path;
}

// GET with the page's cookies (the API as the logged-in person sees it).
export async function apiGet(page, path) {
	const r = await page.request.get(new URL(path, page.url()).href);
	if (!r.ok()) throw new Error(`GET ${path}: ${r.status()}`);
	return r.json();
}

// A TCP relay in front of trhubd whose connections the test can cut: a
// network blip as the browser sees it (setOffline does not close a stream
// that is already open).
export async function startRelay(port) {
	const net = await import('node:net');
	const sockets = new Set();
	let down = false;
	const server = net.createServer((c) => {
		if (down) return c.destroy();
		const u = net.connect(port, '127.0.0.1');
		for (const s of [c, u]) {
			sockets.add(s);
			s.on('close', () => sockets.delete(s));
			s.on('error', () => {});
		}
		c.pipe(u);
		u.pipe(c);
		c.on('close', () => u.destroy());
		u.on('close', () => c.destroy());
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	return {
		base: `http://127.0.0.1:${server.address().port}`,
		cut(on = true) {
			down = on;
			if (on) for (const s of sockets) s.destroy();
		},
		close() {
			for (const s of sockets) s.destroy();
			server.close();
		},
	};
}

// POSTs a form to trhubd signed as Twilio signs callbacks (X-Twilio-Signature:
// HMAC-SHA1 of the URL and the sorted parameters, with the auth token).
export async function signedPost(stack, path, params) {
	const { createHmac } = await import('node:crypto');
	const url = stack.hub.base + path;
	const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
	const sig = createHmac('sha1', stack.sim.env.TWILIO_AUTH_TOKEN).update(data).digest('base64');
	const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig }, body: new URLSearchParams(params).toString() });
	return res.status;
}

// The task table and the roster draw only the rows in view (web/lib/rows.js):
// like a person, a test scrolls a table's box to see its rows.
//
// tableRows(page, attr): every row of the table whose rows carry attr
// (data-task, data-worker), its box scrolled from top to bottom a view at
// a time (a frame each); the values of attr in table order, and the count
// the table announces (aria-rowcount less the header). The box is left at
// the top.
export async function tableRows(page, attr) {
	return page.evaluate(async (a) => {
		const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		const box = [...document.querySelectorAll('.scroll[role="region"]')].find((b) => b.querySelector(`tr[${a}]`));
		if (!box) return { rows: [], count: 0 };
		const table = box.querySelector('table');
		const byIndex = new Map();
		for (let top = 0; ; top += Math.max(40, box.clientHeight - 40)) {
			box.scrollTop = top;
			await frame();
			for (const r of box.querySelectorAll(`tr[${a}]`)) byIndex.set(Number(r.getAttribute('aria-rowindex')), r.getAttribute(a));
			if (top >= box.scrollHeight - box.clientHeight) break;
		}
		box.scrollTop = 0;
		await frame();
		const idx = [...byIndex.keys()].sort((x, y) => x - y);
		return { rows: idx.map((k) => byIndex.get(k)), count: Number(table.getAttribute('aria-rowcount') || 1) - 1 };
	}, attr);
}

// Scrolls until the row (matching the selector, and showing text if given)
// is drawn, retrying until the deadline (it may come with a later stream
// message), and brings it into view; its locator.
export async function scrollToRow(page, rowSelector, timeout = TIMEOUT, text = null) {
	await waitFor(`${rowSelector} ${text || ''} scrolled into view`, () => findRow(page, rowSelector, text), timeout);
	const row = page.locator(rowSelector);
	return text ? row.filter({ hasText: text }) : row;
}

// One pass through every table box: is the row anywhere in a table?
export async function findRow(page, rowSelector, text = null) {
	return page.evaluate(async ([sel, txt]) => {
		const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
		const find = () => [...document.querySelectorAll(sel)].find((r) => !txt || r.textContent.includes(txt));
		if (find()) return true;
		for (const box of document.querySelectorAll('.scroll[role="region"]')) {
			for (let top = 0; ; top += Math.max(40, box.clientHeight - 40)) {
				box.scrollTop = top;
				await frame();
				const row = find();
				if (row) {
					row.scrollIntoView({ block: 'nearest' });
					return true;
				}
				if (top >= box.scrollHeight - box.clientHeight) break;
			}
		}
		return false;
	}, [rowSelector, text]);
}
