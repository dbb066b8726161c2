"""30 % 429/503 on statistics and Sync for a period: no webhook gets a non-2xx
(ingest never waits for Twilio), and afterwards every Sync object converges to
the truth, with per-object write rates never above the cap."""

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

WRITE_CAP = 5


def add_faults(sim):
    # The emulator rolls each matching fault in turn; 429 at 18 % then 503 at ~15 %
    # of the rest makes ~30 % of the requests fail.
    for path in ('/v1/Workspaces/*Statistics*', '/v1/Services/*'):
        sim.add_fault(path=path, status=429, code=20429 if 'Workspaces' in path else 54009,
                      message='Too Many Requests', retry_after=1, percent=18)
        sim.add_fault(path=path, status=503, code=20503, message='Service Unavailable',
                      percent=15)


def faulted(stack):
    """Requests that the faults answered with 429/503, by route family."""
    out = {'stats': 0, 'sync': 0}
    for route, c in stack.sim.counters()['requests'].items():
        n = sum(int(v) for k, v in c.get('by_status', {}).items() if k in ('429', '503'))
        if 'Statistics' in route:
            out['stats'] += n
        elif '/v1/Services/' in route:
            out['sync'] += n
    return out


def test_faults_on_statistics_and_sync_then_convergence(make_stack):
    stack = make_stack(record=True, daemon_env={'TRHUB_SYNC_WRITES_PER_S': str(WRITE_CAP)},
                       expected_errors=[])
    day = dh.Day(stack, seed=11)
    day.run(2)
    add_faults(stack.sim)
    day.run(8)
    # Let the daemon keep working under faults for a while (bounded by counts, not time).
    dh.th.wait_until(lambda: faulted(stack)['stats'] >= 3 and faulted(stack)['sync'] >= 3,
                     timeout=dh.CONVERGE_TIMEOUT, what='the faults to hit statistics and Sync')
    stack.sim.clear_faults()
    rec = stack.recorder
    dh.converge(lambda: dh.all_differences(stack, (rec.latest() or {}).get('form')),
                what='convergence after the fault period')
    bad = rec.non_2xx()
    assert bad == [], 'webhooks answered non-2xx during faults: %r' % [
        (r['form'].get('EventType'), r['status']) for r in bad][:20]
    f = faulted(stack)
    assert f['stats'] > 0 and f['sync'] > 0, 'the faults never fired: %r' % f
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_twilio_retries_total') + \
        dh.metric_sum(m, 'trhubd_stats_refreshes_total', result='failed') > 0, \
        'faults were answered but /metrics shows neither retries nor failed refreshes'
    writes = dh.sync_write_stats(stack)
    over = {k: w for k, w in writes.items() if w['max_per_second'] > WRITE_CAP}
    assert not over, 'writes per second above the cap %d: %r' % (WRITE_CAP, over)


def test_sync_outage_then_recovery(make_stack):
    """Sync refusing everything for a while: nothing is lost, the latest value wins."""
    stack = make_stack(record=True)
    day = dh.Day(stack, seed=5)
    day.run(1)
    stack.sim.add_fault(path='/v1/Services/*', status=503, code=20503, message='down')
    day.run(4)
    n_before = stack.recorder.count()
    assert n_before > 0
    stack.sim.clear_faults()
    rec = stack.recorder
    dh.converge(lambda: dh.sync_differences(stack, (rec.latest() or {}).get('form')),
                what='Sync catching up after the outage')
    assert rec.non_2xx() == []
    m = stack.daemon.metrics()
    assert dh.metric_sum(m, 'trhubd_sync_superseded_total') > 0, \
        'values queued during the outage should have been superseded (latest wins)'
