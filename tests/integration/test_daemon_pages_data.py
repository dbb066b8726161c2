"""What trhubd adds for the pages: today's per-minute samples in every stream
snapshot ("series", daemon/series.c), and the short-abandon rule of the
service level (short_abandon_s) in /api/stats. Judged against the
emulator's own statistics."""

import json
import socket

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def snapshot(stack):
    """The first "snapshot" event of GET /api/stream, parsed."""
    s = socket.create_connection(('127.0.0.1', stack.daemon.port), timeout=dh.DEFAULT_TIMEOUT)
    try:
        s.sendall(('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\n\r\n'
                   % dh.SESSION_COOKIES[stack.daemon.port]).encode())
        buf = b''
        while b'event: snapshot' not in buf or b'\n\n' not in buf.split(b'event: snapshot', 1)[1]:
            chunk = s.recv(65536)
            assert chunk, buf[:300]
            buf += chunk
        block = buf.split(b'event: snapshot', 1)[1].split(b'\n\n', 1)[0]
        data = b''.join(line[len(b'data: '):] for line in block.split(b'\n')
                        if line.startswith(b'data: '))
        return json.loads(data)
    finally:
        s.close()


def test_snapshot_carries_todays_per_minute_series(make_stack):
    stack = make_stack()
    assert stack.daemon.login('sup', 'sup-pass').status == 200
    for i in range(3):
        stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid,
                              attributes=json.dumps({'from': '+1555000%04d' % i}))
    dh.th.wait_until(lambda: stack.daemon.get_json('/api/stats').get('pendingTasks') == 3,
                     timeout=dh.CONVERGE_TIMEOUT, what='3 pending tasks in /api/stats')
    snap = dh.th.wait_until(
        lambda: (lambda s: s if s['series']['waiting'] and s['series']['waiting'][-1] == 3
                 else None)(snapshot(stack)),
        timeout=dh.CONVERGE_TIMEOUT, what='a series point with 3 waiting')
    series = snap['series']
    n = len(series['minuteMs'])
    assert n >= 1
    assert all(len(series[k]) == n for k in ('waiting', 'availableWorkers', 'serviceLevel'))
    assert all(m % 60000 == 0 for m in series['minuteMs'])
    assert series['minuteMs'] == sorted(set(series['minuteMs']))
    assert series['availableWorkers'][-1] == snap['stats']['availableWorkers']
    # no call answered yet: no service level, null rather than 0
    assert series['serviceLevel'][-1] is None


def test_short_abandons_leave_the_service_level(make_stack):
    stack = make_stack(daemon_env={'TRHUB_SHORT_ABANDON_S': '5'})
    assert stack.daemon.login('sup', 'sup-pass').status == 200
    st = dh.th.wait_until(lambda: (lambda d: d if 'shortAbandonS' in d else None)(
        stack.daemon.get_json('/api/stats')), timeout=dh.CONVERGE_TIMEOUT, what='stats')
    assert st['shortAbandonS'] == 5 and st['shortAbandoned'] == 0
    for q in st['queues']:
        assert q['shortAbandonS'] == 5
    # a caller who hangs up at once is a short abandon: not in the denominator
    t = stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
    stack.ws.tasks(t.sid).update(assignment_status='canceled', reason='hung up')
    st = dh.th.wait_until(lambda: (lambda d: d if d.get('shortAbandoned') == 1 else None)(
        stack.daemon.get_json('/api/stats')), timeout=dh.CONVERGE_TIMEOUT,
        what='one short abandon in /api/stats')
    assert st['abandoned'] == 1
    assert st['serviceLevel'] is None  # 0 accepted / (0 + 1 - 1): nothing left to count
