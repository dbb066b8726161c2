"""trhub-worker-status, cross-checked against the official library."""

import json
import os
import signal
import subprocess
import time

import cli_harness as ch


def _library_workers(ws):
    return {w.sid: w for w in ws.ws.workers.list(page_size=1000)}


def _team(ws):
    alice = ws.add_worker('alice', skills=('support',), activity='Available')
    bob = ws.add_worker('bob', skills=('sales',))
    carol = ws.add_worker('Carol', skills=('support', 'sales'), activity='Available')
    dave = ws.add_worker('dave', skills=('support',), activity='Unavailable')
    return alice, bob, carol, dave


def test_json_matches_the_official_library(cli, ws):
    _team(ws)
    r = cli('trhub-worker-status', '--json')
    assert r.rc == 0, r
    doc = r.json()
    lib = _library_workers(ws)
    got = {w['sid']: w for w in doc['workers']}
    assert set(got) == set(lib)
    for sid, w in lib.items():
        g = got[sid]
        assert g['name'] == w.friendly_name
        assert g['activity'] == w.activity_name
        assert g['activitySid'] == w.activity_sid
        assert g['available'] == w.available
        assert g['skills'] == json.loads(w.attributes).get('skills', [])
        assert isinstance(g['timeInActivityS'], int) and g['timeInActivityS'] >= 0
    assert doc['summary']['total'] == len(lib)
    want = {}
    for w in lib.values():
        want[w.activity_name] = want.get(w.activity_name, 0) + 1
    assert doc['summary']['byActivity'] == want
    assert [w['name'].lower() for w in doc['workers']] == \
        sorted(w['name'].lower() for w in doc['workers'])


def test_filters(cli, ws):
    alice, bob, carol, dave = _team(ws)
    names = lambda r: {w['name'] for w in r.json()['workers']}  # noqa: E731
    assert names(cli('trhub-worker-status', '--json', '--available')) == {'alice', 'Carol'}
    assert names(cli('trhub-worker-status', '--json', '--activity', 'unavailable')) == {'dave'}
    assert names(cli('trhub-worker-status', '--json', '--name', 'c*')) == {'Carol'}
    assert names(cli('trhub-worker-status', '--json', '--name', '[ab]*',
                     '--activity', 'Available')) == {'alice'}
    doc = cli('trhub-worker-status', '--json', '--available').json()
    assert doc['summary'] == {'total': 2, 'byActivity': {'Available': 2}}


def test_table_and_summary_line(cli, ws):
    _team(ws)
    r = cli('trhub-worker-status')
    assert r.rc == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ['WORKER', 'SID', 'ACTIVITY']
    lib = _library_workers(ws)
    for w in lib.values():
        assert any(line.startswith(w.friendly_name + ' ') and w.sid in line for line in lines)
    summary = lines[-1]
    assert summary.startswith('%d workers:' % len(lib))
    assert 'Available 2' in summary and 'Unavailable 1' in summary
    assert 'support,sales' in r.stdout


def test_every_page_of_workers(cli, ws, sim):
    sim.bulk_workers(1234)
    doc = cli('trhub-worker-status', '--json').json()
    lib = _library_workers(ws)
    assert len(lib) >= 1234
    assert {w['sid'] for w in doc['workers']} == set(lib)


def test_unknown_activity_is_an_error_naming_the_valid_ones(cli, ws):
    _team(ws)
    r = cli('trhub-worker-status', '--activity', 'Lunch')
    assert r.rc == 2, r
    assert r.stdout == ''
    assert 'Lunch' in r.stderr
    for name in ('Offline', 'Available', 'Unavailable'):
        assert name in r.stderr, r.stderr
    # An activity with nobody in it is not an error.
    r = cli('trhub-worker-status', '--activity', 'offline', '--name', 'alice')
    assert r.rc == 0 and r.stdout.splitlines()[-1].startswith('0 workers'), r


def test_watch_redraws_until_interrupted(sim, ws, env):
    ws.add_worker('alice', activity='Available')
    p = subprocess.Popen([ch.tool_path('trhub-worker-status'), '--watch', '0.2', '--json'],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        docs = []
        deadline = time.monotonic() + ch.TIMEOUT
        while len(docs) < 3 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            docs.append(json.loads(line))
        assert len(docs) == 3, 'three refreshes, one JSON document per line'
        # The next refresh sees a change made meanwhile.
        ws.add_worker('bob', activity='Available')
        while time.monotonic() < deadline:
            doc = json.loads(p.stdout.readline())
            if doc['summary']['total'] == 2:
                break
        else:
            raise AssertionError('the watch never showed bob')
        p.send_signal(signal.SIGINT)
        rc = p.wait(ch.TIMEOUT)
        assert rc == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_bad_watch_interval(cli):
    for bad in ('0', '-1', 'soon'):
        r = cli('trhub-worker-status', '--watch', bad)
        assert r.rc == 2, r


def test_time_in_activity_is_measured_on_twilios_clock(cli, ws, sim):
    # The emulator's clock runs ahead of this host's after an advance, as a
    # Twilio clock does when the host's is off: the time in activity must be
    # Twilio's now minus date_status_changed, not the host's.
    alice = ws.add_worker('alice', activity='Available')
    sim.advance(10 * 60_000)
    bob = ws.add_worker('bob', activity='Available')
    now_ms = sim.advance(0)['now_ms']
    doc = cli('trhub-worker-status', '--json').json()
    got = {w['sid']: w for w in doc['workers']}
    for w, want in ((alice, 600), (bob, 0)):
        lib = ws.ws.workers(w.sid).fetch()
        assert got[w.sid]['activitySinceMs'] == \
            int(lib.date_status_changed.timestamp()) * 1000
        expect = now_ms // 1000 - int(lib.date_status_changed.timestamp())
        assert abs(expect - want) <= 2
        assert abs(got[w.sid]['timeInActivityS'] - expect) <= 3, got[w.sid]
    table = cli('trhub-worker-status', '--name', 'alice').stdout
    assert ' 10m0' in table, table


def test_watch_interrupted_during_a_slow_fetch_exits_at_once(sim, ws, env):
    # An unreachable or throttling API can hold one refresh for minutes
    # (timeouts times retries); Ctrl-C must not wait for it.
    ws.add_worker('alice', activity='Available')
    p = ch.PtyRun('trhub-worker-status', '--watch', '1', env=env)
    try:
        p.expect('1 worker')
        sim.add_fault(method='GET', path='/v1/Workspaces/*/Workers', latency_ms=20_000)
        deadline = time.monotonic() + ch.TIMEOUT
        # A fault counts a hit when the request arrives, before the latency.
        while sim.faults()['faults'][0]['hits'] < 1:
            assert time.monotonic() < deadline, 'the next refresh never started'
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGINT)
        assert p.wait(timeout=5) == 0, p.text
        assert time.monotonic() - t0 < 3, 'Ctrl-C waited for the slow fetch'
    finally:
        if p.rc is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
            except (ProcessLookupError, ChildProcessError):
                pass  # PtyRun.wait already killed and reaped it
