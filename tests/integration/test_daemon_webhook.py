"""POST /taskrouter_event: signature checks, limits, and an idempotent model.

Every rejection is checked twice: the answer (403, 413, 400) and that nothing
observable changed (the task and worker views, the accepted-event counter).
Each rejection test ends with the same event correctly signed being accepted
and applied, so a daemon that ignored every webhook could not pass.
"""

import time

import pytest

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

BODY_MAX = 4096  # http_body_max_bytes for these tests (the key's minimum is 1024)


@pytest.fixture
def stack(make_stack):
    return make_stack(daemon_env={'TRHUB_HTTP_BODY_MAX_BYTES': str(BODY_MAX)})


def factory(stack):
    queues = stack.sim_queues()
    q = next(iter(queues)) if queues else None
    return dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid, queue_sid=q,
                           workflow_sid=stack.sim.workflow_sid)


def new_task_event(f, **kw):
    return f.task('task.created', dh.rand_sid('WT'), 'pending', **kw)


def assert_rejected(stack, params, expect, *, what, **webhook_kw):
    """expect: one status or a tuple of acceptable ones."""
    expect = expect if isinstance(expect, tuple) else (expect,)
    before = dh.observable_state(stack.daemon)
    r = stack.webhook(params, **webhook_kw)
    assert r.status in expect, '%s: expected HTTP %r, got %r' % (what, expect, r)
    after = dh.observable_state(stack.daemon)
    if 200 <= r.status < 300:
        # Accepted on the wire (and counted as received), but the model must not move.
        before.pop('events_received')
        after.pop('events_received')
    assert after == before, '%s changed state: %r -> %r' % (what, before, after)
    assert params.get('TaskSid') not in after['tasks']
    return r


def assert_accepted(stack, params):
    before = dh.events_received(stack.daemon)
    r = stack.webhook(params)
    assert r.status in (200, 204), 'a correctly signed event must be accepted: %r' % r
    assert dh.events_received(stack.daemon) == before + 1
    if params.get('EventType') == 'task.created':
        assert dh.api_task_status(stack.daemon).get(params['TaskSid']) == 'pending'
    return r


def test_signed_event_is_acknowledged_204_and_applied(stack):
    f = factory(stack)
    ev = new_task_event(f)
    t0 = time.monotonic()
    r = stack.webhook(ev)
    elapsed = time.monotonic() - t0
    assert r.status == 204, r
    assert r.body == b''
    assert elapsed < 1.0, 'acknowledged at once, not after Twilio round trips (%.3f s)' % elapsed
    assert dh.api_task_status(stack.daemon)[ev['TaskSid']] == 'pending'
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_events_received_total', type='task.created') >= 1


def test_wrong_auth_token_is_403(stack):
    f = factory(stack)
    ev = new_task_event(f)
    assert_rejected(stack, ev, 403, what='signed with another token', token='x' * 32)
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_webhook_rejected_total', status='403') >= 1
    assert_accepted(stack, ev)


def test_tampered_parameter_is_403(stack):
    f = factory(stack)
    ev = new_task_event(f)
    sig = dh.compute_signature(stack.auth_token, stack.public_url + '/taskrouter_event', ev)
    forged = dict(ev, TaskPriority='99')
    assert_rejected(stack, forged, 403, what='priority changed after signing', signature=sig)
    added = dict(ev, Extra='1')
    assert_rejected(stack, added, 403, what='parameter added after signing', signature=sig)
    dropped = {k: v for k, v in ev.items() if k != 'TaskAttributes'}
    assert_rejected(stack, dropped, 403, what='parameter removed after signing', signature=sig)
    assert_accepted(stack, ev)


def test_missing_or_empty_signature_is_403(stack):
    f = factory(stack)
    ev = new_task_event(f)
    assert_rejected(stack, ev, 403, what='no X-Twilio-Signature', sign=False)
    assert_rejected(stack, ev, 403, what='empty X-Twilio-Signature', signature='', sign=True,
                    headers={'X-Twilio-Signature': ''})
    assert_rejected(stack, ev, 403, what='garbage X-Twilio-Signature', signature='!!notbase64')
    assert_accepted(stack, ev)


def test_signature_for_another_url_is_403(stack):
    f = factory(stack)
    ev = new_task_event(f)
    base = stack.public_url
    for url in (base + '/other_path', base + '/taskrouter_event?x=1',
                base.replace('127.0.0.1', 'evil.example.com') + '/taskrouter_event',
                base.replace('http://', 'https://') + '/taskrouter_event'):
        assert_rejected(stack, ev, 403, what='signed for ' + url, url=url)
    assert_accepted(stack, ev)


def test_stale_replay_is_403(stack):
    f = factory(stack)
    for age_s in (3600, 86400):
        old_ms = int(time.time() * 1000) - age_s * 1000
        ev = new_task_event(f, ms=old_ms)
        assert_rejected(stack, ev, 403, what='correctly signed event %d s old' % age_s)
    assert_accepted(stack, new_task_event(f))


def test_exact_replay_changes_nothing(stack):
    """A captured request sent again later (same Sid, same signature) must not undo
    what happened since: either refused or accepted as a duplicate, never applied."""
    f = factory(stack)
    wt = dh.rand_sid('WT')
    created = f.task('task.created', wt, 'pending', version=0)
    assert_accepted(stack, created)
    wr = dh.rand_sid('WR')
    wk = dh.rand_sid('WK')
    res = f.task('reservation.created', wt, 'reserved', version=1, ReservationSid=wr,
                 WorkerSid=wk, WorkerName='alice', ResourceType='Reservation', ResourceSid=wr)
    acc = f.task('reservation.accepted', wt, 'assigned', version=2, ReservationSid=wr,
                 WorkerSid=wk, WorkerName='alice', ResourceType='Reservation', ResourceSid=wr)
    assert stack.webhook(res).status == 204
    assert stack.webhook(acc).status == 204
    assert dh.api_task_status(stack.daemon)[wt] == 'assigned'
    before = dh.observable_state(stack.daemon)
    r = stack.webhook(created)
    assert r.status in (200, 204, 403), r
    after = dh.observable_state(stack.daemon)
    assert after['tasks'] == before['tasks'], 'the replayed task.created changed the task'
    assert after['tasks'][wt] == 'assigned'


def test_oversized_body_is_413(stack):
    f = factory(stack)
    ev = new_task_event(f, attributes={'type': 'support', 'pad': 'x' * (BODY_MAX + 100)})
    assert len(dh.encode_form(ev)) > BODY_MAX
    assert_rejected(stack, ev, 413, what='body over http_body_max_bytes')
    # A body just under the limit still goes through.
    small = new_task_event(f, attributes={'type': 'support', 'pad': 'y' * (BODY_MAX // 2)})
    assert len(dh.encode_form(small)) < BODY_MAX
    assert_accepted(stack, small)


def test_oversized_declared_length_is_413_without_reading_it(stack):
    # A Content-Length far over the cap is refused from the header alone.
    import socket
    s = socket.create_connection(('127.0.0.1', stack.daemon.port), timeout=dh.DEFAULT_TIMEOUT)
    try:
        s.sendall(b'POST /taskrouter_event HTTP/1.1\r\nHost: x\r\n'
                  b'Content-Type: application/x-www-form-urlencoded\r\n'
                  b'X-Twilio-Signature: AAAA\r\nContent-Length: 100000000\r\n\r\nEventType=x')
        data = b''
        while b'\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.split(b' ')[1] == b'413', data[:200]


def test_malformed_signed_bodies_are_400(stack):
    f = factory(stack)
    ev = new_task_event(f)
    no_type = {k: v for k, v in ev.items() if k != 'EventType'}
    assert_rejected(stack, no_type, 400, what='no EventType')
    # Field-level problems in a correctly signed form: the event is parsed before the
    # answer, so what the model could not apply is a 400, never a 204 and a drop.
    bad_sid = dict(ev, TaskSid='WTnot-a-sid', ResourceSid='WTnot-a-sid')
    assert_rejected(stack, bad_sid, 400, what='malformed TaskSid')
    no_task = {k: v for k, v in ev.items() if k not in ('TaskSid',)}
    assert_rejected(stack, no_task, 400, what='task.created without TaskSid')
    bad_status = dict(ev, TaskAssignmentStatus='lost')
    assert_rejected(stack, bad_status, 400, what='unknown TaskAssignmentStatus')
    # Broken percent-encoding, signed over what a lenient parser would see (the
    # escape kept literally), so only a strict parser refuses it.
    raw = dh.encode_form(ev) + b'&Broken=%zz'
    sig = dh.compute_signature(stack.auth_token, stack.public_url + '/taskrouter_event',
                               dict(ev, Broken='%zz'))
    assert_rejected(stack, ev, 400, what='invalid percent escape', body=raw, signature=sig)
    assert_accepted(stack, ev)


def iso_utc(ms):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ms // 1000))


def rfc2822_utc(ms):
    return time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(ms // 1000))


@pytest.mark.parametrize('form', ['iso', 'rfc2822', 'seconds', 'milliseconds'])
def test_every_twilio_timestamp_form_is_applied(stack, form):
    """A signed event whose only time is Timestamp, in any form Twilio sends, is
    acknowledged and applied (an ISO-8601 Timestamp used to be acknowledged with 204
    and then dropped by the model)."""
    f = factory(stack)
    ev = new_task_event(f)
    ms = int(ev['TimestampMs'])
    del ev['TimestampMs']
    ev['Timestamp'] = {'iso': iso_utc(ms), 'rfc2822': rfc2822_utc(ms),
                       'seconds': str(ms // 1000), 'milliseconds': str(ms)}[form]
    ev['TaskDateCreated'] = ev['Timestamp']
    assert_accepted(stack, ev)


def test_a_timestamp_that_is_not_a_date_is_400_before_the_answer(stack):
    f = factory(stack)
    ev = new_task_event(f)
    del ev['TimestampMs']
    for bad in ('yesterday', '2026-13-01T00:00:00Z', 'Sun, 06 Dex 2026 03:00:00 +0000', ''):
        assert_rejected(stack, dict(ev, Timestamp=bad), 400, what='Timestamp %r' % bad)
    no_time = {k: v for k, v in ev.items() if k != 'Timestamp'}
    assert_rejected(stack, no_time, 400, what='no Timestamp at all')
    assert_accepted(stack, ev)


def test_wrong_method_and_unknown_route(stack):
    r = stack.daemon.get('/taskrouter_event')
    assert r.status == 405, r
    r = stack.daemon.get('/no/such/route')
    assert r.status == 404, r
    doc = r.json()
    assert isinstance(doc.get('error'), str) and doc['error'], doc


def test_out_of_order_and_duplicate_delivery(stack):
    """Per resource, only newer events count (TimestampMs, versions); a terminal state
    is never undone (model.h)."""
    f = factory(stack)
    wt = dh.rand_sid('WT')
    wr = dh.rand_sid('WR')
    wk = dh.rand_sid('WK')
    t = int(time.time() * 1000)

    def res_event(et, status, v, ms):
        return f.task(et, wt, status, version=v, ms=ms, ReservationSid=wr, WorkerSid=wk,
                      WorkerName='alice', ResourceType='Reservation', ResourceSid=wr)

    created = f.task('task.created', wt, 'pending', version=0, ms=t)
    reserved = res_event('reservation.created', 'reserved', 1, t + 10)
    accepted = res_event('reservation.accepted', 'assigned', 2, t + 20)
    wrapup = f.task('task.wrapup', wt, 'wrapping', version=3, ms=t + 30)
    completed = f.task('task.completed', wt, 'completed', version=4, ms=t + 40)

    for ev in (created, accepted, reserved, created):
        assert stack.webhook(ev).status == 204
    assert dh.api_task_status(stack.daemon)[wt] == 'assigned', \
        'a late reservation.created or a duplicate task.created must not move it back'
    for ev in (accepted, wrapup, wrapup):
        assert stack.webhook(ev).status == 204
    assert dh.api_task_status(stack.daemon)[wt] == 'wrapping'
    assert stack.webhook(completed).status == 204
    assert wt not in dh.api_task_status(stack.daemon), 'a completed task leaves the open set'
    for ev in (wrapup, accepted, reserved, created, completed):
        assert stack.webhook(ev).status == 204
    assert wt not in dh.api_task_status(stack.daemon), 'a finished task is never resurrected'


def test_worker_activity_out_of_order(stack):
    f = factory(stack)
    workers = stack.sim_workers()
    if not workers:
        w = stack.ws.workers.create(friendly_name='ooo-worker')
        workers = {w.sid: w}
    wk, w = next(iter(workers.items()))
    acts = {a.friendly_name: a.sid for a in stack.ws.activities.list()}
    t = int(time.time() * 1000)
    newer = f.worker('worker.activity.update', wk, w.friendly_name, acts['Available'],
                     'Available', version=100, ms=t + 1000)
    older = f.worker('worker.activity.update', wk, w.friendly_name, acts['Unavailable'],
                     'Unavailable', version=99, ms=t)
    assert stack.webhook(newer).status == 204
    assert dh.activity_of(dh.api_workers(stack.daemon)[wk]) == 'Available'
    assert stack.webhook(older).status == 204
    assert dh.activity_of(dh.api_workers(stack.daemon)[wk]) == 'Available', \
        'an older activity update must not overwrite a newer one'


def test_port_variants_accepted(make_stack):
    """public_url without a port: Twilio may sign with or without the default port."""
    stack = make_stack(public_url='https://trhub.example.com')
    f = factory(stack)
    path = '/taskrouter_event'
    for url in ('https://trhub.example.com' + path, 'https://trhub.example.com:443' + path):
        ev = new_task_event(f)
        r = stack.webhook(ev, url=url)
        assert r.status == 204, 'signed for %s: %r' % (url, r)
        assert ev['TaskSid'] in dh.api_task_status(stack.daemon)
    for url in ('https://trhub.example.com:8443' + path, 'http://trhub.example.com' + path,
                'http://trhub.example.com:443' + path):
        assert_rejected(stack, new_task_event(f), 403, what='signed for ' + url, url=url)


def test_port_variants_explicit_default_port(make_stack):
    stack = make_stack(public_url='https://trhub.example.com:443/prefix')
    f = factory(stack)
    for url in ('https://trhub.example.com/prefix/taskrouter_event',
                'https://trhub.example.com:443/prefix/taskrouter_event'):
        ev = new_task_event(f)
        assert stack.webhook(ev, url=url).status == 204, url
    assert_rejected(stack, new_task_event(f), 403, what='signed without the path prefix',
                    url='https://trhub.example.com/taskrouter_event')
