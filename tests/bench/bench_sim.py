#!/usr/bin/python3
"""Requests per second trhub-sim serves (a benchmark, not a test).

Starts trhub-sim the systemd way (pre-bound socket, READY=1 on NOTIFY_SOCKET),
seeds 1,000 workers and drives it with wrk (2 threads, 50 connections, 10 s):

  1. GET /v1/Workspaces/{WS}/Workers?PageSize=50 with Basic auth;
  2. POST /v1/Workspaces/{WS}/Tasks (task create, form body) through a wrk Lua script.

Each run is checked against the emulator's own counters so that error answers
are never counted as throughput. Prints a table; --markdown prints the rows
for doc/benchmarks.md. Exits 77 (meson: skipped) without wrk.

  TRHUB_SIM=build/tests/sim/trhub-sim tests/bench/bench_sim.py [--duration 10]
"""

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))

import trhub_harness as th  # noqa: E402

POST_LUA = r'''
wrk.method = "POST"
wrk.body = "Attributes=%7B%22type%22%3A%22support%22%2C%22caller%22%3A%22%2B15550100%22%7D&Priority=1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "{auth}"
'''


def parse_wrk(out):
    res = {}
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    res['rps'] = float(m.group(1)) if m else 0.0
    m = re.search(r'(\d+) requests in ([\d.]+)(\w+)', out)
    res['requests'] = int(m.group(1)) if m else 0
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    res['non2xx'] = int(m.group(1)) if m else 0
    m = re.search(r'Socket errors: (.*)', out)
    res['socket_errors'] = m.group(1).strip() if m else ''
    for pct in ('50', '90', '99'):
        m = re.search(r'^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$' % pct, out, re.M)
        if m:
            v = float(m.group(1)) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[m.group(2)]
            res['p' + pct] = v
    return res


def route_status(counters, route):
    entry = counters.get('requests', {}).get(route, {})
    return {str(k): int(v) for k, v in entry.get('by_status', {}).items()}


def run_wrk(args, url, auth, threads, conns, duration, script=None):
    cmd = (['taskset', '-c', '1'] if args.pin else []) + ['wrk', '-t%d' % threads, '-c%d' % conns, '-d%ds' % duration, '--latency',
           '-H', 'Authorization: ' + auth]
    if script:
        cmd += ['-s', script]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0:
        raise SystemExit('wrk failed: %s\n%s' % (p.returncode, p.stderr))
    if args.verbose:
        print(p.stdout)
    return parse_wrk(p.stdout), ' '.join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--sim', default=os.environ.get('TRHUB_SIM'))
    ap.add_argument('--duration', type=int, default=10)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--connections', type=int, default=50)
    ap.add_argument('--workers', type=int, default=1000)
    ap.add_argument('--repeat', type=int, default=3,
                    help='runs per endpoint (emulator reset in between); the median is reported')
    ap.add_argument('--pin', action='store_true',
                    help='emulator on CPU 0, wrk (1 thread) on CPU 1: no CPU sharing')
    ap.add_argument('--markdown', action='store_true')
    ap.add_argument('--verbose', action='store_true')
    args = ap.parse_args()
    if shutil.which('wrk') is None:
        print('bench_sim: wrk is not installed (apt-get install wrk); skipping')
        return 77
    if not args.sim or not os.access(args.sim, os.X_OK):
        print('bench_sim: no trhub-sim binary (set TRHUB_SIM or --sim); skipping')
        return 77

    if args.pin:
        if shutil.which('taskset') is None:
            print('bench_sim: --pin needs taskset (util-linux)')
            return 77
        args.threads = 1
        sim = th.Sim(['-c', '0', args.sim, '--workers', str(args.workers), '--seed', '1'],
                     binary=shutil.which('taskset'), name='trhub-sim')
    else:
        sim = th.Sim(['--workers', str(args.workers), '--seed', '1'], binary=args.sim)
    sim.start()
    rows = []
    tasks_after = None
    try:
        auth = 'Basic ' + base64.b64encode(
            ('%s:%s' % (sim.account_sid, sim.auth_token)).encode()).decode()
        ws = sim.ws_path
        st, _, body = sim.http_json('GET', ws + '/Workers?PageSize=50')
        assert st == 200 and len(body['workers']) == 50, (st, body)
        st, _, body = sim.http('GET', ws + '/Workers?PageSize=50')
        workers_bytes = len(body)
        with tempfile.NamedTemporaryFile('w', suffix='.lua', delete=False) as f:
            f.write(POST_LUA.replace('{auth}', auth))
            lua = f.name
        plan = [
            ('GET Workers?PageSize=50', ws + '/Workers?PageSize=50', None,
             'GET /v1/Workspaces/{WS}/Workers'),
            ('POST Tasks (create)', ws + '/Tasks', lua, 'POST /v1/Workspaces/{WS}/Tasks'),
            ('GET Workspace (reference)', ws, None, 'GET /v1/Workspaces/{WS}'),
        ]
        try:
            for name, path, script, route in plan:
                runs = []
                for _ in range(args.repeat):
                    sim.reset()
                    sim.clear_counters()
                    res, cmd = run_wrk(args, sim.base_url + path, auth, args.threads,
                                       args.connections, args.duration, script=script)
                    res['by'] = route_status(sim.counters(), route)
                    if script:
                        st, _, rt = sim.http_json('GET', ws + '/RealTimeStatistics')
                        tasks_after = rt.get('total_tasks') if st == 200 else None
                    runs.append(res)
                runs.sort(key=lambda r: r['rps'])
                med = dict(runs[len(runs) // 2])
                med['min'] = runs[0]['rps']
                med['max'] = runs[-1]['rps']
                med['non2xx'] = sum(r['non2xx'] for r in runs)
                by = {}
                for r in runs:
                    for k, v in r['by'].items():
                        by[k] = by.get(k, 0) + v
                rows.append((name, med, by, cmd.replace(lua, 'post_task.lua')))
        finally:
            os.unlink(lua)
    finally:
        problems = sim.stop(check=False)
    if problems:
        print('bench_sim: emulator teardown problems: %s' % '; '.join(problems), file=sys.stderr)

    print('trhub-sim: %d workers seeded, wrk -t%d -c%d -d%ds, median of %d runs%s' % (
        args.workers, args.threads, args.connections, args.duration, args.repeat,
        ', pinned (emulator CPU 0, wrk CPU 1)' if args.pin else ''))
    print('Workers?PageSize=50 response: %d bytes' % workers_bytes)
    hdr = '%-26s %9s %15s %10s %8s %8s %8s %8s  %s' % (
        'endpoint', 'req/s', 'min-max', 'requests', 'non-2xx', 'p50 ms', 'p90 ms', 'p99 ms',
        'emulator status (all runs)')
    print(hdr)
    print('-' * len(hdr))
    ok = True
    for name, res, by, _ in rows:
        bad = sum(v for k, v in by.items() if not k.startswith('2'))
        ok = ok and res['non2xx'] == 0 and bad == 0
        print('%-26s %9.0f %15s %10d %8d %8.2f %8.2f %8.2f  %s' % (
            name, res['rps'], '%.0f-%.0f' % (res['min'], res['max']), res['requests'],
            res['non2xx'], res.get('p50', 0), res.get('p90', 0), res.get('p99', 0), by))
    print('tasks in the workspace after the create run: %s' % tasks_after)
    if args.markdown:
        print()
        print('| endpoint | req/s (median) | min-max | non-2xx | p50 ms | p99 ms |')
        print('|---|---:|---:|---:|---:|---:|')
        for name, res, by, _ in rows:
            print('| %s | %.0f | %.0f-%.0f | %d | %.2f | %.2f |' % (
                name, res['rps'], res['min'], res['max'], res['non2xx'], res.get('p50', 0),
                res.get('p99', 0)))
        for name, _, _, cmd in rows:
            print('    %s' % cmd.replace(auth, 'Basic <base64 of AC:token>'))
    if not ok:
        print('bench_sim: error answers during the run; the numbers above are not throughput',
              file=sys.stderr)
        return 1
    return 0 if not problems else 1


if __name__ == '__main__':
    sys.exit(main())
