#!/usr/bin/python3
"""Logins verified per second at the default hash cost, and webhook ack latency
while logins arrive (issue 9).

1. Users with yescrypt hashes at the library's default cost (what
   `trhubd --hash-password` prints) log in through POST /login from 8
   client threads: logins verified per second, and the cost of one hash.
2. Signed webhooks are sent one at a time on a keep-alive connection at
   BENCH_EVENTS_PER_S for BENCH_SECONDS, first alone (baseline), then while
   another thread logs in 20 times a second; p50/p99 ack latency each time.
   Target: p99 <= 5 ms with the logins running.
Bounded in count and time everywhere. Exit 1 when a target is missed.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_daemon_common as bc  # noqa: E402

dh = bc.dh

USERS = 50
LOGIN_THREADS = 8
LOGINS = 400           # phase 1, total
LOGIN_RATE = 20        # phase 2, logins per second
EVENTS_PER_S = 500
SECONDS = 10


def hash_password(pw):
    r = subprocess.run([dh.trhubd_binary(), '--hash-password'], input=pw + '\n',
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


def login(port, user, pw):
    import json
    return dh.http_request(port, 'POST', '/login',
                           body=json.dumps({'username': user, 'password': pw}).encode(),
                           headers={'Content-Type': 'application/json'}).status


def phase_logins(stack):
    done = []
    errors = []
    lock = threading.Lock()
    per_thread = LOGINS // LOGIN_THREADS

    def run(t):
        for i in range(per_thread):
            u = (t * per_thread + i) % USERS
            s = login(stack.daemon.port, 'user%02d' % u, 'pw-%02d' % u)
            with lock:
                (done if s == 200 else errors).append(s)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(LOGIN_THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return len(done), len(errors), time.monotonic() - t0


def timing_equality(stack):
    """Median answer time for wrong passwords of real users vs names nobody has.

    10 of each, alternating, from one address (20 failures: the address's
    free allowance, so none is throttled); each user once (no name lockout).
    """
    import statistics
    wrong, unknown = [], []
    for i in range(10):
        for name, pw, sink in (('user%02d' % (i + 10), 'not-it', wrong),
                               ('nobody%02d' % i, 'not-it', unknown)):
            a = time.monotonic()
            s = login(stack.daemon.port, name, pw)
            sink.append((time.monotonic() - a) * 1000.0)
            assert s == 401, s
    return statistics.median(wrong), statistics.median(unknown)


def webhook_latencies(stack, seconds, rate, stop_flag=None):
    """Sends signed events at rate/s on one keep-alive connection; ack latencies in ms."""
    lc = bc.Lifecycle(stack)
    reqs = []
    while len(reqs) < seconds * rate:
        for ev in lc.task_events():
            body, sig = lc.signed(ev)
            reqs.append(bc.raw_request(stack.daemon.port, body, sig))
    s = socket.create_connection(('127.0.0.1', stack.daemon.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    bad = 0
    t0 = time.monotonic()
    try:
        for i, raw in enumerate(reqs[:seconds * rate]):
            due = t0 + i / float(rate)
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            a = time.monotonic()
            s.sendall(raw)
            buf = b''
            while b'\r\n\r\n' not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    raise AssertionError('trhubd closed the connection')
                buf += chunk
            lat.append((time.monotonic() - a) * 1000.0)
            if not buf.startswith(b'HTTP/1.1 204'):
                bad += 1
    finally:
        s.close()
    return lat, bad


def main():
    bc.need_env()
    tmp = tempfile.mkdtemp(prefix='bench-login-')
    users = os.path.join(tmp, 'users')
    t0 = time.monotonic()
    one = hash_password('pw-00')
    with open(users, 'w') as f:
        f.write('user00:supervisor:%s\n' % one)
        for u in range(1, USERS):
            f.write('user%02d:supervisor:%s\n' % (u, hash_password('pw-%02d' % u)))
    os.chmod(users, 0o600)
    import crypt
    n = 20
    h0 = time.monotonic()
    for _ in range(n):
        assert crypt.crypt('pw-00', one) == one
    hash_ms = (time.monotonic() - h0) * 1000.0 / n
    stack = dh.Stack(daemon_env={'TRHUB_USERS_FILE': users})
    try:
        ok, errors, elapsed = phase_logins(stack)
        wrong_ms, unknown_ms = timing_equality(stack)
        base, base_bad = webhook_latencies(stack, SECONDS, EVENTS_PER_S)

        stop = threading.Event()
        login_stats = {'ok': 0, 'other': 0}

        def login_load():
            i = 0
            start = time.monotonic()
            while not stop.is_set() and i < LOGIN_RATE * (SECONDS + 5):
                due = start + i / float(LOGIN_RATE)
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                u = i % USERS
                s = login(stack.daemon.port, 'user%02d' % u, 'pw-%02d' % u)
                login_stats['ok' if s == 200 else 'other'] += 1
                i += 1

        th = threading.Thread(target=login_load)
        th.start()
        loaded, loaded_bad = webhook_latencies(stack, SECONDS, EVENTS_PER_S)
        stop.set()
        th.join(30)
    finally:
        stack.close(check=False)
    results = {
        'hash': one[:one.index('$', 4) + 1] + '...',
        'one_hash_ms': round(hash_ms, 2),
        'logins_ok': ok,
        'logins_failed': errors,
        'logins_per_s': round(ok / elapsed, 1),
        'wrong_password_median_ms': round(wrong_ms, 2),
        'unknown_user_median_ms': round(unknown_ms, 2),
        'baseline_p50_ms': round(bc.percentile(base, 50), 3),
        'baseline_p99_ms': round(bc.percentile(base, 99), 3),
        'baseline_non_204': base_bad,
        'under_logins_p50_ms': round(bc.percentile(loaded, 50), 3),
        'under_logins_p99_ms': round(bc.percentile(loaded, 99), 3),
        'under_logins_non_204': loaded_bad,
        'logins_during_webhooks_ok': login_stats['ok'],
        'logins_during_webhooks_other': login_stats['other'],
        'events_per_s': EVENTS_PER_S,
        'seconds': SECONDS,
        'loadavg': bc.loadavg(),
        'setup_s': round(time.monotonic() - t0, 1),
    }
    return bc.report('daemon_login', results, {
        'under_logins_p99_ms': ('<=', 5.0),
        'logins_failed': ('<=', 0),
        'under_logins_non_204': ('<=', 0),
        'logins_during_webhooks_ok': ('>=', LOGIN_RATE * SECONDS * 0.9),
    })


if __name__ == '__main__':
    sys.exit(main())
