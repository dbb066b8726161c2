"""/api/stats, /api/tasks, /api/workers, /api/queues, /healthz, /readyz and /metrics
after a little traffic, each compared with the emulator's own state."""

import json

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def test_api_views_equal_the_emulator(make_stack):
    stack = make_stack(record=True)
    dh.Day(stack, seed=2).run(3)
    dh.converge(lambda: dh.model_differences(stack), what='/api views agreeing')
    stats = stack.daemon.get_json('/api/stats')
    dh.converge(lambda: dh.stats_differences(stack, stack.daemon.get_json('/api/stats'),
                                             '/api/stats'), what='/api/stats agreeing')
    assert isinstance(stats, dict)


def test_api_responses_are_json_with_content_type(make_stack):
    stack = make_stack()
    # api.h: /api/stats is 503 (JSON error) until the first refresh, then 200.
    r = stack.daemon.get('/api/stats')
    if r.status == 503:
        assert r.json().get('error'), r
    dh.converge(lambda: [] if stack.daemon.get('/api/stats').status == 200 else
                ['/api/stats not 200'], what='the first statistics refresh')
    for path in ('/api/stats', '/api/tasks', '/api/workers', '/api/queues'):
        r = stack.daemon.get(path)
        assert r.status == 200, (path, r)
        assert r.headers.get('content-type', '').startswith('application/json'), (path, r.headers)
        json.loads(r.body)
    # DESIGN.md: a wrong method is 405 (before any identity check), naming the right ones.
    r = stack.daemon.request('POST', '/api/tasks', body=b'', headers={'Content-Length': '0'})
    assert r.status == 405, ('POST /api/tasks', r)
    assert r.headers.get('allow') == 'GET, HEAD', r.headers
    assert r.json()['error'] == 'method_not_allowed', r


def test_api_tasks_lists_only_open_tasks(make_stack):
    stack = make_stack(record=True)
    w = dh.Day(stack, seed=4, agents=0, extra_workers=0).w
    t1 = w.add_task()
    t2 = w.add_task()
    dh.converge(lambda: [] if {t1.sid, t2.sid} <= set(dh.api_tasks(stack.daemon)) else
                ['tasks missing'], what='both tasks listed')
    w.ws.tasks(t1.sid).update(assignment_status='canceled', reason='hangup')
    dh.converge(lambda: [] if set(dh.api_tasks(stack.daemon)) == {t2.sid} else
                ['/api/tasks %r' % sorted(dh.api_tasks(stack.daemon))],
                what='the canceled task leaving /api/tasks')


def test_metrics_parse_and_agree(make_stack):
    stack = make_stack(record=True)
    dh.Day(stack, seed=6).run(2)
    dh.converge(lambda: dh.model_differences(stack), what='the model agreeing')
    r = stack.daemon.get('/metrics')
    assert r.status == 200
    assert r.headers.get('content-type', '').startswith('text/plain'), r.headers
    m = dh.parse_prometheus(r.body.decode())
    rec = stack.recorder.events()
    by_type = {}
    for e in rec:
        t = e['form'].get('EventType')
        by_type[t] = by_type.get(t, 0) + 1
    for t, n in by_type.items():
        assert dh.metric_sum(m, 'trhubd_events_received_total', type=t) == n, \
            '%s: /metrics says %r, the emulator delivered %d' % (
                t, dh.metric_sum(m, 'trhubd_events_received_total', type=t), n)
    # The latency histogram is cumulative and counts every accepted webhook.
    buckets = [(lb['le'], v) for n, lb, v in m['samples']
               if n == 'trhubd_webhook_latency_seconds_bucket']
    values = [v for _, v in buckets]
    assert values == sorted(values) and buckets[-1][0] == '+Inf'
    assert dh.metric_sum(m, 'trhubd_webhook_latency_seconds_count') == buckets[-1][1] >= len(rec)
    assert m['types'].get('trhubd_sse_clients') == 'gauge'
    assert dh.metric_sum(m, 'trhubd_stats_refreshes_total', result='ok') >= 1
    # Requests to Twilio as the daemon counts them never exceed what the emulator served.
    daemon_reqs = dh.metric_sum(m, 'trhubd_twilio_requests_total')
    assert 0 < daemon_reqs <= stack.rest_request_count()


def test_health_and_ready(make_stack):
    stack = make_stack()
    assert stack.daemon.get('/healthz').status == 200
    assert stack.daemon.get('/readyz').status == 200
