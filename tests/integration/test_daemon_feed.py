"""Is the workspace still sending its events here? trhubd says so in /readyz, the log and
the stream when the Event Callback URL points elsewhere or no event arrives for
events_silence_warn_s while tasks are open; workspace_callback = manage sets the URL."""

import json

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def _warnings(stack):
    r = stack.daemon.get('/readyz')
    assert r.status == 200, r
    return {w['kind']: w['message'] for w in r.json()['warnings']}


def _ws(stack):
    return stack.client.taskrouter.v1.workspaces(stack.sim.workspace_sid)


def test_a_workspace_sending_elsewhere_is_reported(make_stack):
    stack = make_stack(callbacks=False)
    want = stack.public_url + '/taskrouter_event'
    w = dh.th.wait_until(lambda: _warnings(stack).get('callback'), what='the callback warning')
    assert 'empty' in w and want in w and 'workspace_callback = manage' in w
    assert _ws(stack).fetch().event_callback_url in (None, ''), 'warn mode changes nothing'
    dh.th.wait_until(lambda: any('Event Callback URL' in line
                                 for line in stack.daemon.stderr_lines),
                     what='the log saying it too')


def test_workspace_callback_manage_sets_the_url(make_stack):
    stack = make_stack(callbacks=False, daemon_env={'TRHUB_WORKSPACE_CALLBACK': 'manage'})
    want = stack.public_url + '/taskrouter_event'
    dh.th.wait_until(lambda: _ws(stack).fetch().event_callback_url == want,
                     what='trhubd setting the Event Callback URL')
    dh.th.wait_until(lambda: _warnings(stack) == {}, what='no warning once it is set')
    # Events now reach trhubd: a task created in the emulator shows up.
    t = _ws(stack).tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
    dh.converge(lambda: [] if t.sid in dh.api_tasks(stack.daemon) else ['task missing'],
                what='the new task reaching trhubd through the callback')


def test_events_silence_is_reported_and_cleared(make_stack):
    stack = make_stack(daemon_env={'TRHUB_EVENTS_SILENCE_WARN_S': '2'})
    sse = dh.SSEClient(stack.daemon.port)
    try:
        ws = _ws(stack)
        t = ws.tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
        dh.converge(lambda: [] if t.sid in dh.api_tasks(stack.daemon) else ['task missing'],
                    what='the task reaching trhubd')
        assert 'eventsSilent' not in _warnings(stack)
        # The workspace's events now go elsewhere: trhubd hears nothing more.
        ws.update(event_callback_url='http://127.0.0.1:9/nowhere')
        ws.tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
        msg = dh.th.wait_until(lambda: _warnings(stack).get('eventsSilent'), timeout=30,
                               what='the silence warning')
        assert 'no TaskRouter event for' in msg and 'tasks are open' in msg
        sse.wait(lambda c: any(json.loads(m['data']).get('kind') == 'eventsSilent' and
                               json.loads(m['data'])['active'] for m in c.of('warning')),
                 what='a warning on the stream')
        # Events again: the warning goes, on /readyz and on the stream.
        ws.update(event_callback_url=stack.callback_url)
        ws.tasks.create(workflow_sid=stack.sim.workflow_sid, attributes='{}')
        dh.th.wait_until(lambda: 'eventsSilent' not in _warnings(stack), timeout=30,
                         what='the silence warning clearing')
        sse.wait(lambda c: any(json.loads(m['data']).get('kind') == 'eventsSilent' and
                               not json.loads(m['data'])['active'] for m in c.of('warning')),
                 what='the clearing on the stream')
    finally:
        sse.close()


def test_no_warning_without_open_tasks(make_stack):
    stack = make_stack(daemon_env={'TRHUB_EVENTS_SILENCE_WARN_S': '1'})
    dh.th.wait_until(lambda: stack.daemon.get('/readyz').status == 200, what='ready')
    import time
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert _warnings(stack) == {}, 'an idle workspace is not a silent one'
        time.sleep(0.5)
