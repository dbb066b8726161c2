"""The agent API over HTTP only, against trhub-sim (issue 9, "Proof").

An agent logs in, goes Available, sees its reservation arrive on its own
stream, accepts it (conference instruction), ends the conference, and the
task goes wrapping -> completed by trhubd (auto_complete_wrapping) -> the
post-work activity; the reject and timeout paths; worker B neither sees nor
touches A's reservation; Twilio refusals are 409 with the reason; presence
sets an agent whose page went away to the away activity. The truth is read
from the emulator with python3-twilio, never from trhubd.
"""

import json
import sys
import os

import daemon_harness as dh

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))
from trhub_tr import Workspace, call_attributes  # noqa: E402

make_stack = dh.make_stack_fixture()


class Agent:
    """One browser: a session cookie, an SSE stream, JSON POSTs with our Origin."""

    def __init__(self, stack, user, password):
        self.stack = stack
        r = stack.daemon.login(user, password, remember=False)
        assert r.status == 200, r
        self.me = r.json()
        self.cookie = dh.cookie_of(r)
        self.stream = None

    def open_stream(self):
        self.stream = dh.SSEClient(self.stack.daemon.port, headers={'Cookie': self.cookie})
        self.stream.wait(lambda c: c.of('snapshot'), what='the snapshot')
        return self.stream

    def post(self, path, body=None):
        return dh.http_request(self.stack.daemon.port, 'POST', path,
                               body=json.dumps(body or {}).encode(),
                               headers={'Cookie': self.cookie,
                                        'Origin': self.stack.daemon.origin,
                                        'Content-Type': 'application/json'})

    def get(self, path):
        return dh.http_request(self.stack.daemon.port, 'GET', path,
                               headers={'Cookie': self.cookie})

    def events(self, event_type=None):
        out = []
        for m in self.stream.of('event'):
            d = json.loads(m['data'])
            if event_type is None or d.get('EventType') == event_type:
                out.append(d)
        return out

    def wait_event(self, event_type, not_sid=None, **match):
        def found(c):
            return [d for d in self.events(event_type)
                    if all(d.get(k) == v for k, v in match.items())
                    and (not_sid is None or d.get('ReservationSid') != not_sid)]
        self.stream.wait(found, what='%s on the stream' % event_type)
        return found(self.stream)[0]

    def close(self):
        if self.stream is not None:
            self.stream.close()


def agent_stack(make_stack, **env):
    e = {'TRHUB_CONFERENCE_POST_WORK_ACTIVITY': 'Unavailable', 'TRHUB_AGENT_AWAY_AFTER_S': '0',
         'TRHUB_AUTO_COMPLETE_WRAPPING': 'true'}
    e.update(env)
    stack = make_stack(daemon_env=e)
    w = Workspace(stack.sim, stack.client)
    alice = w.add_worker('alice')
    bob = w.add_worker('bob')
    dh.converge(lambda: [] if stack.daemon.login('bob', 'bob-pass', remember=False).json().get('workerSid')
                else ['workers not in the model'], what='alice and bob in the model')
    return stack, w, alice, bob


def test_full_agent_flow_accept_conference_wrapup_autocomplete(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack)
    alice = Agent(stack, 'alice', 'alice-pass')
    bob = Agent(stack, 'bob', 'bob-pass')
    try:
        assert alice.me['workerSid'] == alice_w.sid
        ws = alice.get('/api/workspace').json()
        names = sorted(a['friendlyName'] for a in ws['activities'])
        assert names == ['Available', 'Offline', 'Unavailable'], ws
        alice.open_stream()
        bob.open_stream()

        r = alice.post('/api/worker/activity', {'activity': 'available'})
        assert r.status == 200, r
        assert w.ws.workers(alice_w.sid).fetch().activity_name == 'Available'
        alice.wait_event('worker.activity.update', WorkerSid=alice_w.sid)

        task = w.add_task(**call_attributes(1))
        created = alice.wait_event('reservation.created', TaskSid=task.sid)
        wr = created['ReservationSid']
        assert created['WorkerSid'] == alice_w.sid

        # alice's stream carries her reservation (her view of the task); bob's never does.
        alice.stream.wait(lambda c: [m for m in c.of('reservation') if wr in m['data']],
                          what="alice's reservation message")
        # bob can neither see nor act on alice's reservation.
        assert bob.post('/api/reservations/%s/accept' % wr).status == 404
        assert bob.post('/api/tasks/%s/complete' % task.sid).status == 404
        assert w.reservation(task.sid, wr).fetch().reservation_status == 'pending'

        r = alice.post('/api/reservations/%s/accept' % wr)
        assert r.status == 200, r
        assert w.reservation(task.sid, wr).fetch().reservation_status == 'accepted'
        assert w.task(task.sid).assignment_status == 'assigned'
        confs = stack.client.conferences.list(friendly_name=task.sid)
        assert len(confs) == 1 and confs[0].status == 'in-progress', confs
        cf = confs[0].sid
        dh.converge(lambda: [] if any(t.get('conferenceSid') == cf for t in
                                      dh.as_list(stack.daemon.get_json('/api/tasks'), 'tasks'))
                    else ['conference not in the model'], what='the conference in the model')

        assert bob.post('/api/conferences/%s/end' % cf).status == 404
        r = alice.post('/api/conferences/%s/end' % cf)
        assert r.status == 200, r
        assert stack.client.conferences(cf).fetch().status == 'completed'
        # wrapping, then completed by trhubd (auto_complete_wrapping, 0 s).
        dh.converge(lambda: [] if w.task(task.sid).assignment_status == 'completed' else
                    ['task is %s' % w.task(task.sid).assignment_status],
                    what='the task completed automatically')
        assert w.task(task.sid).reason == 'wrap-up ended (auto_complete_wrapping)'
        dh.converge(lambda: [] if w.ws.workers(alice_w.sid).fetch().activity_name ==
                    'Unavailable' else ['not in the post-work activity'],
                    what='the post-work activity')
        for m in bob.stream.messages:
            assert task.sid not in (m['data'] or '') or '"removed":true' in m['data'], m
            assert wr not in (m['data'] or ''), m
    finally:
        alice.close()
        bob.close()


def test_reject_with_activity_and_timeout(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack)
    alice = Agent(stack, 'alice', 'alice-pass')
    try:
        alice.open_stream()
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        task = w.add_task(**call_attributes(2))
        ev = alice.wait_event('reservation.created', TaskSid=task.sid)
        wr = ev['ReservationSid']
        r = alice.post('/api/reservations/%s/reject' % wr, {'activity': 'Nap'})
        assert r.status == 400, r
        assert 'Available' in r.json()['detail'] and 'Offline' in r.json()['detail']
        r = alice.post('/api/reservations/%s/reject' % wr, {'activity': 'Offline'})
        assert r.status == 200, r
        assert w.reservation(task.sid, wr).fetch().reservation_status == 'rejected'
        assert w.ws.workers(alice_w.sid).fetch().activity_name == 'Offline'
        alice.wait_event('reservation.rejected', ReservationSid=wr)

        # Timeout: the emulator's clock moves past the reservation timeout.
        w.ws.tasks(task.sid).update(assignment_status='canceled', reason='test: next call')
        task = w.add_task(**call_attributes(5))
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        ev = alice.wait_event('reservation.created', not_sid=wr, TaskSid=task.sid)
        wr2 = ev['ReservationSid']
        assert wr2 != wr
        stack.sim.advance(121_000)
        alice.wait_event('reservation.timeout', ReservationSid=wr2)
        assert w.reservation(task.sid, wr2).fetch().reservation_status == 'timeout'
        # A reservation that is no longer pending is not alice's to accept any more.
        assert alice.post('/api/reservations/%s/accept' % wr2).status == 404
    finally:
        alice.close()


def test_twilio_refusals_are_409_with_the_reason(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack)
    alice = Agent(stack, 'alice', 'alice-pass')
    try:
        alice.open_stream()
        stack.sim.add_fault(method='POST', path='/v1/Workspaces/*/Workers/*', status=400,
                            code=20001, message='Worker is busy elsewhere', count=1)
        r = alice.post('/api/worker/activity', {'activity': 'Available'})
        assert r.status == 409, r
        doc = r.json()
        assert doc['error'] == 'refused' and doc['detail'] == 'Worker is busy elsewhere', doc
        assert doc['twilioCode'] == 20001
        stack.sim.add_fault(method='POST', path='/v1/Workspaces/*/Workers/*', status=503,
                            count=1)
        r = alice.post('/api/worker/activity', {'activity': 'Available'})
        assert r.status == 502 and r.json()['error'] == 'twilio unavailable', r
        r = alice.post('/api/worker/activity', {'activity': 'Available'})
        assert r.status == 200, r
        r = alice.post('/api/worker/activity', {'activity': 'Lunch'})
        assert r.status == 400
        assert r.json()['validActivities'] and 'Unavailable' in r.json()['detail']
    finally:
        alice.close()


def test_supervisor_actions_are_audited(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack)
    sup = Agent(stack, 'sup', 'sup-pass')
    try:
        sup.open_stream()
        r = sup.post('/api/workers/%s/activity' % alice_w.sid,
                     {'activity': 'Available', 'reason': 'shift start'})
        assert r.status == 200, r
        assert w.ws.workers(alice_w.sid).fetch().activity_name == 'Available'
        sup.stream.wait(lambda c: c.of('audit'), what='the audit event')
        audit = json.loads(sup.stream.of('audit')[0]['data'])
        assert audit['actor'] == 'sup' and audit['action'] == 'worker.activity'
        assert audit['target'] == alice_w.sid and audit['result'] == 'ok'
        assert audit['reason'] == 'shift start'

        task = w.add_task(**call_attributes(3))
        dh.converge(lambda: [] if task.sid in dh.api_tasks(stack.daemon) else ['no task'],
                    what='the task in the model')
        assert sup.post('/api/tasks/%s/cancel' % task.sid).status == 400  # a reason is needed
        r = sup.post('/api/tasks/%s/cancel' % task.sid, {'reason': 'caller hung up'})
        assert r.status == 200, r
        t = w.task(task.sid)
        assert t.assignment_status == 'canceled' and t.reason == 'caller hung up'
        stack.daemon.stop()
        lines = [l for l in stack.daemon.past_stderr if 'audit:' in l]
        assert any('sup worker.activity ' + alice_w.sid in l for l in lines), lines
        assert any('sup task.cancel ' + task.sid in l and 'caller hung up' in l
                   for l in lines), lines
    finally:
        sup.close()


def test_presence_sets_an_abandoned_agent_away(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack, TRHUB_AGENT_AWAY_AFTER_S='1')
    alice = Agent(stack, 'alice', 'alice-pass')
    try:
        alice.open_stream()
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        task = w.add_task(**call_attributes(4))
        wr = alice.wait_event('reservation.created', TaskSid=task.sid)['ReservationSid']
        alice.stream.close()  # the laptop lid closes
        dh.converge(lambda: [] if w.ws.workers(alice_w.sid).fetch().activity_name == 'Offline'
                    else ['alice still %s' % w.ws.workers(alice_w.sid).fetch().activity_name],
                    what='alice set Offline by presence')
        assert w.reservation(task.sid, wr).fetch().reservation_status == 'rejected'
        # Back: the page is told.
        alice.open_stream()
        alice.stream.wait(lambda c: c.of('presence'), what='the presence message')
        p = json.loads(alice.stream.of('presence')[0]['data'])
        assert p['state'] == 'away' and p['activityName'] == 'Offline', p
    finally:
        alice.close()


def test_agent_completes_its_own_task_when_auto_completion_is_off(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack, TRHUB_AUTO_COMPLETE_WRAPPING='false')
    alice = Agent(stack, 'alice', 'alice-pass')
    sup = Agent(stack, 'sup', 'sup-pass')
    try:
        alice.open_stream()
        sup.open_stream()
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        task = w.add_task(**call_attributes(6))
        wr = alice.wait_event('reservation.created', TaskSid=task.sid)['ReservationSid']
        # A pending task cannot be completed yet: a clear 409, not a Twilio error.
        r = alice.post('/api/tasks/%s/complete' % task.sid)
        assert r.status == 409, r
        assert any(s in r.json()['detail'] for s in ('pending', 'reserved')), r
        assert alice.post('/api/reservations/%s/accept' % wr,
                          {'instruction': 'accept'}).status == 200
        assert w.task(task.sid).assignment_status == 'assigned'
        dh.converge(lambda: [] if dh.api_task_status(stack.daemon).get(task.sid) == 'assigned'
                    else ['not assigned in the model'], what='the task assigned in the model')
        r = alice.post('/api/tasks/%s/complete' % task.sid, {'reason': 'resolved on the call'})
        assert r.status == 200, r
        t = w.task(task.sid)
        assert t.assignment_status == 'completed' and t.reason == 'resolved on the call'
        assert w.reservation(task.sid, wr).fetch().reservation_status in ('completed',
                                                                          'accepted', 'wrapping')
        # Not a supervisor action: no audit event.
        assert not sup.stream.of('audit')
    finally:
        alice.close()
        sup.close()


def test_reservation_complete_and_its_refusal(make_stack):
    stack, w, alice_w, bob_w = agent_stack(make_stack, TRHUB_AUTO_COMPLETE_WRAPPING='false')
    alice = Agent(stack, 'alice', 'alice-pass')
    try:
        alice.open_stream()
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        task = w.add_task(**call_attributes(7))
        wr = alice.wait_event('reservation.created', TaskSid=task.sid)['ReservationSid']
        # Completing a reservation that is still pending: TaskRouter refuses, 409 with why.
        r = alice.post('/api/reservations/%s/complete' % wr)
        assert r.status == 409, r
        assert r.json()['error'] == 'refused' and r.json()['detail'], r
        assert alice.post('/api/reservations/%s/accept' % wr,
                          {'instruction': 'accept'}).status == 200
        alice.wait_event('reservation.accepted', ReservationSid=wr)
        r = alice.post('/api/reservations/%s/complete' % wr)
        assert r.status == 200, r
        assert w.reservation(task.sid, wr).fetch().reservation_status == 'completed'
        # An unknown instruction is a clear 400, nothing sent to Twilio.
        task2 = w.add_task(**call_attributes(8))
        assert alice.post('/api/worker/activity', {'activity': 'Available'}).status == 200
        wr2 = alice.wait_event('reservation.created', TaskSid=task2.sid)['ReservationSid']
        r = alice.post('/api/reservations/%s/accept' % wr2, {'instruction': 'dequeue'})
        assert r.status == 400, r
        assert w.reservation(task2.sid, wr2).fetch().reservation_status == 'pending'
    finally:
        alice.close()
