"""TaskRouter REST through the official library: typed fields, paging, filters, errors.

The judge is twilio-python: if its typed objects come out right, the wire format is
right. Expectations are recomputed from what the test itself did, never copied from
the emulator's own answers.
"""

import datetime
import json
import math
import re
import urllib.parse

import pytest
from twilio.base.exceptions import TwilioRestException

from trhub_tr import Workspace

SID = re.compile(r'^[A-Z]{2}[0-9a-f]{32}$')


def is_sid(value, prefix):
    return isinstance(value, str) and SID.match(value) is not None and value.startswith(prefix)


def is_utc_datetime(value):
    return isinstance(value, datetime.datetime) and value.utcoffset() == datetime.timedelta(0)


def raises_rest(status, code=None):
    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, et, e, tb):
            assert et is not None, 'expected TwilioRestException %s, got success' % status
            assert issubclass(et, TwilioRestException), 'expected TwilioRestException, got %r' % e
            assert e.status == status, 'HTTP %s, expected %s (%s)' % (e.status, status, e.msg)
            if code is not None:
                assert e.code == code, 'Twilio code %r, expected %r (%s)' % (e.code, code, e.msg)
            self.exc = e
            return True
    return _Ctx()


def assert_error_body(status, headers, body, http_status, code):
    assert status == http_status
    assert headers.get('content-type', '').startswith('application/json')
    assert isinstance(body, dict), body
    assert body.get('status') == http_status, body
    assert body.get('code') == code, body
    assert isinstance(body.get('message'), str) and body['message'], body
    assert body.get('more_info') == 'https://www.twilio.com/docs/errors/%d' % code, body


# --- workspace, activities, queues, workflows -------------------------------------

def test_workspace_fetch_has_typed_fields(start_sim):
    sim = start_sim('--event-callback-url', 'http://127.0.0.1:9/cb')
    w = Workspace(sim, sim.client())
    ws = w.ws.fetch()
    assert ws.sid == sim.workspace_sid and is_sid(ws.sid, 'WS')
    assert ws.account_sid == sim.account_sid
    assert is_utc_datetime(ws.date_created) and is_utc_datetime(ws.date_updated)
    assert ws.event_callback_url == 'http://127.0.0.1:9/cb'
    assert ws.default_activity_name == 'Offline'
    assert ws.default_activity_sid == w.activity_sid('Offline')
    assert ws.timeout_activity_sid in {a.sid for a in w.activities.values()}
    assert ws.timeout_activity_name == next(a.friendly_name for a in w.activities.values()
                                            if a.sid == ws.timeout_activity_sid)
    assert ws.prioritize_queue_order in ('FIFO', 'LIFO')
    assert isinstance(ws.multi_task_enabled, bool)
    assert ws.url == 'https://taskrouter.twilio.com/v1/Workspaces/' + ws.sid or \
        ws.url == sim.base_url + '/v1/Workspaces/' + ws.sid
    for link in ('activities', 'statistics', 'real_time_statistics', 'cumulative_statistics',
                 'task_queues', 'tasks', 'workers', 'workflows', 'task_channels', 'events'):
        assert link in ws.links, link


def test_workspace_update_and_list(sim):
    w = Workspace(sim, sim.client())
    ws = w.ws.update(friendly_name='renamed', events_filter='task.created,task.completed')
    assert ws.friendly_name == 'renamed'
    assert ws.events_filter == 'task.created,task.completed'
    listed = sim.client().taskrouter.v1.workspaces.list()
    assert [x.sid for x in listed] == [sim.workspace_sid]
    assert listed[0].friendly_name == 'renamed'


def test_default_activities(sim):
    w = Workspace(sim, sim.client())
    acts = w.activities
    assert set(acts) == {'Offline', 'Available', 'Unavailable'}
    assert acts['Available'].available is True
    assert acts['Offline'].available is False
    assert acts['Unavailable'].available is False
    for a in acts.values():
        assert is_sid(a.sid, 'WA')
        assert a.workspace_sid == sim.workspace_sid and a.account_sid == sim.account_sid
        assert is_utc_datetime(a.date_created)
    # Filters (twilio-api.md 3.2).
    avail = w.ws.activities.list(available='true')
    assert [a.friendly_name for a in avail] == ['Available']
    named = w.ws.activities.list(friendly_name='Offline')
    assert [a.sid for a in named] == [acts['Offline'].sid]


def test_activity_create_and_fetch(sim):
    w = Workspace(sim, sim.client())
    a = w.ws.activities.create(friendly_name='Break', available=False)
    assert is_sid(a.sid, 'WA') and a.available is False
    got = w.ws.activities(a.sid).fetch()
    assert got.friendly_name == 'Break'
    assert len(w.ws.activities.list()) == 4


def test_default_queue_and_workflow(start_sim):
    sim = start_sim('--reservation-timeout', '45')
    w = Workspace(sim, sim.client())
    queues = w.ws.task_queues.list()
    assert [q.friendly_name for q in queues] == ['support']
    q = queues[0]
    assert is_sid(q.sid, 'WQ')
    assert q.target_workers == 'skills HAS "support"'
    assert q.task_order in ('FIFO', 'LIFO')
    assert isinstance(q.max_reserved_workers, int)
    assert is_utc_datetime(q.date_created)
    wfs = w.ws.workflows.list()
    assert [wf.sid for wf in wfs] == [sim.workflow_sid]
    wf = w.ws.workflows(sim.workflow_sid).fetch()
    assert wf.friendly_name == 'support'
    assert wf.task_reservation_timeout == 45
    cfg = json.loads(wf.configuration)
    assert q.sid in json.dumps(cfg), 'the support workflow must route to the support queue'


def test_queue_and_workflow_create(sim):
    w = Workspace(sim, sim.client())
    q = w.ws.task_queues.create(friendly_name='sales', target_workers='skills HAS "sales"')
    assert is_sid(q.sid, 'WQ') and q.target_workers == 'skills HAS "sales"'
    cfg = {'task_routing': {'filters': [{'filter_friendly_name': 'sales',
                                         'expression': 'type == "sales"',
                                         'targets': [{'queue': q.sid}]}],
                            'default_filter': {'queue': w.queues['support'].sid}}}
    wf = w.ws.workflows.create(friendly_name='sales', configuration=json.dumps(cfg),
                               task_reservation_timeout=30)
    assert is_sid(wf.sid, 'WW') and wf.task_reservation_timeout == 30
    assert json.loads(wf.configuration) == cfg
    t = w.ws.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({'type': 'sales'}))
    assert t.task_queue_sid == q.sid
    assert t.task_queue_friendly_name == 'sales'
    assert t.workflow_sid == wf.sid and t.workflow_friendly_name == 'sales'
    t2 = w.ws.tasks.create(workflow_sid=wf.sid, attributes=json.dumps({'type': 'other'}))
    assert t2.task_queue_sid == w.queues['support'].sid


# --- workers ---------------------------------------------------------------------

def test_seeded_workers_are_offline_with_support_skill(start_sim):
    sim = start_sim('--workers', '7')
    w = Workspace(sim, sim.client())
    workers = w.ws.workers.list()
    assert len(workers) == 7
    assert len({x.sid for x in workers}) == 7
    assert len({x.friendly_name.lower() for x in workers}) == 7
    for x in workers:
        assert is_sid(x.sid, 'WK')
        assert x.activity_name == 'Offline' and x.activity_sid == w.activity_sid('Offline')
        assert x.available is False
        assert is_utc_datetime(x.date_created) and is_utc_datetime(x.date_status_changed)
        full = w.ws.workers(x.sid).fetch()
        assert isinstance(full.attributes, str)
        assert 'support' in json.loads(full.attributes).get('skills', [])
        if x.attributes is not None:  # lists may carry attributes or null (twilio-api.md 3.3)
            assert json.loads(x.attributes) == json.loads(full.attributes)


def test_worker_crud_and_activity_change(sim):
    w = Workspace(sim, sim.client())
    attrs = {'skills': ['support'], 'contact_uri': 'client:alice'}
    x = w.ws.workers.create(friendly_name='alice', attributes=json.dumps(attrs))
    assert is_sid(x.sid, 'WK') and x.friendly_name == 'alice'
    assert json.loads(x.attributes) == attrs
    assert x.activity_name == 'Offline' and x.available is False
    assert w.last_etag(), 'worker create must carry an ETag'
    before = x.date_status_changed
    y = w.ws.workers(x.sid).update(activity_sid=w.activity_sid('Available'))
    assert y.activity_name == 'Available' and y.available is True
    assert y.activity_sid == w.activity_sid('Available')
    assert is_utc_datetime(y.date_status_changed) and y.date_status_changed >= before
    z = w.ws.workers(x.sid).update(attributes=json.dumps({'skills': []}))
    assert json.loads(z.attributes) == {'skills': []}
    assert z.activity_name == 'Available'
    with raises_rest(404, 20404):
        w.ws.workers('WK' + '0' * 32).fetch()
    assert w.ws.workers(x.sid).delete() is True
    with raises_rest(404, 20404):
        w.ws.workers(x.sid).fetch()


def test_worker_channels_follow_the_workers_state(sim):
    """The worker's advertised channels link resolves, and its figures follow routing:
    free capacity while Available and idle, one assigned task once a reservation is
    accepted, nothing free while Offline."""
    w = Workspace(sim, sim.client())
    x = w.add_worker('chan-agent', activity='Available')
    channels = w.ws.workers(x.sid).worker_channels.list()
    assert [ch.task_channel_unique_name for ch in channels] == \
        ['default', 'voice', 'sms', 'chat', 'video']
    assert len({ch.sid for ch in channels}) == 5
    c = channels[0]
    assert is_sid(c.sid, 'WC') and c.worker_sid == x.sid
    assert c.task_channel_unique_name == 'default' and c.configured_capacity == 1
    assert c.assigned_tasks == 0 and c.available_capacity_percentage == 100
    # fetch by SID and by the task channel's unique name give the same channel
    assert w.ws.workers(x.sid).worker_channels(c.sid).fetch().sid == c.sid
    assert w.ws.workers(x.sid).worker_channels('default').fetch().sid == c.sid
    with raises_rest(404, 20404):
        w.ws.workers(x.sid).worker_channels('WC' + '0' * 32).fetch()

    t = w.add_task()
    r = w.wait_reservation(t.sid)
    assert r.worker_sid == x.sid
    w.reservation(t.sid, r.sid).update(reservation_status='accepted')
    c = w.ws.workers(x.sid).worker_channels(c.sid).fetch()
    assert c.assigned_tasks == 1 and c.available_capacity_percentage == 0

    w.set_activity(x.sid, 'Offline')
    c = w.ws.workers(x.sid).worker_channels(c.sid).fetch()
    assert c.available_capacity_percentage == 0


def test_worker_friendly_name_unique_case_insensitive(sim):
    w = Workspace(sim, sim.client())
    w.add_worker('Alice')
    with pytest.raises(TwilioRestException) as e:
        w.add_worker('aLICE')
    assert 400 <= e.value.status < 500


def test_worker_filters(sim):
    w = Workspace(sim, sim.client())
    made = {}
    for i in range(6):
        made[w.add_worker('w%d' % i, skills=('support',) if i % 2 == 0 else ('sales',)).sid] = i
    for sid, i in made.items():
        if i < 4:
            w.set_activity(sid, 'Available')
    avail = {x.sid for x in w.ws.workers.list(activity_name='Available')}
    assert avail == {s for s, i in made.items() if i < 4}
    assert {x.sid for x in w.ws.workers.list(available='true')} == avail
    offline = {x.sid for x in w.ws.workers.list(activity_sid=w.activity_sid('Offline'))}
    assert offline == {s for s, i in made.items() if i >= 4}
    named = w.ws.workers.list(friendly_name='w3')
    assert [x.sid for x in named] == [s for s, i in made.items() if i == 3]
    support = {x.sid for x in w.ws.workers.list(task_queue_sid=w.queues['support'].sid)}
    assert support == {s for s, i in made.items() if i % 2 == 0}
    expr = {x.sid for x in w.ws.workers.list(target_workers_expression='skills HAS "sales"')}
    assert expr == {s for s, i in made.items() if i % 2 == 1}


def test_workers_page_across_several_pages(start_sim):
    sim = start_sim('--workers', '137')
    c = sim.client()
    ws = c.taskrouter.v1.workspaces(sim.workspace_sid)
    n0 = len(c.http_client.requests)
    got = ws.workers.list(page_size=50)
    assert len(got) == 137
    assert len({x.sid for x in got}) == 137
    assert len(c.http_client.requests) - n0 == math.ceil(137 / 50)


# --- tasks -----------------------------------------------------------------------

def test_task_create_fetch_typed(sim):
    w = Workspace(sim, sim.client())
    attrs = {'type': 'support', 'call_sid': 'CA' + 'a' * 32, 'name': 'Zoë'}
    t = w.ws.tasks.create(workflow_sid=sim.workflow_sid, attributes=json.dumps(attrs),
                          priority=7, timeout=3600)
    assert is_sid(t.sid, 'WT')
    assert t.assignment_status == 'pending'
    assert isinstance(t.attributes, str) and json.loads(t.attributes) == attrs
    assert t.priority == 7 and t.timeout == 3600
    assert isinstance(t.age, int) and 0 <= t.age <= 5
    assert is_utc_datetime(t.date_created) and is_utc_datetime(t.date_updated)
    assert t.workflow_sid == sim.workflow_sid and t.workflow_friendly_name == 'support'
    assert t.task_queue_sid == w.queues['support'].sid
    assert t.task_queue_friendly_name == 'support'
    assert t.workspace_sid == sim.workspace_sid and t.account_sid == sim.account_sid
    assert t.task_channel_unique_name == 'default'
    for link in ('task_queue', 'workflow', 'workspace', 'reservations'):
        assert link in t.links
    assert w.last_etag(), 'task create must carry an ETag (twilio-api.md 3.4)'
    f = w.task(t.sid)
    assert f.sid == t.sid and json.loads(f.attributes) == attrs and f.priority == 7
    assert w.last_etag()


def test_task_create_defaults(sim):
    w = Workspace(sim, sim.client())
    t = w.ws.tasks.create(attributes='{}')  # one workflow: WorkflowSid may be omitted
    assert t.workflow_sid == sim.workflow_sid
    assert t.timeout == 86400
    assert t.priority == 0


def test_task_create_rejects_bad_attributes(sim):
    w = Workspace(sim, sim.client())
    with raises_rest(400):
        w.ws.tasks.create(workflow_sid=sim.workflow_sid, attributes='{not json')


def test_task_update_if_match(sim):
    w = Workspace(sim, sim.client())
    t = w.add_task()
    w.task(t.sid)
    etag = w.last_etag()
    assert etag
    u = w.ws.tasks(t.sid).update(attributes=json.dumps({'type': 'support', 'n': 1}),
                                 if_match=etag)
    assert json.loads(u.attributes)['n'] == 1
    etag2 = w.last_etag()
    assert etag2 and etag2 != etag, 'an update must change the ETag'
    with raises_rest(412, 20412):
        w.ws.tasks(t.sid).update(attributes=json.dumps({'n': 2}), if_match=etag)
    assert json.loads(w.task(t.sid).attributes)['n'] == 1, 'a 412 must not apply the update'
    status, headers, body = sim.http_json(
        'POST', sim.ws_path + '/Tasks/' + t.sid, body={'Priority': '3'},
        headers={'If-Match': etag})
    assert_error_body(status, headers, body, 412, 20412)
    # Delete honours If-Match too.
    with raises_rest(412):
        w.ws.tasks(t.sid).delete(if_match=etag)
    assert w.ws.tasks(t.sid).delete(if_match=etag2) is True
    with raises_rest(404, 20404):
        w.task(t.sid)


def _create_tasks_via_control(sim, n, attributes=None, priority=None):
    sim.bulk_tasks(n, attributes=attributes, priority=priority)


def test_task_paging_2500_tasks_no_duplicates(sim):
    n = 2537
    c = sim.client()
    ws = c.taskrouter.v1.workspaces(sim.workspace_sid)
    _create_tasks_via_control(sim, n, attributes={'type': 'support'})
    n0 = len(c.http_client.requests)
    tasks = ws.tasks.list(page_size=200)
    assert len(c.http_client.requests) - n0 == math.ceil(n / 200)
    sids = [t.sid for t in tasks]
    assert len(sids) == n
    assert len(set(sids)) == n
    assert all(t.assignment_status == 'pending' for t in tasks)
    # Default order: DateCreated ascending (ties keep creation order).
    created = [t.date_created for t in tasks]
    assert created == sorted(created)
    # stream() with the maximum page size sees the same set in the same order.
    streamed = [t.sid for t in ws.tasks.stream(page_size=1000)]
    assert streamed == sids
    # limit stops early.
    assert [t.sid for t in ws.tasks.list(limit=120, page_size=50)] == sids[:120]


def test_task_paging_envelope_and_stable_cursor(sim):
    n = 260
    _create_tasks_via_control(sim, n, attributes={'type': 'support'})
    path = sim.ws_path + '/Tasks?PageSize=100'
    status, _, p0 = sim.http_json('GET', path)
    assert status == 200
    meta = p0['meta']
    assert meta['key'] == 'tasks'
    assert meta['page'] == 0 and meta['page_size'] == 100
    assert meta['previous_page_url'] is None
    for k in ('first_page_url', 'url', 'next_page_url'):
        assert urllib.parse.urlsplit(meta[k]).scheme in ('http', 'https'), (k, meta[k])
    assert len(p0['tasks']) == 100
    # Delete ten tasks of the first page: the next page must not shift.
    first = [t['sid'] for t in p0['tasks']]
    c = sim.client()
    ws = c.taskrouter.v1.workspaces(sim.workspace_sid)
    for sid in first[-10:]:
        ws.tasks(sid).delete()
    all_now = [t.sid for t in ws.tasks.list(page_size=1000)]
    expected_next = all_now[all_now.index(first[89]) + 1:][:100]
    nxt = urllib.parse.urlsplit(p0['meta']['next_page_url'])
    status, _, p1 = sim.http_json('GET', nxt.path + '?' + nxt.query)
    assert status == 200
    assert [t['sid'] for t in p1['tasks']] == expected_next
    assert p1['meta']['page'] == 1
    assert p1['meta']['previous_page_url']
    # The last page has no next page.
    nxt = urllib.parse.urlsplit(p1['meta']['next_page_url'])
    status, _, p2 = sim.http_json('GET', nxt.path + '?' + nxt.query)
    assert len(p2['tasks']) == n - 200  # the deleted ten were on the first page
    assert p2['meta']['next_page_url'] is None


def _tasks_in_mixed_states(sim, w):
    """Two available support workers and six tasks: two reserved, one assigned
    (accepted), three pending; returns {sid: fetched status}, priorities by sid."""
    workers = [w.add_worker('agent%d' % i) for i in range(2)]
    prios = [5, 1, 9, 3, 9, 0]
    tasks = [w.add_task(priority=p, n=i) for i, p in enumerate(prios)]
    for x in workers:
        w.set_activity(x.sid, 'Available')
    r = w.wait_worker_reservation(workers[0].sid)
    w.wait_worker_reservation(workers[1].sid)
    w.reservation(r.task_sid, r.sid).update(reservation_status='accepted')
    status = {t.sid: w.task(t.sid).assignment_status for t in tasks}
    return tasks, status, dict(zip((t.sid for t in tasks), prios))


def test_task_filters_assignment_status_queue_ordering(sim):
    w = Workspace(sim, sim.client())
    tasks, status, prio = _tasks_in_mixed_states(sim, w)
    counts = {}
    for s in status.values():
        counts[s] = counts.get(s, 0) + 1
    assert counts == {'assigned': 1, 'reserved': 1, 'pending': 4}, counts
    for filt in (['pending'], ['reserved'], ['pending', 'reserved'],
                 ['assigned', 'reserved', 'pending'], ['completed']):
        got = {t.sid for t in w.ws.tasks.list(assignment_status=filt)}
        assert got == {s for s, st in status.items() if st in filt}, filt
    sales = w.ws.task_queues.create(friendly_name='sales', target_workers='skills HAS "sales"')
    assert w.ws.tasks.list(task_queue_sid=sales.sid) == []
    assert {t.sid for t in w.ws.tasks.list(task_queue_sid=w.queues['support'].sid)} == set(status)
    assert {t.sid for t in w.ws.tasks.list(task_queue_name='support')} == set(status)
    assert {t.sid for t in w.ws.tasks.list(workflow_sid=sim.workflow_sid)} == set(status)
    by_prio = [t.sid for t in w.ws.tasks.list(ordering='Priority:desc')]
    assert [prio[s] for s in by_prio] == sorted(prio.values(), reverse=True)
    asc = [t.sid for t in w.ws.tasks.list(ordering='DateCreated:asc')]
    desc = [t.sid for t in w.ws.tasks.list(ordering='DateCreated:desc')]
    assert asc == [t.sid for t in tasks]
    assert desc == asc[::-1]
    # Priority desc, then DateCreated-equivalent tie order must be stable across pages.
    paged = [t.sid for t in w.ws.tasks.list(ordering='Priority:desc', page_size=2)]
    assert paged == by_prio
    ev = {t.sid for t in w.ws.tasks.list(evaluate_task_attributes='n >= 4')}
    assert ev == {tasks[4].sid, tasks[5].sid}
    assert {t.sid for t in w.ws.tasks.list(priority=9)} == {s for s, p in prio.items() if p == 9}


def test_bulk_tasks_carry_attributes_and_priority(sim):
    _create_tasks_via_control(sim, 30, attributes={'type': 'support', 'lang': 'fr'}, priority=4)
    ws = sim.client().taskrouter.v1.workspaces(sim.workspace_sid)
    tasks = ws.tasks.list()
    assert len(tasks) == 30
    for t in tasks[:5]:
        f = ws.tasks(t.sid).fetch()
        assert json.loads(f.attributes) == {'type': 'support', 'lang': 'fr'}
        assert f.priority == 4


# --- auth and errors ---------------------------------------------------------------

@pytest.mark.parametrize('mode', ['auth_token', 'api_key'])
def test_bad_credentials_401_20003(sim, mode):
    if mode == 'auth_token':
        good = sim.client()
        bad = sim.client(password=sim.auth_token + 'x')
        wrong_user = sim.client(username='AC' + 'f' * 32)
    else:
        good = sim.client(api_key=True)
        bad = sim.client(api_key=True, password=sim.api_secret + 'x')
        wrong_user = sim.client(username='SK' + 'f' * 32, password=sim.api_secret)
    assert good.taskrouter.v1.workspaces(sim.workspace_sid).fetch().sid == sim.workspace_sid
    for c in (bad, wrong_user):
        with raises_rest(401, 20003):
            c.taskrouter.v1.workspaces(sim.workspace_sid).fetch()
        with raises_rest(401, 20003):
            c.sync.v1.services(sim.sync_service_sid).fetch()
        with raises_rest(401, 20003):
            c.conferences('CF' + '0' * 32).fetch()
        with raises_rest(401, 20003):
            c.taskrouter.v1.workspaces(sim.workspace_sid).tasks.create(attributes='{}')


def test_api_key_cannot_be_used_with_auth_token_and_vice_versa(sim):
    mixed = sim.client(username=sim.api_key, password=sim.auth_token)
    with raises_rest(401, 20003):
        mixed.taskrouter.v1.workspaces(sim.workspace_sid).fetch()
    mixed2 = sim.client(username=sim.account_sid, password=sim.api_secret)
    with raises_rest(401, 20003):
        mixed2.taskrouter.v1.workspaces(sim.workspace_sid).fetch()


def test_error_bodies_have_twilio_shape(sim):
    status, headers, body = sim.http_json('GET', sim.ws_path, auth=None)
    assert_error_body(status, headers, body, 401, 20003)
    status, headers, body = sim.http_json('GET', sim.ws_path, auth=(sim.account_sid, 'nope'))
    assert_error_body(status, headers, body, 401, 20003)
    status, headers, body = sim.http_json('GET', sim.ws_path + '/Tasks/WT' + '0' * 32)
    assert_error_body(status, headers, body, 404, 20404)
    status, headers, body = sim.http_json('GET', '/v1/Workspaces/WS' + '0' * 32 + '/Workers')
    assert_error_body(status, headers, body, 404, 20404)
    status, headers, body = sim.http_json('GET', '/v1/NoSuchThing')
    assert status == 404


def test_404_through_library(sim):
    c = sim.client()
    ws = c.taskrouter.v1.workspaces(sim.workspace_sid)
    with raises_rest(404, 20404):
        ws.tasks('WT' + '1' * 32).fetch()
    with raises_rest(404, 20404):
        ws.tasks('WT' + '1' * 32).update(priority=1)
    with raises_rest(404, 20404):
        ws.task_queues('WQ' + '1' * 32).fetch()
    with raises_rest(404, 20404):
        c.taskrouter.v1.workspaces('WS' + '1' * 32).fetch()
    with raises_rest(404, 20404):
        c.conferences('CF' + '1' * 32).fetch()


def test_list_responses_are_json_envelopes(sim):
    status, headers, body = sim.http_json('GET', sim.ws_path + '/Workers')
    assert status == 200
    assert headers['content-type'].startswith('application/json')
    assert body['meta']['key'] == 'workers'


def test_real_time_statistics_counts_tasks_by_status(sim):
    w = Workspace(sim, sim.client())
    tasks, status, prio = _tasks_in_mixed_states(sim, w)
    rt = w.ws.real_time_statistics().fetch()
    want = {'pending': 0, 'reserved': 0, 'assigned': 0, 'wrapping': 0}
    for s in status.values():
        want[s] += 1
    got = {k: int(rt.tasks_by_status.get(k, 0)) for k in want}
    assert got == want
    assert rt.total_tasks == len(tasks)
    assert rt.total_workers == 2
    acts = {a['friendly_name']: int(a['workers']) for a in rt.activity_statistics}
    assert acts.get('Available') == 2 and acts.get('Offline', 0) == 0
    # tasks_by_priority counts waiting tasks (pending + reserved) or all open tasks.
    waiting, open_ = {}, {}
    for t in tasks:
        k = str(prio[t.sid])
        open_[k] = open_.get(k, 0) + 1
        if status[t.sid] in ('pending', 'reserved'):
            waiting[k] = waiting.get(k, 0) + 1
    got_prio = {k: int(v) for k, v in (rt.tasks_by_priority or {}).items() if int(v)}
    assert got_prio in (waiting, open_), got_prio
    # The oldest task is still pending, so it is the longest waiting one either way.
    assert status[tasks[0].sid] == 'pending'
    assert rt.longest_task_waiting_sid == tasks[0].sid
    assert isinstance(rt.longest_task_waiting_age, int) and rt.longest_task_waiting_age >= 0


# --- statistics endpoints ------------------------------------------------------------

def _small_history(sim, w):
    """3 tasks created, 1 canceled, 1 reserved by the only available worker."""
    alice = w.add_worker('alice', activity='Available')
    bob = w.add_worker('bob')
    tasks = [w.add_task(priority=p) for p in (1, 2, 3)]
    w.wait_worker_reservation(alice.sid)
    pending = [t for t in tasks if w.task(t.sid).assignment_status == 'pending']
    w.ws.tasks(pending[0].sid).update(assignment_status='canceled', reason='hangup')
    return alice, bob, tasks


def test_statistics_endpoints_read_into_typed_objects(sim):
    w = Workspace(sim, sim.client())
    alice, bob, tasks = _small_history(sim, w)
    q = w.queues['support']
    s = w.ws.statistics().fetch()
    assert s.workspace_sid == sim.workspace_sid and s.account_sid == sim.account_sid
    assert isinstance(s.realtime, dict) and isinstance(s.cumulative, dict)
    assert int(s.cumulative['tasks_created']) == 3
    assert int(s.cumulative['tasks_canceled']) == 1
    assert int(s.cumulative['reservations_created']) == 1
    assert int(s.realtime['total_workers']) == 2
    rt = w.ws.real_time_statistics().fetch()
    assert {k: int(v) for k, v in rt.tasks_by_status.items() if k in
            ('pending', 'reserved', 'assigned', 'wrapping')} == \
        {'pending': 1, 'reserved': 1, 'assigned': 0, 'wrapping': 0}
    cum = w.ws.cumulative_statistics().fetch()
    assert (cum.tasks_created, cum.tasks_canceled, cum.tasks_completed) == (3, 1, 0)
    assert (cum.reservations_created, cum.reservations_accepted) == (1, 0)
    assert isinstance(cum.start_time, datetime.datetime)
    assert isinstance(cum.end_time, datetime.datetime) and cum.end_time >= cum.start_time
    assert 14 * 60 <= (cum.end_time - cum.start_time).total_seconds() <= 16 * 60, \
        'Minutes defaults to 15'
    one = w.ws.cumulative_statistics().fetch(minutes=1)
    assert (one.end_time - one.start_time).total_seconds() == 60
    qs = w.ws.task_queues(q.sid).statistics().fetch()
    assert qs.task_queue_sid == q.sid
    assert int(qs.cumulative['tasks_entered']) == 3
    assert int(qs.realtime['total_eligible_workers']) == 2
    qrt = w.ws.task_queues(q.sid).real_time_statistics().fetch()
    assert qrt.task_queue_sid == q.sid
    assert qrt.total_eligible_workers == 2
    assert qrt.total_tasks == 2
    assert qrt.longest_task_waiting_sid in {t.sid for t in tasks}
    qcum = w.ws.task_queues(q.sid).cumulative_statistics().fetch()
    assert (qcum.tasks_entered, qcum.tasks_canceled, qcum.reservations_created) == (3, 1, 1)
    lst = w.ws.task_queues.statistics.list()
    assert [x.task_queue_sid for x in lst] == [q.sid]
    assert int(lst[0].cumulative['tasks_entered']) == 3
    wst = w.ws.workers.statistics().fetch()
    assert int(wst.realtime['total_workers']) == 2
    assert int(wst.cumulative['reservations_created']) == 1
    # twilio-python 7.x hangs the Workers/RealTimeStatistics and Workers/CumulativeStatistics
    # lists on a worker context; the path has no worker SID in it.
    wrt = w.ws.workers(alice.sid).real_time_statistics().fetch()
    acts = {a['friendly_name']: int(a['workers']) for a in wrt.activity_statistics}
    assert acts['Available'] == 1 and acts['Offline'] == 1
    wcum = w.ws.workers(alice.sid).cumulative_statistics().fetch()
    assert wcum.reservations_created == 1
    names = {d['friendly_name'] for d in wcum.activity_durations}
    assert {'Available', 'Offline'} <= names
    one_worker = w.ws.workers(alice.sid).statistics().fetch()
    assert int(one_worker.cumulative['reservations_created']) == 1
    wf = w.ws.workflows(sim.workflow_sid).cumulative_statistics().fetch()
    assert wf.tasks_entered == 3


def test_bulk_queue_real_time_statistics_json_body(sim):
    w = Workspace(sim, sim.client())
    _small_history(sim, w)
    q = w.queues['support']
    status, _, body = sim.http_json('POST', sim.ws_path + '/TaskQueues/RealTimeStatistics',
                                    json_body={'QueueSids': [q.sid]})
    assert status == 200, body
    assert body['task_queue_response_count'] == 1
    item = body['task_queue_data'][0]
    assert item['task_queue_sid'] == q.sid
    assert int(item['tasks_by_status']['pending']) == 1
    assert int(item['total_eligible_workers']) == 2
    status, _, body = sim.http_json('POST', sim.ws_path + '/TaskQueues/RealTimeStatistics',
                                    json_body={'QueueSids': []})
    assert status == 400
    status, _, body = sim.http_json('POST', sim.ws_path + '/TaskQueues/RealTimeStatistics',
                                    json_body={'QueueSids': ['WQ%032x' % i
                                                             for i in range(51)]})
    assert status == 400


# --- validation and links ------------------------------------------------------------

BAD_REQUESTS = [
    ('GET', '/Tasks?PageSize=1001', None),
    ('GET', '/Tasks?PageSize=0', None),
    ('GET', '/Tasks?PageSize=abc', None),
    ('GET', '/Tasks?AssignmentStatus=bogus', None),
    ('GET', '/Tasks?Ordering=Foo:asc', None),
    ('GET', '/Tasks?Ordering=DateCreated:asc,VirtualStartTime:desc', None),
    ('GET', '/Tasks?PageToken=garbage', None),
    ('POST', '/Tasks', {'Attributes': '{}', 'Priority': '-1'}),
    ('POST', '/Tasks', {'Attributes': '{}', 'Timeout': '1209601'}),
    ('POST', '/Tasks', {'Attributes': '[1,2]'}),
    ('POST', '/Tasks', {'Attributes': json.dumps({'a': 'x' * 4100})}),
    ('POST', '/Workers', {}),
    ('POST', '/Workers', {'FriendlyName': 'x' * 65}),
    ('POST', '/Workers', {'FriendlyName': 'ok', 'ActivitySid': 'WA' + '0' * 32}),
    ('POST', '/Activities', {'FriendlyName': 'y' * 65}),
    ('POST', '', {'TimeoutActivitySid': 'WA' + '1' * 32}),
    ('GET', '/CumulativeStatistics?Minutes=abc', None),
    ('GET', '/CumulativeStatistics?StartDate=2020-13-01', None),
    ('GET', '/CumulativeStatistics?SplitByWaitTime=5,x', None),
]


@pytest.mark.parametrize('method,suffix,body', BAD_REQUESTS,
                         ids=['%s %s' % (m, s[:40]) for m, s, _ in BAD_REQUESTS])
def test_bad_parameters_are_400_with_an_error_body(sim, method, suffix, body):
    status, headers, doc = sim.http_json(method, sim.ws_path + suffix, body=body)
    assert status == 400, doc
    assert isinstance(doc.get('code'), int) and doc['status'] == 400
    assert doc['more_info'] == 'https://www.twilio.com/docs/errors/%d' % doc['code']


def test_wrong_method_is_405(sim):
    status, _, doc = sim.http_json('DELETE', sim.ws_path + '/Tasks')
    assert status == 405 and doc['status'] == 405


def test_every_advertised_link_resolves(sim):
    """A link in a resource is a promise: following it must not 404."""
    c = sim.client()
    w = Workspace(sim, c)
    alice = w.add_worker('alice', activity='Available')
    t = w.add_task()
    r = w.wait_reservation(t.sid)
    resources = [sim.ws_path, sim.ws_path + '/Workers/' + alice.sid,
                 sim.ws_path + '/Tasks/' + t.sid,
                 sim.ws_path + '/Tasks/' + t.sid + '/Reservations/' + r.sid,
                 sim.ws_path + '/TaskQueues/' + w.queues['support'].sid,
                 sim.ws_path + '/Workflows/' + sim.workflow_sid,
                 sim.ws_path + '/Activities/' + w.activity_sid('Available')]
    broken = []
    for path in resources:
        status, _, doc = sim.http_json('GET', path)
        assert status == 200, path
        for name, url in sorted(doc.get('links', {}).items()):
            parts = urllib.parse.urlsplit(url)
            assert parts.netloc == urllib.parse.urlsplit(sim.base_url).netloc, url
            st, _, _ = sim.http_json('GET', parts.path + ('?' + parts.query if parts.query
                                                          else ''))
            if st != 200:
                broken.append('%s links.%s -> %s (%d)' % (path.rsplit('/', 1)[-1], name,
                                                          parts.path, st))
    assert not broken, 'links that do not resolve:\n  ' + '\n  '.join(broken)
