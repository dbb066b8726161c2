"""What trhubd adds for the pages: today's per-minute samples in every stream
snapshot ("series", daemon/series.c), and the short-abandon rule of the
service level (short_abandon_s) in /api/stats. Judged against the
emulator's own statistics."""

import json
import os
import signal
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


def stats_now(daemon):
    """GET /api/stats, or {} while trhubd has fetched no statistics yet (503)."""
    r = daemon.get('/api/stats')
    assert r.status in (200, 503), (r.status, r.body[:300])
    return r.json() if r.status == 200 else {}


def test_snapshot_carries_todays_per_minute_series(make_stack):
    stack = make_stack()
    assert stack.daemon.login('sup', 'sup-pass').status == 200
    for i in range(3):
        stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid,
                              attributes=json.dumps({'from': '+1555000%04d' % i}))
    dh.th.wait_until(lambda: stats_now(stack.daemon).get('pendingTasks') == 3,
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
        stats_now(stack.daemon)), timeout=dh.CONVERGE_TIMEOUT, what='stats')
    assert st['shortAbandonS'] == 5 and st['shortAbandoned'] == 0
    for q in st['queues']:
        assert q['shortAbandonS'] == 5
    # a caller who hangs up at once is a short abandon: not in the denominator
    t = stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
    stack.ws.tasks(t.sid).update(assignment_status='canceled', reason='hung up')
    st = dh.th.wait_until(lambda: (lambda d: d if d.get('shortAbandoned') == 1 else None)(
        stats_now(stack.daemon)), timeout=dh.CONVERGE_TIMEOUT,
        what='one short abandon in /api/stats')
    assert st['abandoned'] == 1
    assert st['serviceLevel'] is None  # 0 accepted / (0 + 1 - 1): nothing left to count


def queue_stats(doc, sid):
    """The queue with this SID in a statistics document, or None."""
    return next((q for q in doc.get('queues') or [] if q['sid'] == sid), None)


def test_short_abandons_per_queue_applied_on_reload(make_stack):
    """short_abandon_s.<queue> (live on SIGHUP): a queue with the override leaves a
    caller who hung up at once out of its service level, a queue without keeps it,
    and so does the workspace (short_abandon_s off). The emulator's own
    SplitByWaitTime says both callers were short abandons."""
    stack = make_stack()
    d = stack.daemon
    assert d.login('sup', 'sup-pass').status == 200
    support = stack.sim.workflow_sid
    sales = stack.ws.task_queues.create(friendly_name='sales', target_workers='1 == 1')
    wf = stack.ws.workflows.create(friendly_name='to-sales', configuration=json.dumps(
        {'task_routing': {'filters': [], 'default_filter': {'queue': sales.sid}}}))
    # one caller per queue hangs up at once
    for workflow in (support, wf.sid):
        t = stack.ws.tasks.create(workflow_sid=workflow, attributes='{}')
        stack.ws.tasks(t.sid).update(assignment_status='canceled', reason='hung up')
    # the emulator counts both as canceled within 5 s
    status, _, raw = stack.sim.http_json(
        'GET', stack.sim.ws_path + '/TaskQueues/Statistics?SplitByWaitTime=5')
    assert status == 200, raw
    below = {q['task_queue_sid']: q['cumulative']['split_by_wait_time']['5']['below']
             for q in raw['task_queues_statistics']}
    assert below[sales.sid]['tasks_canceled'] == 1, below
    support_sid = next(s for s in below if s != sales.sid)
    assert below[support_sid]['tasks_canceled'] == 1, below
    # before the override: every abandon counts everywhere
    st = dh.th.wait_until(lambda: (lambda doc: doc if (queue_stats(doc, sales.sid) or {}).get(
        'abandoned') == 1 and (queue_stats(doc, support_sid) or {}).get('abandoned') == 1
        else None)(stats_now(d)), timeout=dh.CONVERGE_TIMEOUT,
        what='an abandon in each queue in /api/stats')
    assert queue_stats(st, sales.sid)['serviceLevel'] == 0
    assert queue_stats(st, sales.sid)['shortAbandonS'] is None
    # the override, applied by a reload
    path = os.path.join(stack.tmp, 'trhubd.conf')
    seen = len(d.stderr_lines)
    with open(path, 'w') as f:
        f.write('short_abandon_s.%s = 5\n' % sales.sid)
    d.signal(signal.SIGHUP)
    summary = dh.th.wait_until(lambda: next((line for line in d.stderr_lines[seen:]
                                             if 'configuration reloaded' in line), None),
                               what='the reload summary line')
    assert 'changed and applied: short_abandon_s.%s' % sales.sid in summary, summary
    st = dh.th.wait_until(lambda: (lambda doc: doc if (queue_stats(doc, sales.sid) or {}).get(
        'shortAbandonS') == 5 else None)(stats_now(d)),
        timeout=dh.CONVERGE_TIMEOUT, what='the sales queue with its short-abandon rule')
    q = queue_stats(st, sales.sid)
    assert q['shortAbandoned'] == 1 and q['abandoned'] == 1
    assert q['serviceLevel'] is None  # 0 accepted / (0 + 1 - 1)
    q = queue_stats(st, support_sid)
    assert q['shortAbandonS'] is None and q['shortAbandoned'] is None
    assert q['abandoned'] == 1 and q['serviceLevel'] == 0  # 0 / (0 + 1)
    assert st['shortAbandonS'] is None and st['abandoned'] == 2 and st['serviceLevel'] == 0
