"""kill -9 mid-traffic and restart on the same (systemd-held) socket: the model is
rebuilt from the emulator and converges, and the Sync objects follow, including
the removal of map items for tasks that ended while trhubd was down."""

import time

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def test_kill9_mid_traffic_rebuilds_and_converges(make_stack):
    stack = make_stack(record=True)
    day = dh.Day(stack, seed=21)
    day.run(3)
    rec = stack.recorder
    n = rec.count()
    day.run_in_thread(8)
    dh.th.wait_until(lambda: rec.count() >= n + 20, timeout=dh.CONVERGE_TIMEOUT,
                     what='traffic after the first rounds')
    stack.daemon.kill9()
    # Traffic goes on (the emulator's callbacks queue in the socket's backlog).
    dh.th.wait_until(lambda: rec.count() >= n + 30 or not day.thread.is_alive(),
                     timeout=dh.CONVERGE_TIMEOUT, what='traffic while trhubd is down')
    stack.daemon.start(timeout=20)
    day.join()
    assert stack.daemon.incarnations == 2
    dh.converge(lambda: dh.all_differences(stack, (rec.latest() or {}).get('form')),
                what='the restarted daemon agreeing with the emulator')


def test_restart_while_idle_republishes_and_prunes(make_stack):
    stack = make_stack(record=True)
    day = dh.Day(stack, seed=22)
    day.run(4)
    rec = stack.recorder
    dh.converge(lambda: dh.sync_differences(stack), what='Sync before the crash')
    stack.daemon.kill9()
    # While trhubd is down, every open task ends; their map items must go on restart.
    for t in stack.sim_tasks().values():
        if t.assignment_status in ('pending', 'reserved'):
            stack.ws.tasks(t.sid).update(assignment_status='canceled', reason='gone')
        elif t.assignment_status == 'assigned':
            stack.ws.tasks(t.sid).update(assignment_status='wrapping')
            stack.ws.tasks(t.sid).update(assignment_status='completed', reason='done')
        elif t.assignment_status == 'wrapping':
            stack.ws.tasks(t.sid).update(assignment_status='completed', reason='done')
    assert stack.sim_tasks() == {}
    stack.daemon.start(timeout=20)
    dh.converge(lambda: dh.all_differences(stack, (rec.latest() or {}).get('form')),
                what='the restarted daemon agreeing with the emulator')
    assert stack.sync_map_items('SyncTaskRouterTasks') in ({}, None)


def _sync_item_requests(stack, map_name):
    """The emulator's counters for Sync map routes: {(method, kind): {status: n}}."""
    out = {}
    for route, c in stack.sim.counters().get('requests', {}).items():
        method, _, path = route.partition(' ')
        if '/v1/Services/' not in path or '/Maps' not in path:
            continue
        if path.rstrip('/').endswith('/Maps'):
            kind = 'maps'
        elif path.rstrip('/').endswith('/Items'):
            kind = 'items'
        elif '/Items/' in path:
            kind = 'item'
        else:
            kind = 'map'
        d = out.setdefault((method, kind), {})
        for status, n in c.get('by_status', {}).items():
            d[status] = d.get(status, 0) + int(n)
    return out


def test_restart_with_the_tasks_map_missing_creates_it_once(make_stack):
    """Issue 12: after a restart with SyncTaskRouterTasks deleted, the map is
    created once, the first item is written within 2 s of READY, and N items
    take one request each (N / sync_writes_per_s seconds). Before, each item
    cost create (404), create-map (409 for all but one), create again."""
    n_tasks = 40
    stack = make_stack()
    stack.sim.bulk_tasks(n_tasks)
    dh.th.wait_until(lambda: len(stack.sync_map_items('SyncTaskRouterTasks') or {}) == n_tasks,
                     timeout=dh.CONVERGE_TIMEOUT, what='every open task in the tasks map')
    stack.daemon.kill9()
    stack.client.sync.v1.services(stack.sim.sync_service_sid) \
        .sync_maps('SyncTaskRouterTasks').delete()
    assert stack.sync_map_items('SyncTaskRouterTasks') is None
    stack.sim.clear_counters()
    stack.daemon.start(timeout=20)
    ready = time.monotonic()
    first = dh.th.wait_until(lambda: stack.sync_map_items('SyncTaskRouterTasks'), timeout=10,
                             what='the first item in the re-created map')
    t_first = time.monotonic() - ready
    dh.th.wait_until(lambda: len(stack.sync_map_items('SyncTaskRouterTasks') or {}) == n_tasks,
                     timeout=dh.CONVERGE_TIMEOUT, what='every open task back in the map')
    t_all = time.monotonic() - ready
    assert first
    print('first item %.2f s, all %d items %.2f s after READY' % (t_first, n_tasks, t_all))
    req = _sync_item_requests(stack, 'SyncTaskRouterTasks')
    assert req.get(('POST', 'maps')) == {'201': 1}, req
    assert req.get(('POST', 'items')) == {'201': n_tasks}, req
    assert ('POST', 'item') not in req, req  # no update tried against the missing map
    assert t_first <= 2.0, 'first item %.2f s after READY' % t_first
    # 10 writes/s: one listing, one map create, n_tasks creates, and a second of slack.
    assert t_all <= (n_tasks + 2) / 10.0 + 1.0, 'all items %.2f s after READY' % t_all
