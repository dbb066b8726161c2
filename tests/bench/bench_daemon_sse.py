#!/usr/bin/python3
"""Event -> SSE delivery latency with 50 clients at 1,000 events/s (a benchmark).

trhubd runs against trhub-sim. A receiver process (separate from the sender,
so neither waits on the other) holds the /api/stream connections and
timestamps the first sight of each event's Sid; the sender posts signed
callbacks at a fixed rate and timestamps each just before sending. Both use
CLOCK_MONOTONIC (time.monotonic), which is system-wide, so latency = arrival
- send covers the webhook, the model, the broadcast and the socket. Target
(the issue): p99 <= 50 ms.

  TRHUBD=... TRHUB_SIM=... [TRHUB_SSE_RECV=...] tests/bench/bench_daemon_sse.py \
      [--clients 50] [--rate 1000] [--batch] [--recv c|python|both]

--recv: who holds the connections. c (the default): one bench_sse_recv
process (tests/bench/bench_sse_recv.c, epoll; TRHUB_SSE_RECV, else next to
TRHUBD's build dir), which costs little CPU next to trhubd. python: the
earlier --receivers Python processes (a regular expression over every byte).
both: half the clients on each, in the same run, reported apart, to show
that the two measure the same thing.

--batch: the clients ask for batched messages (/api/stream?batch=1, what the
dashboard does): one message per loop turn and at most one per 25 ms.
"""

import argparse
import json
import os
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

import bench_daemon_common as bc

EV_RE = re.compile(rb'EV[0-9a-f]{32}')


def receiver(port, n_clients, max_seconds, path='/api/stream'):
    sel = selectors.DefaultSelector()
    seen = []
    tails = []
    snap = []
    for i in range(n_clients):
        s = socket.create_connection(('127.0.0.1', port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # /api/stream needs a session: the parent logged in (BENCH_COOKIE).
        cookie = os.environ.get('BENCH_COOKIE', '')
        s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n' +
                  (b'Cookie: ' + cookie.encode() + b'\r\n' if cookie else b'') + b'\r\n')
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        seen.append({})
        tails.append(b'')
        snap.append(False)
    announced = False
    end = time.monotonic() + max_seconds
    stdin_closed = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stdin_closed.set()
    threading.Thread(target=watch_stdin, daemon=True).start()
    closed = 0
    last_data = time.monotonic()
    # Runs until told to stop (stdin closed) and then until nothing arrived for 1 s,
    # so data still queued in the sockets is read, not dropped; bounded by `end`.
    while time.monotonic() < end and not (stdin_closed.is_set() and
                                          time.monotonic() - last_data > 1.0):
        for key, _ in sel.select(0.05):
            last_data = time.monotonic()
            t = time.monotonic()
            i = key.data
            try:
                data = key.fileobj.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                closed += 1
                continue
            buf = tails[i] + data
            if not snap[i] and b'snapshot' in buf:
                snap[i] = True
            d = seen[i]
            for m in EV_RE.findall(buf):
                if m not in d:
                    d[m] = t
            tails[i] = buf[-40:]
        if not announced and all(snap):
            sys.stdout.write('READY\n')
            sys.stdout.flush()
            announced = True
    out = {'closed': closed, 'seen': [{k.decode(): v for k, v in d.items()} for d in seen]}
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--clients', type=int, default=50)
    ap.add_argument('--rate', type=int, default=1000)
    ap.add_argument('--duration', type=float, default=20.0)
    ap.add_argument('--receivers', type=int, default=2)
    ap.add_argument('--batch', action='store_true')
    ap.add_argument('--p99-ms', type=float, default=50.0,
                    help='the target (50 ms: 50 clients at 1,000/s; 100 ms: 500 clients at 100/s)')
    ap.add_argument('--recv', choices=('c', 'python', 'both'), default='c')
    ap.add_argument('--receiver', nargs=3, metavar=('PORT', 'N', 'SECONDS'))
    args = ap.parse_args()
    if args.receiver:
        receiver(int(args.receiver[0]), int(args.receiver[1]), float(args.receiver[2]),
                 '/api/stream?batch=1' if args.batch else '/api/stream')
        return 0
    bc.need_env()
    dh = bc.dh
    c_recv = None
    if args.recv != 'python':
        c_recv = os.environ.get('TRHUB_SSE_RECV') or os.path.join(
            os.path.dirname(os.path.abspath(os.environ['TRHUBD'])), '..', 'tests', 'bench',
            'bench_sse_recv')
        if not os.access(c_recv, os.X_OK):
            raise SystemExit('no bench_sse_recv at %s (ninja -C <build> '
                             'tests/bench/bench_sse_recv, or TRHUB_SSE_RECV=..., or '
                             '--recv python)' % c_recv)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    ru0 = ru.ru_utime + ru.ru_stime
    stack = dh.Stack(daemon_env={'TRHUB_MAX_SSE_CLIENTS': str(args.clients + 10),
                                 'TRHUB_STATS_MIN_INTERVAL_MS': None,
                                 'TRHUB_STATS_MAX_INTERVAL_MS': None})
    procs = []
    try:
        # A supervisor session for the receivers (the harness's users file has "sup").
        r = dh.http_request(stack.daemon.port, 'POST', '/login',
                            body=json.dumps({'username': 'sup', 'password': 'sup-pass'}),
                            headers={'Content-Type': 'application/json',
                                     'Origin': stack.daemon.base_url})
        cookie = r.headers.get('set-cookie', '').split(';')[0]
        if r.status != 200 or not cookie:
            raise SystemExit('cannot log in for the stream: %r' % r)
        renv = dict(os.environ, BENCH_COOKIE=cookie)
        gen = bc.Lifecycle(stack)
        n = int(args.rate * args.duration)
        reqs = []
        while len(reqs) < n:
            for ev in gen.task_events():
                body, sig = gen.signed(ev)
                reqs.append((ev['Sid'], body, sig))
        reqs = reqs[:n]
        n_c = {'c': args.clients, 'python': 0, 'both': args.clients // 2}[args.recv]
        n_py = args.clients - n_c
        kinds = []  # per receiver process: 'c' or 'python'
        if n_c > 0:
            p = subprocess.Popen([c_recv, str(stack.daemon.port), str(n_c),
                                  str(args.duration + 120),
                                  '/api/stream?batch=1' if args.batch else '/api/stream'],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            p.stdin.write(cookie + '\n')  # its first stdin line; EOF later means "done"
            p.stdin.flush()
            procs.append(p)
            kinds.append('c')
        n_procs = min(args.receivers, n_py)
        per = [n_py // n_procs + (1 if i < n_py % n_procs else 0)
               for i in range(n_procs)] if n_procs else []
        for k in per:
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--receiver',
                                  str(stack.daemon.port), str(k), str(args.duration + 120)] +
                                 (['--batch'] if args.batch else []),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=renv)
            procs.append(p)
            kinds.append('python')
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != 'READY':
                raise SystemExit('a receiver did not get its snapshots: %r' % line)
        sent_at = {}
        threads = 2
        lock = threading.Lock()
        bad = [0]
        t0 = time.monotonic() + 0.2

        def send(k):
            import http.client
            conn = http.client.HTTPConnection('127.0.0.1', stack.daemon.port, timeout=10)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Whole tasks per connection, so a task's five events arrive in order (events
            # of one task split across connections could arrive stale and, correctly,
            # never be broadcast).
            mine = [r for i, r in enumerate(reqs) if (i // 5) % threads == k]
            local = {}
            nbad = 0
            interval = threads / float(args.rate)
            for j, (sid, body, sig) in enumerate(mine):
                due = t0 + j * interval + (k / float(args.rate))
                now = time.monotonic()
                if due > now:
                    threading.Event().wait(due - now)  # pacing the load
                local[sid] = time.monotonic()
                conn.request('POST', '/taskrouter_event', body=body,
                             headers={'Content-Type': 'application/x-www-form-urlencoded',
                                      'X-Twilio-Signature': sig})
                r = conn.getresponse()
                r.read()
                if r.status != 204:
                    nbad += 1
            conn.close()
            with lock:
                sent_at.update(local)
                bad[0] += nbad
        ts = [threading.Thread(target=send, args=(k,)) for k in range(threads)]
        cpu0 = bc.cpu_seconds(stack.daemon.proc.pid)
        start = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.monotonic() - start
        # The receivers read until their sockets stay quiet for 1 s, then report.
        seen = []
        seen_kind = []
        closed = 0
        for p, kind in zip(procs, kinds):
            out, _ = p.communicate(timeout=120)
            if p.returncode != 0:
                raise SystemExit('a %s receiver failed (exit %d)' % (kind, p.returncode))
            doc = json.loads(out.strip().splitlines()[-1])
            seen += doc['seen']
            seen_kind += [kind] * len(doc['seen'])
            closed += doc['closed']
        # The receivers' own CPU (children reaped by communicate): what measuring cost.
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        recv_cpu_s = ru.ru_utime + ru.ru_stime - ru0
        lat = []
        lat_kind = {'c': [], 'python': []}
        missing = 0
        missing_by_client = []
        order = sorted(sent_at, key=sent_at.get)
        first_missing = []
        for d, kind in zip(seen, seen_kind):
            n_miss = 0
            for i, sid in enumerate(order):
                t = d.get(sid)
                if t is None:
                    n_miss += 1
                    if len(first_missing) < 10:
                        first_missing.append(i)
                else:
                    ms = (t - sent_at[sid]) * 1000.0
                    lat.append(ms)
                    lat_kind[kind].append(ms)
            missing += n_miss
            missing_by_client.append(n_miss)
        if os.environ.get('BENCH_DEBUG'):
            print('missing by client', missing_by_client, 'first missing indexes', first_missing)
        # trhubd's CPU from the first send until the receivers had everything: its share
        # of the work, which the machine's load moves much less than the latencies.
        cpu1 = bc.cpu_seconds(stack.daemon.proc.pid)
        m = stack.daemon.metrics()
        results = {
            'trhubd_cpu_s': cpu1 - cpu0,
            'load_avg': bc.loadavg(),
            'clients': args.clients,
            'batched': args.batch,
            'rate_target': args.rate,
            'rate_achieved': len(sent_at) / elapsed,
            'events': len(sent_at),
            'non_204': bad[0],
            'deliveries': len(lat),
            'missing_deliveries': missing,
            'clients_closed': closed,
            'sse_dropped': dh.metric_sum(m, 'trhubd_sse_dropped_total'),
            'p50_ms': bc.percentile(lat, 50),
            'p90_ms': bc.percentile(lat, 90),
            'p99_ms': bc.percentile(lat, 99),
            'max_ms': max(lat) if lat else float('nan'),
            'rss_kb': stack.daemon.rss_kb(),
            'receiver': args.recv,
            'receivers_cpu_s': recv_cpu_s,
        }
        if args.recv == 'both':
            for kind, v in lat_kind.items():
                results[kind + '_deliveries'] = len(v)
                results[kind + '_p50_ms'] = bc.percentile(v, 50)
                results[kind + '_p99_ms'] = bc.percentile(v, 99)
                results[kind + '_max_ms'] = max(v) if v else float('nan')
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        stack.close(check=False)
    return bc.report('trhubd event -> SSE delivery', results, {
        'p99_ms': ('<=', args.p99_ms),
        'missing_deliveries': ('<=', 0),
        'non_204': ('<=', 0),
    })


if __name__ == '__main__':
    sys.exit(main())
