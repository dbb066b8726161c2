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
and its callbacks reach trhubd through a recording proxy: tests/bench/bench_ack_proxy,
a C program at a real-time priority (TRHUB_ACK_PROXY, else next to the build's other
benchmarks), or with --python-proxy the harness's Python one. Measured: every
webhook's status and ack time (at the proxy: connect, send, whole answer), trhubd's
RSS every step
(bound: --rss-growth-max-kb), the open tasks at the end, and, once the faults
end, the seconds until every Sync object, /api/stats and the model equal the
emulator's state (sampled every 0.25 s), with the Sync requests trhubd made
after the recovery by route and status (the emulator's counters).

This machine is shared, so the run carries its own baselines. nginx answering a
bare 204 (when installed) gets every webhook too, through the same proxy, and its
ack times are reported beside trhubd's; and the proxy's stall probe (a real-time
thread on each CPU waking every millisecond) reports when a CPU ran nothing for it
for more than 2 ms. Each ack over the target is printed with the baseline's ack
for the same webhook and the stalls during it. --pin puts trhubd and nginx on
CPU 0 and the rest (this driver, the emulator, the proxy) on CPU 1, as
bench_daemon_ingest --pin does, so the driver's bursts of Python are not trhubd's.

--perf answers from inside what the ack times can only suggest: perf(1) samples
trhubd on its CPU every 0.25 ms and records each time it leaves the CPU, with where
it was; the script reports trhubd's longest stretch on the CPU during the outage
(the longest any webhook could wait behind trhubd's own work) and every sleep that
was not the event loop's epoll_wait (a blocking call on the loop).

  TRHUBD=... TRHUB_SIM=... tests/bench/bench_daemon_outage.py [--outage-s 300]

Exit 1 when a webhook was not 2xx or took longer than --ack-max-ms (5 ms, the
issue's target), memory grew past the bound, or convergence took longer than
--converge-target-s (5 s, the issue's target); the numbers and their method go to
doc/benchmarks.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import bench_daemon_common as bc
import bench_daemon_ingest as bi

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


def stalled(stalls, cpu, t0, t1):
    """Seconds of [t0, t1] during which the probe on cpu was due but had not run."""
    spans = sorted((max(s[1] + 0.001, t0), min(s[2], t1)) for s in stalls
                   if s[0] == cpu and s[1] + 0.001 < t1 and s[2] > t0)
    total, end = 0.0, t0
    for a, b in spans:
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return total


def perf_start(pid, path):
    """perf record on pid: cpu-clock at 4 kHz and every sched_switch, with user stacks."""
    perf = shutil.which('perf')
    if perf is None:
        raise SystemExit('--perf: no perf(1) (linux-perf)')
    proc = subprocess.Popen([perf, 'record', '-q', '-k', 'CLOCK_MONOTONIC', '-e', 'cpu-clock',
                             '-F', '4000', '-e', 'sched:sched_switch', '-g', '-p', str(pid),
                             '-o', path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    if proc.poll() is not None:
        raise SystemExit('--perf: perf record failed: %s' % proc.stderr.read().decode()[-300:])
    return proc


def perf_report(proc, path, t0, t1):
    """trhubd's longest stretch on the CPU and its sleeps outside epoll_wait in [t0, t1]."""
    proc.send_signal(signal.SIGINT)
    proc.wait(60)
    out = subprocess.run(['perf', 'script', '-i', path, '-F', 'time,event,trace,ip,sym'],
                         capture_output=True, text=True, check=True).stdout
    samples, sleeps = [], {}
    event = state = frame = None
    t = 0.0
    for line in out.splitlines() + ['']:
        head = re.match(r'\s*(\d+\.\d+):\s+(?:\d+\s+)?(\S+):', line)
        if head:
            t, event = float(head.group(1)), head.group(2)
            m = re.search(r'prev_state=(\S+)', line)
            state, frame = (m.group(1) if m else None), None
        elif line.strip() and event == 'sched:sched_switch' and frame is None:
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith('ffffffff'):
                frame = parts[1].split('+')[0]
        elif not line.strip() and event is not None:
            if t0 <= t <= t1:
                if event == 'cpu-clock':
                    samples.append(t)
                elif state and state[0] in 'SD' and frame != 'epoll_wait':
                    sleeps[frame] = sleeps.get(frame, 0) + 1
            event = None
    longest, start, last = 0.0, None, None
    for x in samples:
        if last is None or x - last > 0.0004:
            start = x
        last = x
        longest = max(longest, last - start + 0.00025)
    print('perf: trhubd during the outage: %d samples at 4 kHz; longest stretch on the CPU '
          '%.2f ms; sleeps outside epoll_wait: %s' % (
              len(samples), 1000 * longest,
              ', '.join('%s x %d' % kv for kv in sorted(sleeps.items())) or 'none'))
    return longest, sleeps


def ack_proxy_binary():
    path = os.environ.get('TRHUB_ACK_PROXY') or os.path.join(
        os.path.dirname(os.path.abspath(os.environ['TRHUBD'])), '..', 'tests', 'bench',
        'bench_ack_proxy')
    if not os.access(path, os.X_OK):
        raise SystemExit('no bench_ack_proxy at %s (ninja -C <build> tests/bench/bench_ack_proxy, '
                         'or TRHUB_ACK_PROXY=..., or --python-proxy)' % path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--outage-s', type=float, default=300.0)
    ap.add_argument('--phase-s', type=float, default=20.0)
    ap.add_argument('--rss-growth-max-kb', type=int, default=8 * 1024)
    ap.add_argument('--converge-target-s', type=float, default=5.0)
    ap.add_argument('--ack-max-ms', type=float, default=5.0)
    ap.add_argument('--python-proxy', action='store_true',
                    help="record through the harness's Python proxy (threads in this process) "
                         'instead of bench_ack_proxy')
    ap.add_argument('--save', metavar='FILE',
                    help="write every ack (trhubd's and the baseline's), the probe's stalls and "
                         'the phases as JSON')
    ap.add_argument('--perf', action='store_true',
                    help='record trhubd with perf(1) during the outage (needs root or '
                         'perf_event_paranoid <= 1) and report its longest stretch on the CPU')
    ap.add_argument('--no-baseline', action='store_true',
                    help='do not send each webhook to nginx-204 as well')
    ap.add_argument('--pin', action='store_true',
                    help='trhubd and nginx on CPU %s, everything else on CPU %s' %
                         (bi.SERVER_CPU, bi.WRK_CPU))
    ap.add_argument('--converge-max-s', type=float, default=120.0)
    ap.add_argument('--sync-writes-per-s', type=int, default=None,
                    help="trhubd's sync_writes_per_s (default: trhubd's, 10); Sync's "
                         'documented cap is 20 per object (twilio-operations.md 2)')
    ap.add_argument('--trace', action='store_true',
                    help="print trhubd's Sync and statistics requests after the recovery, "
                         'timed (runs it with --trace sync,stats)')
    args = ap.parse_args()
    bc.need_env()
    if args.pin:
        os.sched_setaffinity(0, {int(bi.WRK_CPU)})  # the emulator and the proxy inherit it
    tmp = tempfile.mkdtemp(prefix='bench-outage-')
    nginx = perf = None
    if not args.python_proxy and not args.no_baseline:
        nginx = bi.start_nginx(tmp, args.pin)
        if nginx is None:
            print('no nginx: no baseline in this run')
    if args.python_proxy:
        # The proxy's threads share this process with the day's driver; at Python's
        # default 5 ms GIL switch interval a webhook could wait that long for the
        # proxy itself, which the ack time would count as trhubd's.
        sys.setswitchinterval(0.0005)
        recorder = None
    else:
        binary = ack_proxy_binary()

        def recorder(port):
            return dh.ProcessRecorder(port, binary, nginx[1] if nginx else None)

    stack = dh.Stack(record=True, start_daemon=False, recorder=recorder,
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
        if args.pin:
            bi.pin_process(stack.daemon.proc.pid, bi.SERVER_CPU)
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
        perf = perf_start(stack.daemon.proc.pid, os.path.join(tmp, 'perf.data')) \
            if args.perf else None
        t0 = time.monotonic()
        steps = 0
        phase_log = []
        phases = []  # (start, end, name), monotonic
        while time.monotonic() - t0 < args.outage_s:
            k = int((time.monotonic() - t0) // args.phase_s)
            name = PHASES[k % len(PHASES)]
            phase_end = min(t0 + (k + 1) * args.phase_s, t0 + args.outage_s)
            phase_start = time.monotonic()
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
            phases.append((phase_start, time.monotonic(), name))
        # The faults are over (the last phase's cleared above).
        t_rec = time.monotonic()
        if perf is not None:
            perf_report(perf, os.path.join(tmp, 'perf.data'), t0, t_rec)
            perf = None
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
              '(through the %s proxy)' %
              (len(acks), len(bad), 1000 * acks[len(acks) // 2], 1000 * p99, 1000 * acks[-1],
               'Python' if args.python_proxy else 'C'))
        stalls = list(getattr(rec, 'stalls', []))
        if nginx:
            backs = sorted(r['b_done'] - r['b_sent'] for r in events)
            print('baseline nginx-204, the same webhooks: ack p50 %.1f ms p99 %.1f ms max %.1f ms, '
                  '%d over %.1f ms (non-204: %d)' % (
                      1000 * backs[len(backs) // 2], 1000 * backs[int(0.99 * (len(backs) - 1))],
                      1000 * backs[-1], sum(1 for a in backs if a * 1000 > args.ack_max_ms),
                      args.ack_max_ms, sum(1 for r in events if r['b_status'] != 204)))
        if not args.python_proxy:
            t_first, t_last = events[0]['t_sent'], events[-1]['t_done']
            for cpu in sorted({s[0] for s in stalls} | {0, 1}):
                late = [s[2] - s[1] - 0.001 for s in stalls
                        if s[0] == cpu and t_first <= s[1] <= t_last]
                print('stall probe, CPU %d: %d wake-ups over 2 ms late, %d over 5 ms, max %.1f ms'
                      % (cpu, len(late), sum(1 for x in late if x > 0.005),
                         1000 * max(late, default=0)))
        slow = sorted(events, key=lambda r: r['t_sent'] - r['t_done'])[:5]
        slow += [r for r in events if (r['t_done'] - r['t_sent']) * 1000 > args.ack_max_ms
                 and r not in slow]
        for r in slow:
            where = 'after the faults'
            for start, end, name in phases:
                if start <= r['t_sent'] < end:
                    where = '%.2f s into a %s phase' % (r['t_sent'] - start, name)
                elif end <= r['t_sent'] < end + 1:
                    where = '%.3f s after a %s phase ended' % (r['t_sent'] - end, name)
            print('  slowest: %.1f ms, %s, %s (sent at %.6f, CLOCK_MONOTONIC)' % (
                1000 * (r['t_done'] - r['t_sent']), r['form'].get('EventType'), where,
                r['t_sent']))
            if nginx:
                print('    nginx-204 for the same webhook: %.1f ms' %
                      (1000 * (r['b_done'] - r['b_sent'])))
            during = ['CPU %d %.1f ms' % (s[0], 1000 * (s[2] - s[1] - 0.001)) for s in stalls
                      if s[1] < r['t_done'] and s[2] > r['t_sent']]
            if during:
                print('    stalls during it: ' + ', '.join(during))
        if args.pin and not args.python_proxy:
            # What is left of each slow ack once the time trhubd's own CPU was stalled
            # during it is taken out: trhubd could not have answered while its CPU ran
            # nothing for a real-time probe that was due.
            cpu = int(bi.SERVER_CPU)
            left = [r['t_done'] - r['t_sent'] - stalled(stalls, cpu, r['t_sent'], r['t_done'])
                    for r in events if (r['t_done'] - r['t_sent']) * 1000 > args.ack_max_ms]
            if left:
                print('acks over %.1f ms less the time CPU %d was stalled during each: '
                      'max %.1f ms' % (args.ack_max_ms, cpu, 1000 * max(left)))
        if args.save:
            with open(args.save, 'w') as f:
                json.dump({'events': [{k: r[k] for k in r if k not in ('params', 'form')}
                                      for r in events], 'stalls': stalls,
                           'phases': phases}, f)
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
        slow_acks = [a for a in acks if a * 1000 > args.ack_max_ms]
        if slow_acks:
            print('MISSED: %d of %d webhooks answered in more than %.1f ms' %
                  (len(slow_acks), len(acks), args.ack_max_ms))
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
        if perf is not None:
            perf.kill()
            perf.wait()
        if fwd is not None:
            fwd.down()
        stack.close(check=False)
        if nginx:
            nginx[0].terminate()
            nginx[0].wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
