"""Soak, the 2-minute CI version (issue 12): trhubd under the emulator's traffic,
200 signed events/s, the Twilio faults cycling (nothing, 503, dropped, 10 s
latency; 7.5 s each, a 30 s cycle) and 50 SSE clients connecting and
dropping. The first two fault cycles are the warm-up: the event ring and the
dedupe FIFO fill, and the first outages raise the heap's high-water mark
(queued Sync values, requests held by the latency fault; measured: RSS climbs
for the first two latency phases, then stays flat, in this test and in the
hour). Two whole fault cycles are then measured: the median RSS of the second
may exceed the first's by at most 1 MB, the fds other than client
connections must not grow, and every client connection must close once the
clients are gone.

What the bound includes: in two minutes the tombstone FIFO (16,384 SIDs, two
per lifecycle) is still filling, by design, about 100 bytes per lifecycle
(~250 kB between the windows at 200 events/s); it counts against the 1 MB,
so a leak of roughly 130 bytes per event or more fails this test (the run
prints its own limit from the events it posted). The hour
(tests/bench/bench_soak.py, doc/benchmarks.md) measures with every table full.
"""

import os
import sys

import daemon_harness as dh

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
import bench_soak  # noqa: E402

PHASE_S = 7.5
CYCLES = 2


def test_soak_rss_and_fds_stay_flat():
    dh._skip_if_missing()
    r = bench_soak.soak(warmup=2 * PHASE_S * len(bench_soak.FAULTS), cycles=CYCLES,
                        phase=PHASE_S, rate=200, clients=50, client_life=10, sample_s=1,
                        agents=20, cpm=30, fill_tasks=0)
    series = r.pop('rss_series_kb')
    print(r)
    print('series (s, RSS kB, fds, inbound, own, upstream):', series)
    r['posted_non_2xx_total'] = sum(r['posted_non_2xx'].values())
    missed = []
    for key, (op, bound) in bench_soak.TARGETS.items():
        v = r[key]
        if not (v <= bound if op == '<=' else v >= bound):
            missed.append('%s = %r (target %s %r)' % (key, v, op, bound))
    assert not missed, '; '.join(missed)
    assert r['fault_phases_run'] >= CYCLES * len(bench_soak.FAULTS), 'the faults did not cycle'
    assert r['sse_connects'] >= 100, 'too little SSE churn: %d connects' % r['sse_connects']
    assert r['sse_statuses'].get(200, 0) > 0 and set(r['sse_statuses']) <= {200}, \
        r['sse_statuses']
    assert r['trhubd_stop_problems'] == [], r['trhubd_stop_problems']
