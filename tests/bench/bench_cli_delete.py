#!/usr/bin/python3
"""Benchmark: trhub-task-delete-all deleting 10,000 tasks on trhub-sim with 5 ms
of latency injected into every request, --jobs 1 against --jobs 8.

Target (doc/benchmarks.md): --jobs 8 at least 6 times faster than --jobs 1.
Exits 1 when the target is missed or a run did not delete every task.

Run through meson (`meson test -C build --benchmark bench_cli_delete`) or by
hand with TRHUB_SIM and TRHUB_CLI_DIR set; --tasks and --latency-ms change the
workload, --jobs the parallelism levels compared.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))

import cli_harness as ch  # noqa: E402
import trhub_harness as th  # noqa: E402

TARGET = 6.0


def one_run(sim, tasks, latency_ms, jobs):
    sim.reset()
    sim.bulk_tasks(tasks, attributes={'type': 'support'})
    sim.add_fault(path='/v1/*', latency_ms=latency_ms)
    env = ch.sim_env(sim)
    argv = [ch.tool_path('trhub-task-delete-all'), '--all', '--yes', '--json',
            '--jobs', str(jobs)]
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                       timeout=1800, start_new_session=True)
    elapsed = time.monotonic() - t0
    sim.clear_faults()
    r = ch.Result(argv, p.returncode, p.stdout, p.stderr)
    doc = r.json() if r.rc == 0 else None
    if doc is None or doc['deleted'] != tasks:
        raise SystemExit('jobs=%d did not delete every task: %r' % (jobs, r))
    left = sim.client().taskrouter.v1.workspaces(sim.workspace_sid).tasks.list(limit=1)
    if left:
        raise SystemExit('jobs=%d left tasks behind' % jobs)
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tasks', type=int, default=10000)
    ap.add_argument('--latency-ms', type=int, default=5)
    ap.add_argument('--jobs', type=int, nargs='+', default=[1, 8])
    args = ap.parse_args()
    sim = th.Sim([])
    sim.start()
    try:
        results = {j: one_run(sim, args.tasks, args.latency_ms, j) for j in args.jobs}
    finally:
        sim.stop(check=False)
    base = results[args.jobs[0]]
    print('trhub-task-delete-all: %d tasks, %d ms latency per request' %
          (args.tasks, args.latency_ms))
    print('| --jobs | wall time (s) | deletes/s | speed-up |')
    print('|---:|---:|---:|---:|')
    for j in args.jobs:
        print('| %d | %.2f | %.0f | %.2fx |' % (j, results[j], args.tasks / results[j],
                                                 base / results[j]))
    if 1 in results and 8 in results:
        speedup = results[1] / results[8]
        verdict = 'met' if speedup >= TARGET else 'MISSED'
        print('target %.1fx at --jobs 8: %s (%.2fx)' % (TARGET, verdict, speedup))
        return 0 if speedup >= TARGET else 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
