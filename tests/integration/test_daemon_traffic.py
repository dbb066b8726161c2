"""A scripted day of traffic through trhub-sim: afterwards trhubd's model, its
/api views and the Sync objects it wrote into the emulator equal the
emulator's own state and statistics, every callback got a 2xx, and no Sync
object was written faster than sync_writes_per_s."""

import time

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

WRITE_CAP = 5


def test_scripted_day_converges(make_stack):
    stack = make_stack(record=True, daemon_env={'TRHUB_SYNC_WRITES_PER_S': str(WRITE_CAP)})
    day = dh.Day(stack, seed=7)
    day.run(8)
    rec = stack.recorder
    assert rec.count() > 50, 'the day produced only %d callbacks' % rec.count()
    # The emulator delivers in order; wait until it has nothing left to send, then
    # for trhubd to agree with it.
    dh.converge(lambda: dh.all_differences(stack, (rec.latest() or {}).get('form')),
                what='trhubd and Sync agreeing with the emulator')
    assert rec.non_2xx() == [], 'callbacks answered with non-2xx: %r' % [
        (r['form'].get('EventType'), r['status']) for r in rec.non_2xx()][:20]
    types = {r['form'].get('EventType') for r in rec.events()}
    for t in ('task.created', 'reservation.created', 'reservation.accepted',
              'reservation.rejected', 'task.completed', 'task.canceled',
              'worker.activity.update'):
        assert t in types, 'the day never produced %s: %r' % (t, sorted(types))
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_events_received_total') == len(rec.events())
    writes = dh.sync_write_stats(stack)
    for name in ('SyncTaskRouterStats', 'SyncTaskRouterEvents', 'SyncTaskRouterTasks'):
        assert name in writes, 'no writes to %s: %r' % (name, writes)
    over = {k: w for k, w in writes.items() if w['max_per_second'] > WRITE_CAP}
    assert not over, 'writes per second above the cap %d: %r' % (WRITE_CAP, over)


def test_stats_are_coalesced(make_stack):
    """Many events, few statistics fetches: bounded by stats_min_interval_ms, not by
    the number of events."""
    min_s = 1.0
    stack = make_stack(record=True, daemon_env={'TRHUB_STATS_MIN_INTERVAL_MS': '1000',
                                                'TRHUB_STATS_MAX_INTERVAL_MS': '5000'})
    day = dh.Day(stack, seed=3)
    stack.sim.clear_counters()
    n0 = stack.recorder.count()
    t0 = time.monotonic()
    rounds = 0
    while time.monotonic() - t0 < 4.0 and rounds < 400:
        day.step(new_tasks=2, advance_ms=0)
        rounds += 1
    elapsed = time.monotonic() - t0
    req = stack.sim.counters()['requests']
    events = stack.recorder.count() - n0
    stats = sum(int(c['total']) for r, c in req.items()
                if r == 'GET /v1/Workspaces/{WS}/Statistics')
    bound = int(elapsed / min_s) + 2
    assert events > 5 * bound, 'not enough events (%d) to show coalescing' % events
    assert 1 <= stats <= bound, '%d workspace statistics fetches in %.1f s for %d events ' \
        '(at most %d with stats_min_interval_ms=1000)' % (stats, elapsed, events, bound)
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_stats_coalesced_total') > 0


def test_short_lived_tasks_cost_no_map_item_requests(make_stack):
    """A task that is created and finished before its SyncTaskRouterTasks item was
    ever written needs no Sync request at all (latest wins: the pending set is
    cancelled by the remove). Sending a DELETE for an item never created wastes
    the map's write budget (sync_writes_per_s counts every item write) and, at a
    sustained event rate, builds a backlog that grows with the number of tasks."""
    stack = make_stack()
    f = dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid,
                        workflow_sid=stack.sim.workflow_sid)

    # The publisher is idle once the emulator's map request count stays unchanged
    # for 1.5 s, longer than the gap between two writes under the default cap.
    state = {'n': None, 'since': time.monotonic()}

    def idle():
        n = sum(int(c['total']) for r, c in stack.sim.counters()['requests'].items()
                if '/Maps' in r)
        if n != state['n']:
            state['n'], state['since'] = n, time.monotonic()
        return time.monotonic() - state['since'] >= 1.5

    # Baseline after trhubd's own start-up Sync work (the one listing of the tasks
    # map that tells it which items exist), so only what the tasks cause is counted.
    dh.th.wait_until(idle, timeout=dh.CONVERGE_TIMEOUT, what='the start-up Sync work settling')
    stack.sim.clear_counters()
    state['n'] = None
    n = 60
    for _ in range(n):
        wt = dh.rand_sid('WT')
        for et, st in (('task.created', 'pending'), ('task.canceled', 'canceled')):
            assert stack.webhook(f.task(et, wt, st, version=0 if st == 'pending' else 1)) \
                .status == 204
    assert dh.api_task_status(stack.daemon) == {}

    def item_requests():
        return {r: c['by_status'] for r, c in stack.sim.counters()['requests'].items()
                if '/Items' in r}

    # Let the publisher drain (bounded).
    dh.th.wait_until(idle, timeout=dh.CONVERGE_TIMEOUT, what='the Sync publisher going idle')
    req = item_requests()
    wasted = sum(int(v) for c in req.values() for k, v in c.items() if k == '404')
    assert wasted == 0, '%d map item requests for items never created (%r) after %d ' \
        'tasks that never needed an item' % (wasted, req, n)
