"""Signed event callbacks (twilio-api.md sections 6 and 7), judged by RequestValidator."""

import json

import pytest

import trhub_harness as th
from trhub_events import causal_violations
from trhub_tr import Workspace, call_attributes

BASE = ('EventType', 'AccountSid', 'WorkspaceSid', 'WorkspaceName', 'EventDescription',
        'ResourceType', 'ResourceSid', 'Timestamp', 'TimestampMs')
TASK = ('TaskSid', 'TaskAttributes', 'TaskAge', 'TaskPriority', 'TaskAssignmentStatus')
WORKER = ('WorkerSid', 'WorkerName', 'WorkerAttributes', 'WorkerActivitySid',
          'WorkerActivityName')
FIELDS = {
    'task.created': TASK + ('WorkflowSid', 'WorkflowName'),
    'task.canceled': TASK + ('TaskCanceledReason',),
    'task.completed': TASK + ('TaskCompletedReason',),
    'task.wrapup': TASK,
    'task.updated': TASK,
    'reservation.created': TASK + WORKER + ('ReservationSid', 'TaskQueueSid', 'WorkflowSid'),
    'reservation.accepted': TASK + WORKER + ('ReservationSid', 'TaskQueueSid', 'WorkflowSid'),
    'reservation.rejected': TASK + WORKER + ('ReservationSid', 'TaskQueueSid', 'WorkflowSid'),
    'reservation.timeout': TASK + WORKER + ('ReservationSid', 'TaskQueueSid', 'WorkflowSid'),
    'reservation.canceled': TASK + WORKER + ('ReservationSid', 'TaskQueueSid', 'WorkflowSid'),
    'worker.activity.update': WORKER + ('WorkerTimeInPreviousActivity',
                                        'WorkerTimeInPreviousActivityMs',
                                        'WorkerPreviousActivitySid'),
    'task-queue.entered': TASK + ('TaskQueueSid', 'TaskQueueName'),
    'workflow.entered': TASK + ('WorkflowSid', 'WorkflowName'),
}
RESOURCE_OF = {'task': ('Task', 'TaskSid'), 'reservation': ('Reservation', 'ReservationSid'),
               'worker': ('Worker', 'WorkerSid')}


def _one_call_handled(sim, receiver, cancel_one=True):
    """alice takes one call end to end; a second call is canceled while pending."""
    c = sim.client()
    w = Workspace(sim, c)
    alice = w.add_worker('alice', activity='Available')
    t = w.ws.tasks.create(workflow_sid=sim.workflow_sid,
                          attributes=json.dumps(call_attributes(1)), priority=2)
    r = w.wait_reservation(t.sid)
    w.reservation(t.sid, r.sid).update(instruction='conference', from_='+15550001111')
    cf = c.conferences.list(friendly_name=t.sid)[0].sid
    c.conferences(cf).update(status='completed')
    w.ws.tasks(t.sid).update(assignment_status='completed', reason='call handled')
    other = None
    if cancel_one:
        w.set_activity(alice.sid, 'Offline')
        other = w.add_task()
        w.ws.tasks(other.sid).update(assignment_status='canceled', reason='hangup')
    receiver.wait_count(1, event_type='task.completed', TaskSid=t.sid)
    if other is not None:
        receiver.wait_count(1, event_type='task.canceled', TaskSid=other.sid)
    return w, alice, t, r, other


def test_every_callback_validates_and_is_a_form_post(sim_cb):
    sim, receiver = sim_cb
    _one_call_handled(sim, receiver)
    events = receiver.events()
    assert len(events) >= 8
    for e in events:
        assert e.method == 'POST'
        assert e.path == '/taskrouter_event'
        ctype = {k.lower(): v for k, v in e.headers.items()}.get('content-type', '')
        assert ctype.startswith('application/x-www-form-urlencoded'), ctype
        assert e.signature, 'X-Twilio-Signature missing on %r' % e
        assert e.valid, 'RequestValidator rejects %r' % e
        assert not e.validate(sim.auth_token + 'x'), 'validates with a wrong token'
        assert not e.repeated, 'repeated form names %r' % e.repeated


def test_signature_covers_the_url_with_its_query(start_sim):
    receiver = th.CallbackReceiver(path='/hook?tenant=a%20b&x=1')
    try:
        sim = start_sim(receiver=receiver)
        w = Workspace(sim, sim.client())
        w.add_task()
        got = receiver.wait_count(1, event_type='task.created')
        assert got[0].path == '/hook?tenant=a%20b&x=1'
        assert all(e.valid for e in receiver.events())
    finally:
        receiver.close()


def test_causal_order_of_one_call(sim_cb):
    sim, receiver = sim_cb
    w, alice, t, r, other = _one_call_handled(sim, receiver)
    mine = [e for e in receiver.events() if e.get('TaskSid') == t.sid]
    seq = [e.get('EventType') for e in mine]
    need = ['task.created', 'reservation.created', 'reservation.accepted', 'task.wrapup',
            'task.completed']
    pos = []
    for et in need:
        assert et in seq, '%s missing from %r' % (et, seq)
        pos.append(seq.index(et))
    assert pos == sorted(pos), 'out of causal order: %r' % seq
    assert seq.count('task.created') == 1 and seq.count('task.completed') == 1
    assert causal_violations(receiver.events()) == []
    cseq = [e.get('EventType') for e in receiver.events() if e.get('TaskSid') == other.sid]
    assert cseq[0] == 'task.created' and cseq[-1] == 'task.canceled'
    assert [e.get('ReservationSid') for e in mine if e.get('EventType') ==
            'reservation.accepted'] == [r.sid]


def test_field_sets_and_values_per_event_type(sim_cb):
    sim, receiver = sim_cb
    w, alice, t, r, other = _one_call_handled(sim, receiver)
    ws_name = w.ws.fetch().friendly_name
    events = receiver.events()
    seen = set()
    for e in events:
        et = e.get('EventType')
        seen.add(et)
        for k in BASE:
            assert k in e.form, '%s lacks %s' % (et, k)
        assert e['AccountSid'] == sim.account_sid
        assert e['WorkspaceSid'] == sim.workspace_sid
        assert e['WorkspaceName'] == ws_name
        assert e['EventDescription']
        assert e['Timestamp'].isdigit() and e['TimestampMs'].isdigit()
        assert int(e['Timestamp']) == int(e['TimestampMs']) // 1000
        for k in FIELDS.get(et, ()):
            assert k in e.form, '%s lacks %s: %r' % (et, k, sorted(e.form))
        kind = et.split('.')[0]
        if kind in RESOURCE_OF:
            rtype, key = RESOURCE_OF[kind]
            assert e['ResourceType'] in (rtype, rtype.lower())
            assert e['ResourceSid'] == e[key], et
        if 'TaskAttributes' in e.form:
            assert isinstance(json.loads(e['TaskAttributes']), dict)
        if 'WorkerAttributes' in e.form:
            assert isinstance(json.loads(e['WorkerAttributes']), dict)
    for et in ('task.created', 'reservation.created', 'reservation.accepted', 'task.wrapup',
               'task.completed', 'task.canceled', 'worker.activity.update'):
        assert et in seen, et
    created = receiver.events('task.created', TaskSid=t.sid)[0]
    assert json.loads(created['TaskAttributes']) == call_attributes(1)
    assert created['TaskPriority'] == '2'
    assert created['TaskAssignmentStatus'] == 'pending'
    assert created['WorkflowSid'] == sim.workflow_sid
    acc = receiver.events('reservation.accepted', TaskSid=t.sid)[0]
    assert acc['WorkerSid'] == alice.sid and acc['WorkerName'] == 'alice'
    assert acc['ReservationSid'] == r.sid
    assert acc['TaskAssignmentStatus'] == 'assigned'
    assert acc['TaskQueueSid'] == w.queues['support'].sid
    done = receiver.events('task.completed', TaskSid=t.sid)[0]
    assert done['TaskCompletedReason'] == 'call handled'
    assert done['TaskAssignmentStatus'] == 'completed'
    assert receiver.events('task.wrapup', TaskSid=t.sid)[0]['TaskAssignmentStatus'] == 'wrapping'
    canc = receiver.events('task.canceled', TaskSid=other.sid)[0]
    assert canc['TaskCanceledReason'] == 'hangup'
    assert canc['TaskAssignmentStatus'] == 'canceled'
    upd = [e for e in receiver.events('worker.activity.update', WorkerSid=alice.sid)]
    assert [e['WorkerActivityName'] for e in upd][-1] == 'Offline'
    last = upd[-1]
    assert last['WorkerPreviousActivitySid'] == w.activity_sid('Available')
    assert int(last['WorkerTimeInPreviousActivityMs']) >= 0
    sids = [e.get('Sid') for e in events if e.get('Sid')]
    assert len(sids) == len(set(sids)), 'event Sids repeat'
    assert all(s.startswith('EV') for s in sids)


def test_timestamps_monotonic_and_follow_the_clock(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    t1 = w.add_task()
    receiver.wait_count(1, event_type='task.created', TaskSid=t1.sid)
    sim.advance(3_600_000)
    t2 = w.add_task()
    e2 = receiver.wait_count(1, event_type='task.created', TaskSid=t2.sid)[0]
    e1 = receiver.events('task.created', TaskSid=t1.sid)[0]
    assert int(e2['TimestampMs']) - int(e1['TimestampMs']) >= 3_600_000
    ms = [int(e['TimestampMs']) for e in receiver.events()]
    assert ms == sorted(ms)


def test_events_filter_honoured(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    w.ws.update(events_filter='task.created,task.canceled')
    alice = w.add_worker('alice', activity='Available')
    t = w.add_task()
    w.wait_reservation(t.sid)
    w.ws.tasks(t.sid).update(assignment_status='canceled', reason='hangup')
    receiver.wait_count(1, event_type='task.canceled', TaskSid=t.sid)
    after = [e for e in receiver.events() if e.get('TaskSid') == t.sid or
             e.get('WorkerSid') == alice.sid]
    types = {e.get('EventType') for e in after}
    assert types == {'task.created', 'task.canceled'}, types
    # Back to everything.
    w.ws.update(events_filter='')
    t2 = w.add_task()
    receiver.wait_count(1, event_type='reservation.created', TaskSid=t2.sid)


def test_workspace_event_callback_url_can_be_changed(start_sim):
    r1 = th.CallbackReceiver()
    r2 = th.CallbackReceiver()
    try:
        sim = start_sim(receiver=r1)
        r2.auth_token = sim.auth_token
        w = Workspace(sim, sim.client())
        w.add_task()
        r1.wait_count(1, event_type='task.created')
        ws = w.ws.update(event_callback_url=r2.url)
        assert ws.event_callback_url == r2.url
        t = w.add_task()
        got = r2.wait_count(1, event_type='task.created', TaskSid=t.sid)
        assert got[0].valid
        assert r1.events('task.created', TaskSid=t.sid) == []
    finally:
        r1.close()
        r2.close()


def test_no_callback_url_by_default(sim):
    w = Workspace(sim, sim.client())
    w.add_task()
    assert w.ws.fetch().event_callback_url in (None, '')


def test_unreachable_callback_url_does_not_block_the_api(start_sim):
    # Port 9 (discard) on loopback is closed: delivery fails, the REST API must not care.
    sim = start_sim('--event-callback-url', 'http://127.0.0.1:9/cb',
                    expected_errors=[r'callback', r'127\.0\.0\.1:9'])
    w = Workspace(sim, sim.client())
    for _ in range(20):
        w.add_task()
    assert len(w.ws.tasks.list()) == 20


@pytest.mark.parametrize('status', [500, 404])
def test_error_answers_are_not_retried(start_sim, status):
    receiver = th.CallbackReceiver(status=status)
    try:
        sim = start_sim(receiver=receiver, expected_errors=[r'callback'])
        w = Workspace(sim, sim.client())
        t = w.add_task()
        w.ws.tasks(t.sid).update(assignment_status='canceled', reason='x')
        receiver.wait_count(1, event_type='task.canceled')
        created = receiver.events('task.created', TaskSid=t.sid)
        assert len(created) == 1, 'a %d answer is not retried (rp=ct)' % status
    finally:
        receiver.close()


def test_events_resource_matches_the_callbacks(sim_cb):
    """GET .../Events (twilio-api.md 3.8) tells the same story as the callbacks."""
    sim, receiver = sim_cb
    w, alice, t, r, other = _one_call_handled(sim, receiver)
    cbs = [e for e in receiver.events() if e.get('TaskSid') == t.sid]
    evs = w.ws.events.list(task_sid=t.sid, minutes=60)
    # The Events list and the callbacks are both in the order the events happened.
    assert [e.sid for e in evs] == [e.get('Sid') for e in cbs]
    for ev, cb in zip(evs, cbs):
        assert ev.event_type == cb['EventType']
        assert ev.resource_sid == cb['ResourceSid']
        assert ev.event_date_ms == int(cb['TimestampMs'])
        assert ev.sid.startswith('EV') and ev.workspace_sid == sim.workspace_sid
        assert isinstance(ev.event_data, dict)
        assert ev.event_date is not None
    only = w.ws.events.list(event_type='task.completed', minutes=60)
    assert [e.resource_sid for e in only] == [t.sid]
    assert [e.event_type for e in w.ws.events.list(reservation_sid=r.sid, minutes=60)
            if e.event_type == 'reservation.accepted'] == ['reservation.accepted']
    one = w.ws.events(evs[0].sid).fetch()
    assert one.sid == evs[0].sid and one.event_type == evs[0].event_type


def test_worker_time_in_previous_activity_follows_the_clock(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    alice = w.add_worker('alice')
    w.set_activity(alice.sid, 'Available')
    sim.advance(90_000)
    w.set_activity(alice.sid, 'Unavailable')
    e = receiver.wait_count(1, event_type='worker.activity.update', WorkerSid=alice.sid,
                            WorkerActivityName='Unavailable')[0]
    assert e['WorkerPreviousActivitySid'] == w.activity_sid('Available')
    assert e.get('WorkerPreviousActivityName', 'Available') == 'Available'
    assert 90 <= int(e['WorkerTimeInPreviousActivity']) <= 91
    assert 90_000 <= int(e['WorkerTimeInPreviousActivityMs']) < 91_000
    x = w.ws.workers(alice.sid).fetch()
    assert x.date_status_changed.timestamp() * 1000 == pytest.approx(int(e['TimestampMs']),
                                                                    abs=1000)
    dur = w.ws.workers(alice.sid).cumulative_statistics().fetch(minutes=60)
    avail = [d for d in dur.activity_durations if d['friendly_name'] == 'Available'][0]
    assert 90 <= float(avail['total']) <= 91


def test_going_offline_with_reject_pending_reservations(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    alice = w.add_worker('alice', activity='Available')
    t = w.add_task()
    r = w.wait_reservation(t.sid)
    w.ws.workers(alice.sid).update(activity_sid=w.activity_sid('Offline'),
                                   reject_pending_reservations=True)
    got = w.reservation(t.sid, r.sid).fetch().reservation_status
    assert got == 'rejected'
    assert w.task(t.sid).assignment_status == 'pending'
    receiver.wait_count(1, event_type='reservation.rejected', ReservationSid=r.sid)
    assert causal_violations(receiver.events()) == []


def test_cancel_while_reserved_emits_reservation_canceled(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    w.add_worker('alice', activity='Available')
    t = w.add_task()
    r = w.wait_reservation(t.sid)
    w.ws.tasks(t.sid).update(assignment_status='canceled', reason='hangup')
    receiver.wait_count(1, event_type='task.canceled', TaskSid=t.sid)
    receiver.wait_count(1, event_type='reservation.canceled', ReservationSid=r.sid)
    assert causal_violations(receiver.events()) == []
    # The freed worker gets the next task.
    t2 = w.add_task()
    assert w.wait_reservation(t2.sid).worker_name == 'alice'


def test_signature_over_non_ascii_and_reserved_characters(sim_cb):
    sim, receiver = sim_cb
    w = Workspace(sim, sim.client())
    attrs = {'type': 'support', 'name': 'Zoë Ñandú 東京', 'q': 'a&b=c+d %20 #x', 'emoji': '☎'}
    t = w.ws.tasks.create(attributes=json.dumps(attrs, ensure_ascii=False))
    e = receiver.wait_count(1, event_type='task.created', TaskSid=t.sid)[0]
    assert e.valid, 'RequestValidator rejects a callback with non-ASCII attributes'
    assert json.loads(e['TaskAttributes']) == attrs
    assert json.loads(w.task(t.sid).attributes) == attrs


class _Fake:
    def __init__(self, seq, **form):
        self.seq = seq
        self.form = form

    def get(self, k, d=None):
        return self.form.get(k, d)


def _fakes(*specs):
    return [_Fake(i, EventType=et, TaskSid='WT1', ReservationSid=wr, TimestampMs=str(ms))
            for i, (et, wr, ms) in enumerate(specs)]


def test_causal_checker_itself_detects_violations():
    """The judge of causal order must be able to say no (no emulator needed)."""
    good = _fakes(('task.created', '', 1), ('reservation.created', 'WR1', 2),
                  ('reservation.accepted', 'WR1', 3), ('task.wrapup', '', 4),
                  ('task.completed', '', 5))
    assert causal_violations(good) == []
    swapped = [good[0], good[2], good[1], good[3], good[4]]
    assert causal_violations(swapped)
    assert causal_violations([good[1], good[0]])  # reservation before the task exists
    assert causal_violations(good + _fakes(('task.canceled', '', 6)))  # after completion
    assert causal_violations(_fakes(('task.created', '', 5), ('reservation.created', 'WR1', 4)))
