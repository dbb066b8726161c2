"""Shared pieces of trhubd's benchmarks (tests/bench/bench_daemon_*.py).

The daemon runs the systemd way (daemon_harness.Stack: pre-bound socket,
READY=1 on NOTIFY_SOCKET) against trhub-sim on the same machine. Load comes
from signed TaskRouter callbacks that look like the emulator's own (about 30
fields), pre-signed with the emulator's auth token for trhubd's public_url.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, os.path.join(HERE, '..', 'pylib'))

import daemon_harness as dh  # noqa: E402


def need_env():
    try:
        import twilio  # noqa: F401
    except ImportError:
        print('python3-twilio is not installed: skipped')
        sys.exit(77)
    if not os.environ.get('TRHUBD') or not os.environ.get('TRHUB_SIM'):
        print('TRHUBD or TRHUB_SIM is not set (run through meson test --benchmark): skipped')
        sys.exit(77)


class Lifecycle:
    """Signed callbacks for whole task lifecycles (created, reserved, accepted,
    wrapup, completed), five events per task, fresh timestamps."""

    EVENTS_PER_TASK = 5

    def __init__(self, stack, queue_sid=None, workers=None):
        self.stack = stack
        sim = stack.sim
        queues = stack.sim_queues()
        self.queue_sid = queue_sid or (next(iter(queues)) if queues else dh.rand_sid('WQ'))
        self.f = dh.EventFactory(sim.account_sid, sim.workspace_sid, queue_sid=self.queue_sid,
                                 workflow_sid=sim.workflow_sid)
        self.workers = workers or [(dh.rand_sid('WK'), 'agent%03d' % i) for i in range(50)]
        self.url = stack.public_url + '/taskrouter_event'
        self.n = 0

    def _common(self, ev):
        ev.update({
            'TaskQueueEnteredDate': ev['Timestamp'],
            'TaskVirtualStartTime': ev['Timestamp'],
            'TaskTimeout': '86400',
            'TaskIgnoreCapacity': 'false',
            'TaskChannelSid': 'TC' + '0' * 32,
            'TaskQueueTargetExpression': 'skills HAS "support"',
        })
        return ev

    def task_events(self, ms=None):
        """The five events of one new task, in causal order."""
        self.n += 1
        wt = dh.rand_sid('WT')
        wr = dh.rand_sid('WR')
        wk, name = self.workers[self.n % len(self.workers)]
        attrs = {'type': 'support', 'caller': '+1555%07d' % self.n, 'call_sid': dh.rand_sid('CA')}
        f = self.f
        res = dict(ReservationSid=wr, WorkerSid=wk, WorkerName=name, ResourceType='Reservation',
                   ResourceSid=wr)
        out = [
            f.task('task.created', wt, 'pending', version=0, attributes=attrs, ms=ms),
            f.task('reservation.created', wt, 'reserved', version=1, attributes=attrs, ms=ms,
                   **res),
            f.task('reservation.accepted', wt, 'assigned', version=2, attributes=attrs, ms=ms,
                   **res),
            f.task('task.wrapup', wt, 'wrapping', version=3, attributes=attrs, ms=ms),
            f.task('task.completed', wt, 'completed', version=4, attributes=attrs, ms=ms,
                   TaskCompletedReason='resolved'),
        ]
        return [self._common(e) for e in out]

    def signed(self, ev):
        body = dh.encode_form(ev)
        sig = dh.compute_signature(self.stack.auth_token, self.url, ev)
        return body, sig


def raw_request(port, body, sig, path='/taskrouter_event'):
    return (b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % port +
            b'Content-Type: application/x-www-form-urlencoded\r\n'
            b'X-Twilio-Signature: ' + sig.encode() + b'\r\n'
            b'Content-Length: %d\r\n\r\n' % len(body) + body)


def percentile(values, p):
    if not values:
        return float('nan')
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def report(name, results, targets):
    """Prints results as JSON and a verdict per target; returns the exit status."""
    print(json.dumps({'benchmark': name, 'results': results}, indent=1, sort_keys=True))
    failed = []
    for key, (op, bound) in targets.items():
        v = results.get(key)
        ok = v is not None and (v >= bound if op == '>=' else v <= bound)
        print('%-40s %12s  target %s %s  %s' % (key, '%.3f' % v if isinstance(v, float) else v,
                                                op, bound, 'ok' if ok else 'MISSED'))
        if not ok:
            failed.append(key)
    return 1 if failed else 0


def cpu_seconds(pid):
    """User + system CPU time of a process, in seconds (/proc/<pid>/stat)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    tick = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / float(tick)


def loadavg():
    with open('/proc/loadavg') as f:
        return float(f.read().split()[0])
