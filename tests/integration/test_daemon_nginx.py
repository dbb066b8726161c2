"""doc/nginx.md's configuration, run for real in front of trhubd.

The nginx block of doc/nginx.md is extracted, its certificate, names and
ports replaced (a self-signed certificate made with openssl, loopback
ports), and nginx started unprivileged with that configuration. Over TLS
through it: a login (the cookie comes back Secure because public_url is
https), a signed webhook (signed for the https public URL), an SSE event
arriving unbuffered, and a spoofed X-Forwarded-For that does not change the
client address trhubd logs. Skipped when nginx or openssl is missing.
"""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

# The browser's address: on loopback but not the trusted proxy (nginx, 127.0.0.1).
CLIENT = '127.0.0.2'

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'doc', 'nginx.md')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nginx_conf(tmp, listen_port, upstream_port, cert, key):
    text = open(DOC).read()
    block = re.search(r'```nginx\n(.*?)```', text, re.S).group(1)
    # Only the TLS server (the port-80 redirect needs root).
    block = block[:block.index('server {\n    listen 80;')]
    block = block.replace('listen 443 ssl;', 'listen 127.0.0.1:%d ssl;' % listen_port)
    block = block.replace('server 127.0.0.1:8080;', 'server 127.0.0.1:%d;' % upstream_port)
    block = block.replace('/etc/ssl/certs/hub.example.com.pem', cert)
    block = block.replace('/etc/ssl/private/hub.example.com.key', key)
    temp = ''.join('    %s_temp_path %s/%s;\n' % (k, tmp, k)
                   for k in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    return ('daemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\n'
            'http {\n    access_log off;\n%s%s}\n' % (tmp, tmp, temp, block))


@pytest.fixture
def nginx_front():
    if shutil.which('nginx') is None and not os.path.exists('/usr/sbin/nginx'):
        pytest.skip('nginx is not installed')
    if shutil.which('openssl') is None:
        pytest.skip('openssl is not installed')
    procs = []

    def start(upstream_port, listen_port):
        tmp = tempfile.mkdtemp(prefix='trhub-nginx-')
        cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                        'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                        '-days', '1', '-subj', '/CN=127.0.0.1'],
                       check=True, capture_output=True)
        conf = os.path.join(tmp, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(nginx_conf(tmp, listen_port, upstream_port, cert, key))
        binary = shutil.which('nginx') or '/usr/sbin/nginx'
        p = subprocess.Popen([binary, '-p', tmp, '-c', conf, '-e', tmp + '/error.log'],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(('127.0.0.1', listen_port), timeout=1).close()
                break
            except OSError:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError('nginx did not start: %r' % p.stderr.read())
                time.sleep(0.05)
        return listen_port

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def https(port, method, path, body=None, headers=None):
    import http.client
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection('127.0.0.1', port, timeout=10, context=ctx,
                                       source_address=(CLIENT, 0))
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        return dh.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def test_login_webhook_and_stream_through_nginx(make_stack, nginx_front):
    port = free_port()
    public = 'https://127.0.0.1:%d' % port
    stack = make_stack(public_url=public, daemon_env={'TRHUB_TRUSTED_PROXIES': '127.0.0.1'})
    nginx_front(stack.daemon.port, port)

    r = https(port, 'POST', '/login',
              body=json.dumps({'username': 'sup', 'password': 'sup-pass'}).encode(),
              headers={'Content-Type': 'application/json', 'Origin': public,
                       'X-Forwarded-For': '203.0.113.9'})
    assert r.status == 200, r
    assert 'Secure' in r.headers['set-cookie'] and 'HttpOnly' in r.headers['set-cookie']
    cookie = dh.cookie_of(r)
    r = https(port, 'GET', '/api/me', headers={'Cookie': cookie})
    assert r.status == 200 and r.json()['identity'] == 'sup', r
    r = https(port, 'POST', '/login',
              body=json.dumps({'username': 'sup', 'password': 'nope'}).encode(),
              headers={'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.9'})
    assert r.status == 401

    # The stream, through nginx, over TLS.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(('127.0.0.1', port), timeout=10, source_address=(CLIENT, 0))
    s = ctx.wrap_socket(raw, server_hostname='127.0.0.1')
    s.sendall(('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n'
               'Cookie: %s\r\n\r\n' % (port, cookie)).encode())
    buf = b''
    while b'event: snapshot' not in buf:
        buf += s.recv(65536)
    assert buf.startswith(b'HTTP/1.1 200'), buf[:200]

    f = dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid)
    ev = f.task('task.created', dh.rand_sid('WT'), 'pending')
    body = dh.encode_form(ev)
    sig = dh.compute_signature(stack.auth_token, public + '/taskrouter_event', ev)
    t0 = time.monotonic()
    r = https(port, 'POST', '/taskrouter_event', body=body,
              headers={'Content-Type': 'application/x-www-form-urlencoded',
                       'X-Twilio-Signature': sig})
    assert r.status == 204, r
    s.settimeout(5)
    while ev['TaskSid'].encode() not in buf:
        buf += s.recv(65536)
    # Unbuffered: the event arrives right away, not when a proxy buffer fills.
    assert time.monotonic() - t0 < 2.0
    s.close()

    stack.daemon.stop()
    log = '\n'.join(stack.daemon.past_stderr)
    # The client address is nginx's entry (the TCP peer), never the client's own header.
    assert 'login failed for sup from %s' % CLIENT in log, log[-2000:]
    assert '203.0.113.9' not in log
