"""auto_complete_wrapping across a lease handover (doc/scaling.md).

Completing a wrapped-up task is a TaskRouter write, so only the Sync lease holder does
it. A task already wrapping when the lease changes hands must be completed by the new
holder (before, it waited for the task's next change, which never comes), and the old
holder, alive but cut off from Sync, must not complete it too (before, the completion it
had scheduled still ran). Setup as in test_daemon_twobox: nginx mirrors TaskRouter's
callbacks to both instances; hub-a reaches Sync through a forwarder that can stop
answering, TaskRouter directly.
"""

import json
import time

import daemon_harness as dh
from test_daemon_twobox import (TTL_S, free_port, lease_of, nginx,  # noqa: F401
                                pair_behind_hole, start_pair, wait)

make_stack = dh.make_stack_fixture()

AFTER_S = 10  # wrapping_complete_after_s: longer than hub-a's fence and hub-b's takeover
DONE = 'completed after wrap-up (auto_complete_wrapping)'


def task_status(daemon, sid):
    tasks = dh.as_list(daemon.get_json('/api/tasks'), 'tasks')
    return next((t.get('status') for t in tasks if t.get('sid') == sid), None)


def test_new_holder_completes_wrapping_task_old_holder_does_not(make_stack, nginx):  # noqa: F811
    front = free_port()
    public = 'http://127.0.0.1:%d' % front
    env = {'TRHUB_SYNC_LEASE': 'true', 'TRHUB_SYNC_LEASE_TTL_S': str(TTL_S),
           'TRHUB_TRUSTED_PROXIES': '127.0.0.1', 'TRHUB_INSTANCE_ID': 'hub-a',
           'TRHUB_AUTO_COMPLETE_WRAPPING': 'true',
           'TRHUB_WRAPPING_COMPLETE_AFTER_S': str(AFTER_S)}
    stack = make_stack(public_url=public, callbacks=False, start_daemon=False, daemon_env=env)
    with pair_behind_hole(stack) as (a, b, hole):
        b.auto_login = dh.SUPERVISOR
        nginx(front, a.port, b.port)
        stack.ws.update(event_callback_url=public + '/taskrouter_event')
        both = start_pair(a, b, TTL_S, login=True)

        ws = stack.client.taskrouter.v1.workspaces(stack.sim.workspace_sid)
        avail = next(x.sid for x in ws.activities.list() if x.friendly_name == 'Available')
        worker = ws.workers.create(friendly_name='wanda', activity_sid=avail,
                                   attributes=json.dumps({'skills': ['support']}))
        task = ws.tasks.create(workflow_sid=stack.sim.workflow_sid,
                               attributes=json.dumps({'type': 'support'}))
        res = dh.th.wait_until(lambda: ws.tasks(task.sid).reservations.list(
            reservation_status='pending'), 10, 'a reservation for the task')[0]
        assert res.worker_sid == worker.sid
        ws.tasks(task.sid).reservations(res.sid).update(reservation_status='accepted')
        ws.tasks(task.sid).update(assignment_status='wrapping')
        wrapped = time.monotonic()
        wait(both, lambda: task_status(a, task.sid) == task_status(b, task.sid) == 'wrapping',
             10, 'both models seeing the task wrapping')

        # hub-a (holder, its completion scheduled AFTER_S from now) loses Sync: it fences
        # itself at 3/4 of the lease time and hub-b takes the lease when it runs out.
        hole.cut.set()
        wait(both, lambda: (lease_of(b) or {}).get('role') == 'holder', TTL_S * 4 / 3 + 5,
             'hub-b taking the lease')
        assert lease_of(a)['role'] == 'standby'
        took = time.monotonic() - wrapped
        assert took < AFTER_S, 'takeover after %.1f s: too late to tell who completes' % took
        assert ws.tasks(task.sid).fetch().assignment_status == 'wrapping'

        t = dh.th.wait_until(lambda: (lambda x: x if x.assignment_status == 'completed'
                                      else None)(ws.tasks(task.sid).fetch()),
                             AFTER_S + 5, 'the task completed by the new holder')
        assert t.reason == 'wrap-up ended (auto_complete_wrapping)'
        completed = time.monotonic() - wrapped
        # Not before its wrap-up time (clocks: the emulator's event time and ours agree
        # here), and by the new holder only; the old one dropped its timer with the lease.
        assert completed >= AFTER_S - 1, 'completed after %.1f s of wrap-up' % completed
        time.sleep(2)  # hub-a's dropped timer would have fired by now
        log_a = '\n'.join(a.past_stderr + a.stderr_lines)
        log_b = '\n'.join(b.past_stderr + b.stderr_lines)
        assert task.sid + ' ' + DONE in log_b, log_b[-3000:]
        # hub-a neither completed the task nor tried to (its Sync retries may name it)
        assert not [line for line in log_a.splitlines() if task.sid in line and
                    ('wrap-up' in line or 'auto-completion' in line)], log_a[-3000:]
        assert 'scheduled auto-completion(s) dropped' in log_a, log_a[-3000:]
        print('takeover %.1f s after wrap-up began; completed by hub-b after %.1f s' % (
            took, completed))
        hole.cut.clear()
        a.stop()
        b.stop()
