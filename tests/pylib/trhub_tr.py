"""TaskRouter helpers for tests, written only against the official library.

They take a th.Sim (for the SIDs) and a twilio.rest.Client, and never look at
the emulator's internals, so the same helpers can drive a real workspace.
"""

import json

from trhub_harness import DEFAULT_TIMEOUT, wait_until


class Workspace:
    def __init__(self, sim, client):
        self.sim = sim
        self.client = client
        self.ws = client.taskrouter.v1.workspaces(sim.workspace_sid)
        self._activities = None
        self._queues = None

    # --- lookups ---------------------------------------------------------------

    @property
    def activities(self):
        """friendly_name -> ActivityInstance."""
        if self._activities is None:
            self._activities = {a.friendly_name: a for a in self.ws.activities.list()}
        return self._activities

    def activity_sid(self, name):
        return self.activities[name].sid

    @property
    def queues(self):
        if self._queues is None:
            self._queues = {q.friendly_name: q for q in self.ws.task_queues.list()}
        return self._queues

    def last_etag(self):
        resp = self.client.http_client.last_response
        for k, v in resp.headers.items():
            if k.lower() == 'etag':
                return v
        return None

    # --- workers ---------------------------------------------------------------

    def add_worker(self, name, skills=('support',), activity=None, **attrs):
        a = {'skills': list(skills), 'contact_uri': 'client:' + name}
        a.update(attrs)
        kw = {}
        if activity is not None:
            kw['activity_sid'] = self.activity_sid(activity)
        return self.ws.workers.create(friendly_name=name, attributes=json.dumps(a), **kw)

    def set_activity(self, worker_sid, name):
        return self.ws.workers(worker_sid).update(activity_sid=self.activity_sid(name))

    # --- tasks -----------------------------------------------------------------

    def add_task(self, priority=None, **attrs):
        a = {'type': 'support'}
        a.update(attrs)
        kw = {'attributes': json.dumps(a)}
        if priority is not None:
            kw['priority'] = priority
        return self.ws.tasks.create(workflow_sid=self.sim.workflow_sid, **kw)

    def task(self, sid):
        return self.ws.tasks(sid).fetch()

    def reservations(self, task_sid, status=None):
        kw = {}
        if status is not None:
            kw['reservation_status'] = status
        return self.ws.tasks(task_sid).reservations.list(**kw)

    def worker_reservations(self, worker_sid, status=None):
        kw = {}
        if status is not None:
            kw['reservation_status'] = status
        return self.ws.workers(worker_sid).reservations.list(**kw)

    def wait_reservation(self, task_sid, timeout=DEFAULT_TIMEOUT):
        """The task's pending reservation. Routing may run on the next loop turn of the
        emulator, so this polls (bounded) rather than assuming it is synchronous."""
        return wait_until(lambda: self.reservations(task_sid, 'pending'), timeout,
                          'a pending reservation for ' + task_sid)[0]

    def wait_worker_reservation(self, worker_sid, timeout=DEFAULT_TIMEOUT):
        return wait_until(lambda: self.worker_reservations(worker_sid, 'pending'), timeout,
                          'a pending reservation for worker ' + worker_sid)[0]

    def reservation(self, task_sid, res_sid):
        return self.ws.tasks(task_sid).reservations(res_sid)


def call_attributes(n, **extra):
    """Attributes of an inbound call task created by hand (twilio-api.md 3.5:
    call_sid and to are required for the conference instruction)."""
    a = {'type': 'support', 'call_sid': 'CA%032x' % (0xca11 * 1000 + n),
         'from': '+1555010%04d' % n, 'to': '+15550009999', 'caller': 'caller %d' % n}
    a.update(extra)
    return a
