"""trhubd --doctor against the emulator: one line per check, each failure naming the
setting, where it was read from and the fix; exit 0 when ready, 1 when not."""

import os
import re
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))

import trhub_harness as th  # noqa: E402

TRHUBD = os.environ.get('TRHUBD')
if not TRHUBD:
    pytest.skip('TRHUBD is not set (run through meson test)', allow_module_level=True)

PUBLIC = 'http://127.0.0.1:8080'


@pytest.fixture
def sim():
    s = th.Sim(['--event-callback-url', PUBLIC + '/taskrouter_event'])
    s.start()
    yield s
    s.stop()


def _doctor(sim, tmp_path, conf='', **override):
    path = tmp_path / 'trhubd.conf'
    path.write_text(conf)
    os.chmod(path, 0o600)
    env = {'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8', 'TRHUB_PUBLIC_URL': PUBLIC,
           'TRHUB_SYNC_SERVICE_SID': sim.sync_service_sid}
    for k in ('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_KEY', 'TWILIO_API_SECRET',
              'TWILIO_WORKSPACE_SID', 'TWILIO_WORKFLOW_SID', 'TRHUB_TWILIO_BASE_URL'):
        env[k] = sim.env[k]
    for k, v in override.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    r = subprocess.run([TRHUBD, '--doctor', '-c', str(path)], capture_output=True, text=True,
                       env=env, timeout=60)
    checks = {}
    for line in r.stdout.splitlines()[:-1]:
        # "LEVEL  NAME-IN-16-COLUMNS TEXT"
        assert line[:4].strip() in ('ok', 'warn', 'FAIL', 'skip'), line
        checks[line[6:22].strip()] = (line[:4].strip(), line[23:])
    return r, checks


def _secrets(sim):
    return (sim.auth_token, sim.api_secret)


def test_a_good_setup_is_ready(sim, tmp_path):
    r, checks = _doctor(sim, tmp_path)
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[-1].startswith('ready')
    for name in ('configuration', 'auth token', 'api key pair', 'workspace', 'workflow',
                 'event callback', 'events filter', 'sync service', 'public url'):
        assert name in checks, (name, r.stdout)
        assert checks[name][0] in ('ok', 'warn'), (name, checks[name])
    assert sim.workspace_sid in checks['workspace'][1]
    for s in _secrets(sim):
        assert s not in r.stdout + r.stderr


def test_a_wrong_workspace_sid_is_named_with_where_it_came_from(sim, tmp_path):
    wrong = 'WS' + '0' * 32
    r, checks = _doctor(sim, tmp_path, TWILIO_WORKSPACE_SID=wrong)
    assert r.returncode == 1, r
    level, text = checks['workspace']
    assert level == 'FAIL'
    assert wrong in text and 'workspace_sid from environment TWILIO_WORKSPACE_SID' in text
    assert sim.workspace_sid in text, 'the workspaces that do exist are listed'
    assert r.stdout.splitlines()[-1].startswith('not ready')


def test_a_setting_from_the_file_names_the_file_and_line(sim, tmp_path):
    wrong = 'IS' + '1' * 32
    r, checks = _doctor(sim, tmp_path, '# trhub\nsync_service_sid = %s\n' % wrong,
                        TRHUB_SYNC_SERVICE_SID=None)
    assert r.returncode == 1, r
    level, text = checks['sync service']
    assert level == 'FAIL' and wrong in text, text
    assert re.search(r'sync_service_sid from \S*trhubd\.conf:2', text), text
    assert sim.sync_service_sid in text


def test_a_wrong_auth_token_is_named_and_never_printed(sim, tmp_path):
    bad = 'not-the-token-0123456789'
    r, checks = _doctor(sim, tmp_path, TWILIO_AUTH_TOKEN=bad)
    assert r.returncode == 1, r
    level, text = checks['auth token']
    assert level == 'FAIL' and '401' in text
    assert 'auth_token from environment TWILIO_AUTH_TOKEN' in text
    assert checks['api key pair'][0] == 'ok', 'the other credential is checked on its own'
    assert bad not in r.stdout + r.stderr
    assert checks['resources'][0] == 'skip'


def test_a_wrong_api_secret(sim, tmp_path):
    r, checks = _doctor(sim, tmp_path, TWILIO_API_SECRET='wrong-secret-x')
    assert r.returncode == 1, r
    level, text = checks['api key pair']
    assert level == 'FAIL' and 'api_secret from environment TWILIO_API_SECRET' in text
    assert checks['auth token'][0] == 'ok'
    assert 'wrong-secret-x' not in r.stdout


def test_a_wrong_account_sid(sim, tmp_path):
    r, checks = _doctor(sim, tmp_path, TWILIO_ACCOUNT_SID='AC' + '2' * 32)
    assert r.returncode == 1, r
    assert checks['auth token'][0] == 'FAIL'
    assert 'account_sid from environment TWILIO_ACCOUNT_SID' in checks['api key pair'][1]


def test_callback_elsewhere_and_a_narrow_events_filter(sim, tmp_path):
    ws = sim.client().taskrouter.v1.workspaces(sim.workspace_sid)
    ws.update(event_callback_url='https://old-dashboard.example/events',
              events_filter='task.created,reservation.created')
    r, checks = _doctor(sim, tmp_path)
    assert r.returncode == 1, r
    level, text = checks['event callback']
    assert level == 'FAIL' and 'https://old-dashboard.example/events' in text
    assert PUBLIC + '/taskrouter_event' in text and 'workspace_callback = manage' in text
    level, text = checks['events filter']
    assert level == 'FAIL' and 'worker.activity.update' in text and 'task.completed' in text
    ws.update(event_callback_url='', events_filter='')
    r, checks = _doctor(sim, tmp_path)
    assert checks['event callback'][0] == 'FAIL' and 'nowhere' in checks['event callback'][1]


def test_an_unreachable_twilio(sim, tmp_path):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    r, checks = _doctor(sim, tmp_path, TRHUB_TWILIO_BASE_URL='http://127.0.0.1:%d' % port)
    assert r.returncode == 1, r
    assert checks['auth token'][0] == 'FAIL' and 'cannot be reached' in checks['auth token'][1]


def test_a_configuration_that_does_not_load(sim, tmp_path):
    r, checks = _doctor(sim, tmp_path, TRHUB_PUBLIC_URL=None)
    assert r.returncode == 1, r
    assert checks['configuration'][0] == 'FAIL' and 'public_url' in checks['configuration'][1]
