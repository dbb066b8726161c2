"""trhub-conference-list: listing, participant counts, --end behind a confirmation."""

import itertools

import cli_harness as ch
from trhub_tr import call_attributes

PROMPT = '[y/N] '
_n = itertools.count(1)


def _conference(ws, client):
    """A conference made by TaskRouter's conference instruction; returns (task, conf)."""
    n = next(_n)
    ws.add_worker('agent%d' % n, activity='Available')
    t = ws.add_task(**call_attributes(n))
    r = ws.wait_reservation(t.sid)
    ws.reservation(t.sid, r.sid).update(instruction='conference', from_='+15550001111')
    return t, client.conferences.list(friendly_name=t.sid)[0]


def test_lists_in_progress_with_participant_counts(cli, ws, client):
    confs = [_conference(ws, client)[1] for _ in range(3)]
    r = cli('trhub-conference-list', '--json')
    assert r.rc == 0, r
    doc = r.json()
    lib = {c.sid: c for c in client.conferences.list(status='in-progress')}
    assert doc['count'] == 3 and {c['sid'] for c in doc['conferences']} == set(lib)
    for c in doc['conferences']:
        assert c['friendlyName'] == lib[c['sid']].friendly_name
        assert c['status'] == 'in-progress'
        parts = client.conferences(c['sid']).participants.list()
        assert c['participantCount'] == len(parts) >= 1
        assert sorted(p['callSid'] for p in c['participants']) == sorted(p.call_sid for p in parts)
        assert sorted(p['label'] for p in c['participants']) == sorted(p.label for p in parts)
        assert c['createdMs'] == int(lib[c['sid']].date_created.timestamp()) * 1000
    table = cli('trhub-conference-list').stdout
    for c in confs:
        assert c.sid in table
    assert table.splitlines()[-1] == '3 conferences'


def test_name_and_status_filters(cli, ws, client):
    t1, c1 = _conference(ws, client)
    t2, c2 = _conference(ws, client)
    client.conferences(c2.sid).update(status='completed')
    sids = lambda *a: {c['sid'] for c in cli('trhub-conference-list', '--json', *a).json()['conferences']}  # noqa: E731,E501
    assert sids() == {c1.sid}
    assert sids('--status', 'completed') == {c2.sid}
    assert sids('--status', 'all') == {c1.sid, c2.sid}
    assert sids('--status', 'all', '--name', t2.sid.lower()) == {c2.sid}
    assert sids('--name', 'nothing*') == set()
    done = cli('trhub-conference-list', '--json', '--status', 'completed').json()
    assert done['conferences'][0]['participantCount'] is None
    assert done['conferences'][0]['participants'] is None
    assert cli('trhub-conference-list', '--status', 'over').rc == 2


def test_end_needs_a_terminal_or_yes(cli, ws, client):
    t, c = _conference(ws, client)
    r = cli('trhub-conference-list', '--end', c.sid)
    assert r.rc == 2, r
    assert client.conferences(c.sid).fetch().status == 'in-progress'


def test_end_confirmed_on_the_terminal(env, ws, client):
    t, c = _conference(ws, client)
    rc, out = ch.run_pty('trhub-conference-list', '--end', t.sid, env=env, prompt=PROMPT,
                         answer='y')
    assert rc == 0, out
    assert 'End 1 conference for everyone in it?' in out
    got = client.conferences(c.sid).fetch()
    assert got.status == 'completed'
    assert got.reason_conference_ended == 'conference-ended-via-api'


def test_end_refused_on_the_terminal(env, ws, client):
    t, c = _conference(ws, client)
    rc, out = ch.run_pty('trhub-conference-list', '--end', c.sid, env=env, prompt=PROMPT,
                         answer='n')
    assert rc == 2, out
    assert client.conferences(c.sid).fetch().status == 'in-progress'


def test_end_with_yes_ends_only_the_match(cli, ws, client):
    t1, c1 = _conference(ws, client)
    t2, c2 = _conference(ws, client)
    r = cli('trhub-conference-list', '--end', c1.sid, '--yes', '--json')
    assert r.rc == 0, r
    doc = r.json()
    assert [(c['sid'], c['ended']) for c in doc['conferences']] == [(c1.sid, True)]
    assert client.conferences(c1.sid).fetch().status == 'completed'
    assert client.conferences(c2.sid).fetch().status == 'in-progress'


def test_end_unknown_conference_exits_1(cli, ws, client):
    _conference(ws, client)
    r = cli('trhub-conference-list', '--end', 'no-such-conference', '--yes')
    assert r.rc == 1, r
    assert 'no in-progress conference' in r.stderr


def test_participant_fetch_retried_on_429(cli, ws, client, sim):
    _conference(ws, client)
    sim.add_fault(method='GET', path='/2010-04-01/Accounts/*/Conferences/*/Participants.json',
                  status=429, retry_after=0, count=2)
    doc = cli('trhub-conference-list', '--json').json()
    assert doc['conferences'][0]['participantCount'] >= 1
