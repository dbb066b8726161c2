"""What a newcomer meets first on the emulator: the root URL describes it, a busy port
is named as such, and a person can take over a simulated agent."""

import os
import re
import socket
import subprocess

import trhub_harness as th


def test_root_and_sim_index_describe_the_emulator(sim):
    for path in ('/', '/sim', '/sim/'):
        status, headers, doc = sim.http_json('GET', path, auth=None)
        assert status == 200, (path, status)
        assert doc['name'] == 'trhub-sim'
        assert 'emulator' in doc['description']
        assert doc['base_url'] == sim.base_url
        routes = {(r['method'], r['path']) for r in doc['control_routes']}
        for want in (('POST', '/sim/reset'), ('POST', '/sim/faults'), ('GET', '/sim/state'),
                     ('POST', '/sim/clock'), ('GET', '/sim/agents'),
                     ('POST', '/sim/agents/{WK}/claim'), ('POST', '/sim/agents/{WK}/release')):
            assert want in routes, want
        assert all(r.get('description') for r in doc['control_routes']), \
            'every control route is described'
        # Only control routes are listed, never the authenticated Twilio ones.
        assert not any(r['path'].startswith('/v1') for r in doc['control_routes'])


def test_busy_port_is_named_with_the_option():
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        env = {k: v for k, v in os.environ.items() if k not in ('LISTEN_FDS', 'LISTEN_PID')}
        r = subprocess.run([th.sim_binary(), '--listen', '127.0.0.1:%d' % port],
                           capture_output=True, text=True, timeout=20, env=env)
    finally:
        holder.close()
    assert r.returncode == 1, r
    assert 'in use' in r.stderr and '--listen' in r.stderr, r.stderr
    assert 'Cannot assign requested address' not in r.stderr


def _activity(sim, name):
    for w in sim.client().taskrouter.v1.workspaces(sim.workspace_sid).workers.list():
        if w.friendly_name == name:
            return w.activity_name, w.sid
    raise AssertionError('no worker %s' % name)


def test_takeover_stops_the_generator_and_release_resumes_it(start_sim):
    sim = start_sim('--agents', '2', '--seed', '7')
    claimed = sim.control('POST', '/sim/agents/agent-001/claim')
    assert claimed['claimed'] is True
    sid = claimed['worker_sid']
    assert sid.startswith('WK')
    agents = {a['friendly_name']: a for a in sim.control('GET', '/sim/agents')['agents']}
    assert agents['agent-001']['claimed'] is True and agents['agent-002']['claimed'] is False
    sim.advance(60_000)
    assert _activity(sim, 'agent-001')[0] == 'Offline', 'a claimed agent is left alone'
    assert _activity(sim, 'agent-002')[0] != 'Offline', 'the other agent goes on'

    # A reservation for the claimed agent waits for the person, not the generator.
    ws = sim.client().taskrouter.v1.workspaces(sim.workspace_sid)
    ws.workers(sid).update(activity_sid=[a.sid for a in ws.activities.list()
                                         if a.friendly_name == 'Available'][0])
    ws.workers(_activity(sim, 'agent-002')[1]).update(
        activity_sid=[a.sid for a in ws.activities.list() if a.friendly_name == 'Offline'][0])
    sim.control('POST', '/sim/agents/agent-002/claim')
    task = ws.tasks.create(workflow_sid=sim.workflow_sid, attributes='{"type":"inbound"}')
    sim.advance(30_000)
    res = ws.workers(sid).reservations.list()
    assert [r.reservation_status for r in res] == ['pending'], res
    assert ws.tasks(task.sid).fetch().assignment_status == 'reserved'

    # Released (by SID): the generator answers the reservation.
    released = sim.control('POST', '/sim/agents/%s/release' % sid)
    assert released == {'worker_sid': sid, 'claimed': False}
    sim.advance(10_000)
    assert ws.tasks(task.sid).fetch().assignment_status in ('assigned', 'wrapping', 'completed')


def test_takeover_of_an_unknown_agent_is_404(start_sim):
    sim = start_sim('--agents', '1')
    status, _, doc = sim.http_json('POST', '/sim/agents/agent-999/claim', auth=None)
    assert status == 404 and '/sim/agents' in doc['message']


def test_conference_page_tokens_look_like_twilios(start_sim):
    sim = start_sim('--agents', '10', '--calls-per-minute', '30', '--seed', '5')
    for _ in range(6):
        sim.advance(30_000)
    c = sim.client()
    whole = [x.sid for x in c.conferences.list(page_size=1000)]
    assert len(whole) >= 7, whole
    paged = [x.sid for x in c.conferences.list(page_size=3)]
    assert paged == whole, 'three at a time, newest first, nothing lost or repeated'
    path = '/2010-04-01/Accounts/%s/Conferences.json?PageSize=3' % sim.account_sid
    seen = []
    while path:
        status, _, doc = sim.http_json('GET', path)
        assert status == 200
        seen += [x['sid'] for x in doc['conferences']]
        path = doc['next_page_uri']
        if path:
            token = re.search(r'PageToken=([^&]+)', path).group(1)
            assert re.fullmatch(r'PA\d{1,12}', token), token
    assert seen == whole


CHANNELS = ['default', 'voice', 'sms', 'chat', 'video']


def _ws(sim):
    return sim.client().taskrouter.v1.workspaces(sim.workspace_sid)


def test_task_channels_are_twilios_five(sim):
    ws = _ws(sim)
    chans = ws.task_channels.list()
    assert [c.unique_name for c in chans] == CHANNELS
    for c in chans:
        assert ws.task_channels(c.sid).fetch().unique_name == c.unique_name
        assert ws.task_channels(c.unique_name).fetch().sid == c.sid
    by_name = {c.unique_name: c.sid for c in chans}
    for name in CHANNELS:
        t = ws.tasks.create(workflow_sid=sim.workflow_sid, attributes='{}', task_channel=name)
        assert t.task_channel_unique_name == name and t.task_channel_sid == by_name[name]
    t = ws.tasks.create(workflow_sid=sim.workflow_sid, attributes='{}',
                        task_channel=by_name['chat'])
    assert t.task_channel_unique_name == 'chat'
    status, _, doc = sim.http_json('POST', sim.ws_path + '/Tasks',
                                   body={'WorkflowSid': sim.workflow_sid, 'TaskChannel': 'fax'})
    assert status == 400 and 'fax' in doc['message']


def test_worker_channel_update(sim):
    ws = _ws(sim)
    wk = ws.workers.create(friendly_name='chatty', attributes='{"skills": ["support"]}')
    voice = ws.workers(wk.sid).worker_channels('voice').fetch()
    assert voice.task_channel_unique_name == 'voice' and voice.configured_capacity == 1
    chat = ws.workers(wk.sid).worker_channels('chat').update(capacity=3)
    assert chat.configured_capacity == 3 and chat.available is True
    assert ws.workers(wk.sid).worker_channels(chat.sid).fetch().configured_capacity == 3
    sms = ws.workers(wk.sid).worker_channels('sms').update(available=False)
    assert sms.available is False and sms.configured_capacity == 1
    for bad in ({'Capacity': '51'}, {'Capacity': '-1'}, {'Capacity': 'x'},
                {'Available': 'maybe'}):
        status, _, doc = sim.http_json('POST', sim.ws_path + '/Workers/%s/Channels/chat' % wk.sid,
                                       body=bad)
        assert status == 400, (bad, status, doc)
    assert ws.workers(wk.sid).worker_channels('chat').fetch().configured_capacity == 3
    status, _, _ = sim.http_json('POST', sim.ws_path + '/Workers/%s/Channels/fax' % wk.sid,
                                 body={'Capacity': '2'})
    assert status == 404


def _held(ws, wk):
    return sorted((r.task_sid, r.reservation_status) for r in ws.workers(wk).reservations.list()
                  if r.reservation_status in ('pending', 'accepted', 'wrapping'))


def test_capacity_per_channel_is_honoured(sim):
    ws = _ws(sim)
    avail = [a.sid for a in ws.activities.list() if a.friendly_name == 'Available'][0]
    wk = ws.workers.create(friendly_name='multi', attributes='{"skills": ["support"]}',
                           activity_sid=avail).sid
    ws.workers(wk).worker_channels('chat').update(capacity=2)
    mk = lambda ch: ws.tasks.create(workflow_sid=sim.workflow_sid,  # noqa: E731
                                    attributes='{"skills": "support"}', task_channel=ch).sid
    chats = [mk('chat') for _ in range(3)]
    voices = [mk('voice') for _ in range(2)]
    held = _held(ws, wk)
    assert sorted(t for t, _ in held) == sorted(chats[:2] + voices[:1]), held
    assert ws.tasks(chats[2]).fetch().assignment_status == 'pending'
    assert ws.tasks(voices[1]).fetch().assignment_status == 'pending'
    ch = ws.workers(wk).worker_channels('chat').fetch()
    assert ch.available_capacity_percentage == 0 and ch.assigned_tasks == 0
    # Accepting moves it to assigned_tasks; capacity left stays 0.
    res = [r for r in ws.workers(wk).reservations.list() if r.task_sid == chats[0]][0]
    ws.workers(wk).reservations(res.sid).update(reservation_status='accepted')
    ch = ws.workers(wk).worker_channels('chat').fetch()
    assert ch.assigned_tasks == 1 and ch.available_capacity_percentage == 0
    # More capacity lets the waiting chat in at once.
    ws.workers(wk).worker_channels('chat').update(capacity=3)
    assert ws.tasks(chats[2]).fetch().assignment_status == 'reserved'
    # An unavailable channel takes nothing new; the others go on.
    ws.workers(wk).worker_channels('sms').update(available=False)
    sms = mk('sms')
    assert ws.tasks(sms).fetch().assignment_status == 'pending'
    ws.workers(wk).worker_channels('sms').update(available=True)
    assert ws.tasks(sms).fetch().assignment_status == 'reserved'


def test_multitasking_off_means_one_task_at_a_time(sim):
    ws = _ws(sim)
    ws.update(multi_task_enabled=False)
    avail = [a.sid for a in ws.activities.list() if a.friendly_name == 'Available'][0]
    wk = ws.workers.create(friendly_name='single', attributes='{"skills": ["support"]}',
                           activity_sid=avail).sid
    ws.workers(wk).worker_channels('chat').update(capacity=5)
    for ch in ('chat', 'chat', 'voice'):
        ws.tasks.create(workflow_sid=sim.workflow_sid, attributes='{}', task_channel=ch)
    assert len(_held(ws, wk)) == 1


def test_the_simulated_contact_center_looks_like_one(start_sim):
    """An hour of the demo's default load (8 agents, 4 calls a minute): a plausible,
    steady picture, judged by the official library from the emulator's own statistics."""
    sim = start_sim('--agents', '8', '--calls-per-minute', '4', '--reservation-timeout', '20',
                    '--seed', '2')
    ws = _ws(sim)
    seen_activities = set()
    busy_samples = 0
    max_pending = 0
    chats_side_by_side = False
    for minute in range(60):
        for _ in range(4):
            sim.advance(15_000)
            rt = ws.real_time_statistics().fetch()
            max_pending = max(max_pending, rt.tasks_by_status['pending'])
            seen_activities |= {a['friendly_name'] for a in rt.activity_statistics
                                if a['workers'] > 0}
        if minute % 5 == 4:
            workers = ws.workers.list()
            on_task = 0
            for w in workers:
                chans = {c.task_channel_unique_name: c
                         for c in ws.workers(w.sid).worker_channels.list()}
                if any(c.assigned_tasks for c in chans.values()):
                    on_task += 1
                if chans['chat'].assigned_tasks >= 2:
                    chats_side_by_side = True
            busy_samples += on_task > 0
    cum = ws.cumulative_statistics().fetch(minutes=60, split_by_wait_time='30')
    below = cum.split_by_wait_time['30']['below']['reservations_accepted']
    sl = 100.0 * below / (cum.reservations_accepted + cum.tasks_canceled)
    assert 70 <= sl <= 95, sl
    assert cum.tasks_canceled > 0, 'some callers abandon'
    assert cum.reservations_rejected > 0 and cum.reservations_timed_out > 0, \
        'agents sometimes reject or miss a reservation'
    assert {'Available', 'Wrap Up', 'Break'} <= seen_activities, seen_activities
    assert busy_samples == 12, 'agents are on tasks all through the hour'
    assert 2 <= max_pending <= 12, 'queues build up now and then, and drain'
    assert ws.real_time_statistics().fetch().tasks_by_status['pending'] <= 6
    channels = {t.task_channel_unique_name for t in ws.tasks.list()}
    assert {'voice', 'chat'} <= channels, channels
    assert chats_side_by_side, "an agent holds two chats at once"
