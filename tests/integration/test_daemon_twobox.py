"""Two trhubd behind nginx (doc/scaling.md), on loopback, with trhub-sim as Twilio.

doc/scaling.md's nginx block is run as written (only its ports replaced): TaskRouter's
callbacks go to nginx, which answers them through hub-a and mirrors each to hub-b. Both
instances run with sync_lease on. Checked, always against the emulator's own state:

- exactly one instance holds the lease and only it writes to Sync (trhubd's own write
  counters: the standby's stay at zero), while both models and both /api/stats equal the
  emulator's, so a browser on either instance sees the same numbers;
- kill -9 of the holder: the standby takes the lease within the lease time plus one poll,
  republishes, and every Sync object converges to the emulator's truth;
- the old holder restarted stands by while the new one renews;
- no Sync object was ever written faster than sync_writes_per_s (the emulator's own
  per-object counters, over the whole run, across both writers).

Skipped when nginx is missing.
"""

import contextlib
import re
import socket
import tempfile
import time

import pytest

import daemon_harness as dh
import twobox_nginx as tn

make_stack = dh.make_stack_fixture()

TTL_S = 6
WRITE_CAP = 5


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def nginx():
    """start(listen, port_a, port_b): doc/scaling.md's nginx (tests/pylib/twobox_nginx.py)."""
    binary = tn.nginx_binary()
    if binary is None:
        pytest.skip('nginx is not installed')
    procs = []

    def start(listen_port, port_a, port_b):
        procs.append(tn.start(binary, tempfile.mkdtemp(prefix='trhub-twobox-'), listen_port,
                              port_a, port_b))

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


class View:
    """The stack as seen through one instance (daemon_harness compares stack.daemon)."""

    def __init__(self, stack, daemon):
        self.__dict__['_stack'] = stack
        self.__dict__['daemon'] = daemon

    def __getattr__(self, name):
        return getattr(self._stack, name)


# Local-only routes (/readyz, /metrics) from a loopback address that is not nginx's: with
# 127.0.0.1 a trusted proxy, a request from it counts as proxied.
LOCAL = '127.0.0.2'


def local_get(daemon, path):
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', daemon.port, timeout=dh.DEFAULT_TIMEOUT,
                                      source_address=(LOCAL, 0))
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return dh.Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def metrics(daemon):
    r = local_get(daemon, '/metrics')
    assert r.status == 200, r
    return dh.parse_prometheus(r.body.decode())


def readyz(daemon):
    try:
        r = local_get(daemon, '/readyz')
    except OSError as e:
        return 'no answer: %s' % e
    return r.status, r.body[:300]


def lease_of(daemon):
    r = local_get(daemon, '/readyz')
    if r.status != 200:
        return None
    return r.json().get('lease')


def sync_writes(daemon):
    """Sync writes this instance sent (lease renewals are not syncpub writes)."""
    return dh.metric_sum(metrics(daemon), 'trhubd_sync_writes_total')


def stats_keys_equal(stack, a, b):
    sa, sb = a.get_json('/api/stats'), b.get_json('/api/stats')
    keys = sorted(dh.expected_stats(stack, sa.get('startTime')))
    return dh.diff_dicts('/api/stats hub-a vs hub-b', sa, {k: sb.get(k) for k in keys},
                         keys=keys, rounded=dh.ROUNDED_KEYS)


def wait(daemons, predicate, timeout, what):
    """wait_until, with both instances' logs in the failure."""
    try:
        dh.th.wait_until(predicate, timeout=timeout, what=what)
    except AssertionError as e:
        logs = '\n'.join('--- %s %r\n%s' % (
            name, readyz(d), '\n'.join((d.past_stderr + d.stderr_lines)[-40:]))
            for name, d in daemons)
        raise AssertionError('%s\n%s' % (e, logs))


def start_pair(a, b, ttl, login=False):
    """Starts hub-a, waits for it to hold the lease, then hub-b standing by behind it;
    returns the (name, daemon) pairs wait() reports on."""
    both = (('hub-a', a), ('hub-b', b))
    a.start()
    if login:
        a.login(*dh.SUPERVISOR)
    wait(both, lambda: (lease_of(a) or {}).get('role') == 'holder', 3 * ttl,
         'hub-a holding the lease')
    b.start()
    if login:
        b.login(*dh.SUPERVISOR)
    wait(both, lambda: (lease_of(b) or {}).get('holder') == 'hub-a', 3 * ttl,
         'hub-b seeing hub-a hold the lease')
    return both



def test_two_instances_one_writer_and_takeover(make_stack, nginx):
    front = free_port()
    public = 'http://127.0.0.1:%d' % front
    env = {'TRHUB_SYNC_LEASE': 'true', 'TRHUB_SYNC_LEASE_TTL_S': str(TTL_S),
           'TRHUB_SYNC_WRITES_PER_S': str(WRITE_CAP), 'TRHUB_TRUSTED_PROXIES': '127.0.0.1',
           'TRHUB_INSTANCE_ID': 'hub-a'}
    stack = make_stack(public_url=public, callbacks=False, start_daemon=False, daemon_env=env)
    a = stack.daemon
    b = dh.Trhubd()
    try:
        b.extra_env = dict(a.extra_env, TRHUB_INSTANCE_ID='hub-b')
        b.auto_login = dh.SUPERVISOR
        nginx(front, a.port, b.port)
        stack.ws.update(event_callback_url=public + '/taskrouter_event')

        both = start_pair(a, b, TTL_S, login=True)
        assert lease_of(b)['role'] == 'standby'

        day = dh.Day(stack, seed=5)
        day.run(6, new_tasks=3, advance_ms=0)
        view_a, view_b = View(stack, a), View(stack, b)
        dh.converge(lambda: (dh.all_differences(view_a) + dh.model_differences(view_b) +
                             dh.stats_differences(view_b, b.get_json('/api/stats'),
                                                  'hub-b /api/stats')),
                    what='both instances and Sync agreeing with the emulator')
        assert stats_keys_equal(stack, a, b) == []
        assert lease_of(a)['role'] == 'holder' and lease_of(b)['role'] == 'standby'
        assert sync_writes(a) > 0
        assert sync_writes(b) == 0, 'the standby wrote to Sync'
        m = metrics(b)
        assert dh.metric_sum(m, 'trhubd_lease_holder') == 0
        assert dh.metric_sum(metrics(a), 'trhubd_lease_holder') == 1
        # hub-b got every callback through nginx's mirror (signed for public_url).
        assert dh.metric_sum(m, 'trhubd_events_received_total') == \
            dh.metric_sum(metrics(a), 'trhubd_events_received_total') > 0
        assert dh.metric_sum(m, 'trhubd_webhook_rejected_total') == 0

        # The writer dies with its box: nothing listens on its port any more.
        a.kill9()
        killed = time.monotonic()
        a.close()
        # Traffic while nobody writes: tasks end whose items hub-a wrote and hub-b never did
        # (its takeover prune deletes them); nginx answers through hub-b (its backup).
        day.run(2, new_tasks=3, advance_ms=0)
        wait(both, lambda: (lease_of(b) or {}).get('role') == 'holder', TTL_S * 4 / 3 + 5,
             'hub-b taking the lease')
        took = time.monotonic() - killed
        assert took <= TTL_S * 4 / 3 + 2, 'takeover after %.1f s (lease %d s)' % (took, TTL_S)
        assert stack.sync_document('trhub.lease')['holder'] == 'hub-b'

        day.run(4, new_tasks=3, advance_ms=0)
        dh.converge(lambda: dh.all_differences(view_b),
                    what='hub-b and Sync agreeing with the emulator after the takeover')
        assert sync_writes(b) > 0
        writes = dh.sync_write_stats(stack)
        for name in ('SyncTaskRouterStats', 'SyncTaskRouterEvents', 'SyncTaskRouterTasks'):
            assert name in writes, 'no writes to %s: %r' % (name, writes)
        over = {k: w for k, w in writes.items() if w['max_per_second'] > WRITE_CAP}
        assert not over, 'writes per second above the cap %d: %r' % (WRITE_CAP, over)
        # hub-a comes back (a new process, same instance_id): hub-b's lease is current, so
        # it stands by through a whole lease time and writes nothing.
        a2 = dh.Trhubd()
        try:
            a2.extra_env = dict(a.extra_env)
            a2.start()
            both = (('hub-a again', a2), ('hub-b', b))
            wait(both, lambda: (lease_of(a2) or {}).get('holder') == 'hub-b', 2 * TTL_S,
                 'the restarted hub-a seeing hub-b hold the lease')
            end = time.monotonic() + TTL_S + 1
            while time.monotonic() < end:
                assert lease_of(a2)['role'] == 'standby', lease_of(a2)
                assert lease_of(b)['role'] == 'holder', lease_of(b)
                time.sleep(0.25)
            assert sync_writes(a2) == 0
        finally:
            if a2.proc is not None and not a2.stopped:
                a2.stop()
            a2.close()
        cb = stack.sim.counters()['callbacks']
        assert cb['delivered'] > 0 and cb['failed'] == 0 and cb['dropped'] == 0, cb
        assert dh.metric_sum(metrics(b), 'trhubd_webhook_rejected_total') == 0
        print('takeover %.2f s; hub-b sent %d Sync writes; lease %r' % (
            took, sync_writes(b), writes.get('trhub.lease')))
    finally:
        if b.proc is not None and not b.stopped:
            b.stop()
        b.close()


class Blackhole:
    """A TCP forwarder to the emulator that can stop answering (a holder cut off from Sync:
    connections stay open, requests go unanswered, as behind a dead route)."""

    def __init__(self, target_port):
        import threading
        self.target = target_port
        self.cut = threading.Event()
        self.closed = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while not self.closed.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(('127.0.0.1', self.target), timeout=5)
            except OSError:
                c.close()
                continue
            self.conns += [c, u]
            for src, dst in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.cut.is_set():
                continue  # swallowed: the request never arrives, no answer comes back
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self):
        self.closed.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@contextlib.contextmanager
def pair_behind_hole(stack):
    """(hub-a, hub-b, hole): hub-a is the stack's trhubd and reaches Sync through a
    Blackhole (TaskRouter directly), hub-b reaches both directly; both stopped and the
    hole closed on the way out."""
    a = stack.daemon
    hole = Blackhole(int(stack.sim.base_url.rsplit(':', 1)[1]))
    b = dh.Trhubd()
    try:
        a.extra_env['TRHUB_SYNC_BASE_URL'] = 'http://127.0.0.1:%d' % hole.port
        b.extra_env = dict(a.extra_env, TRHUB_INSTANCE_ID='hub-b',
                           TRHUB_SYNC_BASE_URL=stack.sim.base_url)
        yield a, b, hole
    finally:
        for d in (a, b):
            if d.proc is not None and not d.stopped:
                d.stop(check=False)
        hole.close()
        b.close()


def test_holder_cut_off_from_sync_fences_itself(make_stack):
    """The holder cannot reach Sync: it stops writing 3/4 of the lease time after its last
    renewal started, before the standby (which reaches Sync) may take over at `until`: the
    two are never seen holding at once."""
    env = {'TRHUB_SYNC_LEASE': 'true', 'TRHUB_SYNC_LEASE_TTL_S': str(TTL_S),
           'TRHUB_INSTANCE_ID': 'hub-a'}
    stack = make_stack(callbacks=False, start_daemon=False, daemon_env=env)
    with pair_behind_hole(stack) as (a, b, hole):
        start_pair(a, b, TTL_S)

        hole.cut.set()
        cut = time.monotonic()
        roles = []
        end = cut + 3 * TTL_S
        while time.monotonic() < end:
            ra, rb = lease_of(a)['role'], lease_of(b)['role']
            roles.append((round(time.monotonic() - cut, 2), ra, rb))
            assert not (ra == 'holder' and rb == 'holder'), roles[-20:]
            if rb == 'holder':
                break
            time.sleep(0.05)
        fenced = next((t for t, ra, _ in roles if ra == 'standby'), None)
        took = next((t for t, _, rb in roles if rb == 'holder'), None)
        assert fenced is not None and fenced <= TTL_S * 3 / 4 + 1, roles
        assert took is not None and took <= TTL_S * 4 / 3 + 2, roles
        assert stack.sync_document('trhub.lease')['holder'] == 'hub-b'
        print('hub-a fenced after %.2f s, hub-b took the lease after %.2f s' % (fenced, took))
        hole.cut.clear()
        a.stop()  # no error lines: the cut cost hub-a its lease, nothing else
        b.stop()


GRACE_TTL_S = 15
SYNC_REQUEST = re.compile(r'sync \S+: (update|create|delete|fetch) \(revision')


def test_graceful_stop_hands_the_lease_over(make_stack):
    """SIGTERM to the holder (systemctl stop/restart): it writes what is pending, stops its
    Sync writes, then releases the lease (If-Match on its revision), so the standby takes
    it at its next check (every ttl/3) instead of when the lease time runs out (after a
    crash: 2/3 ttl at the earliest). Only one writer at any moment: the holder's last Sync
    request has ended before its release starts (its own log, in order), the standby writes
    only once the release has landed (If-Match), and no object exceeds the write cap."""
    env = {'TRHUB_SYNC_LEASE': 'true', 'TRHUB_SYNC_LEASE_TTL_S': str(GRACE_TTL_S),
           'TRHUB_SYNC_WRITES_PER_S': str(WRITE_CAP), 'TRHUB_INSTANCE_ID': 'hub-a'}
    stack = make_stack(start_daemon=False, daemon_env=env, daemon_args=['--trace', 'sync'])
    a = stack.daemon
    b = dh.Trhubd()
    try:
        b.extra_env = dict(a.extra_env, TRHUB_INSTANCE_ID='hub-b')
        both = start_pair(a, b, GRACE_TTL_S)
        # Traffic just before the stop: the tasks map has writes queued behind its cap.
        dh.Day(stack, seed=7).run(2, new_tasks=4, advance_ms=0)
        sigterm = time.monotonic()
        a.stop()  # exit 0, no error lines
        stopped = time.monotonic() - sigterm
        wait(both, lambda: (lease_of(b) or {}).get('role') == 'holder', GRACE_TTL_S,
             'hub-b taking the released lease')
        took = time.monotonic() - sigterm
        lines = a.past_stderr
        rel = [i for i, line in enumerate(lines) if 'releasing it' in line]
        assert rel, '\n'.join(lines[-30:])
        after = lines[rel[-1]:]
        assert any('released by hub-a' in line for line in after), '\n'.join(after)
        assert not [line for line in after if SYNC_REQUEST.search(line)], '\n'.join(after)
        assert stack.sync_document('trhub.lease')['holder'] == 'hub-b'
        assert took <= GRACE_TTL_S / 3 + stopped + 2, (took, stopped)
        assert took < GRACE_TTL_S * 2 / 3, (took, stopped)
        over = {k: w for k, w in dh.sync_write_stats(stack).items()
                if w['max_per_second'] > WRITE_CAP}
        assert not over, over
        print('hub-a stopped in %.2f s; hub-b took the lease %.2f s after the SIGTERM '
              '(lease time %d s)' % (stopped, took, GRACE_TTL_S))
        b.stop()
    finally:
        for d in (a, b):
            if d.proc is not None and not d.stopped:
                d.stop(check=False)
        b.close()


def test_holder_stopping_without_sync_just_exits(make_stack):
    """A holder that cannot reach Sync when it is stopped: its release goes unanswered, it
    exits within its bounds (drain, in-flight wait, release: 7 s) with status 0, and the
    standby takes the lease when it expires, never while hub-a could still write."""
    env = {'TRHUB_SYNC_LEASE': 'true', 'TRHUB_SYNC_LEASE_TTL_S': str(TTL_S),
           'TRHUB_INSTANCE_ID': 'hub-a'}
    stack = make_stack(callbacks=False, start_daemon=False, daemon_env=env)
    with pair_behind_hole(stack) as (a, b, hole):
        both = start_pair(a, b, TTL_S)
        hole.cut.set()
        cut = time.monotonic()
        a.stop()
        stopped = time.monotonic() - cut
        assert stopped <= 7 + 2, stopped
        assert any('expires' in line and 'lease' in line for line in a.past_stderr), \
            '\n'.join(a.past_stderr[-20:])
        wait(both, lambda: (lease_of(b) or {}).get('role') == 'holder', TTL_S * 4 / 3 + 5,
             'hub-b taking the lease after it expired')
        took = time.monotonic() - cut
        # Nothing was released: hub-b waited for "until", at least 2/3 ttl after the cut
        # (hub-a's last renewal started at most ttl/3 before it).
        assert took >= TTL_S * 2 / 3 - 0.2, took
        print('hub-a exited %.2f s after the SIGTERM; hub-b took the lease %.2f s after it'
              % (stopped, took))
        b.stop()
