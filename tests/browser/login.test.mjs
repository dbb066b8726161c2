// Logging in and out: a wrong password shows an error and no request ever
// carries a password in its URL; a session that expires sends the person to
// the login page and, after logging in again, back where they were; logout
// ends the session.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USERS, axe, launchBrowser, login, newPage, screenshot, startStack, waitFor } from './harness.mjs';

let stack, chrome;
before(async () => {
	// A short idle limit so that expiry happens within the test.
	stack = await startStack({ env: { TRHUB_SESSION_IDLE_S: '2' } });
	chrome = await launchBrowser();
});
after(async () => {
	if (chrome) await chrome.close();
	if (stack) await stack.stop();
	assert.deepEqual(stack.hub.errors(), []);
});

function noSecretInUrls(page) {
	for (const r of page.requests) {
		for (const secret of [USERS.sup, 'wrong-password-123']) assert.ok(!r.url.includes(secret), `secret in URL ${r.url}`);
		assert.ok(!/password=/i.test(new URL(r.url).search), `password parameter in ${r.url}`);
	}
}

test('wrong password: an error, no session, nothing secret in any URL', async () => {
	const { page, context } = await newPage(chrome.browser);
	await page.goto(stack.hub.base + '/');
	await page.waitForURL(/\/login\?next=/); // not logged in: the dashboard sends us to the login
	assert.deepEqual(await axe(page), []);
	await page.getByLabel('User name').fill('sup');
	await page.getByLabel('Password').fill('wrong-password-123');
	await page.getByRole('button', { name: 'Log in' }).click();
	await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
	assert.equal(await page.getByLabel('Password').inputValue(), '');
	assert.equal((await page.request.get(stack.hub.base + '/api/me')).status(), 401);
	const post = page.requests.find((r) => r.method === 'POST' && r.url.endsWith('/login'));
	assert.ok(post && post.body.includes('wrong-password-123'), 'the password travels in the POST body');
	await screenshot(page, 'login-error');
	noSecretInUrls(page);
	assert.deepEqual(page.problems, []);
	await context.close();
});

test('session expiry: back to the login, then back where the person was; logout', async () => {
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup, '/dashboard?view=x');
	await page.waitForURL(stack.hub.base + '/dashboard?view=x');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	// idle for longer than session_idle_s: the page's next check finds it gone
	await page.waitForURL(/\/login\?next=%2Fdashboard%3Fview%3Dx/, { timeout: 20000 });
	await page.getByLabel('User name').fill('sup');
	await page.getByLabel('Password').fill(USERS.sup);
	await page.getByRole('button', { name: 'Log in' }).click();
	await page.waitForURL(stack.hub.base + '/dashboard?view=x');
	await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
	await page.getByRole('button', { name: 'Log out' }).click();
	await page.waitForURL(/\/login/);
	assert.equal((await page.request.get(stack.hub.base + '/api/me')).status(), 401);
	noSecretInUrls(page);
	assert.deepEqual(page.problems, []);
	await context.close();
});

test('a login page never follows a next= to another site', async () => {
	const { page, context } = await newPage(chrome.browser);
	await login(page, stack.hub.base, 'sup', USERS.sup, '//evil.example/x');
	await page.waitForURL(stack.hub.base + '/');
	await context.close();
});
