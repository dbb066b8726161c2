"""trhub-task-list, cross-checked against what the official library reads from the sim."""

import json

from trhub_tr import call_attributes

TASKS_ROUTE = 'GET /v1/Workspaces/{WS}/Tasks'


def _library_tasks(ws, **kw):
    return {t.sid: t for t in ws.ws.tasks.list(page_size=1000, **kw)}


def _get_requests(sim, route):
    return sim.counters()['requests'].get(route, {'total': 0})['total']


def test_paging_2500_tasks_json_matches_the_library(cli, ws, sim):
    n = 2537
    sim.bulk_tasks(n, attributes={'type': 'support', 'from': '+15550000000'}, priority=3)
    sim.clear_counters()
    r = cli('trhub-task-list', '--json')
    assert r.rc == 0, r
    pages = _get_requests(sim, TASKS_ROUTE)
    assert pages == 3, 'PageSize=1000: three pages for %d tasks, got %d requests' % (n, pages)
    doc = r.json()
    lib = _library_tasks(ws)
    assert len(lib) == n and doc['count'] == n
    got = {t['sid']: t for t in doc['tasks']}
    assert len(got) == n, 'no duplicates'
    assert set(got) == set(lib)
    for sid, t in lib.items():
        g = got[sid]
        assert g['status'] == t.assignment_status
        assert g['priority'] == t.priority
        assert g['queueSid'] == t.task_queue_sid
        assert g['queueName'] == t.task_queue_friendly_name
        assert g['from'] == json.loads(t.attributes).get('from')
        assert abs(g['ageS'] - t.age) <= 5


def test_sorted_by_priority_then_age(cli, ws, sim):
    old_low = ws.add_task(priority=1)
    sim.advance(60_000)
    high = ws.add_task(priority=10)
    sim.advance(60_000)
    young_low = ws.add_task(priority=1)
    mid = ws.add_task(priority=5)
    doc = cli('trhub-task-list', '--json').json()
    assert [t['sid'] for t in doc['tasks']] == [high.sid, mid.sid, old_low.sid, young_low.sid]
    r = cli('trhub-task-list')
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:-1]]
    assert rows == [high.sid, mid.sid, old_low.sid, young_low.sid]
    assert r.stdout.splitlines()[-1] == '4 tasks'


def test_status_filter_is_repeatable(cli, ws):
    pending = ws.add_task()
    canceled = ws.add_task()
    ws.ws.tasks(canceled.sid).update(assignment_status='canceled', reason='hangup')
    other = ws.add_task()
    ws.ws.tasks(other.sid).update(assignment_status='canceled', reason='hangup')
    sids = lambda *a: {t['sid'] for t in cli('trhub-task-list', '--json', *a).json()['tasks']}  # noqa: E731,E501
    assert sids('--status', 'pending') == {pending.sid}
    assert sids('--status', 'canceled') == {canceled.sid, other.sid}
    assert sids('--status', 'canceled', '--status', 'pending') == \
        {pending.sid, canceled.sid, other.sid}
    assert sids('--status', 'wrapping') == set()
    r = cli('trhub-task-list', '--status', 'stuck')
    assert r.rc == 2 and 'stuck' in r.stderr, r


def test_queue_filter_by_name_or_sid(cli, ws):
    t = ws.add_task()
    lib = ws.task(t.sid)
    sids = lambda *a: {x['sid'] for x in cli('trhub-task-list', '--json', *a).json()['tasks']}  # noqa: E731,E501
    assert sids('--queue', lib.task_queue_friendly_name) == {t.sid}
    assert sids('--queue', lib.task_queue_friendly_name.upper()) == {t.sid}
    assert sids('--queue', lib.task_queue_sid) == {t.sid}
    r = cli('trhub-task-list', '--queue', 'no-such-queue')
    assert r.rc == 2 and r.stdout == '', r
    assert 'no-such-queue' in r.stderr and lib.task_queue_friendly_name in r.stderr, r.stderr


def test_older_than(cli, ws, sim):
    old = ws.add_task()
    sim.advance(10 * 60_000)
    young = ws.add_task()
    sids = lambda *a: {x['sid'] for x in cli('trhub-task-list', '--json', *a).json()['tasks']}  # noqa: E731,E501
    assert sids('--older-than', '5m') == {old.sid}
    assert sids('--older-than', '300') == {old.sid}
    assert sids('--older-than', '1h') == set()
    assert sids('--older-than', '0s') == {old.sid, young.sid}
    for bad in ('5x', '', '-5m', 'm'):
        assert cli('trhub-task-list', '--older-than', bad).rc == 2


def test_reservations_workers_caller_and_conference(cli, ws, client):
    alice = ws.add_worker('alice', activity='Available')
    attrs = call_attributes(1)
    t = ws.add_task(**attrs)
    r = ws.wait_reservation(t.sid)
    ws.reservation(t.sid, r.sid).update(instruction='conference', from_='+15550001111')
    conf = client.conferences.list(friendly_name=t.sid)[0]
    waiting = ws.add_task(priority=2)
    doc = cli('trhub-task-list', '--json').json()
    got = {x['sid']: x for x in doc['tasks']}
    mine = got[t.sid]
    lib = ws.task(t.sid)
    assert mine['status'] == lib.assignment_status == 'assigned'
    assert mine['from'] == attrs['from']
    assert mine['conferenceSid'] == conf.sid == json.loads(lib.attributes)['conference']['sid']
    lib_res = ws.reservations(t.sid)
    assert [(x['sid'], x['status'], x['workerSid'], x['workerName'])
            for x in mine['reservations']] == \
        [(x.sid, x.reservation_status, x.worker_sid, x.worker_name) for x in lib_res]
    assert mine['reservations'][0]['workerName'] == 'alice'
    assert mine['reservations'][0]['workerSid'] == alice.sid
    assert got[waiting.sid]['reservations'] == []
    assert doc['tasks'][0]['sid'] == waiting.sid, 'priority 2 sorts first'
    table = cli('trhub-task-list').stdout
    assert 'alice:accepted' in table and conf.sid in table and attrs['from'] in table


def test_429_and_503_mid_run_are_retried_and_output_is_complete(cli, ws, sim):
    n = 2100
    sim.bulk_tasks(n, attributes={'type': 'support'})
    # Half of the list requests fail until four faults have fired: the run meets
    # them between pages, and the retry policy (5 attempts) outlasts them.
    sim.add_fault(method='GET', path='/v1/Workspaces/*/Tasks', status=429, retry_after=0,
                  percent=50, count=3)
    sim.add_fault(method='GET', path='/v1/Workspaces/*/Tasks', status=503, count=1)
    r = cli('trhub-task-list', '--json', '-v')
    assert r.rc == 0, r
    assert r.json()['count'] == n
    assert len({t['sid'] for t in r.json()['tasks']}) == n
    assert 'retrying' in r.stderr, 'at least the 503 fault fired'


def test_persistent_503_exits_4_after_retries(cli, ws, sim):
    ws.add_task()
    sim.add_fault(method='GET', path='/v1/Workspaces/*/Tasks', status=503)
    r = cli('trhub-task-list')
    assert r.rc == 4, r
    assert 'list tasks' in r.stderr and '503' in r.stderr and 'after 5 tries' in r.stderr
    assert r.stdout == ''


def test_persistent_429_names_the_rate_limit(cli, ws, sim):
    sim.add_fault(method='GET', path='/v1/Workspaces/*/Tasks', status=429, retry_after=0)
    r = cli('trhub-task-list')
    assert r.rc == 4, r
    assert 'rate limited' in r.stderr and '429' in r.stderr


def test_empty_workspace(cli, sim):
    r = cli('trhub-task-list')
    assert r.rc == 0 and r.stdout == '0 tasks\n', r
    assert cli('trhub-task-list', '--json').json() == {
        'workspaceSid': sim.workspace_sid, 'count': 0, 'tasks': []}
