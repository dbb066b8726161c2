"""kill -9 mid-traffic and restart on the same (systemd-held) socket: the model is
rebuilt from the emulator and converges, and the Sync objects follow, including
the removal of map items for tasks that ended while trhubd was down."""

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
