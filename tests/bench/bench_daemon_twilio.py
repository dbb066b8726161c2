#!/usr/bin/python3
"""Twilio requests per 1,000 events at a fixed event rate (a benchmark).

trhubd runs with its default intervals (stats_min_interval_ms 1000,
stats_max_interval_ms 15000, sync_writes_per_s 10) against trhub-sim. A paced
sender posts signed task-lifecycle callbacks at R events/s for D seconds over
keep-alive connections; the emulator's own request counters (every REST
route, /sim/ excluded) give the requests trhubd made during the window.
Coalescing means requests/s is bounded by the intervals, so requests per
1,000 events must not grow with R: it is measured at several rates, 1,000/s
for 30 s being the issue's figure.

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_daemon_twilio.py [--rates 250,1000,2000]
"""

import argparse
import http.client
import sys
import threading
import time

import bench_daemon_common as bc

dh = bc.dh


def rest_counts(stack):
    out = {}
    for route, c in stack.sim.counters().get('requests', {}).items():
        path = route.split(' ', 1)[-1]
        if path.startswith('/sim'):
            continue
        out[route] = int(c.get('total', 0))
    return out


def paced_send(stack, reqs, rate, threads=4):
    """Sends pre-signed (body, sig) pairs at `rate` per second in total; returns
    (sent, non_2xx, late) where late counts sends more than 50 ms behind schedule."""
    # Whole tasks (five events) per connection, so each task's events arrive in order.
    per = [[r for i, r in enumerate(reqs) if (i // 5) % threads == k] for k in range(threads)]
    stats = {'sent': 0, 'bad': 0, 'late': 0}
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2

    def run(k, mine):
        conn = http.client.HTTPConnection('127.0.0.1', stack.daemon.port, timeout=10)
        sent = bad = late = 0
        interval = threads / float(rate)
        for j, (body, sig) in enumerate(mine):
            due = t0 + (k / float(rate)) + j * interval
            now = time.monotonic()
            if due > now:
                threading.Event().wait(due - now)  # pacing the load, not waiting for state
            elif now - due > 0.05:
                late += 1
            conn.request('POST', '/taskrouter_event', body=body,
                         headers={'Content-Type': 'application/x-www-form-urlencoded',
                                  'X-Twilio-Signature': sig})
            r = conn.getresponse()
            r.read()
            sent += 1
            if not 200 <= r.status < 300:
                bad += 1
        conn.close()
        with lock:
            stats['sent'] += sent
            stats['bad'] += bad
            stats['late'] += late

    ts = [threading.Thread(target=run, args=(k, per[k])) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--rates', default='250,1000,2000')
    ap.add_argument('--duration', type=float, default=30.0)
    ap.add_argument('--short', type=float, default=15.0, help='duration for the other rates')
    args = ap.parse_args()
    bc.need_env()
    rates = [int(r) for r in args.rates.split(',')]
    rows = []
    results = {}
    for rate in rates:
        duration = args.duration if rate == 1000 else args.short
        stack = dh.Stack(daemon_env={'TRHUB_STATS_MIN_INTERVAL_MS': None,
                                     'TRHUB_STATS_MAX_INTERVAL_MS': None})
        try:
            gen = bc.Lifecycle(stack)
            n = int(rate * duration)
            reqs = []
            while len(reqs) < n:
                for ev in gen.task_events():
                    reqs.append(gen.signed(ev))
            reqs = reqs[:n]
            before = rest_counts(stack)
            t0 = time.monotonic()
            s = paced_send(stack, reqs, rate)
            elapsed = time.monotonic() - t0
            after = rest_counts(stack)
            delta = {r: after.get(r, 0) - before.get(r, 0) for r in after}
            delta = {r: v for r, v in delta.items() if v}
            total = sum(delta.values())
            row = {
                'rate_target': rate,
                'rate_achieved': s['sent'] / elapsed,
                'events': s['sent'],
                'non_2xx': s['bad'],
                'late_sends': s['late'],
                'seconds': elapsed,
                'twilio_requests': total,
                'twilio_requests_per_s': total / elapsed,
                'per_1000_events': total / (s['sent'] / 1000.0),
                'by_route': delta,
            }
            rows.append(row)
            print('rate %5d/s: %d events in %.1f s, %d Twilio requests = %.2f per 1,000 events '
                  '(%.1f/s)' % (rate, s['sent'], elapsed, total, row['per_1000_events'],
                                row['twilio_requests_per_s']))
        finally:
            stack.close(check=False)
    by_rate = {r['rate_target']: r for r in rows}
    results['rows'] = rows
    if 1000 in by_rate:
        results['per_1000_events_at_1000'] = by_rate[1000]['per_1000_events']
    # Does the per-1,000 figure grow with the rate? Compare each higher rate to the lowest.
    lo = rows[0]
    results['growth_ratio_max'] = max(r['per_1000_events'] / lo['per_1000_events']
                                      for r in rows[1:]) if len(rows) > 1 else 0.0
    results['requests_per_s_max'] = max(r['twilio_requests_per_s'] for r in rows)
    results['non_2xx'] = sum(r['non_2xx'] for r in rows)
    return bc.report('trhubd Twilio requests per 1,000 events', results, {
        'growth_ratio_max': ('<=', 1.0),
        'non_2xx': ('<=', 0),
    })


if __name__ == '__main__':
    sys.exit(main())
