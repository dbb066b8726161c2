"""trhub-task-fix: only wrapping tasks are completed, and only old enough ones."""

import itertools
import threading
import time

REASON = 'stuck in wrapping, completed by trhub-task-fix'
_names = itertools.count()


def _assigned(ws):
    """A task assigned to a fresh worker, who is then made unavailable so that
    tasks created later stay pending (returns the task SID)."""
    worker = ws.add_worker('agent%d' % next(_names), activity='Available')
    t = ws.add_task()
    r = ws.wait_reservation(t.sid)
    assert r.worker_sid == worker.sid
    ws.reservation(t.sid, r.sid).update(reservation_status='accepted')
    ws.set_activity(worker.sid, 'Unavailable')
    assert ws.task(t.sid).assignment_status == 'assigned'
    return t.sid


def _wrapping(ws):
    sid = _assigned(ws)
    ws.ws.tasks(sid).update(assignment_status='wrapping')
    return sid


def _status(ws, sid):
    return ws.task(sid).assignment_status


def test_named_wrapping_task_is_completed_with_the_reason(cli, ws):
    a = _wrapping(ws)
    b = _wrapping(ws)
    r = cli('trhub-task-fix', a, b)
    assert r.rc == 0, r
    for sid in (a, b):
        t = ws.task(sid)
        assert t.assignment_status == 'completed'
        assert t.reason == REASON
        assert sid + '  completed' in r.stdout
    assert r.stdout.splitlines()[-1] == '2 completed, 0 left alone, 0 failed'


def test_named_tasks_in_other_states_are_left_alone(cli, ws):
    assigned = _assigned(ws)
    wrapping = _wrapping(ws)
    pending = ws.add_task().sid
    r = cli('trhub-task-fix', pending, assigned, wrapping)
    assert r.rc == 1, r
    assert _status(ws, pending) == 'pending'
    assert _status(ws, assigned) == 'assigned'
    assert _status(ws, wrapping) == 'completed'
    assert 'pending, not wrapping: left alone' in r.stdout
    assert 'assigned, not wrapping: left alone' in r.stdout


def test_already_completed_is_not_a_failure(cli, ws):
    sid = _wrapping(ws)
    assert cli('trhub-task-fix', sid).rc == 0
    r = cli('trhub-task-fix', sid)
    assert r.rc == 0, r
    assert 'already completed' in r.stdout


def test_unknown_task_fails_and_bad_sid_is_usage(cli):
    r = cli('trhub-task-fix', 'WT' + '0' * 32)
    assert r.rc == 1, r
    assert 'no such task' in r.stdout + r.stderr
    r = cli('trhub-task-fix', 'WT123')
    assert r.rc == 2, r
    r = cli('trhub-task-fix')
    assert r.rc == 2, r


def test_all_wrapping_requires_older_than(cli, ws):
    sid = _wrapping(ws)
    r = cli('trhub-task-fix', '--all-wrapping')
    assert r.rc == 2, r
    assert '--older-than' in r.stderr
    assert _status(ws, sid) == 'wrapping'
    r = cli('trhub-task-fix', '--all-wrapping', '--older-than', '1m', sid)
    assert r.rc == 2, r


def test_all_wrapping_leaves_young_and_non_wrapping_tasks(cli, ws, sim):
    old = [_wrapping(ws), _wrapping(ws)]
    sim.advance(20 * 60_000)
    young = _wrapping(ws)
    assigned = _assigned(ws)
    pending = ws.add_task().sid
    r = cli('trhub-task-fix', '--all-wrapping', '--older-than', '10m', '--json')
    assert r.rc == 0, r
    doc = r.json()
    assert doc['summary'] == {'completed': 2, 'wouldComplete': 0, 'skipped': 1, 'failed': 0}
    by_sid = {t['sid']: t for t in doc['tasks']}
    assert set(by_sid) == set(old) | {young}
    assert by_sid[young]['action'] == 'skipped'
    assert by_sid[young]['wrappingS'] < 600
    for sid in old:
        assert by_sid[sid]['action'] == 'completed'
        # 20 minutes and a little more; TaskRouter's dates are whole seconds, so the
        # time since date_updated, worked out from the task's age, can read 1 s short.
        assert by_sid[sid]['wrappingS'] >= 1199
        assert ws.task(sid).reason == REASON
    assert _status(ws, young) == 'wrapping'
    assert _status(ws, assigned) == 'assigned'
    assert _status(ws, pending) == 'pending'


def test_wrapping_time_counts_from_the_wrap_not_the_creation(cli, ws, sim):
    # An old task that only started wrapping now is young for --older-than.
    worker = ws.add_worker('late', activity='Available')
    t = ws.add_task()
    r = ws.wait_reservation(t.sid)
    assert r.worker_sid == worker.sid
    ws.reservation(t.sid, r.sid).update(reservation_status='accepted')
    sim.advance(60 * 60_000)
    ws.ws.tasks(t.sid).update(assignment_status='wrapping')
    r = cli('trhub-task-fix', '--all-wrapping', '--older-than', '10m')
    assert r.rc == 0, r
    assert _status(ws, t.sid) == 'wrapping'
    r = cli('trhub-task-fix', '--older-than', '10m', t.sid)
    assert r.rc == 1, r
    assert 'not longer than' in r.stdout
    assert _status(ws, t.sid) == 'wrapping'


def test_dry_run_changes_nothing(cli, ws, sim):
    a = _wrapping(ws)
    sim.advance(60 * 60_000)
    r = cli('trhub-task-fix', '--all-wrapping', '--older-than', '30m', '--dry-run')
    assert r.rc == 0, r
    assert a + '  would complete' in r.stdout
    assert r.stdout.splitlines()[-1].startswith('dry run: 1 would be completed')
    assert _status(ws, a) == 'wrapping'
    doc = cli('trhub-task-fix', a, '--dry-run', '--json').json()
    assert doc['dryRun'] is True
    assert doc['tasks'][0]['action'] == 'would_complete'
    assert _status(ws, a) == 'wrapping'


def test_failed_update_is_reported(cli, ws, sim):
    a = _wrapping(ws)
    sim.add_fault(method='POST', path='/v1/Workspaces/*/Tasks/' + a, status=400, code=20001,
                  message='Invalid transition')
    r = cli('trhub-task-fix', a)
    assert r.rc == 1, r
    assert 'Invalid transition' in r.stderr
    assert r.stdout.splitlines()[-1] == '0 completed, 0 left alone, 1 failed'
    assert _status(ws, a) == 'wrapping'


def _conflict_while_updating(cli, ws, sim, reason):
    """Runs task-fix on a wrapping task that someone completes (with reason)
    between the tool's read and its If-Match update; returns (sid, result)."""
    sid = _wrapping(ws)
    # Only the tool's update is held back; the library's update below goes first.
    sim.add_fault(method='POST', path='/v1/Workspaces/*/Tasks/' + sid, latency_ms=1500, count=1)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault('r', cli('trhub-task-fix', sid)))
    t.start()
    deadline = time.monotonic() + 30
    while sim.faults()['faults'][0]['hits'] < 1:
        assert time.monotonic() < deadline, 'the update never arrived'
    ws.ws.tasks(sid).update(assignment_status='completed', reason=reason)
    t.join(60)
    return sid, out['r']


def test_412_from_another_fix_run_counts_as_completed(cli, ws, sim):
    # Another trhub-task-fix (or our own earlier attempt, whose answer was
    # lost and retried) completed the task first: the goal is met, and the
    # 412 must not be reported as "left alone" with exit 1.
    sid, r = _conflict_while_updating(cli, ws, sim, REASON)
    assert r.rc == 0, r
    assert sid + '  completed' in r.stdout, r
    assert ws.task(sid).reason == REASON


def test_412_from_someone_else_says_what_the_task_is_now(cli, ws, sim):
    sid, r = _conflict_while_updating(cli, ws, sim, 'done by the agent')
    assert r.rc == 1, r
    assert 'changed since it was read (now completed): left alone' in r.stdout, r
    assert ws.task(sid).reason == 'done by the agent'
