"""GET /api/stream (Server-Sent Events): snapshot on connect, then event/task/worker
messages with ids, heartbeats, Last-Event-ID resume from the event ring (a fresh
snapshot when the id left it), batched clients (?batch=1) and their resume from the
kept batches, slow clients dropped, a client cap."""

import json

import pytest

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

RING = 10


@pytest.fixture
def stack(make_stack):
    return make_stack(daemon_env={'TRHUB_RECENT_EVENTS_MAX': str(RING),
                                  'TRHUB_MAX_SSE_CLIENTS': '4'})


def factory(stack):
    return dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid,
                           workflow_sid=stack.sim.workflow_sid)


def post_tasks(stack, f, n):
    evs = []
    for _ in range(n):
        ev = f.task('task.created', dh.rand_sid('WT'), 'pending')
        assert stack.webhook(ev).status == 204
        evs.append(ev)
    return evs


def mentions(msg, value):
    return msg['data'] is not None and value in msg['data']


def test_snapshot_then_live_messages(stack):
    f = factory(stack)
    first = post_tasks(stack, f, 2)
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.messages, what='the first SSE message')
        assert c.status == 200
        assert c.headers.get('content-type', '').startswith('text/event-stream'), c.headers
        snap = c.messages[0]
        assert snap['event'] == 'snapshot', 'the first message is the snapshot: %r' % snap
        data = json.loads(snap['data'])
        for ev in first:
            assert ev['TaskSid'] in snap['data'], 'snapshot lacks open task %s' % ev['TaskSid']
        assert isinstance(data, dict)
        ev = post_tasks(stack, f, 1)[0]
        c.wait(lambda c: [m for m in c.of('event') if mentions(m, ev['Sid']) or
                          mentions(m, ev['TaskSid'])], what='the event message')
        c.wait(lambda c: [m for m in c.of('task') if mentions(m, ev['TaskSid'])],
               what='the task message')
        em = [m for m in c.of('event') if mentions(m, ev['TaskSid'])][0]
        assert em['id'] and em['id'].isdigit(), 'event messages carry a numeric id: %r' % em
        json.loads(em['data'])
    finally:
        c.close()


def test_recording_callback_puts_the_url_on_the_task(stack):
    """A signed recording callback shows up as recordingUrl on the task: in /api/tasks
    and in a 'task' message on the stream (the old dashboard's playback link)."""
    f = factory(stack)
    ev = post_tasks(stack, f, 1)[0]
    sid = ev['TaskSid']
    assert dh.api_tasks(stack.daemon)[sid].get('recordingUrl') is None
    url = ('https://api.twilio.com/2010-04-01/Accounts/%s/Recordings/%s'
           % (stack.sim.account_sid, dh.rand_sid('RE')))
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.messages, what='the snapshot')
        r = stack.webhook({'RecordingUrl': url, 'RecordingSid': url.rsplit('/', 1)[1],
                           'RecordingStatus': 'completed', 'AccountSid': stack.sim.account_sid},
                          path='/taskrouter_recording_callback?TaskSid=' + sid)
        assert r.status == 204, r
        c.wait(lambda c: [m for m in c.of('task')
                          if json.loads(m['data']).get('recordingUrl') == url],
               what='a task message with the recording URL')
        msg = [m for m in c.of('task') if json.loads(m['data']).get('recordingUrl') == url][0]
        assert json.loads(msg['data'])['sid'] == sid
    finally:
        c.close()
    assert dh.api_tasks(stack.daemon)[sid]['recordingUrl'] == url


def test_worker_and_stats_messages(make_stack):
    stack = make_stack(record=True)
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.of('snapshot'), what='the snapshot')
        day = dh.Day(stack, seed=9, agents=2, extra_workers=0)
        day.run(1)
        c.wait(lambda c: c.of('worker'), what='a worker message')
        c.wait(lambda c: c.of('stats'), timeout=dh.CONVERGE_TIMEOUT, what='a stats message')
        json.loads(c.of('stats')[-1]['data'])
        sids = {a.sid for a in day.agents}
        assert any(any(s in (m['data'] or '') for s in sids) for m in c.of('worker'))
    finally:
        c.close()


def test_last_event_id_resumes_without_snapshot(stack):
    f = factory(stack)
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.of('snapshot'))
        post_tasks(stack, f, 2)
        c.wait(lambda c: len(c.of('event')) >= 2, what='two event messages')
        last = c.of('event')[-1]['id']
    finally:
        c.close()
    missed = post_tasks(stack, f, 3)
    c2 = dh.SSEClient(stack.daemon.port, headers={'Last-Event-ID': last})
    try:
        c2.wait(lambda c: len(c.of('event')) >= 3, what='the three missed events')
        assert c2.messages[0]['event'] != 'snapshot', 'a resumable id replays, no snapshot'
        got = c2.of('event')[:3]
        for m, ev in zip(got, missed):
            assert mentions(m, ev['TaskSid']), 'missed events replayed in order: %r' % got
        ids = [int(m['id']) for m in got]
        assert ids == sorted(ids) and ids[0] > int(last)
    finally:
        c2.close()


def test_last_event_id_outside_the_ring_gets_a_snapshot(stack):
    f = factory(stack)
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.of('snapshot'))
        post_tasks(stack, f, 1)
        c.wait(lambda c: c.of('event'))
        old = c.of('event')[-1]['id']
    finally:
        c.close()
    post_tasks(stack, f, RING + 5)
    c2 = dh.SSEClient(stack.daemon.port, headers={'Last-Event-ID': old})
    try:
        c2.wait(lambda c: c.messages)
        assert c2.messages[0]['event'] == 'snapshot', c2.messages[0]
    finally:
        c2.close()


def test_heartbeat_comments(stack):
    c = dh.SSEClient(stack.daemon.port)
    try:
        c.wait(lambda c: c.of('snapshot'))
        # The heartbeat period is 15 s (stream.h); allow a little more.
        c.wait(lambda c: c.comments, timeout=20, what='a heartbeat comment')
    finally:
        c.close()


def test_client_cap_is_503(stack):
    clients = []
    try:
        for _ in range(4):
            c = dh.SSEClient(stack.daemon.port)
            clients.append(c)
            c.wait(lambda c: c.of('snapshot'))
        extra = dh.SSEClient(stack.daemon.port)
        clients.append(extra)
        extra.wait(lambda c: c.status is not None or c.closed, what='an answer to the 5th client',
                   any_status=True)
        assert extra.status == 503, extra.status
        m = stack.daemon.metrics()
        assert dh.metric_sum(m, 'trhubd_sse_clients') == 4
    finally:
        for c in clients:
            c.close()


def test_slow_client_is_dropped_and_others_keep_up(stack):
    f = factory(stack)
    slow = dh.SSEClient(stack.daemon.port, rcvbuf=4096, read=False)
    fast = dh.SSEClient(stack.daemon.port)
    try:
        fast.wait(lambda c: c.of('snapshot'))
        dropped = 0
        sent = 0
        # Each event message is ~1 KiB; 1 MiB of backlog plus socket buffers is passed
        # well before this bound.
        pad = {'type': 'support', 'pad': 'p' * 1500}
        while sent < 6000:
            for _ in range(200):
                ev = f.task('task.created', dh.rand_sid('WT'), 'pending', attributes=pad)
                assert stack.webhook(ev).status == 204
                sent += 1
            dropped = dh.metric_sum(stack.daemon.metrics(), 'trhubd_sse_dropped_total')
            if dropped:
                break
        assert dropped >= 1, 'a client that never reads was not dropped after %d events' % sent
        fast.wait(lambda c: len(c.of('event')) >= sent, timeout=dh.CONVERGE_TIMEOUT,
                  what='the reading client receiving every event')
        assert not fast.closed
        assert dh.metric_sum(stack.daemon.metrics(), 'trhubd_sse_clients') == 1
    finally:
        slow.close()
        fast.close()


def server_send_queue(daemon_port, client_port):
    """Bytes the kernel holds unacknowledged on the daemon's side of one loopback
    connection (tx_queue in /proc/net/tcp), or None when it is not listed."""
    want = ('0100007F:%04X' % daemon_port, '0100007F:%04X' % client_port)
    with open('/proc/net/tcp') as fh:
        for line in fh.readlines()[1:]:
            f = line.split()
            if (f[1], f[2]) == want:
                return int(f[4].split(':')[0], 16)
    return None


def test_client_that_pauses_gets_every_byte_in_order(make_stack):
    """A client that stops reading for a while and then reads gets every message
    whole and in order, with nobody dropped. Task messages of ~100 KiB (more than one
    loopback segment) are sent until its socket is full (the kernel's send queue for
    it stops growing), so the daemon's writes to it end partial or refused and the
    rest waits in the daemon's own queue; two more follow, then it reads."""
    stack = make_stack(daemon_env={'TRHUB_HTTP_BODY_MAX_BYTES': str(512 * 1024)})
    f = factory(stack)
    c = dh.SSEClient(stack.daemon.port, rcvbuf=4096, read=False)
    size = 100 * 1024
    try:
        pad = {'type': 'support', 'pad': 'q' * size}
        evs = []
        full_at = None
        last = 0
        # Bounded: 100 events of 100 KiB; the kernel's buffers fill long before.
        while len(evs) < 100 and (full_at is None or len(evs) < full_at + 2):
            ev = f.task('task.created', dh.rand_sid('WT'), 'pending', attributes=pad)
            assert stack.webhook(ev).status == 204
            evs.append(ev)
            if full_at is not None:
                continue
            try:
                dh.th.wait_until(lambda: (server_send_queue(stack.daemon.port,
                                                            c.sock.getsockname()[1]) or 0)
                                 >= last + size, 1.0, 'the send queue growing')
            except dh.th.HarnessError:
                full_at = len(evs)
            last = server_send_queue(stack.daemon.port, c.sock.getsockname()[1]) or 0
        assert full_at is not None, 'the send queue never stopped growing'
        n = len(evs)
        c.start()
        c.wait(lambda c: len(c.of('event')) >= n and len(c.of('task')) >= n,
               timeout=dh.CONVERGE_TIMEOUT, what='every event and task after the pause')
        got = c.of('event')
        assert len(got) == n
        for m, ev in zip(got, evs):
            assert ev['Sid'] in m['data'], 'event %s out of order or mangled: %r' % (
                ev['Sid'], m['data'][:200])
        for m, ev in zip(c.of('task'), evs):
            assert json.loads(m['data'])['sid'] == ev['TaskSid']
            assert 'q' * size in m['data']
        assert not c.closed
        assert dh.metric_sum(stack.daemon.metrics(), 'trhubd_sse_dropped_total') == 0
    finally:
        c.close()


def batch_items(c, kind=None):
    """The [type, id, data] items of a client's "batch" messages, in order."""
    out = []
    for m in c.of('batch'):
        for t, i, d in json.loads(m['data']):
            if kind is None or t == kind:
                out.append((t, i, d))
    return out


def test_batched_client_resumes_from_kept_batches_else_a_snapshot(stack):
    """?batch=1 (the dashboard): "batch" messages with increasing ids hold what the
    one-per-change messages would; lastEventId resumes from the batches trhubd kept
    (nothing missing, nothing twice), and when none was kept (no batched client was
    connected), a fresh snapshot instead."""
    f = factory(stack)
    keep = dh.SSEClient(stack.daemon.port, path='/api/stream?batch=1')  # keeps batches going
    c = dh.SSEClient(stack.daemon.port, path='/api/stream?batch=1')
    try:
        keep.wait(lambda c: c.of('snapshot'))
        c.wait(lambda c: c.of('snapshot'))
        snap_id = json.loads(c.of('snapshot')[0]['data'])['batchId']
        before = post_tasks(stack, f, 2)
        c.wait(lambda c: {e['TaskSid'] for e in before} <=
               {d.get('TaskSid') for _, _, d in batch_items(c, 'event')},
               what='both events in batches')
        ids = [int(m['id']) for m in c.of('batch')]
        assert ids == sorted(set(ids)) and ids[0] > snap_id, (snap_id, ids)
        assert any(d['sid'] == before[0]['TaskSid'] for _, _, d in batch_items(c, 'task'))
        last = c.of('batch')[-1]['id']
    finally:
        c.close()
    missed = post_tasks(stack, f, 3)
    keep.wait(lambda c: {e['TaskSid'] for e in missed} <=
              {d.get('TaskSid') for _, _, d in batch_items(c, 'event')})
    c2 = dh.SSEClient(stack.daemon.port, path='/api/stream?batch=1&lastEventId=' + last)
    try:
        c2.wait(lambda c: {e['TaskSid'] for e in missed} <=
                {d.get('TaskSid') for _, _, d in batch_items(c, 'event')},
                what='the missed events replayed')
        assert not c2.of('snapshot'), 'a kept batch id resumes without a snapshot'
        got = [d['Sid'] for _, _, d in batch_items(c2, 'event')]
        assert got == [e['Sid'] for e in missed], 'each missed event once, in order: %r' % got
        assert int(c2.of('batch')[0]['id']) == int(last) + 1
    finally:
        c2.close()
    keep.close()
    # No batched client left: the next change is in no batch, so no id may resume.
    dh.converge(lambda: ['%s clients' % n for n in
                         [dh.metric_sum(stack.daemon.metrics(), 'trhubd_sse_clients')] if n],
                timeout=10, what='the stream clients gone')
    post_tasks(stack, f, 1)
    c3 = dh.SSEClient(stack.daemon.port, path='/api/stream?batch=1&lastEventId=' + last)
    try:
        c3.wait(lambda c: c.messages)
        assert c3.messages[0]['event'] == 'snapshot', c3.messages[0]
    finally:
        c3.close()
