"""The CLIs as a newcomer meets them (issue 11): tables that fit 80, 120 and 200 columns
with SIDs shortened or dropped first, -o wide/json and --columns, what each agent is
doing, who is in each conference, -q, unknown --activity/--queue, typo suggestions,
--watch with a timestamp and change marker, and hostile servers (paging loops, escape
sequences). Judged by the emulator's own state through the official library."""

import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import cli_harness as ch

WIDTHS = (80, 120, 200)


@pytest.fixture
def busy(start_sim):
    """An emulator whose simulated contact center has run for five minutes."""
    sim = start_sim('--agents', '12', '--calls-per-minute', '20', '--seed', '11')
    for _ in range(10):
        sim.advance(30_000)
    return sim


def _run(sim, tool, *args, cols=None, **override):
    env = ch.sim_env(sim, **override)
    if cols is not None:
        env['COLUMNS'] = str(cols)
    return ch.run(tool, '--no-color', *args, env=env)


def _table(text):
    """(header columns, rows) of a table, split on runs of two or more spaces."""
    lines = [line for line in text.splitlines() if line]
    header = re.split(r'\s{2,}', lines[0].strip())
    return header, lines[1:-1]


def test_worker_status_at_80_120_200_columns(busy):
    ws = busy.client().taskrouter.v1.workspaces(busy.workspace_sid)
    workers = ws.workers.list()
    names = {w.friendly_name for w in workers}
    sids = {w.sid for w in workers}
    seen = {}
    for cols in WIDTHS:
        r = _run(busy, 'trhub-worker-status', cols=cols)
        assert r.rc == 0, r
        lines = r.stdout.splitlines()
        assert all(len(line) <= cols for line in lines), (cols, r.stdout)
        header, rows = _table(r.stdout)
        seen[cols] = header
        assert header[:2] == ['WORKER', 'ACTIVITY'] or header[:3] == ['WORKER', 'SID', 'ACTIVITY']
        for want in ('WORKER', 'ACTIVITY', 'IN ACTIVITY', 'DOING', 'FOR'):
            assert want in header, (cols, header)
        # Names and activities are never cut while a SID column could give way.
        for name in names:
            assert re.search(r'^%s\s' % re.escape(name), r.stdout, re.M), (cols, name)
        assert '~' not in r.stdout, (cols, r.stdout)
        # A full 34-character SID shows only when everything fits.
        full = any(sid in r.stdout for sid in sids)
        assert full == (cols == 200), (cols, r.stdout)
    # Narrower tables leave columns out (the SID first); they never add any.
    assert set(seen[80]) <= set(seen[120]) <= set(seen[200]), seen
    assert 'SID' not in seen[80] and 'SID' in seen[200], seen
    # What they are doing agrees with the emulator's reservations.
    doc = _run(busy, 'trhub-worker-status', '--json').json()
    on_task = [w for w in doc['workers'] if w['tasks']]
    assert on_task, 'after five minutes of traffic somebody is on a task'
    for w in on_task:
        res = ws.workers(w['sid']).reservations.list()
        live = {x.task_sid: x.reservation_status for x in res
                if x.reservation_status in ('pending', 'accepted', 'wrapping')}
        assert {t['sid']: t['reservationStatus'] for t in w['tasks']} == live, (w, live)
        for t in w['tasks']:
            task = ws.tasks(t['sid']).fetch()
            assert t['status'] == task.assignment_status
            assert t['channel'] == task.task_channel_unique_name
            assert t['caller'] == json.loads(task.attributes)['from']
            assert isinstance(t['timeInStatusS'], int) and t['timeInStatusS'] >= 0
    table = _run(busy, 'trhub-worker-status', '-o', 'wide', cols=80).stdout
    for w in on_task:
        line = [x for x in table.splitlines() if x.startswith(w['name'] + ' ')][0]
        assert any(t['sid'] in line and t['caller'] in line for t in w['tasks']), line
        if len(w['tasks']) > 1:
            assert '%d tasks' % len(w['tasks']) in line, line


def test_task_list_at_80_120_200_columns(busy):
    ws = busy.client().taskrouter.v1.workspaces(busy.workspace_sid)
    tasks = {t.sid: t for t in ws.tasks.list()}
    assert tasks
    for cols in WIDTHS:
        r = _run(busy, 'trhub-task-list', cols=cols)
        assert r.rc == 0, r
        assert all(len(line) <= cols for line in r.stdout.splitlines()), (cols, r.stdout)
        header, rows = _table(r.stdout)
        for want in ('TASK', 'STATUS', 'AGE', 'CALLER', 'RESERVATIONS'):
            assert want in header, (cols, header)
        prefixes = [row.split()[0] for row in rows]
        assert len(prefixes) == len(tasks)
        for p in prefixes:
            matches = [sid for sid in tasks if sid.startswith(p)]
            assert len(matches) == 1, ('a unique prefix', p, cols)
        if cols == 200:
            assert set(prefixes) == set(tasks), 'whole SIDs when they fit'
        else:
            assert all(len(p) < 34 for p in prefixes), (cols, prefixes)
        # Callers and reservations are whole, not cut to 5 characters.
        for sid, t in tasks.items():
            caller = json.loads(t.attributes)['from']
            assert caller in r.stdout, (cols, caller)
    r = _run(busy, 'trhub-task-list', '-o', 'wide', cols=80)
    assert all(sid in r.stdout for sid in tasks) and 'CONFERENCE' in r.stdout
    r = _run(busy, 'trhub-task-list', '--columns', 'caller,task', cols=80)
    header, rows = _table(r.stdout)
    assert header == ['CALLER', 'TASK'], header
    r = _run(busy, 'trhub-task-list', '--columns', 'caller,nope')
    assert r.rc == 2 and "no column 'nope'" in r.stderr and 'reservations' in r.stderr, r
    assert r.stdout == ''
    doc = _run(busy, 'trhub-task-list', '-o', 'json', cols=80).json()
    assert {t['sid'] for t in doc['tasks']} == set(tasks)


def test_conference_list_shows_who_is_in_each(busy):
    client = busy.client()
    confs = client.conferences.list(status='in-progress')
    assert confs, 'after five minutes of traffic some calls are in progress'
    r = _run(busy, 'trhub-conference-list', cols=80)
    assert r.rc == 0, r
    assert all(len(line) <= 80 for line in r.stdout.splitlines()), r.stdout
    header, rows = _table(r.stdout)
    assert 'WHO' in header
    for c in confs:
        labels = sorted(p.label for p in client.conferences(c.sid).participants.list())
        line = [x for x in rows if c.sid.startswith(x.split()[0])][0]
        assert ', '.join(labels) in line, (labels, line)


def test_quiet_prints_errors_only(busy):
    for tool in ('trhub-worker-status', 'trhub-task-list', 'trhub-conference-list'):
        r = _run(busy, tool, '-q')
        assert r.rc == 0 and r.stdout == '' and r.stderr == '', r
    r = _run(busy, 'trhub-task-list', '-q', TWILIO_AUTH_TOKEN='wrong')
    assert r.rc == 3 and r.stdout == '' and 'error' in r.stderr


@pytest.mark.parametrize('typo,want', [('--wacth', '--watch'), ('--jsno', '--json'),
                                       ('--activty', '--activity'), ('--colums', '--columns')])
def test_a_mistyped_flag_suggests_the_nearest(sim, typo, want):
    r = _run(sim, 'trhub-worker-status', typo, 'x' if typo != '--jsno' else '')
    assert r.rc == 2, r
    assert 'unknown option %s' % typo in r.stderr and 'did you mean %s?' % want in r.stderr, r


def test_nothing_near_is_not_suggested(sim):
    r = _run(sim, 'trhub-task-list', '--frobnicate')
    assert r.rc == 2 and 'did you mean' not in r.stderr, r


def _watch(sim, tool, *args, change=None, redraws=3):
    env = ch.sim_env(sim, COLUMNS='100')
    p = subprocess.Popen([ch.tool_path(tool), '--no-color', '--watch', '0.3', *args],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, start_new_session=True)
    headers = []
    out = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(headers) < redraws:
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if re.match(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  every 0\.3s  ', line):
                headers.append(line.rstrip('\n'))
                if len(headers) == 1 and change is not None:
                    change()
    finally:
        os.killpg(p.pid, signal.SIGINT)
        rest, err = p.communicate(timeout=30)
    return p.returncode, headers, ''.join(out), err


def test_task_list_watch_marks_changes(sim):
    ws = sim.client().taskrouter.v1.workspaces(sim.workspace_sid)
    rc, headers, out, err = _watch(sim, 'trhub-task-list', change=lambda: ws.tasks.create(
        workflow_sid=sim.workflow_sid, attributes='{"from": "+15551230000"}'))
    assert rc == 0, err
    assert len(headers) == 3, out
    assert headers[0].endswith('first view')
    assert any('changed' in h for h in headers[1:]), headers
    marked = [line for line in out.splitlines() if line.startswith('* ')]
    assert any('+15551230000' in line for line in marked), out
    assert headers[-1].endswith('no change') or 'changed' in headers[-1]


def test_conference_list_watch(sim):
    rc, headers, out, err = _watch(sim, 'trhub-conference-list', redraws=2)
    assert rc == 0, err
    assert headers[0].endswith('first view') and headers[1].endswith('no change'), headers
    assert '  0 conferences' in out


class _Hostile(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _hostile(mode):
    """A fake Twilio: the workspace, then worker pages that loop, never end, or carry escapes."""
    hits = {'workers': 0}

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            path = self.path.split('?')[0]
            base = 'http://127.0.0.1:%d' % self.server.server_address[1]
            if path.endswith('/Workers'):
                hits['workers'] += 1
                n = hits['workers']
                if mode == 'loop':
                    nxt = base + self.path
                elif mode == 'endless':
                    nxt = base + path + '?PageSize=1&Page=%d&PageToken=PA%d' % (n, n)
                else:
                    nxt = None
                name = 'agent\x1b]0;pwned\x07' if mode == 'escapes' else 'agent-%d' % n
                activity = 'Busy\x1b[2J\x1b[31m\u009b1m' if mode == 'escapes' else 'Available'
                body = {'workers': [{'sid': 'WK%032x' % n, 'friendly_name': name,
                                     'activity_name': activity, 'activity_sid': 'WA' + '0' * 32,
                                     'available': True, 'attributes': '{}',
                                     'date_status_changed': '2026-01-01T00:00:00Z'}],
                        'meta': {'key': 'workers', 'next_page_url': nxt, 'page': n - 1,
                                 'page_size': 1}}
            elif path.endswith('/Tasks'):
                body = {'tasks': [], 'meta': {'key': 'tasks', 'next_page_url': None}}
            elif '/Workspaces/' in path and path.count('/') == 3:
                body = {'sid': path.rsplit('/', 1)[1], 'friendly_name': 'hostile'}
            else:
                self.send_response(404)
                self.send_header('Content-Type', 'application/json')
                self.end_headers()
                self.wfile.write(b'{"code": 20404, "message": "not found", "status": 404}')
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = _Hostile(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'TWILIO_ACCOUNT_SID': 'AC' + 'a' * 32,
           'TWILIO_AUTH_TOKEN': 'x', 'TWILIO_WORKSPACE_SID': 'WS' + 'b' * 32,
           'TRHUB_TWILIO_BASE_URL': 'http://127.0.0.1:%d' % srv.server_address[1]}
    return srv, hits, env


def test_a_next_page_pointing_at_itself_is_refused():
    srv, hits, env = _hostile('loop')
    try:
        r = ch.run('trhub-worker-status', env=env, timeout=60)
    finally:
        srv.shutdown()
    assert r.rc == 4, r
    assert 'already sent' in r.stderr, r.stderr
    assert hits['workers'] == 1, hits


def test_endless_paging_is_capped():
    srv, hits, env = _hostile('endless')
    try:
        r = ch.run('trhub-worker-status', '--json', env=env, timeout=120)
    finally:
        srv.shutdown()
    assert r.rc == 4, r
    assert 'more than 1000 pages' in r.stderr, r.stderr
    assert hits['workers'] == 1000, hits


def test_escape_sequences_from_the_server_never_reach_the_terminal():
    srv, hits, env = _hostile('escapes')
    try:
        r = ch.run('trhub-worker-status', '--no-color', env=env, timeout=60)
        j = ch.run('trhub-worker-status', '--json', env=env, timeout=60)
    finally:
        srv.shutdown()
    assert r.rc == 0, r
    for bad in ('\x1b', '\x07', '\x9b'):
        assert bad not in r.stdout, repr(r.stdout)
    summary = r.stdout.splitlines()[-1]
    assert summary.startswith('1 worker: Busy?[2J?[31m'), repr(summary)
    assert j.json()['workers'][0]['activity'] == 'Busy\x1b[2J\x1b[31m\x9b1m', 'JSON keeps data as is'
