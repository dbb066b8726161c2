#!/usr/bin/python3
"""The restart replay's cost (issue 12): events/s and READY time for a busy day.

trhub-sim's traffic generator (--agents, --calls-per-minute) makes a day of
events on the emulator's clock (advanced in steps, no callbacks to trhubd),
until the Events resource holds at least --events since the day start.
trhubd is then started three times against it, each time from an empty
model, and the time from exec to READY=1 is measured:
  * without the replay (replay_timeout_s = 0): the baseline, the rebuild only;
  * with the replay, twice (the second run is the one reported).
The daemon's own log line gives the replay's counts, fetch and apply times.
Also: the second run's peak RSS (VmHWM) against the baseline's.

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_daemon_replay.py [--events 20000]
"""

import argparse
import re
import sys
import time
import urllib.parse

import bench_daemon_common as bc

dh = bc.dh

LINE = re.compile(r'replay: (\d+) events since the day start in (\d+) pages \((\d+) ms fetch, '
                  r'(\d+) ms apply')


def count_events(stack):
    start = dh.day_starts_utc()[0]
    path = '%s/Events?%s' % (stack.sim.ws_path, urllib.parse.urlencode(
        {'StartDate': start, 'PageSize': 1000}))
    n = 0
    for _ in range(10000):
        status, _, doc = stack.sim.http_json('GET', path)
        assert status == 200, (status, doc)
        n += len(doc['events'])
        nxt = (doc.get('meta') or {}).get('next_page_url')
        if not nxt:
            return n
        u = urllib.parse.urlsplit(nxt)
        path = u.path + '?' + u.query
    return n


def vm_hwm_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return -1


def start_once(stack, replay):
    d = stack.daemon
    d.extra_env['TRHUB_REPLAY_TIMEOUT_S'] = '300' if replay else '0'
    t0 = time.monotonic()
    d.start(timeout=600)
    ready_s = time.monotonic() - t0
    hwm = vm_hwm_kb(d.proc.pid)
    lines = [ln for ln in d.stderr_lines if 'replay:' in ln]
    d.stop()
    out = {'ready_s': round(ready_s, 3), 'vm_hwm_kb': hwm}
    for ln in lines:
        m = LINE.search(ln)
        if m:
            out.update(events=int(m.group(1)), pages=int(m.group(2)),
                       fetch_ms=int(m.group(3)), apply_ms=int(m.group(4)))
    return out


def main():
    bc.need_env()
    ap = argparse.ArgumentParser()
    ap.add_argument('--events', type=int, default=20000)
    ap.add_argument('--agents', type=int, default=80)
    ap.add_argument('--calls-per-minute', type=int, default=40)
    args = ap.parse_args()

    stack = dh.Stack(sim_args=['--agents', str(args.agents), '--calls-per-minute',
                               str(args.calls_per_minute), '--seed', '12'],
                     callbacks=False, start_daemon=False)
    try:
        t0 = time.monotonic()
        n = 0
        for _ in range(2000):  # at most 2000 simulated minutes
            stack.sim.advance(60_000)
            n = count_events(stack)
            if n >= args.events:
                break
        seed_s = time.monotonic() - t0
        t1 = time.monotonic()
        count_events(stack)  # the same pages read by a Python client, for comparison
        python_fetch_s = time.monotonic() - t1
        base = start_once(stack, replay=False)
        start_once(stack, replay=True)  # warms the emulator's and the page cache
        rep = start_once(stack, replay=True)
        results = {
            'events_today': n,
            'seed_s': round(seed_s, 1),
            'python_client_fetch_s': round(python_fetch_s, 3),
            'ready_s_no_replay': base['ready_s'],
            'ready_s_replay': rep['ready_s'],
            'replay_cost_s': round(rep['ready_s'] - base['ready_s'], 3),
            'replay_events': rep.get('events'),
            'replay_pages': rep.get('pages'),
            'replay_fetch_ms': rep.get('fetch_ms'),
            'replay_apply_ms': rep.get('apply_ms'),
            'replay_events_per_s': round(rep['events'] * 1000.0 /
                                         max(1, rep['fetch_ms'] + rep['apply_ms']))
            if rep.get('events') else None,
            'apply_events_per_s': round(rep['events'] * 1000.0 / max(1, rep['apply_ms']))
            if rep.get('events') else None,
            'vm_hwm_kb_no_replay': base['vm_hwm_kb'],
            'vm_hwm_kb_replay': rep['vm_hwm_kb'],
            'loadavg': bc.loadavg(),
        }
        # No target in the issue: it asks for the cost to be stated (doc/benchmarks.md).
        return bc.report('daemon_replay', results, {})
    finally:
        stack.close(check=False)


if __name__ == '__main__':
    sys.exit(main())
