"""The authorization matrix, generated from trhubd's own route table.

`trhubd --list-routes` prints every route with the role the pipeline
enforces; each route is called as each principal (anonymous, worker A,
worker B, supervisor, a supervisor session with a wrong Origin, one with no
Origin at all, and an ended session) and the status is compared with what
the role allows. A new route with a role this test does not know fails it,
so no route can be added without deciding who may call it.

"Allowed" means the request passed identity, role and Origin: the handler
then answers from the resource (200, 404 for a SID nobody holds, 400 for an
empty action, 409 for a worker unknown to TaskRouter, 503 before the first
statistics): never 401 or 403.
"""

import json
import os
import socket
import subprocess

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

PRINCIPALS = ('anonymous', 'worker_a', 'worker_b', 'supervisor', 'wallboard', 'wrong_origin',
              'no_origin', 'ended_session')

WALLBOARD_TOKEN = 'wb-matrix-' + 'k' * 32

SID_OF = {'{WR}': 'WR' + '1' * 32, '{WT}': 'WT' + '2' * 32, '{CF}': 'CF' + '3' * 32,
          '{WK}': 'WK' + '4' * 32}

KNOWN_ROLES = {'twilio', 'local', 'anyone', 'session', 'viewer', 'supervisor', 'worker', 'agent'}


def routes():
    out = subprocess.run([dh.trhubd_binary(), '--list-routes'], check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert rows and all(len(r) == 3 for r in rows), out
    return [tuple(r) for r in rows]


def session_role(principal):
    return {'worker_a': 'worker', 'worker_b': 'worker', 'supervisor': 'supervisor',
            'wallboard': 'wallboard', 'wrong_origin': 'supervisor',
            'no_origin': 'supervisor'}.get(principal)


def expected(method, path, role, principal):
    """'ok' (through the gate: neither 401 nor 403) or the exact refusal status."""
    assert role in KNOWN_ROLES, 'route %s %s has role %r: decide who may call it' % (
        method, path, role)
    post = method == 'POST'
    bad_origin = principal in ('wrong_origin', 'no_origin')
    srole = session_role(principal)
    if role == 'twilio':
        return 403  # no X-Twilio-Signature, whoever calls
    if role == 'local':
        return 'ok'  # the test runs on loopback; no login involved
    if path == '/login' and post:
        return 403 if principal == 'wrong_origin' else 'ok'
    if role == 'anyone':
        if post and bad_origin:
            return 403
        if path == '/api/me' and srole is None:
            return 401
        return 'ok'
    if srole is None:
        return 401  # anonymous, ended session
    allowed = {'session': ('worker', 'supervisor', 'wallboard'),
               'viewer': ('supervisor', 'wallboard'),
               'supervisor': ('supervisor',),
               'worker': ('worker',),
               'agent': ('worker', 'supervisor')}[role]
    if srole not in allowed:
        return 403
    if post and bad_origin:
        return 403
    return 'ok'


def stream_status(port, headers):
    """Status of GET /api/stream without waiting for the (endless) body."""
    s = socket.create_connection(('127.0.0.1', port), timeout=dh.DEFAULT_TIMEOUT)
    try:
        req = 'GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % port
        for k, v in headers.items():
            req += '%s: %s\r\n' % (k, v)
        s.sendall((req + '\r\n').encode())
        line = b''
        while not line.endswith(b'\r\n'):
            chunk = s.recv(1)
            if not chunk:
                break
            line += chunk
        return int(line.split()[1])
    finally:
        s.close()


def test_every_route_for_every_principal(make_stack):
    stack = make_stack(daemon_env={'TRHUB_WALLBOARD_TOKEN': WALLBOARD_TOKEN})
    port = stack.daemon.port
    table = routes()
    paths = {(m, p) for m, p, _ in table}
    # The DESIGN.md surface this issue adds is all there.
    for want in [('POST', '/login'), ('POST', '/logout'), ('GET', '/api/me'), ('GET', '/token'),
                 ('GET', '/api/worker/token'), ('GET', '/api/workspace'),
                 ('POST', '/api/worker/activity'), ('POST', '/api/reservations/{WR}/accept'),
                 ('POST', '/api/reservations/{WR}/reject'),
                 ('POST', '/api/reservations/{WR}/complete'),
                 ('POST', '/api/conferences/{CF}/end'), ('POST', '/api/tasks/{WT}/complete'),
                 ('POST', '/api/tasks/{WT}/cancel'), ('POST', '/api/workers/{WK}/activity'),
                 ('GET', '/api/stream'), ('GET', '/metrics'), ('GET', '/healthz'),
                 ('GET', '/readyz')]:
        assert want in paths, want

    cookies = {}
    for principal, (user, pw) in (('worker_a', dh.WORKER), ('worker_b', ('bob', 'bob-pass')),
                                  ('supervisor', dh.SUPERVISOR)):
        r = stack.daemon.login(user, pw, remember=False)
        assert r.status == 200, r
        cookies[principal] = dh.cookie_of(r)
    r = dh.http_request(port, 'POST', '/login',
                        body=json.dumps({'wallboardToken': WALLBOARD_TOKEN}).encode(),
                        headers={'Content-Type': 'application/json'})
    assert r.status == 200 and r.json()['role'] == 'wallboard', r
    cookies['wallboard'] = dh.cookie_of(r)
    cookies['wrong_origin'] = cookies['no_origin'] = cookies['supervisor']
    r = stack.daemon.login(*dh.SUPERVISOR, remember=False)
    ended = dh.cookie_of(r)
    assert dh.http_request(port, 'POST', '/logout',
                           headers={'Cookie': ended, 'Origin': stack.daemon.origin}).status == 204
    cookies['ended_session'] = ended

    failures = []
    count = 0
    for method, path, role in table:
        target = path
        for k, v in SID_OF.items():
            target = target.replace(k, v)
        for principal in PRINCIPALS:
            if path == '/logout' and principal in ('supervisor', 'worker_a', 'worker_b',
                                                   'wallboard'):
                continue  # would end the sessions the other rows use; covered by ended_session
            hdrs = {'Cookie': cookies.get(principal, '')}
            if principal == 'wrong_origin':
                hdrs['Origin'] = 'https://evil.example'
            elif principal != 'no_origin':
                hdrs['Origin'] = stack.daemon.origin
            body = None
            if method == 'POST':
                if role == 'twilio':
                    hdrs['Content-Type'] = 'application/x-www-form-urlencoded'
                    body = b'EventType=task.created'
                else:
                    hdrs['Content-Type'] = 'application/json'
                    body = b'{}'
            if path == '/api/stream':
                status = stream_status(port, hdrs)
            else:
                status = dh.http_request(port, method, target, body=body, headers=hdrs).status
            want = expected(method, path, role, principal)
            count += 1
            ok = status not in (401, 403) if want == 'ok' else status == want
            if not ok:
                failures.append('%s %s as %s: HTTP %d, expected %s' % (
                    method, target, principal, status, want))
    assert not failures, '\n'.join(failures)
    assert count >= len(table) * len(PRINCIPALS) - 4


def test_role_table_matches_the_man_page():
    """Every route --list-routes prints appears in trhubd(8)'s HTTP ROUTES table."""
    man = open(os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                            'trhubd.8.scd')).read()
    for method, path, role in routes():
        # scdoc tables cannot hold "T}", so the page writes {WT} as <WT>.
        shown = path.replace('{', '<').replace('}', '>')
        assert '*%s %s*' % (method, shown) in man, (method, path)
