#!/usr/bin/python3
"""A 5-minute upstream outage under traffic (issue 12, "Nothing lost"; a benchmark).

trhubd runs the systemd way against trhub-sim, its TaskRouter and Sync base URLs
pointed at a small TCP forwarder on 127.0.0.1 in front of the emulator. For
--outage-s seconds (default 300) every Twilio call trhubd makes in steady state
fails, cycling through phases of --phase-s seconds (default 20):

  * 503: the emulator answers 503 (code 20503) to statistics and Sync routes;
  * refused: the forwarder stops listening and drops its connections, so
    connect() is refused (the emulator keeps its state);
  * latency: the emulator holds each of those requests 10 s (= trhubd's
    twilio_timeout_ms) before answering.

Meanwhile the emulator's scripted day keeps creating, routing and ending tasks,
and its callbacks reach trhubd through the harness's recording proxy. Measured:
every webhook's status and ack time (at the proxy), trhubd's RSS every step
(bound: --rss-growth-max-kb), the open tasks at the end, and, once the faults
end, the seconds until every Sync object, /api/stats and the model equal the
emulator's state (sampled every 0.25 s), with the Sync requests trhubd made
after the recovery by route and status (the emulator's counters).

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_daemon_outage.py [--outage-s 300]

Exit 1 when a webhook was not 2xx, memory grew past the bound, or convergence
took longer than --converge-target-s (5 s, the issue's target); the numbers and
their method go to doc/benchmarks.md.
"""

import argparse
import re
import socket
import sys
import threading
import time

import bench_daemon_common as bc

dh = bc.dh

TRHUBD_PATHS = ('/v1/Workspaces/*Statistics*', '/v1/Services/*')
# A scripted step (4 new tasks, agents accept / wrap / complete, callers hang up) every
# STEP_S. The emulator's clock runs with real time; each step also moves it
# STEP_ADVANCE_MS ahead, so over 5 minutes event timestamps get 75 s ahead of the
# real clock, inside trhubd's accepted window (events_max_future).
STEP_S = 2.0
STEP_ADVANCE_MS = 500
PHASES = ('503', 'refused', 'latency')


class Forwarder:
    """A TCP forwarder on 127.0.0.1 that can refuse connections (down) and accept again
    (up) on the same port. Bounded: one thread per direction per connection, and
    trhubd keeps only a few connections (curl's pool)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.conns = []
        self.lsock = None
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        self.port = s.getsockname()[1]
        s.close()
        self.up()

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    def up(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', self.port))
        s.listen(64)
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self):
        s, self.lsock = self.lsock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, lsock):
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(('127.0.0.1', self.target_port), timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                if self.lsock is not lsock:
                    c.close()
                    u.close()
                    return
                self.conns += [c, u]
            threading.Thread(target=self._pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            for s in (a, b):
                if s in self.conns:
                    self.conns.remove(s)
                    s.close()


def sync_counts(stack):
    out = {}
    for route, c in stack.sim.counters()['requests'].items():
        if '/v1/Services/' in route:
            for k, v in c.get('by_status', {}).items():
                out[(route, k)] = out.get((route, k), 0) + int(v)
    return out


def timed_reader(daemon):
    """Prefixes each line trhubd writes with the monotonic time it was read."""
    def reader(stream, sink):
        for raw in iter(stream.readline, b''):
            with daemon._out_cond:
                sink.append('%.3f %s' % (time.monotonic(),
                                         raw.decode('utf-8', 'replace').rstrip('\n')))
                daemon._out_cond.notify_all()
        stream.close()
        with daemon._out_cond:
            daemon._out_cond.notify_all()
    daemon._reader = reader


def print_timeline(lines, t_rec, t_end):
    """trhubd's Sync/statistics trace lines between the recovery and t_end, relative to it."""
    print("trhubd's requests after the recovery (t = seconds after the faults ended):")
    for line in lines:
        t, _, text = line.partition(' ')
        try:
            t = float(t)
        except ValueError:
            continue
        if t_rec - 0.5 <= t <= t_end and ('sync' in text or 'stats' in text):
            print('  %+7.3f %s' % (t - t_rec, text[:150]))


def main():
    # The recording proxy's threads share this process with the day's driver; at
    # Python's default 5 ms GIL switch interval a webhook could wait that long for
    # the proxy itself, which the ack time would count as trhubd's.
    sys.setswitchinterval(0.0005)
    ap = argparse.ArgumentParser()
    ap.add_argument('--outage-s', type=float, default=300.0)
    ap.add_argument('--phase-s', type=float, default=20.0)
    ap.add_argument('--rss-growth-max-kb', type=int, default=8 * 1024)
    ap.add_argument('--converge-target-s', type=float, default=5.0)
    ap.add_argument('--converge-max-s', type=float, default=120.0)
    ap.add_argument('--sync-writes-per-s', type=int, default=None,
                    help="trhubd's sync_writes_per_s (default: trhubd's, 10); Sync's "
                         'documented cap is 20 per object (twilio-operations.md 2)')
    ap.add_argument('--trace', action='store_true',
                    help="print trhubd's Sync and statistics requests after the recovery, "
                         'timed (runs it with --trace sync,stats)')
    args = ap.parse_args()
    bc.need_env()

    stack = dh.Stack(record=True, start_daemon=False,
                     daemon_args=['--trace', 'sync,stats'] if args.trace else (),
                     sim_args=['--trace', 'sync'] if args.trace else ())
    fwd = None
    try:
        if args.trace:
            timed_reader(stack.daemon)
        fwd = Forwarder(int(stack.sim.base_url.rsplit(':', 1)[1]))
        stack.daemon.extra_env['TRHUB_TASKROUTER_BASE_URL'] = fwd.base_url
        stack.daemon.extra_env['TRHUB_SYNC_BASE_URL'] = fwd.base_url
        if args.sync_writes_per_s is not None:
            stack.daemon.extra_env['TRHUB_SYNC_WRITES_PER_S'] = str(args.sync_writes_per_s)
        stack.daemon.start()
        stack.daemon.login(*dh.SUPERVISOR)
        rec = stack.recorder
        day = dh.Day(stack, seed=12)
        day.run(2, advance_ms=STEP_ADVANCE_MS)
        dh.converge(lambda: dh.all_differences(stack, (rec.latest() or {}).get('form')),
                    what='convergence before the outage')
        rss0 = stack.daemon.rss_kb()
        rss_max = rss0
        n0 = rec.count()
        pause = threading.Event()
        t0 = time.monotonic()
        steps = 0
        phase_log = []
        while time.monotonic() - t0 < args.outage_s:
            k = int((time.monotonic() - t0) // args.phase_s)
            name = PHASES[k % len(PHASES)]
            phase_end = min(t0 + (k + 1) * args.phase_s, t0 + args.outage_s)
            if name == '503':
                for path in TRHUBD_PATHS:
                    stack.sim.add_fault(path=path, status=503, code=20503,
                                        message='Service Unavailable')
            elif name == 'refused':
                fwd.down()
            else:
                for path in TRHUBD_PATHS:
                    stack.sim.add_fault(path=path, latency_ms=10_000)
            while time.monotonic() < phase_end:
                day.step(advance_ms=STEP_ADVANCE_MS)
                steps += 1
                rss_max = max(rss_max, stack.daemon.rss_kb())
                pause.wait(max(0.0, min(phase_end, t0 + steps * STEP_S) - time.monotonic()))
            if name == 'refused':
                fwd.up()
            else:
                stack.sim.clear_faults()
            phase_log.append('%s RSS %d kB' % (name, stack.daemon.rss_kb()))
        # The faults are over (the last phase's cleared above).
        t_rec = time.monotonic()
        before = sync_counts(stack)
        samples = []
        while True:
            d = dh.all_differences(stack, (rec.latest() or {}).get('form'))
            samples.append((time.monotonic() - t_rec, len(d), d[:2]))
            if not d or time.monotonic() - t_rec > args.converge_max_s:
                break
            pause.wait(0.25)
        t_conv = samples[-1][0]
        after = sync_counts(stack)
        if args.trace:
            print_timeline(list(stack.daemon.stderr_lines), t_rec, t_rec + t_conv + 0.5)
        open_tasks = len(stack.sim_tasks())

        events = rec.events()[n0:]
        acks = sorted(r['t_done'] - r['t_sent'] for r in events)
        bad = rec.non_2xx()
        p99 = acks[int(0.99 * (len(acks) - 1))] if acks else 0
        print('outage %.0f s in %.0f s phases (%s), %d steps; open tasks at the end %d' %
              (args.outage_s, args.phase_s, ' / '.join(PHASES), steps, open_tasks))
        print('phases: ' + '; '.join(phase_log))
        print('webhooks %d, non-2xx %d, ack p50 %.1f ms p99 %.1f ms max %.1f ms '
              '(through the recording proxy)' %
              (len(acks), len(bad), 1000 * acks[len(acks) // 2], 1000 * p99, 1000 * acks[-1]))
        print('RSS %d kB before, max %d kB during, growth %d kB (bound %d kB)' %
              (rss0, rss_max, rss_max - rss0, args.rss_growth_max_kb))
        last = None
        for t, n, d in samples:
            if (n, d[:1]) != last:
                print('  t+%.2f s: %d differences %s' % (t, n, [x[:120] for x in d[:1]]))
                last = (n, d[:1])
        print('converged %.2f s after the faults ended (target %.1f s)' %
              (t_conv, args.converge_target_s))
        print('Sync requests after the recovery:')
        for key in sorted(after):
            n = after[key] - before.get(key, 0)
            if n:
                print('  %-60s %-8s %d' % (key[0], key[1], n))
        writes = dh.sync_write_stats(stack)
        cap = int(stack.daemon.extra_env.get('TRHUB_SYNC_WRITES_PER_S', '10'))
        print('Sync writes per object, most in any one second (cap %d): %s' % (
            cap, ', '.join('%s %d' % (k, w['max_per_second']) for k, w in sorted(writes.items()))))
        over = {k: w for k, w in writes.items() if w['max_per_second'] > cap}
        if args.trace and over:
            lines = list(stack.sim.stderr_lines)
            for i, line in enumerate(lines):
                m = re.search(r'\((\d+) in the last second\)', line)
                if m and int(m.group(1)) > cap:
                    print('emulator: a write over the cap, after:')
                    for x in lines[max(0, i - 14):i + 1]:
                        print('   ', x[:160])
        kinds = {}
        for r in bad:
            k = (r['status'], r['form'].get('EventType'))
            kinds[k] = kinds.get(k, 0) + 1
        for (status, ev), n in sorted(kinds.items(), key=lambda x: -x[1])[:10]:
            print('  non-2xx: %s %s x %d' % (status, ev, n))
        ok = True
        if bad or not acks:
            print('FAIL: webhooks answered non-2xx: %d' % len(bad))
            ok = False
        if over:
            print('FAIL: Sync objects written faster than %d/s: %s' % (cap, sorted(over)))
            ok = False
        if rss_max - rss0 > args.rss_growth_max_kb:
            print('FAIL: RSS grew %d kB' % (rss_max - rss0))
            ok = False
        if samples[-1][1] != 0:
            print('FAIL: no convergence within %.0f s' % args.converge_max_s)
            ok = False
        elif t_conv > args.converge_target_s:
            print('MISSED: converged in %.2f s, target %.1f s' % (t_conv, args.converge_target_s))
            ok = False
        return 0 if ok else 1
    finally:
        if fwd is not None:
            fwd.down()
        stack.close(check=False)


if __name__ == '__main__':
    sys.exit(main())
