"""trhubd serving HTTPS itself (tls_cert, tls_key; issue 12 "TLS without a proxy").

Each test makes its own certificate authority and server certificates with
the openssl command in a temporary directory, starts trhubd (the systemd way,
daemon_harness) against trhub-sim, and judges it with independent clients:
curl, openssl s_client, Python's ssl module, and python3-twilio's
RequestValidator for the webhook signature over the https public_url.
"""

import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from daemon_harness import (DEFAULT_TIMEOUT, SUPERVISOR, Stack, compute_signature,
                            encode_form, rand_sid)
import daemon_harness as dh
import trhub_harness as th

OPENSSL = '/usr/bin/openssl'
CURL = '/usr/bin/curl'
TOOL_TIMEOUT = 20


def run(argv, check=True, input=None):
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=TOOL_TIMEOUT, stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError('%s failed (%d): %s' % (argv[0], p.returncode,
                                                    p.stderr.decode(errors='replace')))
    return p


class Pki:
    """A throwaway CA and the server certificates it signs (RSA 2048, CN 127.0.0.1)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='trhubd-tls-')
        self.ca_key = self.path('ca.key')
        self.ca = self.path('ca.pem')
        run([OPENSSL, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', self.ca_key,
             '-out', self.ca, '-subj', '/CN=trhub test CA', '-days', '2'])
        with open(self.path('ext.cnf'), 'w') as f:
            f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\n')

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, serial):
        """name.pem (certificate) and name.key (mode 0600) signed by the CA."""
        key = self.path(name + '.key')
        csr = self.path(name + '.csr')
        cert = self.path(name + '.pem')
        run([OPENSSL, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr,
             '-subj', '/CN=127.0.0.1'])
        os.chmod(key, 0o600)
        run([OPENSSL, 'x509', '-req', '-in', csr, '-CA', self.ca, '-CAkey', self.ca_key,
             '-set_serial', str(serial), '-days', '2', '-extfile', self.path('ext.cnf'),
             '-out', cert])
        return cert, key


def https_stack(pki, cert, key, extra_env=None, expected_errors=()):
    """trhub-sim + trhubd serving HTTPS with public_url https://127.0.0.1:<port>."""
    stack = Stack(start_daemon=False, callbacks=False, expected_errors=expected_errors)
    port = stack.daemon.port
    env = {'TRHUB_TLS_CERT': cert, 'TRHUB_TLS_KEY': key,
           'TRHUB_PUBLIC_URL': 'https://127.0.0.1:%d' % port}
    env.update(extra_env or {})
    stack.daemon.extra_env.update({k: v for k, v in env.items() if v is not None})
    for k, v in env.items():
        if v is None:
            stack.daemon.extra_env.pop(k, None)
    try:
        stack.daemon.start()
    except BaseException:
        stack.close(check=False)
        raise
    return stack


def https_request(pki, port, method, path, body=None, headers=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=DEFAULT_TIMEOUT, context=ctx)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def s_client(port, *args):
    """openssl s_client; returns (handshake completed, output)."""
    p = run([OPENSSL, 's_client', '-connect', '127.0.0.1:%d' % port, '-servername', 'localhost',
             '-brief'] + list(args), check=False, input=b'')
    out = (p.stdout + p.stderr).decode(errors='replace')
    return p.returncode == 0 and 'Protocol version' in out, out


def served_serial(port, pki):
    """The serial of the certificate the server presents, read by openssl."""
    p = run([OPENSSL, 's_client', '-connect', '127.0.0.1:%d' % port, '-CAfile', pki.ca,
             '-verify_return_error', '-showcerts'], input=b'', check=False)
    assert p.returncode == 0, p.stderr.decode(errors='replace')
    pem = re.search(rb'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', p.stdout,
                    re.S).group(0)
    x = run([OPENSSL, 'x509', '-noout', '-serial'], input=pem)
    return int(x.stdout.decode().strip().split('=')[1], 16)


@pytest.fixture(scope='module')
def pki():
    p = Pki()
    yield p
    shutil.rmtree(p.dir, ignore_errors=True)


@pytest.fixture
def tls_stack(pki):
    cert, key = pki.issue('server', 4097)
    stack = https_stack(pki, cert, key)
    yield stack
    stack.close()


def test_curl_healthz_and_signed_webhook_over_https(tls_stack, pki):
    port = tls_stack.daemon.port
    p = run([CURL, '-sS', '--cacert', pki.ca, '-o', '-', '-w', '\n%{http_code} %{ssl_verify_result}',
             'https://127.0.0.1:%d/healthz' % port])
    assert p.stdout.decode().rstrip().endswith('200 0'), p.stdout
    # Without the CA, curl refuses the certificate: the check above verified it.
    p = run([CURL, '-sS', 'https://127.0.0.1:%d/healthz' % port], check=False)
    assert p.returncode == 60, (p.returncode, p.stderr)
    # Plain HTTP on the TLS port is not served.
    p = run([CURL, '-sS', '-m', '5', 'http://127.0.0.1:%d/healthz' % port], check=False)
    assert p.returncode != 0

    url = 'https://127.0.0.1:%d/taskrouter_event' % port
    wt = rand_sid('WT')
    params = {'EventType': 'task.created', 'TaskSid': wt, 'AccountSid': tls_stack.sim.account_sid,
              'WorkspaceSid': tls_stack.sim.workspace_sid, 'TaskAttributes': '{}',
              'TaskAssignmentStatus': 'pending', 'TaskAge': '0', 'TaskPriority': '0',
              'Timestamp': str(int(time.time())), 'Sid': rand_sid('EV')}
    body = encode_form(params)
    sig = compute_signature(tls_stack.auth_token, url, params)
    hdrs = {'Content-Type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': sig}
    status, _, _ = https_request(pki, port, 'POST', '/taskrouter_event', body, hdrs)
    assert status == 204
    # The signature is checked against the https URL: the http one's is refused.
    hdrs['X-Twilio-Signature'] = compute_signature(
        tls_stack.auth_token, 'http://127.0.0.1:%d/taskrouter_event' % port, params)
    status, _, _ = https_request(pki, port, 'POST', '/taskrouter_event', body, hdrs)
    assert status == 403


def test_protocol_versions(tls_stack):
    port = tls_stack.daemon.port
    for v in ('-tls1_2', '-tls1_3'):
        ok, out = s_client(port, v)
        assert ok, out
        assert ('TLSv1.2' if v == '-tls1_2' else 'TLSv1.3') in out, out
    # The client is allowed the old versions (security level 0), so a failure is the
    # server's refusal: its "protocol version" alert.
    for v in ('-tls1_1', '-tls1'):
        ok, out = s_client(port, v, '-cipher', 'DEFAULT:@SECLEVEL=0')
        assert not ok, out
        assert 'alert protocol version' in out, out


def test_weak_cipher_refused(tls_stack):
    port = tls_stack.daemon.port
    ok, out = s_client(port, '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256')
    assert ok and 'ECDHE-RSA-AES128-GCM-SHA256' in out, out
    for weak in ('AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'AES256-GCM-SHA384',
                 'ECDHE-RSA-AES256-SHA384'):
        ok, out = s_client(port, '-tls1_2', '-cipher', weak + ':@SECLEVEL=0')
        assert not ok, (weak, out)
        assert 'handshake failure' in out, (weak, out)


def test_login_cookie_secure_over_tls_only(tls_stack, pki):
    port = tls_stack.daemon.port
    origin = 'https://127.0.0.1:%d' % port
    status, hdrs, body = https_request(
        pki, port, 'POST', '/login', json.dumps({'username': SUPERVISOR[0],
                                                 'password': SUPERVISOR[1]}).encode(),
        {'Content-Type': 'application/json', 'Origin': origin})
    assert status == 200, body
    cookie = hdrs['set-cookie']
    assert re.search(r';\s*Secure\b', cookie), cookie
    status, _, body = https_request(pki, port, 'GET', '/api/me',
                                    headers={'Cookie': cookie.split(';')[0]})
    assert status == 200 and json.loads(body)['role'] == 'supervisor'

    plain = Stack(callbacks=False)  # plain HTTP, http public_url
    try:
        r = plain.daemon.login(*SUPERVISOR)
        assert r.status == 200
        assert 'trhub_session=' in r.headers['set-cookie']
        assert 'secure' not in r.headers['set-cookie'].lower(), r.headers['set-cookie']
    finally:
        plain.close()


def test_sighup_reloads_certificate_and_keeps_it_on_bad_files(pki):
    cert, key = pki.issue('reload', 1001)
    # The daemon reads the files at fixed paths (as certbot renews in place).
    live_cert, live_key = pki.path('live.pem'), pki.path('live.key')
    os.replace(cert, live_cert)
    os.replace(key, live_key)
    stack = https_stack(pki, live_cert, live_key,
                        expected_errors=(r'TLS certificate not reloaded',))
    try:
        port = stack.daemon.port
        assert served_serial(port, pki) == 1001
        cert2, key2 = pki.issue('renewed', 2002)
        os.replace(cert2, live_cert)
        os.replace(key2, live_key)
        stack.daemon.signal(1)  # SIGHUP
        th.wait_until(lambda: served_serial(port, pki) == 2002, what='the renewed certificate')
        n_ok = sum('TLS certificate from' in l for l in stack.daemon.stderr_lines)
        assert n_ok >= 1

        # A key that does not match the certificate: refused, the renewed one stays.
        cert3, key3 = pki.issue('mismatch', 3003)
        os.replace(cert3, live_cert)
        stack.daemon.signal(1)
        th.wait_until(lambda: any('TLS certificate not reloaded' in l and 'does not match' in l
                                  for l in stack.daemon.stderr_lines), what='the refusal')
        assert served_serial(port, pki) == 2002
        # Garbage instead of a certificate: refused too.
        with open(live_cert, 'w') as f:
            f.write('not a certificate\n')
        stack.daemon.signal(1)
        th.wait_until(lambda: sum('TLS certificate not reloaded' in l
                                  for l in stack.daemon.stderr_lines) >= 2,
                      what='the second refusal')
        assert served_serial(port, pki) == 2002
        status, _, _ = https_request(pki, port, 'GET', '/healthz')
        assert status == 200
    finally:
        stack.close()


def test_handshake_never_finished_is_dropped_at_header_timeout(pki):
    cert, key = pki.issue('slow', 5005)
    stack = https_stack(pki, cert, key, {'TRHUB_HTTP_HEADER_TIMEOUT_S': '2'})
    try:
        port = stack.daemon.port
        results = {}

        def hold(name, first_bytes):
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            t0 = time.monotonic()
            try:
                if first_bytes:
                    s.sendall(first_bytes)
                data = s.recv(4096)  # EOF (b'') or a reset when trhubd drops it
                results[name] = (time.monotonic() - t0, data)
            except ConnectionResetError:
                results[name] = (time.monotonic() - t0, b'')
            except socket.timeout:
                results[name] = (None, b'')
            finally:
                s.close()

        # Silent after TCP; and the first bytes of a ClientHello, then nothing.
        threads = [threading.Thread(target=hold, args=('silent', b'')),
                   threading.Thread(target=hold, args=('partial', b'\x16\x03\x01\x02\x00\x01'))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        for name, (elapsed, data) in results.items():
            assert elapsed is not None, '%s: still open after 10 s' % name
            assert 1.5 <= elapsed <= 4.0, (name, elapsed)
            assert data == b'', (name, data)
        assert len(results) == 2
        # The daemon still serves a complete handshake.
        status, _, _ = https_request(pki, port, 'GET', '/healthz')
        assert status == 200
    finally:
        stack.close()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_redirect_listener_answers_308_to_https(pki):
    cert, key = pki.issue('redir', 6006)
    rport = free_port()
    stack = https_stack(pki, cert, key, {'TRHUB_TLS_REDIRECT_LISTEN': '127.0.0.1:%d' % rport})
    try:
        port = stack.daemon.port
        conn = http.client.HTTPConnection('127.0.0.1', rport, timeout=DEFAULT_TIMEOUT)
        conn.request('GET', '/dashboard?wallboard=1')
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 308
        assert resp.getheader('Location') == 'https://127.0.0.1:%d/dashboard?wallboard=1' % port
        # keep-alive: a second request on the same connection
        conn.request('POST', '/taskrouter_event', body=b'a=1',
                     headers={'Content-Type': 'application/x-www-form-urlencoded'})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 308
        assert resp.getheader('Location') == 'https://127.0.0.1:%d/taskrouter_event' % port
        conn.close()
        # curl follows it to the https listener
        p = run([CURL, '-sS', '-L', '--cacert', pki.ca, '-o', '/dev/null', '-w',
                 '%{http_code} %{url_effective}', 'http://127.0.0.1:%d/healthz' % rport])
        assert p.stdout.decode() == '200 https://127.0.0.1:%d/healthz' % port
    finally:
        stack.close()


def test_credentials_directory_and_key_mode(pki):
    cert, key = pki.issue('cred', 7007)
    creds = tempfile.mkdtemp(prefix='trhubd-creds-', dir=pki.dir)
    # systemd LoadCredential=tls_cert:... and tls_key:..., the keys left unset.
    for src, name in ((cert, 'tls_cert'), (key, 'tls_key')):
        with open(src, 'rb') as f, open(os.path.join(creds, name), 'wb') as g:
            g.write(f.read())
        os.chmod(os.path.join(creds, name), 0o400)
    stack = https_stack(pki, None, None, {'CREDENTIALS_DIRECTORY': creds})
    try:
        assert served_serial(stack.daemon.port, pki) == 7007
        # --doctor loads the same files and reports the certificate.
        env = dict(os.environ, **stack.daemon.extra_env)
        p = subprocess.run([stack.daemon.argv[0], '--doctor'], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT)
        tls_lines = [l for l in p.stdout.decode().splitlines() if re.match(r'\S+\s+tls\s', l)]
        assert len(tls_lines) == 1, p.stdout
        # A two-day certificate: the doctor warns (under 14 days left).
        assert tls_lines[0].startswith('warn'), tls_lines
        assert 'key matches' in tls_lines[0] and 'serial %X' % 7007 in tls_lines[0], tls_lines
        assert re.search(r'expires in [12] days', tls_lines[0]), tls_lines
    finally:
        stack.close()

    # A key every user may read is refused at start, with the fix.
    os.chmod(key, 0o644)
    stack = Stack(start_daemon=False, callbacks=False)
    try:
        stack.daemon.extra_env.update({'TRHUB_TLS_CERT': cert, 'TRHUB_TLS_KEY': key})
        # --check-config (the unit's ExecStartPre) with the daemon's environment.
        env = dict(os.environ, **stack.daemon.extra_env)
        p = subprocess.run([stack.daemon.argv[0], '--check-config'], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TOOL_TIMEOUT)
        assert p.returncode == 1
        assert b'every user can read it' in p.stderr and b'chmod go-w,o-rwx' in p.stderr, p.stderr
    finally:
        stack.close()


def test_large_answer_with_close_and_stream_over_tls(tls_stack, pki):
    """A 60+ KB asset on a Connection: close request arrives whole (the front door
    reports an answer written only once TLS has handed every byte to the kernel), and
    the live stream works over TLS."""
    port = tls_stack.daemon.port
    web = os.environ['TRHUB_WEB_BUILD_DIR']
    assets = sorted((os.path.getsize(os.path.join(web, 'assets', n)), n)
                    for n in os.listdir(os.path.join(web, 'assets')) if n.endswith('.js'))
    size, name = assets[-1]
    assert size > 60000
    pid = tls_stack.daemon.proc.pid
    for _ in range(10):
        p = run([CURL, '-sS', '--cacert', pki.ca, '-H', 'Connection: close', '-H',
                 'Accept-Encoding: identity', '-o', '/dev/null', '-w', '%{http_code} %{size_download}',
                 'https://127.0.0.1:%d/assets/%s' % (port, name)])
        assert p.stdout.decode() == '200 %d' % size
    # Every closed TLS connection gave its descriptor back (counted on the listening
    # port only: trhubd's own connections to the emulator come and go meanwhile).
    th.wait_until(lambda: dh.served_connections(pid, port) == 0,
                  what='no accepted connection left open on port %d' % port)

    status, hdrs, _ = https_request(
        pki, port, 'POST', '/login', json.dumps({'username': SUPERVISOR[0],
                                                 'password': SUPERVISOR[1]}).encode(),
        {'Content-Type': 'application/json', 'Origin': 'https://127.0.0.1:%d' % port})
    assert status == 200
    ctx = ssl.create_default_context(cafile=pki.ca)
    raw = socket.create_connection(('127.0.0.1', port), timeout=DEFAULT_TIMEOUT)
    with ctx.wrap_socket(raw, server_hostname='127.0.0.1') as s:
        s.sendall(('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\n'
                   'Accept: text/event-stream\r\n\r\n' % (port, hdrs['set-cookie'].split(';')[0]))
                  .encode())
        got = b''
        end = time.monotonic() + DEFAULT_TIMEOUT
        while b'event: snapshot' not in got and time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got.startswith(b'HTTP/1.1 200'), got[:200]
        assert b'event: snapshot' in got, got[:500]


def test_keep_alive_requests_over_tls(tls_stack, pki):
    """Many requests on one TLS connection: each answer completes the request cycle."""
    port = tls_stack.daemon.port
    ctx = ssl.create_default_context(cafile=pki.ca)
    conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=DEFAULT_TIMEOUT, context=ctx)
    try:
        for i in range(20):
            conn.request('GET', '/healthz')
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, (i, resp.status)
            assert not resp.will_close, i
    finally:
        conn.close()
