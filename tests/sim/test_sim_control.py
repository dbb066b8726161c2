"""The /sim/ control API: faults as the official library sees them, counters, reset,
clock, state, bulk seeding."""

import json
import time

import pytest
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException

import trhub_harness as th
from trhub_tr import Workspace

WORKERS = 'GET /v1/Workspaces/{WS}/Workers'


def _ws(sim, c=None):
    return (c or sim.client()).taskrouter.v1.workspaces(sim.workspace_sid)


def test_fault_429_with_retry_after(sim):
    sim.add_fault(method='GET', path='/v1/Workspaces/WS*', status=429, code=20429,
                  message='Too Many Requests', retry_after=7, count=2)
    c = sim.client()
    ws = _ws(sim, c)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as e:
            ws.fetch()
        assert e.value.status == 429 and e.value.code == 20429
        hdrs = {k.lower(): v for k, v in c.http_client.last_response.headers.items()}
        assert hdrs.get('retry-after') == '7'
    assert ws.fetch().sid == sim.workspace_sid, 'a count-limited fault expires'


def test_fault_429_on_a_list(sim):
    # twilio-python 7.x raises a plain TwilioException carrying the response for a list
    # whose first page fails.
    sim.add_fault(method='GET', path='/v1/Workspaces/*/Workers', status=429, code=20429,
                  retry_after=3, count=1)
    c = sim.client()
    ws = _ws(sim, c)
    with pytest.raises(TwilioException) as e:
        ws.workers.list()
    resp = e.value.args[1]
    assert resp.status_code == 429
    assert json.loads(resp.text)['code'] == 20429
    assert {k.lower(): v for k, v in resp.headers.items()}.get('retry-after') == '3'
    assert ws.workers.list() == []
    # Other routes were never affected.
    assert ws.activities.list()


def test_fault_raw_body_shape(sim):
    sim.add_fault(path='/v1/Workspaces/*', status=503, code=20503, message='down', count=1)
    status, headers, body = sim.http_json('GET', sim.ws_path)
    assert status == 503
    assert body == {'code': 20503, 'message': 'down',
                    'more_info': 'https://www.twilio.com/docs/errors/20503', 'status': 503}
    assert 'retry-after' not in headers
    assert sim.http_json('GET', sim.ws_path)[0] == 200


def test_fault_503_through_library_and_method_filter(sim):
    sim.add_fault(method='POST', path='/v1/Workspaces/*/Tasks', status=503)
    ws = _ws(sim)
    with pytest.raises(TwilioRestException) as e:
        ws.tasks.create(attributes='{}')
    assert e.value.status == 503
    assert ws.tasks.list() == [], 'GET is not matched by a POST fault'
    sim.clear_faults()
    assert ws.tasks.create(attributes='{}').assignment_status == 'pending'


def _fault_hits(sim):
    lst = sim.faults()
    faults = lst['faults'] if isinstance(lst, dict) else lst
    return [f['hits'] for f in faults]


def test_fault_latency(sim):
    """Latency delays the matching request (a lower bound on the wall clock never
    flakes) and only that one: the fault's hit counter, not a stopwatch, shows the
    other path was not matched."""
    sim.add_fault(path='/v1/Workspaces/*/Activities', latency_ms=400)
    ws = _ws(sim)
    t0 = time.monotonic()
    assert len(ws.activities.list()) == 3, 'latency alone does not change the answer'
    assert time.monotonic() - t0 >= 0.4
    assert _fault_hits(sim) == [1]
    ws.workers.list()
    assert _fault_hits(sim) == [1], 'a request on another path is not delayed'


def test_latency_does_not_block_other_requests(sim):
    """While one answer is held back, other requests are answered: they all finish
    before the held one (held for 5 s, so the order, not a stopwatch, is the proof)."""
    import threading
    sim.add_fault(path='/v1/Workspaces/*/Activities', latency_ms=5000, count=1)
    ws = _ws(sim)
    out = {}
    th_ = threading.Thread(target=lambda: out.setdefault('a', ws.activities.list()))
    th_.start()
    th.wait_until(lambda: _fault_hits(sim) == [1], what='the delayed request to arrive')
    for _ in range(5):
        assert _ws(sim).workers.list() == []
    assert th_.is_alive() and 'a' not in out, \
        'the held answer must still be pending: a delayed answer stalled the event loop'
    th_.join(15)
    assert len(out['a']) == 3


def test_fault_drop_is_a_connection_error(sim):
    sim.add_fault(path='/v1/Workspaces/*/Workers', drop=True, count=1)
    ws = _ws(sim)
    with pytest.raises(requests.exceptions.ConnectionError):
        ws.workers.list()
    assert ws.workers.list() == []


def test_fault_percent_fifty_fires_sometimes(sim):
    sim.add_fault(path='/v1/Workspaces/*/Workers', status=500, percent=50)
    hits = 0
    for _ in range(200):
        hits += sim.http('GET', sim.ws_path + '/Workers')[0] == 500
    assert 40 <= hits <= 160


def test_fault_duration_expires_with_clock(sim):
    sim.add_fault(path='/v1/Workspaces/*/Workers', status=500, duration_ms=60_000)
    assert sim.http('GET', sim.ws_path + '/Workers')[0] == 500
    sim.advance(61_000)
    assert sim.http('GET', sim.ws_path + '/Workers')[0] == 200


def test_faults_list_and_clear(sim):
    sim.add_fault(path='/v1/Services/*', status=429, retry_after=1)
    sim.add_fault(method='POST', path='/v1/Workspaces/*/Tasks', status=503, count=3)
    lst = sim.faults()
    faults = lst['faults'] if isinstance(lst, dict) else lst
    assert len(faults) == 2
    assert {f['path'] for f in faults} == {'/v1/Services/*', '/v1/Workspaces/*/Tasks'}
    sim.clear_faults()
    lst = sim.faults()
    faults = lst['faults'] if isinstance(lst, dict) else lst
    assert faults == []


def test_fault_rejects_bad_json(sim):
    status, _, _ = sim.http('POST', '/sim/faults', body=b'{nope', auth=None,
                            headers={'Content-Type': 'application/json'})
    assert status == 400


def test_counters_per_route_and_status(sim):
    sim.clear_counters()
    ws = _ws(sim)
    for _ in range(3):
        ws.workers.list()
    t = ws.tasks.create(attributes='{}')
    ws.tasks(t.sid).fetch()
    with pytest.raises(TwilioRestException):
        ws.tasks('WT' + '0' * 32).fetch()
    sim.http('GET', sim.ws_path, auth=(sim.account_sid, 'bad'))
    req = sim.counters()['requests']
    w = req[WORKERS]
    assert w['total'] == 3 and {k: int(v) for k, v in w['by_status'].items()} == {'200': 3}
    one = req['GET /v1/Workspaces/{WS}/Tasks/{WT}']
    assert one['total'] == 2 and {k: int(v) for k, v in one['by_status'].items()} == \
        {'200': 1, '404': 1}
    assert req['POST /v1/Workspaces/{WS}/Tasks']['by_status'] == {'201': 1}
    assert req['GET /v1/Workspaces/{WS}']['by_status'] == {'401': 1}
    sim.clear_counters()
    req = sim.counters()['requests']
    assert req.get(WORKERS, {'total': 0})['total'] == 0


def test_counters_count_faulted_requests(sim):
    sim.clear_counters()
    sim.add_fault(path='/v1/Workspaces/*/Workers', status=429, count=2)
    for _ in range(3):
        sim.http('GET', sim.ws_path + '/Workers')
    w = sim.counters()['requests'][WORKERS]
    assert w['total'] == 3
    assert {k: int(v) for k, v in w['by_status'].items()} == {'429': 2, '200': 1}


def test_sync_write_counters(sim):
    svc = sim.client().sync.v1.services(sim.sync_service_sid)
    svc.documents.create(unique_name='stats', data={'n': 0})
    for i in range(5):
        svc.documents('stats').update(data={'n': i + 1})
    sync_writes = sim.counters()['sync_writes']
    entry = None
    if isinstance(sync_writes, dict):
        for k, v in sync_writes.items():
            if 'stats' in k or (isinstance(v, dict) and v.get('unique_name') == 'stats'):
                entry = v
    elif isinstance(sync_writes, list):
        entry = next((v for v in sync_writes if 'stats' in json.dumps(v)), None)
    assert entry is not None, sync_writes
    assert entry['writes'] == 6, entry


def test_callback_counters(start_sim, receiver):
    sim = start_sim(receiver=receiver)
    Workspace(sim, sim.client()).add_task()
    receiver.wait_count(1, event_type='task.created')
    n = len(receiver.events())

    def settled():
        cb = sim.counters()['callbacks']
        return cb if cb.get('delivered') == len(receiver.events()) and \
            not cb.get('in_flight') and not cb.get('pending') else None
    cb = th.wait_until(settled, what='callback counters to settle')
    assert cb['delivered'] == len(receiver.events()) >= n
    assert cb['failed'] == 0 and cb['dropped'] == 0
    assert cb['queued'] == cb['delivered'], 'filtered events are never queued'


def test_reset_restores_startup_state(start_sim):
    sim = start_sim('--workers', '3')
    c = sim.client()
    w = Workspace(sim, c)
    before = sorted(x.sid for x in w.ws.workers.list())
    w.add_worker('extra')
    for _ in range(4):
        w.add_task()
    svc = c.sync.v1.services(sim.sync_service_sid)
    svc.documents.create(unique_name='d', data={})
    sim.add_fault(path='/nothing', status=500)
    sim.advance(10_000)
    sim.reset()
    after = w.ws.workers.list()
    assert len(after) == len(before) == 3
    assert all(x.activity_name == 'Offline' for x in after)
    assert w.ws.tasks.list() == []
    assert svc.documents.list() == []
    faults = sim.faults()
    assert (faults['faults'] if isinstance(faults, dict) else faults) == []
    assert w.ws.fetch().sid == sim.workspace_sid
    assert {a.friendly_name for a in w.ws.activities.list()} == {'Offline', 'Available',
                                                                 'Unavailable'}
    t = w.add_task()
    assert w.task(t.sid).age < 5, 'the clock offset is reset'


def test_clock_advance_ages_tasks(sim):
    w = Workspace(sim, sim.client())
    t = w.add_task()
    assert w.task(t.sid).age < 5
    sim.advance(90_000)
    assert 90 <= w.task(t.sid).age < 95


def test_clock_rejects_negative(sim):
    status, _, _ = sim.http('POST', '/sim/clock', auth=None,
                            body=json.dumps({'advance_ms': -5}).encode(),
                            headers={'Content-Type': 'application/json'})
    assert status == 400


def test_state_reports_model(sim):
    w = Workspace(sim, sim.client())
    t = w.add_task()
    x = w.add_worker('alice')
    st = sim.state()
    flat = json.dumps(st)
    assert t.sid in flat and x.sid in flat


def test_bulk_workers(sim):
    out = sim.bulk_workers(20, activity='Available', skills=['support', 'fr'])
    assert out is not None
    w = Workspace(sim, sim.client())
    workers = w.ws.workers.list()
    assert len(workers) == 20
    assert all(x.activity_name == 'Available' for x in workers)
    full = w.ws.workers(workers[0].sid).fetch()
    assert set(json.loads(full.attributes)['skills']) >= {'support', 'fr'}
    t = w.add_task()
    assert w.wait_reservation(t.sid).worker_sid in {x.sid for x in workers}


def test_bulk_tasks_count_bounds(sim):
    status, _, _ = sim.http('POST', '/sim/tasks', auth=None,
                            body=json.dumps({'count': -1}).encode(),
                            headers={'Content-Type': 'application/json'})
    assert status == 400


def test_control_api_needs_no_auth_but_rest_does(sim):
    assert sim.http('GET', '/sim/counters', auth=None)[0] == 200
    assert sim.http('GET', sim.ws_path, auth=None)[0] == 401
