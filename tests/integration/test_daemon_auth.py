"""Logins, sessions, roles and the Origin check (the lead's login contract, issue 9).

Every request goes over HTTP to the real trhubd; the users come from the
harness's users file (sup: supervisor, alice and bob: workers, sha512crypt).
"""

import json
import time
import urllib.parse

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def login(stack, user, password, origin=True, form=False, query=''):
    hdrs = {}
    if origin:
        hdrs['Origin'] = stack.daemon.origin
    if form:
        hdrs['Content-Type'] = 'application/x-www-form-urlencoded'
        body = urllib.parse.urlencode({'username': user, 'password': password}).encode()
    else:
        hdrs['Content-Type'] = 'application/json'
        body = json.dumps({'username': user, 'password': password}).encode()
    hdrs['Cookie'] = ''
    return dh.http_request(stack.daemon.port, 'POST', '/login' + query, body=body,
                           headers=hdrs)


def call(stack, method, path, cookie=None, origin=True, body=b'', headers=None):
    hdrs = {'Cookie': cookie or ''}
    if origin is True:
        hdrs['Origin'] = stack.daemon.origin
    elif origin:
        hdrs['Origin'] = origin
    if method == 'POST':
        hdrs.setdefault('Content-Type', 'application/json')
    hdrs.update(headers or {})
    return dh.http_request(stack.daemon.port, method, path, body=body if method == 'POST' else None,
                           headers=hdrs)


def test_login_me_logout_with_json_and_form(make_stack):
    stack = make_stack()
    stack.ws.workers.create(friendly_name='alice')
    wk = {w.friendly_name: w.sid for w in stack.ws.workers.list()}['alice']
    dh.converge(lambda: [] if any(w.get('friendlyName') == 'alice' for w in
                                  dh.as_list(stack.daemon.get_json('/api/workers'), 'workers'))
                else ['alice not in the model'], what='alice in the model')

    r = login(stack, 'sup', 'sup-pass')
    assert r.status == 200, r
    assert r.json() == {'identity': 'sup', 'role': 'supervisor', 'workerSid': None}
    sc = r.headers['set-cookie']
    assert 'HttpOnly' in sc and 'SameSite=Strict' in sc and 'Path=/' in sc, sc
    assert 'Secure' not in sc, sc  # public_url is http here
    cookie = dh.cookie_of(r)
    me = call(stack, 'GET', '/api/me', cookie)
    assert me.status == 200, me
    doc = me.json()
    assert doc['identity'] == 'sup' and doc['role'] == 'supervisor'
    assert doc['workerSid'] is None and doc['workerName'] is None
    assert abs(doc['expiresAtMs'] - (time.time() + 1800) * 1000) < 60000, doc

    r = login(stack, 'alice', 'alice-pass', form=True)
    assert r.status == 200, r
    assert r.json() == {'identity': 'alice', 'role': 'worker', 'workerSid': wk}
    alice = dh.cookie_of(r)
    doc = call(stack, 'GET', '/api/me', alice).json()
    assert doc['workerSid'] == wk and doc['workerName'] == 'alice'

    out = call(stack, 'POST', '/logout', alice)
    assert out.status == 204, out
    assert 'Max-Age=0' in out.headers['set-cookie']
    assert call(stack, 'GET', '/api/me', alice).status == 401
    r = call(stack, 'GET', '/api/me')
    assert r.status == 401 and r.json()['error'] == 'login required', r
    # The supervisor's session is untouched by alice's logout.
    assert call(stack, 'GET', '/api/me', cookie).status == 200


def test_wrong_password_and_unknown_user_answer_alike(make_stack):
    stack = make_stack()
    a = login(stack, 'sup', 'wrong')
    b = login(stack, 'nobody-here', 'wrong')
    assert a.status == b.status == 401
    assert a.json() == b.json() == {'error': 'invalid credentials', 'detail': None}
    assert 'set-cookie' not in a.headers and 'set-cookie' not in b.headers
    # Missing fields are a bad request, not a login attempt.
    r = dh.http_request(stack.daemon.port, 'POST', '/login', body=b'{"username": "sup"}',
                        headers={'Content-Type': 'application/json'})
    assert r.status == 400, r


def test_password_in_query_string_is_refused_and_not_logged(make_stack):
    stack = make_stack()
    secret = 'Qz7-query-secret-91'
    r = login(stack, 'sup', 'sup-pass', query='?password=' + secret)
    assert r.status == 400, r
    assert secret.encode() not in r.body
    r = dh.http_request(stack.daemon.port, 'POST', '/login?username=sup&password=' + secret,
                        body=b'', headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status == 400
    stack.daemon.stop()
    assert not [l for l in stack.daemon.past_stderr if secret in l]


def test_roles_gate_the_api(make_stack):
    stack = make_stack()
    sup = dh.cookie_of(login(stack, 'sup', 'sup-pass'))
    alice = dh.cookie_of(login(stack, 'alice', 'alice-pass'))
    for path in ('/api/tasks', '/api/workers', '/api/queues'):
        assert call(stack, 'GET', path).status == 401
        r = call(stack, 'GET', path, alice)
        assert r.status == 403 and r.json()['error'] == 'forbidden', (path, r)
        assert call(stack, 'GET', path, sup).status == 200, path
    assert call(stack, 'GET', '/api/stream').status == 401


def test_state_changing_requests_need_our_origin(make_stack):
    stack = make_stack()
    sup = dh.cookie_of(login(stack, 'sup', 'sup-pass'))
    assert call(stack, 'POST', '/logout', sup, origin=None).status == 403
    assert call(stack, 'POST', '/logout', sup, origin='http://evil.example').status == 403
    assert call(stack, 'GET', '/api/me', sup).status == 200  # still logged in
    # Referer stands in for a missing Origin.
    r = call(stack, 'POST', '/logout', sup, origin=None,
             headers={'Referer': stack.daemon.base_url + '/dashboard'})
    assert r.status == 204, r
    # A login posted from another site is refused.
    r = dh.http_request(stack.daemon.port, 'POST', '/login',
                        body=json.dumps({'username': 'sup', 'password': 'sup-pass'}).encode(),
                        headers={'Content-Type': 'application/json',
                                 'Origin': 'https://evil.example'})
    assert r.status == 403, r


def test_wallboard_token_gives_a_read_only_session(make_stack):
    token = 'wb-' + 'x' * 40
    stack = make_stack(daemon_env={'TRHUB_WALLBOARD_TOKEN': token})
    r = dh.http_request(stack.daemon.port, 'POST', '/login',
                        body=json.dumps({'wallboardToken': 'wrong'}).encode(),
                        headers={'Content-Type': 'application/json'})
    assert r.status == 401
    r = dh.http_request(stack.daemon.port, 'POST', '/login',
                        body=json.dumps({'wallboardToken': token}).encode(),
                        headers={'Content-Type': 'application/json'})
    assert r.status == 200, r
    assert r.json()['role'] == 'wallboard'
    wb = dh.cookie_of(r)
    assert call(stack, 'GET', '/api/workers', wb).status == 200
    me = call(stack, 'GET', '/api/me', wb).json()
    assert me['role'] == 'wallboard'
    # Long-lived: 30 days by default, no idle limit.
    assert me['expiresAtMs'] > (time.time() + 29 * 86400) * 1000


def test_compatibility_logins_warn_at_start(make_stack):
    stack = make_stack(daemon_env={'TOKEN_PASSWORD': 'shared-agent-pw',
                                   'AUTHENTICATION_USER': 'boss',
                                   'AUTHENTICATION_PASSWORD': 'boss-pw'})
    err = '\n'.join(stack.daemon.stderr_lines)
    assert 'TOKEN_PASSWORD' in err and 'AUTHENTICATION_USER' in err
    assert 'shared-agent-pw' not in err and 'boss-pw' not in err
    r = login(stack, 'boss', 'boss-pw')
    assert r.status == 200 and r.json()['role'] == 'supervisor', r
    stack.ws.workers.create(friendly_name='carol')
    dh.converge(lambda: [] if login(stack, 'carol', 'shared-agent-pw').status == 200 else
                ['carol cannot log in yet'], what='carol (a TaskRouter worker) logging in')
    r = login(stack, 'carol', 'shared-agent-pw')
    assert r.json()['role'] == 'worker' and r.json()['workerSid'].startswith('WK')
    # A name that is no TaskRouter worker gets nothing from the shared password.
    assert login(stack, 'mallory', 'shared-agent-pw').status == 401


def test_idle_session_expires(make_stack):
    stack = make_stack(daemon_env={'TRHUB_SESSION_IDLE_S': '1'})
    sup = dh.cookie_of(login(stack, 'sup', 'sup-pass'))
    assert call(stack, 'GET', '/api/me', sup).status == 200
    time.sleep(1.5)  # real time: the idle limit is 1 s and nothing renews the session
    r = call(stack, 'GET', '/api/tasks', sup)
    assert r.status == 401 and r.json()['error'] == 'login required'


def test_users_file_reloads_on_sighup(make_stack):
    import crypt
    import signal
    stack = make_stack()
    alice = dh.cookie_of(login(stack, 'alice', 'alice-pass'))
    path = stack.daemon.extra_env['TRHUB_USERS_FILE']
    with open(path, 'w') as f:
        f.write('sup:supervisor:%s\n' % crypt.crypt('sup-pass', crypt.mksalt(crypt.METHOD_SHA512)))
        f.write('dave:worker:%s\n' % crypt.crypt('dave-pass', crypt.mksalt(crypt.METHOD_SHA512)))
    stack.daemon.signal(signal.SIGHUP)
    stack.daemon.notify.wait_for('READY=1', dh.DEFAULT_TIMEOUT)
    dh.converge(lambda: [] if login(stack, 'dave', 'dave-pass').status == 200 else
                ['dave not yet'], what='the reloaded users file')
    # alice is gone: her session ended and she cannot log in again.
    assert call(stack, 'GET', '/api/me', alice).status == 401
    assert login(stack, 'alice', 'alice-pass').status == 401


def test_ops_routes_are_local_only(make_stack):
    stack = make_stack()
    for path in ('/healthz', '/readyz', '/metrics'):
        r = dh.http_request(stack.daemon.port, 'GET', path, headers={'Cookie': ''})
        assert r.status in (200, 503), (path, r)  # loopback: served without a login


def activity_sid(stack, name):
    return {a.friendly_name: a.sid for a in stack.ws.activities.list()}[name]


def test_worker_stream_shows_only_that_worker(make_stack):
    stack = make_stack()
    alice = stack.ws.workers.create(friendly_name='alice')
    bob = stack.ws.workers.create(friendly_name='bob')
    dh.converge(lambda: [] if login(stack, 'alice', 'alice-pass').json().get('workerSid')
                else ['alice not resolved'], what='alice in the model')
    ca = dh.cookie_of(login(stack, 'alice', 'alice-pass'))
    sup = dh.SSEClient(stack.daemon.port)
    mine = dh.SSEClient(stack.daemon.port, headers={'Cookie': ca})
    try:
        mine.wait(lambda c: c.of('snapshot'), what="alice's snapshot")
        sup.wait(lambda c: c.of('snapshot'), what="the supervisor's snapshot")
        snap = json.loads(mine.of('snapshot')[0]['data'])
        assert [w['sid'] for w in snap['workers']] == [alice.sid], snap['workers']
        assert bob.sid not in mine.of('snapshot')[0]['data']
        assert bob.sid in sup.of('snapshot')[0]['data']
        stack.ws.workers(bob.sid).update(activity_sid=activity_sid(stack, 'Available'))
        sup.wait(lambda c: [m for m in c.of('worker') if bob.sid in m['data']],
                 what="bob's worker message on the supervisor's stream")
        stack.ws.workers(alice.sid).update(activity_sid=activity_sid(stack, 'Available'))
        mine.wait(lambda c: [m for m in c.of('worker') if alice.sid in m['data']],
                  what="alice's own worker message")
        sup.wait(lambda c: [m for m in c.of('event') if alice.sid in m['data']],
                 what="alice's event on the supervisor's stream")
        mine.wait(lambda c: [m for m in c.of('event') if alice.sid in m['data']],
                  what="alice's own event")
        # Everything alice received is about alice (or aggregate statistics).
        for m in mine.messages:
            assert bob.sid not in (m['data'] or ''), m
    finally:
        sup.close()
        mine.close()


def test_worker_stream_without_a_taskrouter_worker(make_stack):
    # bob is a worker login, but TaskRouter has no worker of that name: his
    # snapshot holds no worker (it held a null one, which the agent page choked on).
    stack = make_stack()
    r = login(stack, 'bob', 'bob-pass')
    assert r.status == 200 and r.json().get('workerSid') is None, r.json()
    mine = dh.SSEClient(stack.daemon.port, headers={'Cookie': dh.cookie_of(r)})
    try:
        mine.wait(lambda c: c.of('snapshot'), what="bob's snapshot")
        assert json.loads(mine.of('snapshot')[0]['data'])['workers'] == []
    finally:
        mine.close()


def test_hash_password_prints_a_users_file_hash():
    import crypt
    import subprocess
    for args, prefix in (([], '$y$'), (['sha512crypt'], '$6$')):
        r = subprocess.run([dh.trhubd_binary(), '--hash-password'] + args,
                           input='correct horse\n', capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        h = r.stdout.strip()
        assert h.startswith(prefix), h
        assert crypt.crypt('correct horse', h) == h
        assert crypt.crypt('wrong horse', h) != h
        assert 'correct horse' not in r.stdout + r.stderr
    r = subprocess.run([dh.trhubd_binary(), '--hash-password', 'md5'], input='x\n',
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and 'yescrypt or sha512crypt' in r.stderr
    r = subprocess.run([dh.trhubd_binary(), '--hash-password'], input='\n',
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and 'empty password' in r.stderr
