"""Brute force against POST /login, and no secret in trhubd's output.

trhubd runs behind a (simulated) trusted proxy so that clients can have
different addresses: with trusted_proxies = 127.0.0.1 the client is the
right-most X-Forwarded-For entry that is not a trusted proxy. 1,000 wrong passwords for one
user from one address are throttled (nearly all answered 429 with
Retry-After, without a hash check); the right password still works for that
user from another address and for other users from the attacker's address.
Then the whole log, at debug level with every trace on, is searched for the
auth token, the API secret, every password, every session id and every
token trhubd issued.
"""

import json
import time

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

ATTACKER = '198.51.100.66'
ELSEWHERE = '198.51.100.77'
THIRD = '198.51.100.88'


def attempt(stack, user, password, addr):
    return dh.http_request(stack.daemon.port, 'POST', '/login',
                           body=json.dumps({'username': user, 'password': password}).encode(),
                           headers={'Content-Type': 'application/json',
                                    'X-Forwarded-For': addr})


def test_thousand_wrong_passwords_are_throttled_and_nothing_secret_is_logged(make_stack):
    wallboard = 'wb-' + 'q7' * 20
    stack = make_stack(daemon_args=['-v', '--trace=all'],
                       daemon_env={'TRHUB_TRUSTED_PROXIES': '127.0.0.1',
                                   'TRHUB_WALLBOARD_TOKEN': wallboard})
    secrets_seen = [stack.sim.auth_token, stack.sim.api_secret, 'sup-pass', 'alice-pass',
                    'bob-pass', wallboard]
    statuses = {}
    retry_after_ok = True
    t0 = time.monotonic()
    for i in range(1000):
        pw = 'guess-%04d-x' % i
        r = attempt(stack, 'sup', pw, ATTACKER)
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.status == 429:
            ra = r.headers.get('retry-after', '')
            retry_after_ok = retry_after_ok and ra.isdigit() and int(ra) >= 1
        if i < 20:
            secrets_seen.append(pw)
    elapsed = time.monotonic() - t0
    assert set(statuses) <= {401, 429}, statuses
    # 5 free failures, then each lockout allows one more check when it ends.
    assert statuses.get(401, 0) <= 12, statuses
    assert statuses.get(429, 0) >= 988, statuses
    assert retry_after_ok
    # Throttled answers cost no hash: 1,000 attempts take a few seconds at most.
    assert elapsed < 60, elapsed

    # The right password is refused from the attacker's address while locked...
    r = attempt(stack, 'sup', 'sup-pass', ATTACKER)
    assert r.status == 429, r
    # ...but works for the same user elsewhere, and for others at the attacker's address.
    r = attempt(stack, 'sup', 'sup-pass', ELSEWHERE)
    assert r.status == 200, r
    sessions = [dh.cookie_of(r)]
    r = attempt(stack, 'alice', 'alice-pass', ATTACKER)
    assert r.status == 200, r
    sessions.append(dh.cookie_of(r))
    r = attempt(stack, 'bob', 'bob-pass', THIRD)
    assert r.status == 200, r
    sessions.append(dh.cookie_of(r))

    # Issue some tokens, so they could leak too.
    r = dh.http_request(stack.daemon.port, 'GET', '/token', headers={'Cookie': sessions[0]})
    assert r.status == 200, r
    issued = [r.json()['token']]
    r = dh.http_request(stack.daemon.port, 'POST', '/login',
                        body=json.dumps({'wallboardToken': wallboard}).encode(),
                        headers={'Content-Type': 'application/json'})
    assert r.status == 200
    sessions.append(dh.cookie_of(r))

    stack.daemon.stop()
    log = '\n'.join(stack.daemon.past_stderr)
    assert 'login failed for sup from ' + ATTACKER in log  # the log does say what happened
    assert 'debug' in log  # the most verbose level was really on
    needles = secrets_seen + [c.split('=', 1)[1] for c in sessions] + issued
    needles += [t.split('.')[2] for t in issued]  # JWT signatures alone
    leaked = [n for n in needles if n and n in log]
    assert not leaked, 'secrets in the log: %r' % leaked
