"""The routing engine, judged through the official library and the event callbacks.

Time never passes by sleeping: reservation timeouts and task removal are driven
with POST /sim/clock. Polling (bounded) is used only for what is inherently
asynchronous: routing that may run on the emulator's next loop turn, and
callback delivery.
"""

import json
import random
import time

import pytest
from twilio.base.exceptions import TwilioRestException

import trhub_harness as th
from trhub_events import EventModel, causal_violations, duration_stats
from trhub_tr import Workspace, call_attributes


def _conference_of(client, task_sid):
    confs = client.conferences.list(friendly_name=task_sid)
    assert len(confs) == 1, 'one conference named after %s, got %r' % (task_sid, confs)
    return confs[0]


class Settler:
    """Waits until every callback emitted so far has arrived.

    It flips a marker worker (no skills, never eligible) between two unavailable
    activities and waits for that worker.activity.update: callbacks are posted in
    order, so once the marker's arrives, everything before it has arrived too.
    """

    def __init__(self, w, receiver):
        self.w = w
        self.receiver = receiver
        self.marker = w.add_worker('zz-marker', skills=())
        self.flips = 0
        self.state = 'Offline'

    def settle(self, timeout=th.DEFAULT_TIMEOUT):
        self.state = 'Unavailable' if self.state == 'Offline' else 'Offline'
        self.w.set_activity(self.marker.sid, self.state)
        self.flips += 1
        self.receiver.wait_count(self.flips, timeout=timeout, event_type='worker.activity.update',
                                 WorkerSid=self.marker.sid,
                                 what='marker flip %d of %s' % (self.flips, self.marker.sid))


# --- single behaviours ---------------------------------------------------------------

def test_reservation_for_available_eligible_worker_only(sim):
    c = sim.client()
    w = Workspace(sim, c)
    alice = w.add_worker('alice')
    bob = w.add_worker('bob', skills=('sales',))
    carol = w.add_worker('carol')  # eligible but Offline
    w.set_activity(bob.sid, 'Available')
    t = w.add_task()
    assert w.task(t.sid).assignment_status == 'pending'
    assert w.reservations(t.sid) == []
    w.set_activity(alice.sid, 'Available')
    r = w.wait_reservation(t.sid)
    assert r.worker_sid == alice.sid and r.worker_name == 'alice'
    assert r.reservation_status == 'pending'
    assert r.task_sid == t.sid and r.sid.startswith('WR')
    assert w.task(t.sid).assignment_status == 'reserved'
    assert [x.sid for x in w.worker_reservations(alice.sid)] == [r.sid]
    assert w.worker_reservations(bob.sid) == [] and w.worker_reservations(carol.sid) == []
    got = w.reservation(t.sid, r.sid).fetch()
    assert got.sid == r.sid and got.reservation_status == 'pending'
    assert w.last_etag(), 'task reservation responses carry an ETag (twilio-api.md 3.5)'
    # A second task waits: alice is busy with the first.
    t2 = w.add_task()
    assert w.reservations(t2.sid) == []
    assert w.task(t2.sid).assignment_status == 'pending'


def test_priority_then_age_order(sim):
    c = sim.client()
    w = Workspace(sim, c)
    workers = [w.add_worker('agent%d' % i) for i in range(4)]
    # One emulated second between arrivals, so that age order is not a tie broken by
    # creation sequence alone.
    t1 = w.add_task(priority=0)
    sim.advance(1_000)
    t2 = w.add_task(priority=5)
    sim.advance(1_000)
    t3 = w.add_task(priority=5)
    sim.advance(1_000)
    t4 = w.add_task(priority=1)
    order = []
    for x in workers:
        w.set_activity(x.sid, 'Available')
        r = w.wait_worker_reservation(x.sid)
        order.append(r.task_sid)
    assert order == [t2.sid, t3.sid, t4.sid, t1.sid]


def test_priority_then_age_order_across_queues(sim):
    """A worker eligible for two queues takes the highest priority first, then the task
    that has waited longest, whichever queue it is in."""
    c = sim.client()
    w = Workspace(sim, c)
    sales = w.ws.task_queues.create(friendly_name='sales', target_workers='skills HAS "sales"')
    cfg = {'task_routing': {'filters': [
        {'filter_friendly_name': 'sales', 'expression': 'type == "sales"',
         'targets': [{'queue': sales.sid}]}],
        'default_filter': {'queue': w.queues['support'].sid}}}
    wf = w.ws.workflows.create(friendly_name='two-queues', configuration=json.dumps(cfg))
    workers = [w.add_worker('agent%d' % i, skills=('support', 'sales')) for i in range(4)]
    made = []
    for kind, prio in (('support', 0), ('sales', 0), ('sales', 3), ('support', 3)):
        t = w.ws.tasks.create(workflow_sid=wf.sid, priority=prio,
                              attributes=json.dumps({'type': kind}))
        made.append(t)
        sim.advance(1_000)
    a, b, c3, d = made
    assert b.task_queue_sid == sales.sid and a.task_queue_sid == w.queues['support'].sid
    order = []
    for x in workers:
        w.set_activity(x.sid, 'Available')
        order.append(w.wait_worker_reservation(x.sid).task_sid)
    assert order == [c3.sid, d.sid, a.sid, b.sid]


def test_reject_requeues_to_another_worker(sim):
    c = sim.client()
    w = Workspace(sim, c)
    alice = w.add_worker('alice', activity='Available')
    t = w.add_task()
    r1 = w.wait_reservation(t.sid)
    assert r1.worker_sid == alice.sid
    out = w.reservation(t.sid, r1.sid).update(reservation_status='rejected',
                                              worker_activity_sid=w.activity_sid('Offline'))
    assert out.reservation_status == 'rejected'
    assert w.task(t.sid).assignment_status == 'pending'
    assert w.ws.workers(alice.sid).fetch().activity_name == 'Offline'
    bob = w.add_worker('bob', activity='Available')
    r2 = w.wait_reservation(t.sid)
    assert r2.worker_sid == bob.sid and r2.sid != r1.sid
    statuses = {r.sid: r.reservation_status for r in w.reservations(t.sid)}
    assert statuses == {r1.sid: 'rejected', r2.sid: 'pending'}
    with pytest.raises(TwilioRestException) as e:
        w.reservation(t.sid, r1.sid).update(reservation_status='accepted')
    assert 400 <= e.value.status < 500, 'a rejected reservation cannot be accepted'


def test_reservation_timeout_via_clock(start_sim):
    sim = start_sim('--reservation-timeout', '30')
    c = sim.client()
    w = Workspace(sim, c)
    timeout_act = w.ws.fetch().timeout_activity_name
    alice = w.add_worker('alice', activity='Available')
    t = w.add_task()
    r = w.wait_reservation(t.sid)
    sim.advance(29_000)
    assert w.reservation(t.sid, r.sid).fetch().reservation_status == 'pending'
    sim.advance(2_000)
    assert w.reservation(t.sid, r.sid).fetch().reservation_status == 'timeout'
    assert w.ws.workers(alice.sid).fetch().activity_name == timeout_act
    assert w.task(t.sid).assignment_status == 'pending'
    assert w.task(t.sid).age >= 31, 'the task ages with the emulator clock'
    cum = w.ws.cumulative_statistics().fetch()
    assert cum.reservations_timed_out == 1 and cum.reservations_created == 1
    bob = w.add_worker('bob', activity='Available')
    assert w.wait_reservation(t.sid).worker_sid == bob.sid


def test_accept_with_conference_then_end_conference_wraps_task(sim):
    c = sim.client()
    w = Workspace(sim, c)
    alice = w.add_worker('alice', activity='Available')
    attrs = call_attributes(1)
    t = w.ws.tasks.create(workflow_sid=sim.workflow_sid, attributes=json.dumps(attrs))
    r = w.wait_reservation(t.sid)
    acc = w.reservation(t.sid, r.sid).update(
        instruction='conference', from_='+15550001111', end_conference_on_exit=True)
    assert acc.reservation_status == 'accepted'
    task = w.task(t.sid)
    assert task.assignment_status == 'assigned'
    conf = _conference_of(c, t.sid)
    assert conf.friendly_name == t.sid
    assert conf.sid.startswith('CF') and conf.account_sid == sim.account_sid
    assert conf.status == 'in-progress'
    assert conf.reason_conference_ended is None
    assert conf.api_version == '2010-04-01'
    assert conf.date_created is not None and conf.date_created.tzinfo is not None
    assert conf.uri.endswith(conf.sid + '.json')
    assert 'participants' in conf.subresource_uris
    parts = c.conferences(conf.sid).participants.list()
    assert len(parts) == 2
    call_sids = {p.call_sid for p in parts}
    assert attrs['call_sid'] in call_sids, 'the caller joins the conference'
    assert all(p.conference_sid == conf.sid and p.call_sid.startswith('CA') for p in parts)
    assert all(p.status == 'connected' for p in parts)
    tattrs = json.loads(task.attributes)
    assert tattrs['conference']['sid'] == conf.sid
    for k, v in attrs.items():
        assert tattrs[k] == v, 'the conference instruction keeps the other attributes'
    fetched = c.conferences(conf.sid).fetch()
    assert fetched.sid == conf.sid
    in_progress = c.conferences.list(status='in-progress')
    assert [x.sid for x in in_progress] == [conf.sid]
    ended = c.conferences(conf.sid).update(status='completed')
    assert ended.status == 'completed'
    assert ended.reason_conference_ended == 'conference-ended-via-api'
    assert w.task(t.sid).assignment_status == 'wrapping'
    assert c.conferences.list(status='in-progress') == []
    assert [x.sid for x in c.conferences.list(status='completed')] == [conf.sid]
    done = w.ws.tasks(t.sid).update(assignment_status='completed', reason='call handled')
    assert done.assignment_status == 'completed' and done.reason == 'call handled'
    assert w.ws.workers(alice.sid).fetch().activity_name == 'Available'


def test_conference_paging_2010_envelope(sim):
    c = sim.client()
    w = Workspace(sim, c)
    agents = [w.add_worker('a%d' % i, activity='Available') for i in range(3)]
    tasks = [w.ws.tasks.create(attributes=json.dumps(call_attributes(i))) for i in range(3)]
    for t in tasks:
        r = w.wait_reservation(t.sid)
        w.reservation(t.sid, r.sid).update(instruction='conference', from_='+15550001111')
    assert len(agents) == 3
    status, headers, body = sim.http_json(
        'GET', '/2010-04-01/Accounts/%s/Conferences.json?PageSize=2' % sim.account_sid)
    assert status == 200
    assert len(body['conferences']) == 2
    for k in ('uri', 'first_page_uri', 'next_page_uri', 'previous_page_uri', 'page',
              'page_size', 'start', 'end'):
        assert k in body, k
    assert body['page'] == 0 and body['page_size'] == 2 and body['start'] == 0
    assert body['next_page_uri'].startswith('/2010-04-01/Accounts/%s/Conferences.json?'
                                            % sim.account_sid)
    assert 'meta' not in body
    confs = c.conferences.list(page_size=2)
    assert sorted(x.friendly_name for x in confs) == sorted(t.sid for t in tasks)


def test_conference_path_without_json_suffix_is_not_json_list(sim):
    """API 2010 paths end in .json: without it the list is not there (Twilio's 404)."""
    status, headers, body = sim.http_json(
        'GET', '/2010-04-01/Accounts/%s/Conferences' % sim.account_sid)
    assert status == 404, (status, body)
    assert headers.get('content-type', '').startswith('application/json'), headers
    assert body.get('code') == 20404 and body.get('status') == 404, body


def test_cancel_only_from_pending_or_reserved(sim):
    c = sim.client()
    w = Workspace(sim, c)
    pending = w.add_task()
    out = w.ws.tasks(pending.sid).update(assignment_status='canceled', reason='hangup')
    assert out.assignment_status == 'canceled' and out.reason == 'hangup'
    alice = w.add_worker('alice', activity='Available')
    reserved = w.add_task()
    r = w.wait_reservation(reserved.sid)
    out = w.ws.tasks(reserved.sid).update(assignment_status='canceled', reason='hangup')
    assert out.assignment_status == 'canceled'
    assert w.reservation(reserved.sid, r.sid).fetch().reservation_status in ('canceled',
                                                                            'rescinded')
    assigned = w.add_task()
    r = w.wait_reservation(assigned.sid)
    assert r.worker_sid == alice.sid, 'the canceled reservation freed alice'
    w.reservation(assigned.sid, r.sid).update(reservation_status='accepted')
    with pytest.raises(TwilioRestException) as e:
        w.ws.tasks(assigned.sid).update(assignment_status='canceled', reason='too late')
    assert e.value.status == 400
    assert w.task(assigned.sid).assignment_status == 'assigned'
    w.ws.tasks(assigned.sid).update(assignment_status='wrapping')
    with pytest.raises(TwilioRestException) as e:
        w.ws.tasks(assigned.sid).update(assignment_status='canceled', reason='too late')
    assert e.value.status == 400
    w.ws.tasks(assigned.sid).update(assignment_status='completed', reason='done')
    for sid in (assigned.sid, pending.sid):
        with pytest.raises(TwilioRestException) as e:
            w.ws.tasks(sid).update(assignment_status='canceled', reason='again')
        assert e.value.status == 400


def test_finished_tasks_removed_after_five_minutes(sim):
    c = sim.client()
    w = Workspace(sim, c)
    t = w.add_task()
    keep = w.add_task()
    w.ws.tasks(t.sid).update(assignment_status='canceled', reason='hangup')
    sim.advance(299_000)
    assert w.task(t.sid).assignment_status == 'canceled'
    sim.advance(2_000)
    with pytest.raises(TwilioRestException) as e:
        w.task(t.sid)
    assert e.value.status == 404 and e.value.code == 20404
    assert w.task(keep.sid).assignment_status == 'pending', 'open tasks are not removed'
    assert [x.sid for x in w.ws.tasks.list()] == [keep.sid]


def test_task_removal_option(start_sim):
    sim = start_sim('--task-removal', '10')
    w = Workspace(sim, sim.client())
    t = w.add_task()
    w.ws.tasks(t.sid).update(assignment_status='canceled', reason='hangup')
    sim.advance(9_000)
    assert w.task(t.sid).assignment_status == 'canceled'
    sim.advance(2_000)
    with pytest.raises(TwilioRestException):
        w.task(t.sid)


def test_task_ttl_cancels_with_reason(sim):
    w = Workspace(sim, sim.client())
    t = w.ws.tasks.create(attributes='{"type":"support"}', timeout=60)
    sim.advance(61_000)
    got = w.task(t.sid)
    assert got.assignment_status == 'canceled'
    assert got.reason == 'Task TTL Exceeded'


# --- the scenario: 5 agents, 50 calls ------------------------------------------------

AGENTS = 5
CALLS = 50
RES_TIMEOUT_S = 20


def _check_stats_against_events(w, model, expect_workers):
    """RealTime/Cumulative statistics (workspace and queue) equal the event model."""
    q = w.queues['support']
    rt = w.ws.real_time_statistics().fetch()
    want = model.tasks_by_status()
    got = {k: int((rt.tasks_by_status or {}).get(k, 0)) for k in want}
    assert got == want, 'RealTime tasks_by_status %r, events say %r' % (got, want)
    assert rt.total_workers == expect_workers
    acts = {a['friendly_name']: int(a['workers']) for a in rt.activity_statistics}
    acts = {k: v for k, v in acts.items() if v}
    assert acts == model.activity_counts(), 'activity_statistics vs events'
    qrt = w.ws.task_queues(q.sid).real_time_statistics().fetch()
    qwant = model.tasks_by_status(q.sid)
    qgot = {k: int((qrt.tasks_by_status or {}).get(k, 0)) for k in qwant}
    assert qgot == qwant
    eligible = [wk for wk, name in model.worker_activity.items() if model.worker_name.get(wk, '')
                .startswith('agent')]
    assert qrt.total_eligible_workers == len(eligible)
    avail = [wk for wk in eligible if model.worker_activity[wk] == 'Available']
    idle = [wk for wk in avail if wk not in model.busy_workers()]
    assert qrt.total_available_workers in (len(avail), len(idle))
    return rt


def _check_cumulative(w, model, minutes):
    cum = w.ws.cumulative_statistics().fetch(minutes=minutes, split_by_wait_time='10,30')
    want = model.cumulative()
    got = {k: getattr(cum, k) for k in want}
    assert got == want, 'CumulativeStatistics %r, events say %r' % (got, want)
    waits = duration_stats(model.waits_accepted)
    wda = cum.wait_duration_until_accepted
    n = len(model.waits_accepted)
    for k in ('avg', 'min', 'max'):
        assert abs(float(wda[k]) - waits[k]) <= 1.0, ('wait_duration_until_accepted', k, wda,
                                                      waits)
    assert abs(float(wda['total']) - waits['total']) <= max(1.0, n * 0.5 + 1)
    assert abs(float(cum.avg_task_acceptance_time) - waits['avg']) <= 1.0
    wdc = cum.wait_duration_until_canceled
    cwaits = duration_stats(model.waits_canceled)
    for k in ('avg', 'min', 'max'):
        assert abs(float(wdc[k]) - cwaits[k]) <= 1.0, ('wait_duration_until_canceled', k)
    split = cum.split_by_wait_time
    for thr in (10, 30):
        s = split[str(thr)]
        below = sum(1 for x in model.waits_accepted if x < thr)
        assert int(s['below']['reservations_accepted']) == below, (thr, s)
        assert int(s['above']['reservations_accepted']) == n - below, (thr, s)
        cbelow = sum(1 for x in model.waits_canceled if x < thr)
        assert int(s['below']['tasks_canceled']) == cbelow
        assert int(s['above']['tasks_canceled']) == len(model.waits_canceled) - cbelow
    qc = w.ws.task_queues(w.queues['support'].sid).cumulative_statistics().fetch(minutes=minutes)
    qwant = dict(want)
    qwant.pop('tasks_created')
    qwant['tasks_entered'] = model.n('task-queue.entered') or model.n('task.created')
    qgot = {k: getattr(qc, k) for k in qwant}
    assert qgot == qwant, 'TaskQueue CumulativeStatistics %r, events say %r' % (qgot, qwant)
    return cum


def test_scenario_5_agents_50_calls(start_sim, receiver):
    sim = start_sim('--reservation-timeout', str(RES_TIMEOUT_S), '--task-removal', '86400',
                    receiver=receiver)
    c = sim.client()
    w = Workspace(sim, c)
    settler = Settler(w, receiver)
    agents = [w.add_worker('agent%d' % i) for i in range(AGENTS)]
    for a in agents:
        w.set_activity(a.sid, 'Available')
    rng = random.Random(20240601)

    created = []           # task sids in creation order
    call_of = {}           # task sid -> our attributes
    talking = {}           # task sid -> conference sid
    wrapping = set()
    done = {}              # task sid -> 'completed' | 'canceled'
    did = {'accepted': 0, 'rejected': 0, 'canceled': 0, 'completed': 0, 'ignored': 0,
           'conferences_ended': 0}
    deadline = time.monotonic() + 120
    rounds = 0
    while len(done) < CALLS:
        rounds += 1
        assert rounds <= 600, 'scenario did not finish in 600 rounds: %r' % did
        assert time.monotonic() < deadline, 'scenario did not finish in 120 s: %r' % did
        # Callers arrive.
        for _ in range(rng.randint(0, 4)):
            if len(created) < CALLS:
                attrs = call_attributes(len(created))
                t = w.ws.tasks.create(workflow_sid=sim.workflow_sid, attributes=json.dumps(attrs),
                                      priority=rng.choice((0, 0, 0, 1, 5)))
                created.append(t.sid)
                call_of[t.sid] = attrs
        # Some waiting callers hang up.
        waiting = [s for s in created if s not in done and s not in talking and s not in wrapping]
        for s in waiting:
            if rng.random() < 0.03:
                st = w.task(s).assignment_status
                if st in ('pending', 'reserved'):
                    w.ws.tasks(s).update(assignment_status='canceled', reason='hangup')
                    done[s] = 'canceled'
                    did['canceled'] += 1
        # Agents handle their reservations.
        ignored = False
        workers = {x.sid: x for x in w.ws.workers.list()}
        for a in agents:
            if workers[a.sid].activity_name != 'Available':
                w.set_activity(a.sid, 'Available')  # back from the timeout activity
            for r in w.worker_reservations(a.sid, 'pending'):
                p = rng.random()
                if p < 0.80:
                    out = w.reservation(r.task_sid, r.sid).update(
                        instruction='conference', from_='+15550001111')
                    assert out.reservation_status == 'accepted'
                    talking[r.task_sid] = _conference_of(c, r.task_sid).sid
                    did['accepted'] += 1
                elif p < 0.92:
                    w.reservation(r.task_sid, r.sid).update(reservation_status='rejected')
                    did['rejected'] += 1
                else:
                    ignored = True
                    did['ignored'] += 1
        # Calls end, wrap-up ends.
        for s in list(wrapping):
            if rng.random() < 0.5:
                w.ws.tasks(s).update(assignment_status='completed', reason='handled')
                wrapping.discard(s)
                done[s] = 'completed'
                did['completed'] += 1
        for s, cf in list(talking.items()):
            if rng.random() < 0.35:
                c.conferences(cf).update(status='completed')
                del talking[s]
                wrapping.add(s)
                did['conferences_ended'] += 1
                assert w.task(s).assignment_status == 'wrapping'
        if ignored:
            sim.advance((RES_TIMEOUT_S + 1) * 1000)
        if rounds % 15 == 0:
            settler.settle()
            model = EventModel(receiver.events())
            _check_stats_against_events(w, model, AGENTS + 1)

    settler.settle()
    events = receiver.events()
    model = EventModel(events)
    print('scenario: %d rounds, driver %r, events %r' % (rounds, did, sorted(model.counts.items())))
    # Every task ended completed or canceled, by REST and by the events.
    final = {t.sid: t.assignment_status for t in w.ws.tasks.list(page_size=100)}
    assert set(final) == set(created) and len(created) == CALLS
    assert final == done
    assert {s: model.task_status.get(s) for s in created} == done
    assert model.n('task.created') == CALLS
    assert model.n('task.completed') == did['completed']
    assert model.n('task.canceled') == did['canceled']
    assert model.n('reservation.accepted') == did['accepted']
    assert model.n('reservation.rejected') == did['rejected']
    assert model.n('reservation.timeout') >= did['ignored']
    assert did['accepted'] > 0 and did['rejected'] > 0 and did['canceled'] > 0
    # Every callback validates and names this account and workspace.
    bad = [e for e in events if not e.valid]
    assert not bad, '%d callbacks fail RequestValidator, e.g. %r' % (len(bad), bad[:3])
    assert all(e.get('AccountSid') == sim.account_sid and
               e.get('WorkspaceSid') == sim.workspace_sid for e in events)
    assert causal_violations(events) == []
    # The status field of each task's latest event agrees with the lifecycle.
    assert {s: model.last_status_field.get(s) for s in created} == done
    _check_stats_against_events(w, model, AGENTS + 1)
    _check_cumulative(w, model, minutes=24 * 60)
    # Conferences: one per accepted reservation, all ended.
    confs = c.conferences.list(page_size=20)
    assert len(confs) == did['accepted']
    assert all(x.status == 'completed' for x in confs)


def test_ages_in_real_time_statistics_follow_the_clock(sim):
    w = Workspace(sim, sim.client())
    q = w.queues['support']
    old = w.add_task()
    sim.advance(40_000)
    w.add_task()
    sim.advance(20_000)
    rt = w.ws.real_time_statistics().fetch()
    assert rt.longest_task_waiting_sid == old.sid
    assert 60 <= rt.longest_task_waiting_age <= 61
    qrt = w.ws.task_queues(q.sid).real_time_statistics().fetch()
    assert qrt.longest_task_waiting_sid == old.sid
    assert qrt.longest_relative_task_sid_in_queue == old.sid
    assert 60 <= qrt.longest_relative_task_age_in_queue <= 61
    assert 60 <= w.task(old.sid).age <= 61


def test_wait_duration_until_accepted_uses_the_clock(sim):
    w = Workspace(sim, sim.client())
    t = w.add_task()
    sim.advance(25_000)
    alice = w.add_worker('alice', activity='Available')
    r = w.wait_reservation(t.sid)
    assert r.worker_sid == alice.sid
    sim.advance(5_000)
    w.reservation(t.sid, r.sid).update(reservation_status='accepted')
    cum = w.ws.cumulative_statistics().fetch(split_by_wait_time='20,40')
    assert 30 <= float(cum.wait_duration_until_accepted['avg']) <= 31
    assert 30 <= float(cum.avg_task_acceptance_time) <= 31
    assert int(cum.split_by_wait_time['20']['above']['reservations_accepted']) == 1
    assert int(cum.split_by_wait_time['40']['below']['reservations_accepted']) == 1
    # The window: an acceptance 20 simulated minutes ago is outside the default 15 minutes.
    sim.advance(20 * 60_000)
    later = w.ws.cumulative_statistics().fetch()
    assert later.reservations_accepted == 0 and later.tasks_created == 0
    assert w.ws.cumulative_statistics().fetch(minutes=60).reservations_accepted == 1
