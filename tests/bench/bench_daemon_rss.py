#!/usr/bin/python3
"""READY time and memory with a big workspace (a benchmark).

trhub-sim is seeded with 1,000 workers (Available) and 10,000 open tasks
(its routing engine reserves some), then trhubd starts the systemd way and
rebuilds its model from the emulator's REST API. Measured:

  * READY time: from spawning the process to READY=1 on NOTIFY_SOCKET
    (target <= 2 s); the spawn includes the harness's exec shim;
  * VmRSS from /proc/<pid>/status once the model is built, the first
    statistics refresh is done and Sync publishing is under way, and again
    after --settle seconds; VmHWM is the peak (target RSS <= 30 MB).

Since the restart replay (issue 12), READY also includes replaying today's
events from the emulator's Events resource (the seeding's 10,000+ events);
--replay-timeout-s 0 measures the rebuild alone.

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_daemon_rss.py [--tasks 10000] [--workers 1000]
      [--replay-timeout-s 0]
"""

import argparse
import sys
import threading

import bench_daemon_common as bc

dh = bc.dh


def proc_status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM', 'VmSize', 'RssAnon', 'RssFile'):
                out[k] = int(v.split()[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tasks', type=int, default=10000)
    ap.add_argument('--workers', type=int, default=1000)
    ap.add_argument('--settle', type=float, default=10.0)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--replay-timeout-s', type=int,
                    help='trhubd\'s replay_timeout_s (0: no start-up replay of the '
                    'seeded tasks\' events, to tell its cost apart)')
    args = ap.parse_args()
    bc.need_env()
    ready_times = []
    results = {}
    for run in range(args.runs):
        env = {'TRHUB_STATS_MIN_INTERVAL_MS': None, 'TRHUB_STATS_MAX_INTERVAL_MS': None}
        if args.replay_timeout_s is not None:
            env['TRHUB_REPLAY_TIMEOUT_S'] = str(args.replay_timeout_s)
        stack = dh.Stack(start_daemon=False, callbacks=False, daemon_env=env)
        try:
            stack.sim.bulk_workers(args.workers, activity='Available')
            left = args.tasks
            while left > 0:
                n = min(left, 5000)
                stack.sim.bulk_tasks(n)
                left -= n
            st = dh.sim_stats_raw(stack) if hasattr(dh, 'sim_stats_raw') else None
            d = stack.daemon
            d.start(wait_ready=True, timeout=60)
            ready = d.ready_time - d.start_time
            ready_times.append(ready)
            if run < args.runs - 1:
                continue
            at_ready = proc_status(d.proc.pid)
            # Model built and first refresh done: trhubd's task view equals the emulator's.
            n_tasks = len(dh.api_tasks(d))
            dh.th.wait_until(lambda: dh.metric_sum(d.metrics(), 'trhubd_stats_refreshes_total',
                                                   result='ok') >= 1,
                             timeout=60, what='the first statistics refresh')
            after_refresh = proc_status(d.proc.pid)
            done = threading.Event()
            done.wait(args.settle)  # a measurement window, not a wait for state
            settled = proc_status(d.proc.pid)
            m = d.metrics()
            results = {
                'tasks_seeded': args.tasks,
                'workers_seeded': args.workers,
                'tasks_in_trhubd': n_tasks,
                'workers_in_trhubd': len(dh.api_workers(d)),
                'sim_realtime': (st or {}).get('realtime', {}).get('tasks_by_status'),
                'ready_s_runs': ready_times,
                'ready_s_max': max(ready_times),
                'rss_kb_at_ready': at_ready['VmRSS'],
                'rss_kb_after_first_refresh': after_refresh['VmRSS'],
                'rss_kb_after_settle': settled['VmRSS'],
                'rss_anon_kb_after_settle': settled.get('RssAnon'),
                'hwm_kb': settled['VmHWM'],
                'rss_mb_max': max(after_refresh['VmRSS'], settled['VmRSS'],
                                  settled['VmHWM']) / 1024.0,
                'sync_writes': dh.metric_sum(m, 'trhubd_sync_writes_total'),
                'settle_s': args.settle,
            }
        finally:
            stack.close(check=False)
    return bc.report('trhubd READY time and RSS', results, {
        'ready_s_max': ('<=', 2.0),
        'rss_mb_max': ('<=', 30.0),
        'tasks_in_trhubd': ('>=', args.tasks),
    })


if __name__ == '__main__':
    sys.exit(main())
