"""trhub-worker-status, cross-checked against the official library."""

import json
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
        assert g['activity_sid'] == w.activity_sid
        assert g['available'] == w.available
        assert g['skills'] == json.loads(w.attributes).get('skills', [])
        assert isinstance(g['seconds_in_activity'], int) and g['seconds_in_activity'] >= 0
    assert doc['summary']['total'] == len(lib)
    want = {}
    for w in lib.values():
        want[w.activity_name] = want.get(w.activity_name, 0) + 1
    assert doc['summary']['by_activity'] == want
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
    assert doc['summary'] == {'total': 2, 'by_activity': {'Available': 2}}


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


def test_unknown_activity_lists_nobody(cli, ws):
    _team(ws)
    r = cli('trhub-worker-status', '--activity', 'Lunch')
    assert r.rc == 0, r
    assert r.stdout.splitlines()[-1].startswith('0 workers')


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
