"""Recomputes TaskRouter state and statistics from received event callbacks.

Only the event *types* (and the SIDs they name) drive the model, so the
expectations are independent of the counters and status fields the
emulator reports; those are then compared against this model.
"""

import json

# Task status implied by each event type (twilio-api.md 3.4, "Lifecycle of a Task").
TASK_STATUS_AFTER = {
    'task.created': 'pending',
    'reservation.created': 'reserved',
    'reservation.accepted': 'assigned',
    'reservation.rejected': 'pending',
    'reservation.timeout': 'pending',
    'reservation.rescinded': 'pending',
    'task.wrapup': 'wrapping',
    'task.completed': 'completed',
    'task.canceled': 'canceled',
}

OPEN_STATUSES = ('pending', 'reserved', 'assigned', 'wrapping')

CUMULATIVE_EVENTS = {
    'tasks_created': 'task.created',
    'tasks_canceled': 'task.canceled',
    'tasks_completed': 'task.completed',
    'tasks_deleted': 'task.deleted',
    'reservations_created': 'reservation.created',
    'reservations_accepted': 'reservation.accepted',
    'reservations_rejected': 'reservation.rejected',
    'reservations_timed_out': 'reservation.timeout',
    'reservations_canceled': 'reservation.canceled',
    'reservations_rescinded': 'reservation.rescinded',
}


class EventModel:
    def __init__(self, events, workers=None):
        """events: Callback objects in arrival order. workers: optional
        {worker_sid: activity_name} known before the first event."""
        self.events = list(events)
        self.task_status = {}      # WT -> derived status
        self.task_queue = {}       # WT -> WQ
        self.task_created_ms = {}  # WT -> TimestampMs of task.created
        self.task_priority = {}
        self.waits_accepted = []   # seconds from task creation to reservation.accepted
        self.waits_accepted_in_queue = []
        self.waits_canceled = []   # seconds from task creation to task.canceled
        self.accepted_by_queue = {}
        self.queue_entered_ms = {}
        self.open_reservations = {}  # WR -> (WT, WK)
        self.assigned = {}           # WT -> WK while assigned or wrapping
        self.worker_activity = dict(workers or {})
        self.worker_name = {}
        self.counts = {}
        self.last_status_field = {}  # WT -> TaskAssignmentStatus in its latest event
        for e in self.events:
            self._apply(e)

    def _apply(self, e):
        et = e.get('EventType')
        self.counts[et] = self.counts.get(et, 0) + 1
        wt = e.get('TaskSid')
        ms = int(e.get('TimestampMs') or 0)
        if wt:
            if e.get('TaskAssignmentStatus'):
                self.last_status_field[wt] = e.get('TaskAssignmentStatus')
            if e.get('TaskQueueSid'):
                self.task_queue.setdefault(wt, e.get('TaskQueueSid'))
            if e.get('TaskPriority') not in (None, ''):
                self.task_priority[wt] = int(e.get('TaskPriority'))
        if et == 'task.created':
            self.task_created_ms[wt] = ms
        if et == 'task-queue.entered' and wt:
            self.queue_entered_ms[wt] = ms
            self.task_queue[wt] = e.get('TaskQueueSid')
        if et in TASK_STATUS_AFTER and wt:
            self.task_status[wt] = TASK_STATUS_AFTER[et]
        if et == 'reservation.canceled' and wt:
            # The task is canceled (task.canceled follows) or goes back to the queue.
            if self.task_status.get(wt) == 'reserved':
                self.task_status[wt] = 'pending'
        if et == 'task.deleted' and wt:
            self.task_status.pop(wt, None)
        if et == 'reservation.created':
            self.open_reservations[e.get('ReservationSid')] = (wt, e.get('WorkerSid'))
        if et in ('reservation.accepted', 'reservation.rejected', 'reservation.timeout',
                  'reservation.canceled', 'reservation.rescinded'):
            self.open_reservations.pop(e.get('ReservationSid'), None)
        if et == 'reservation.accepted':
            self.assigned[wt] = e.get('WorkerSid')
            w = (ms - self.task_created_ms.get(wt, ms)) / 1000.0
            self.waits_accepted.append(w)
            q = self.task_queue.get(wt)
            self.accepted_by_queue[q] = self.accepted_by_queue.get(q, 0) + 1
            self.waits_accepted_in_queue.append(
                (ms - self.queue_entered_ms.get(wt, self.task_created_ms.get(wt, ms))) / 1000.0)
        if et in ('task.completed', 'task.canceled', 'task.deleted'):
            self.assigned.pop(wt, None)
        if et == 'task.canceled':
            self.waits_canceled.append((ms - self.task_created_ms.get(wt, ms)) / 1000.0)
        wk = e.get('WorkerSid')
        if wk and et in ('worker.created', 'worker.activity.update'):
            self.worker_activity[wk] = e.get('WorkerActivityName')
            self.worker_name[wk] = e.get('WorkerName')
        if et == 'worker.deleted' and wk:
            self.worker_activity.pop(wk, None)

    # --- derived views -------------------------------------------------------

    def n(self, event_type):
        return self.counts.get(event_type, 0)

    def cumulative(self):
        return {k: self.n(v) for k, v in CUMULATIVE_EVENTS.items()}

    def tasks_by_status(self, queue_sid=None):
        out = {s: 0 for s in OPEN_STATUSES}
        for wt, s in self.task_status.items():
            if queue_sid is not None and self.task_queue.get(wt) != queue_sid:
                continue
            if s in out:
                out[s] += 1
        return out

    def activity_counts(self):
        out = {}
        for name in self.worker_activity.values():
            out[name] = out.get(name, 0) + 1
        return out

    def busy_workers(self):
        """Workers holding an open reservation or an assigned/wrapping task."""
        busy = set()
        for wt, wk in self.open_reservations.values():
            busy.add(wk)
        busy.update(self.assigned.values())
        return busy


def duration_stats(values):
    if not values:
        return {'avg': 0, 'min': 0, 'max': 0, 'total': 0}
    return {'avg': sum(values) / len(values), 'min': min(values), 'max': max(values),
            'total': sum(values)}


def parse_attrs(e, key='TaskAttributes'):
    return json.loads(e.get(key) or '{}')


# Which task statuses each task-related event may follow (the Task lifecycle).
_ALLOWED_FROM = {
    'task.created': (None,),
    'reservation.created': ('pending',),
    'reservation.accepted': ('reserved',),
    'reservation.rejected': ('reserved',),
    'reservation.timeout': ('reserved',),
    'reservation.rescinded': ('reserved',),
    'reservation.canceled': ('reserved', 'canceled'),
    'task.wrapup': ('assigned',),
    'task.completed': ('assigned', 'wrapping'),
    'task.canceled': ('pending', 'reserved'),
}


def causal_violations(events):
    """Lifecycle violations in arrival order: a list of human-readable strings.

    Per task, every event must be legal in the status the earlier events
    produced (task.created first; nothing but deletion after a terminal
    status), and per reservation, reservation.created must come before any
    other event of that reservation. Timestamps must not go backwards.
    """
    status = {}
    res_seen = set()
    out = []
    last_ms = None
    for e in events:
        et = e.get('EventType')
        ms = e.get('TimestampMs')
        if ms is not None and ms.isdigit():
            if last_ms is not None and int(ms) < last_ms:
                out.append('#%d %s: TimestampMs %s before the previous %d' % (e.seq, et, ms,
                                                                             last_ms))
            last_ms = int(ms)
        wt = e.get('TaskSid')
        wr = e.get('ReservationSid')
        if et and et.startswith('reservation.') and wr:
            if et == 'reservation.created':
                res_seen.add(wr)
            elif wr not in res_seen:
                out.append('#%d %s for %s before its reservation.created' % (e.seq, et, wr))
        if et not in _ALLOWED_FROM or not wt:
            continue
        cur = status.get(wt)
        if cur not in _ALLOWED_FROM[et]:
            out.append('#%d %s for %s while the task is %s' % (e.seq, et, wt, cur))
        nxt = TASK_STATUS_AFTER.get(et)
        if et == 'reservation.canceled':
            nxt = 'pending' if cur == 'reserved' else cur
        if nxt is not None:
            status[wt] = nxt
    return out
