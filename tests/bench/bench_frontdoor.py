#!/usr/bin/python3
"""The front door under load (a benchmark, issue 8).

Two measurements against trhubd started the systemd way next to trhub-sim:

  * stream memory: trhub-sim seeded with --tasks open tasks (3,000), then
    --clients stream clients (500) that read nothing (a 4 KiB receive buffer),
    while --events task events are posted so every change is broadcast and
    the snapshot rebuilt. VmHWM of trhubd is the peak RSS (target <= 100 MB);
    VmRSS again after the clients left and a settle window.
  * webhook acknowledgement under saturation: --idle connections that send
    nothing and --slow connections trickling header bytes fill
    max_connections less the webhook reserve; then --webhooks signed events
    on fresh connections (as Twilio opens them) and as many on one keep-alive
    connection. p99 of send-to-204 is the target (<= 5 ms); every answer must
    be 204.

Descriptor limits: the script raises its own RLIMIT_NOFILE (inherited by
trhubd) to what the clients need.

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_frontdoor.py [--tasks 3000] [--clients 500]
"""

import argparse
import resource
import socket
import sys
import threading
import time

import bench_daemon_common as bc

dh = bc.dh


def proc_status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM'):
                out[k] = int(v.split()[0])
    return out


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def open_stream(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(('127.0.0.1', port))
    s.sendall(b'GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n')
    return s


def stream_memory(args):
    stack = dh.Stack(start_daemon=False, callbacks=False,
                     daemon_env={'TRHUB_MAX_SSE_CLIENTS': str(args.clients + 10),
                                 'TRHUB_MAX_CONNECTIONS': str(args.clients + 100)})
    socks = []
    try:
        left = args.tasks
        while left > 0:
            n = min(left, 5000)
            stack.sim.bulk_tasks(n, attributes={'type': 'support', 'caller': '+15550000000',
                                                'note': 'n' * 200})
            left -= n
        d = stack.daemon
        d.start(wait_ready=True, timeout=60)
        n_tasks = len(dh.api_tasks(d))
        at_ready = proc_status(d.proc.pid)
        probe = dh.SSEClient(d.port)
        probe.wait(lambda c: c.of('snapshot'), what='a snapshot', timeout=60)
        snapshot_bytes = len(probe.of('snapshot')[0]['data'])
        probe.close()
        lc = bc.Lifecycle(stack)
        t0 = time.monotonic()
        for i in range(args.clients):
            socks.append(open_stream(d.port))
            if i % 50 == 49:  # changes meanwhile: every new batch needs a fresh snapshot
                body, sig = lc.signed(lc.task_events()[0])
                dh.http_request(d.port, 'POST', '/taskrouter_event', body=body,
                                headers={'Content-Type': 'application/x-www-form-urlencoded',
                                         'X-Twilio-Signature': sig})
        dh.th.wait_until(lambda: dh.metric_sum(d.metrics(), 'trhubd_sse_clients') >=
                         args.clients, timeout=60, what='every stream client attached')
        attach_s = time.monotonic() - t0
        with_clients = proc_status(d.proc.pid)
        posted = 0
        for _ in range(args.events // 5):
            for ev in lc.task_events():
                body, sig = lc.signed(ev)
                r = dh.http_request(d.port, 'POST', '/taskrouter_event', body=body,
                                    headers={'Content-Type': 'application/x-www-form-urlencoded',
                                             'X-Twilio-Signature': sig})
                posted += r.status == 204
        m = d.metrics()
        after_events = proc_status(d.proc.pid)
        clients_left = dh.metric_sum(m, 'trhubd_sse_clients')
        dropped = dh.metric_sum(m, 'trhubd_sse_dropped_total')
        for s in socks:
            s.close()
        socks = []
        dh.th.wait_until(lambda: dh.metric_sum(d.metrics(), 'trhubd_sse_clients') == 0,
                         timeout=30, what='the clients gone')
        threading.Event().wait(args.settle)  # a measurement window, not a wait for state
        settled = proc_status(d.proc.pid)
        return {
            'tasks_in_trhubd': n_tasks,
            'snapshot_bytes': snapshot_bytes,
            'stream_clients': args.clients,
            'attach_s': round(attach_s, 2),
            'events_posted_204': posted,
            'clients_after_events': clients_left,
            'clients_dropped': dropped,
            'rss_kb_at_ready': at_ready['VmRSS'],
            'rss_kb_with_clients': with_clients['VmRSS'],
            'rss_kb_after_events': after_events['VmRSS'],
            'rss_kb_after_clients_left': settled['VmRSS'],
            'peak_rss_mb': settled['VmHWM'] / 1024.0,
        }
    finally:
        for s in socks:
            s.close()
        stack.close(check=False)


def webhook_ack(args):
    general = args.idle + args.slow
    stack = dh.Stack(start_daemon=False, callbacks=False,
                     daemon_env={'TRHUB_MAX_CONNECTIONS': str(general + args.reserve),
                                 'TRHUB_WEBHOOK_RESERVED_CONNECTIONS': str(args.reserve),
                                 'TRHUB_HTTP_HEADER_TIMEOUT_S': '120',
                                 'TRHUB_HTTP_TIMEOUT_S': '120'})
    idle = []
    slow = []
    stop = threading.Event()
    try:
        d = stack.daemon
        d.start(wait_ready=True, timeout=60)
        lc = bc.Lifecycle(stack)
        for _ in range(args.idle):
            s = socket.create_connection(('127.0.0.1', d.port), timeout=10)
            idle.append(s)
        for _ in range(args.slow):
            s = socket.create_connection(('127.0.0.1', d.port), timeout=10)
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')
            slow.append(s)

        def trickle():
            while not stop.wait(1.0):
                for s in slow:
                    try:
                        s.send(b'X')
                    except OSError:
                        pass
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        # The pool is full: an anonymous newcomer is refused.
        anon = dh.http_request(d.port, 'GET', '/healthz', timeout=10).status
        events = []
        for _ in range(2 * args.webhooks // 5 + 1):
            events += lc.task_events()
        reqs = [bc.raw_request(d.port, *lc.signed(ev)) for ev in events[:2 * args.webhooks]]
        fresh = []
        bad = 0
        load0 = bc.loadavg()
        for raw in reqs[:args.webhooks]:
            t0 = time.perf_counter()
            s = socket.create_connection(('127.0.0.1', d.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(raw)
            data = s.recv(4096)
            fresh.append(time.perf_counter() - t0)
            bad += not data.startswith(b'HTTP/1.1 204')
            s.close()
        kept = []
        s = socket.create_connection(('127.0.0.1', d.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for raw in reqs[args.webhooks:]:
            t0 = time.perf_counter()
            s.sendall(raw)
            data = s.recv(4096)
            kept.append(time.perf_counter() - t0)
            bad += not data.startswith(b'HTTP/1.1 204')
        s.close()
        stop.set()
        t.join()
        return {
            'idle_connections': args.idle,
            'slow_connections': args.slow,
            'max_connections': general + args.reserve,
            'webhook_reserve': args.reserve,
            'anonymous_newcomer_status': anon,
            'webhooks_fresh_connections': len(fresh),
            'webhooks_keep_alive': len(kept),
            'webhooks_not_204': bad,
            'ack_fresh_p50_ms': bc.percentile(fresh, 50) * 1000,
            'ack_fresh_p99_ms': bc.percentile(fresh, 99) * 1000,
            'ack_keepalive_p50_ms': bc.percentile(kept, 50) * 1000,
            'ack_keepalive_p99_ms': bc.percentile(kept, 99) * 1000,
            'ack_p99_ms': max(bc.percentile(fresh, 99), bc.percentile(kept, 99)) * 1000,
            'loadavg_at_start': load0,
        }
    finally:
        stop.set()
        for s in idle + slow:
            s.close()
        stack.close(check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, default=3000)
    ap.add_argument('--clients', type=int, default=500)
    ap.add_argument('--events', type=int, default=500)
    ap.add_argument('--settle', type=float, default=3.0)
    ap.add_argument('--idle', type=int, default=1000)
    ap.add_argument('--slow', type=int, default=200)
    ap.add_argument('--reserve', type=int, default=32)
    ap.add_argument('--webhooks', type=int, default=2000)
    ap.add_argument('--only', choices=('stream', 'webhook'))
    args = ap.parse_args()
    bc.need_env()
    raise_nofile(2 * (args.clients + args.idle + args.slow) + 256)
    results = {'loadavg': bc.loadavg()}
    targets = {}
    if args.only in (None, 'stream'):
        results.update(stream_memory(args))
        targets['peak_rss_mb'] = ('<=', 100.0)
        targets['tasks_in_trhubd'] = ('>=', args.tasks)
    if args.only in (None, 'webhook'):
        results.update(webhook_ack(args))
        targets['ack_p99_ms'] = ('<=', 5.0)
        targets['webhooks_not_204'] = ('<=', 0)
    return bc.report('trhubd front door', results, targets)


if __name__ == '__main__':
    sys.exit(main())
