#!/usr/bin/python3
"""Soak: memory and file descriptors under hours of traffic and faults (issue 12).

trhub-sim runs its traffic generator (--agents, --calls-per-minute: real
routing, its own signed callbacks to trhubd) and trhubd polls it for
statistics and publishes to its Sync service, as in production. On top:

  * a poster sends signed TaskRouter callbacks (whole task lifecycles, five
    events per task, fresh timestamps, keep-alive) paced at --rate events/s;
  * a fault cycler injects, for --phase seconds each in turn, nothing, 503,
    a dropped connection and 10 s of latency on every request trhubd makes in
    steady state (statistics and Sync); a refused connect would need the
    emulator down, which would lose its state;
  * --clients SSE clients on /api/stream (logged in as a supervisor) connect,
    stay 1..--client-life seconds and drop, over and over: some read
    everything, some never read (slow clients), some send a Last-Event-ID,
    some close with a reset instead of a FIN;
  * every --sample seconds: trhubd's VmRSS (/proc/<pid>/status), its malloc heap
    in use and free (its /metrics; RSS growing while in-use does not is
    fragmentation, not a leak) and its open
    fds (/proc/<pid>/fd, sockets matched in /proc/net/tcp) by kind.

Warm-up: at least --warmup seconds and until the model's bounded tables are
full (FILL_TASKS lifecycles: the tombstone FIFO holds 16,384 SIDs, two per
lifecycle), optionally posted faster (--warmup-rate); before that, RSS grows
by design. Then --cycles whole fault cycles (4 x --phase) are measured.

Verdict (why these windows): RSS moves with the fault in force (the latency
fault holds requests and queued Sync values for 10 s) and with how many
clients are connected, so single samples are compared with nothing. The
median RSS over the first measured cycle (every fault once) is the baseline;
the median over the last cycle is the end. Growth = end - baseline, target
<= 1 MB (1024 kB). Both windows see every fault for the same time and the
same client churn, so a steady leak shows up as (leak per event) x (events
posted between the windows' middles); the run prints that detection limit.
fds, by kind: once the load stops and the clients are gone, every client
connection must be closed (an fd kept for a dropped client is the leak this
looks for), and trhubd's own fds (listener, files, pipes, eventfds, unix
sockets) must be no more than before the load, and their maximum over the
last cycle no more than over the first; its connections to the
emulator's API are curl's pool, which varies with the faults and must stay
within its cap of 64; the emulator's own callback connections are counted
apart.

  TRHUBD=build/daemon/trhubd TRHUB_SIM=build/tests/sim/trhub-sim \\
      tests/bench/bench_soak.py [--warmup 300] [--cycles 14] [--phase 60] [--rate 200]
  --valgrind: trhubd under valgrind memcheck (plain build), reporting its errors and leaks.
"""

import argparse
import http.client
import os
import random
import selectors
import shutil
import socket
import statistics
import sys
import threading
import time

import bench_daemon_common as bc

dh = bc.dh

# Every request trhubd makes in steady state (the traffic generator makes none).
TRHUBD_PATHS = ('/v1/Workspaces/*Statistics*', '/v1/Services/*')
FAULTS = [
    ('none', None),
    ('503', {'status': 503, 'code': 20503, 'message': 'Service Unavailable'}),
    ('dropped', {'drop': True}),
    ('latency 10 s', {'latency_ms': 10_000}),
]


def proc_rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


def heap_kb(d):
    """(in use, free) kB of trhubd's malloc heap from its /metrics (glibc mallinfo2): RSS
    that grows while the bytes in use do not is fragmentation, not a leak."""
    try:
        m = d.metrics()
    except (OSError, AssertionError):
        return (None, None)
    return tuple(round(dh.metric_sum(m, k) / 1024) for k in
                 ('trhubd_heap_in_use_bytes', 'trhubd_heap_free_bytes'))


def proc_fds(pid, port, sim_port, sim_pid):
    """trhubd's open fds by kind: 'inbound' (client connections on its port),
    'sim_in' (the emulator's own callback connections), 'upstream' (its
    connections to the emulator's API), 'reset' (TCP sockets the peer reset,
    gone from /proc/net/tcp, not yet closed) and 'own' (everything else: the
    listener, files, pipes, eventfds, unix sockets); 'all' is the total."""
    n, inodes = dh.socket_inodes(pid)
    ports = dh.tcp_table()
    sim_ports = {ports[i][0] for i in dh.socket_inodes(sim_pid)[1] if i in ports}
    unix = set()
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            unix.add(line.split()[6])
    out = {'all': n, 'inbound': 0, 'sim_in': 0, 'upstream': 0, 'reset': 0}
    for i in inodes:
        if i not in ports:
            if i not in unix:
                out['reset'] += 1  # a TCP socket the peer reset, not yet closed by trhubd
            continue
        local, remote, state = ports[i]
        if local == port and state != '0A':
            out['sim_in' if remote in sim_ports else 'inbound'] += 1
        elif remote == sim_port:
            out['upstream'] += 1
    out['own'] = n - out['inbound'] - out['sim_in'] - out['upstream'] - out['reset']
    return out


class Poster:
    """Signed lifecycle callbacks paced at rate events/s over `conns` keep-alive
    connections (a slow answer on one does not hold the others back); the five
    events of a task go in order on one connection."""

    def __init__(self, stack, rate, stop, conns=4):
        self.stack = stack
        self.rate = rate
        self.stop = stop
        self.life = bc.Lifecycle(stack)
        self.lock = threading.Lock()
        self.sent = 0
        self.tasks = 0
        self.next_due = 0.0
        self.non_2xx = {}
        self.errors = 0
        self.ack_max = 0.0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(conns)]

    def start(self):
        self.next_due = time.monotonic()
        for t in self.threads:
            t.start()

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)

    def _next_task(self):
        """(due time, the task's five signed requests)."""
        with self.lock:
            now = time.monotonic()
            due = max(self.next_due, now - 5.0)  # never more than 5 s of catch-up burst
            evs = self.life.task_events(ms=int(time.time() * 1000))
            self.next_due = due + len(evs) / self.rate
            self.tasks += 1
            return due, [self.life.signed(ev) for ev in evs]

    def _run(self):
        port = self.stack.daemon.port
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        while not self.stop.is_set():
            due, reqs = self._next_task()
            for i, (body, sig) in enumerate(reqs):
                wait = due + i / self.rate - time.monotonic()  # rate read unlocked: a float
                if wait > 0 and self.stop.wait(wait):  # pacing
                    break
                t = time.monotonic()
                try:
                    conn.request('POST', '/taskrouter_event', body=body, headers={
                        'Content-Type': 'application/x-www-form-urlencoded',
                        'X-Twilio-Signature': sig})
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                except (OSError, http.client.HTTPException):
                    status = None
                    conn.close()
                    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
                with self.lock:
                    if status is None:
                        self.errors += 1
                    elif not 200 <= status < 300:
                        self.non_2xx[status] = self.non_2xx.get(status, 0) + 1
                    self.ack_max = max(self.ack_max, time.monotonic() - t)
                    self.sent += 1
        conn.close()


class Churn:
    """n SSE clients on one selector thread, each connecting, living a while and dropping."""

    def __init__(self, stack, n, life_s, stop, seed=12):
        self.stack = stack
        self.n = n
        self.life_s = life_s
        self.stop = stop
        self.rng = random.Random(seed)
        self.connects = 0
        self.statuses = {}
        self.bytes = 0
        self.relogins = 0
        self.errors = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, sel):
        port = self.stack.daemon.port
        kind = self.rng.choice(['read', 'read', 'read', 'stall', 'resume'])
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect(('127.0.0.1', port))
            hdrs = 'Cookie: %s\r\n' % dh.SESSION_COOKIES.get(port, '')
            if kind == 'resume':
                hdrs += 'Last-Event-ID: %s\r\n' % self.rng.choice(
                    ['1', '12345', '99999999999', 'x', ''])
            s.sendall(('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n'
                       'Accept: text/event-stream\r\n%s\r\n' % (port, hdrs)).encode())
        except OSError:
            self.errors += 1
            s.close()
            return None
        s.setblocking(False)
        self.connects += 1
        c = {'sock': s, 'kind': kind, 'head': b'', 'status': None,
             'until': time.monotonic() + self.rng.uniform(1.0, self.life_s),
             'rst': self.rng.random() < 0.3}
        if kind != 'stall':
            sel.register(s, selectors.EVENT_READ, c)
        return c

    def _close(self, sel, c):
        s = c['sock']
        if c['kind'] != 'stall':
            sel.unregister(s)
        if c['rst']:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        s.close()
        if c['status'] == 401:
            self.relogins += 1
            self.stack.daemon.login(*dh.SUPERVISOR)

    def _run(self):
        sel = selectors.DefaultSelector()
        live = []
        try:
            while not self.stop.is_set():
                while len(live) < self.n and not self.stop.is_set():
                    c = self._open(sel)
                    if c is None:
                        self.stop.wait(0.5)  # trhubd busy refusing: retry shortly
                        break
                    live.append(c)
                for key, _ in sel.select(timeout=0.2):
                    c = key.data
                    try:
                        data = c['sock'].recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b''
                    if not data:
                        c['until'] = 0  # the server closed it
                        continue
                    self.bytes += len(data)
                    if c['status'] is None:
                        c['head'] += data[:256]
                        if b'\r\n' in c['head']:
                            try:
                                c['status'] = int(c['head'].split()[1])
                            except (IndexError, ValueError):
                                c['status'] = -1
                            self.statuses[c['status']] = self.statuses.get(c['status'], 0) + 1
                now = time.monotonic()
                for c in [c for c in live if c['until'] <= now]:
                    live.remove(c)
                    self._close(sel, c)
        finally:
            for c in live:
                self._close(sel, c)
            sel.close()


def fault_cycler(stack, phase_s, stop, log):
    i = 0
    t0 = time.monotonic()
    while not stop.is_set():
        name, fault = FAULTS[i % len(FAULTS)]
        stack.sim.clear_faults()
        if fault is not None:
            for path in TRHUBD_PATHS:
                stack.sim.add_fault(path=path, **fault)
        log.append((time.monotonic() - t0, name))
        i += 1
        stop.wait(max(0.0, t0 + i * phase_s - time.monotonic()))  # the phase's length
    stack.sim.clear_faults()


def _asan_env():
    """Under AddressSanitizer, no quarantine: ASan otherwise keeps up to 256 MB of
    freed memory resident on purpose, and RSS would measure ASan, not trhubd."""
    asan = os.environ.get('ASAN_OPTIONS')
    if asan is None:
        return None
    return {'ASAN_OPTIONS': asan + ':quarantine_size_mb=0:thread_local_quarantine_size_kb=0'}


# The model's bounded tables fill before their memory is flat: the tombstone
# FIFO (MODEL_TOMBSTONES, 16,384 SIDs; a lifecycle leaves two, its task's and
# its reservation's), the dedupe FIFO (8,192 event SIDs) and the event ring
# (1,024). The warm-up lasts until this many lifecycles were posted.
FILL_TASKS = 16384 // 2 + 512


def soak(warmup, cycles, phase, rate, clients, client_life, sample_s, agents, cpm,
         warmup_rate=None, warmup_max=600, fill_tasks=FILL_TASKS, valgrind_log=None,
         progress=None):
    """Runs the soak: a warm-up of at least `warmup` s and fill_tasks lifecycles
    (posted at warmup_rate, default rate; at most warmup_max s), then `cycles`
    whole fault cycles at rate. Returns a results dict (module docstring)."""
    cycle = phase * len(FAULTS)
    if cycles < 2:
        raise ValueError('the verdict compares two whole fault cycles')
    sim_args = ['--agents', str(agents), '--calls-per-minute', str(cpm), '--seed', '12']
    stack = dh.Stack(sim_args=sim_args, start_daemon=False, daemon_env=_asan_env())
    d = stack.daemon
    if valgrind_log:
        d.argv = [shutil.which('valgrind') or 'valgrind', '--tool=memcheck', '--leak-check=full',
                  '--errors-for-leak-kinds=definite', '--error-exitcode=99',
                  '--log-file=' + valgrind_log] + d.argv
    stop = threading.Event()
    threads = []
    samples = []
    faults = []
    w_end = None
    try:
        d.start(timeout=120 if valgrind_log else 30)
        d.login(*dh.SUPERVISOR)
        pid = d.proc.pid
        port = d.port
        sim_pid = stack.sim.proc.pid
        sim_port = int(stack.sim.base_url.rsplit(':', 1)[1].split('/')[0])
        fds_idle0 = proc_fds(pid, port, sim_port, sim_pid)
        m0 = d.metrics()
        poster = Poster(stack, warmup_rate or rate, stop)
        churn = Churn(stack, clients, client_life, stop)
        threads = [churn.thread,
                   threading.Thread(target=fault_cycler, args=(stack, phase, stop, faults),
                                    daemon=True)]
        t0 = time.monotonic()
        poster.start()
        for t in threads:
            t.start()
        pause = threading.Event()
        while True:
            t = time.monotonic() - t0
            if w_end is None and t >= warmup and poster.tasks >= fill_tasks:
                w_end = t
                poster.rate = rate
            if w_end is None and t >= warmup_max:
                raise AssertionError('the warm-up posted %d of %d lifecycles in %d s: the '
                                     'bounded tables are not full, nothing to compare' %
                                     (poster.tasks, fill_tasks, warmup_max))
            if w_end is not None and t >= w_end + cycles * cycle:
                break
            rss = proc_rss_kb(pid)
            fds = proc_fds(pid, port, sim_port, sim_pid)
            heap = heap_kb(d)
            samples.append((t, rss, fds['all'], fds['inbound'], poster.sent, fds['own'],
                            fds['upstream'], heap[0], heap[1]))
            if progress is not None and len(samples) % max(1, int(60 / sample_s)) == 0:
                progress('%5.0f s  RSS %d kB  heap in use %s kB free %s kB  fds %r  posted %d  '
                         'SSE connects %d' % (t, rss, heap[0], heap[1], fds, poster.sent,
                                              churn.connects))
            pause.wait(max(0.0, t0 + len(samples) * sample_s - time.monotonic()))  # sampling
        elapsed = time.monotonic() - t0
        stop.set()
        poster.join(60)
        for t in threads:
            t.join(60)
        m1 = d.metrics()
        # The load is off and every client closed: inbound connections must go.
        # trhubd notices a closed SSE client when a write fails (the second
        # write after the reset; heartbeats come every 15 s when idle).
        t_drain = time.monotonic()
        deadline = t_drain + (180 if valgrind_log else 45)
        while time.monotonic() < deadline and \
                sum(proc_fds(pid, port, sim_port, sim_pid)[k] for k in ('inbound', 'reset')):
            pause.wait(0.5)  # polling the process's fd table
        t_drain = time.monotonic() - t_drain
        fds_end = proc_fds(pid, port, sim_port, sim_pid)
    finally:
        stop.set()
        problems = []
        if valgrind_log and d.proc is not None and not d.stopped:
            # memcheck's leak search at exit takes longer than the harness's default wait.
            problems += d.stop(timeout=300, check=False) or []
        problems += stack.close(check=False) or []

    def heap_median(win, i):
        v = [s[i] for s in win if s[i] is not None]
        return statistics.median(v) if v else None

    def heap_growth(a, b, i):
        x, y = heap_median(a, i), heap_median(b, i)
        return None if x is None or y is None else y - x

    def window(lo, hi):
        return [s for s in samples if lo <= s[0] < hi]
    end = w_end + cycles * cycle
    base = window(w_end, w_end + cycle)
    last = window(end - cycle, end)
    measured = window(w_end, end)
    rss_base = statistics.median(s[1] for s in base)
    rss_last = statistics.median(s[1] for s in last)
    # Events posted between the two windows' middles: a leak of L bytes per
    # event moves the second median up by about L times this.
    between = last[len(last) // 2][4] - base[len(base) // 2][4]
    events = dh.metric_sum(m1, 'trhubd_events_received_total') - \
        dh.metric_sum(m0, 'trhubd_events_received_total')
    return {
        'duration_s': round(elapsed, 1),
        'warmup_s': round(w_end, 1),
        'warmup_lifecycles': fill_tasks,
        'measured_s': round(cycles * cycle),
        'fault_phase_s': phase,
        'fault_cycle_s': cycle,
        'faults': [f[0] for f in FAULTS],
        'fault_phases_run': len(faults),
        'posted_events': poster.sent,
        'posted_rate_measured': round((measured[-1][4] - measured[0][4]) /
                                      max(1e-9, measured[-1][0] - measured[0][0]), 1),
        'posted_non_2xx': poster.non_2xx,
        'posted_errors': poster.errors,
        'ack_max_ms': round(poster.ack_max * 1000, 1),
        'events_received_by_trhubd': events,
        'events_per_s_received': round(events / elapsed, 1),
        'sse_clients': clients,
        'sse_connects': churn.connects,
        'sse_statuses': churn.statuses,
        'sse_bytes': churn.bytes,
        'sse_relogins': churn.relogins,
        'sse_connect_errors': churn.errors,
        'samples': len(samples),
        'rss_kb_start': samples[0][1],
        'rss_kb_at_warmup_end': base[0][1],
        'rss_kb_baseline_median': rss_base,
        'rss_kb_last_median': rss_last,
        'rss_kb_max_measured': max(s[1] for s in measured),
        'rss_growth_kb': rss_last - rss_base,
        'heap_in_use_kb_baseline_median': heap_median(base, 7),
        'heap_in_use_kb_last_median': heap_median(last, 7),
        'heap_in_use_growth_kb': heap_growth(base, last, 7),
        'heap_free_kb_baseline_median': heap_median(base, 8),
        'heap_free_kb_last_median': heap_median(last, 8),
        'events_between_windows': between,
        'leak_detection_limit_bytes_per_event': round(1024 * 1024 / max(1, between), 1),
        'fds_before_load': fds_idle0,
        'fds_after_load': fds_end,
        'fds_own_growth': fds_end['own'] - fds_idle0['own'],
        'fds_own_max_baseline': max(s[5] for s in base),
        'fds_own_max_last': max(s[5] for s in last),
        'fds_own_max_growth': max(s[5] for s in last) - max(s[5] for s in base),
        'fds_upstream_max': max(s[6] for s in samples),
        'fds_max': max(s[2] for s in samples),
        'inbound_max': max(s[3] for s in samples),
        'inbound_after_load': fds_end['inbound'] + fds_end['reset'],
        'inbound_drain_s': round(t_drain, 1),
        'trhubd_stop_problems': problems,
        'loadavg_end': bc.loadavg(),
        'rss_series_kb': [(round(s[0]), s[1], s[2], s[3], s[5], s[6], s[7], s[8])
                          for s in samples],
    }


# The emulator's API connections are curl's pool, capped at 64
# (common/http_async.c, CURLMOPT_MAXCONNECTS); they vary with the faults.
UPSTREAM_MAX = 64

TARGETS = {
    'rss_growth_kb': ('<=', 1024),
    'fds_own_growth': ('<=', 0),
    'fds_own_max_growth': ('<=', 0),
    'fds_upstream_max': ('<=', UPSTREAM_MAX),
    'inbound_after_load': ('<=', 0),
    'posted_errors': ('<=', 0),
    'posted_non_2xx_total': ('<=', 0),
}


def valgrind_summary(path):
    """(errors, definitely lost bytes, indirectly lost bytes) from a memcheck log."""
    errors = definite = indirect = None
    with open(path) as f:
        for line in f:
            if 'ERROR SUMMARY:' in line:
                errors = int(line.split('ERROR SUMMARY:')[1].split()[0].replace(',', ''))
            elif 'definitely lost:' in line:
                definite = int(line.split('definitely lost:')[1].split()[0].replace(',', ''))
            elif 'indirectly lost:' in line:
                indirect = int(line.split('indirectly lost:')[1].split()[0].replace(',', ''))
    if definite is None and errors is not None:
        definite = indirect = 0  # "All heap blocks were freed"
    return errors, definite, indirect


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--warmup', type=float, default=300, help='at least this long (s)')
    ap.add_argument('--cycles', type=int, default=14, help='whole fault cycles measured')
    ap.add_argument('--phase', type=float, default=60, help='seconds per fault')
    ap.add_argument('--rate', type=float, default=200)
    ap.add_argument('--warmup-rate', type=float, default=None)
    ap.add_argument('--fill-tasks', type=int, default=FILL_TASKS,
                    help='lifecycles the warm-up posts at least (0 under valgrind: RSS is '
                    'valgrind\'s there)')
    ap.add_argument('--clients', type=int, default=50)
    ap.add_argument('--client-life', type=float, default=20)
    ap.add_argument('--sample', type=float, default=5)
    ap.add_argument('--agents', type=int, default=40)
    ap.add_argument('--calls-per-minute', type=int, default=40)
    ap.add_argument('--valgrind', action='store_true',
                    help='trhubd under valgrind memcheck (use the plain build and a lower rate)')
    ap.add_argument('--series', action='store_true', help='print every sample')
    args = ap.parse_args()
    bc.need_env()
    vlog = None
    if args.valgrind:
        vlog = os.path.join(os.environ.get('TMPDIR', '/tmp'),
                            'trhubd-soak-valgrind.%d.log' % os.getpid())
    r = soak(args.warmup, args.cycles, args.phase, args.rate, args.clients, args.client_life,
             args.sample, args.agents, args.calls_per_minute, warmup_rate=args.warmup_rate,
             warmup_max=max(600, 3 * args.warmup), fill_tasks=args.fill_tasks,
             valgrind_log=vlog,
             progress=lambda s: print(s, flush=True))
    if not args.series:
        r.pop('rss_series_kb')
    r['posted_non_2xx_total'] = sum(r['posted_non_2xx'].values())
    targets = dict(TARGETS)
    if vlog:
        errors, definite, indirect = valgrind_summary(vlog)
        r.update({'valgrind_log': vlog, 'valgrind_errors': errors,
                  'valgrind_definitely_lost': definite, 'valgrind_indirectly_lost': indirect})
        targets.update({'valgrind_errors': ('<=', 0), 'valgrind_definitely_lost': ('<=', 0)})
        del targets['rss_growth_kb']  # RSS is memcheck's own there (shadow memory, its heap)
    return bc.report('soak: RSS and fds under traffic, faults and SSE churn', r, targets)


if __name__ == '__main__':
    sys.exit(main())
