"""What every ops tool shares: options, configuration sources, error messages,
exit codes, colour and JSON rules."""

import json
import os
import socket
import stat

import pytest

import cli_harness as ch

WS_TOOLS = ('trhub-worker-status', 'trhub-task-list', 'trhub-task-delete-all')
WRONG_SECRET = 'wrong-secret-7f3a9c'


def _read_only_args(tool):
    """Arguments that make each tool read, not write."""
    return {'trhub-task-delete-all': ['--all', '--dry-run'],
            'trhub-task-fix': ['--all-wrapping', '--older-than', '1d', '--dry-run']}.get(tool, [])


@pytest.mark.parametrize('tool', ch.TOOLS)
def test_help_and_version(tool, env):
    r = ch.run(tool, '--help', env=env)
    assert r.rc == 0, r
    assert r.stdout.startswith('Usage: %s ' % tool)
    for opt in ('--json', '--no-color', '--config', '--workspace', '--quiet', '--verbose',
                '--version'):
        assert opt in r.stdout, '%s missing from --help' % opt
    assert 'Exit status' in r.stdout
    r = ch.run(tool, '--version', env=env)
    assert r.rc == 0 and r.stdout.startswith(tool + ' (trhub) '), r


@pytest.mark.parametrize('tool', ch.TOOLS)
def test_unknown_option_is_a_usage_error(tool, env):
    r = ch.run(tool, '--no-such-option', env=env)
    assert r.rc == 2, r
    assert '--no-such-option' in r.stderr and '--help' in r.stderr
    assert r.stdout == ''


@pytest.mark.parametrize('tool', ch.TOOLS)
def test_bad_auth_token_exits_3_naming_the_variables_never_the_secret(tool, cli, sim):
    r = cli(tool, *_read_only_args(tool), TWILIO_AUTH_TOKEN=WRONG_SECRET)
    assert r.rc == 3, r
    assert '401' in r.stderr
    assert 'TRHUB_AUTH_TOKEN' in r.stderr and 'TWILIO_AUTH_TOKEN' in r.stderr
    assert 'TRHUB_ACCOUNT_SID' in r.stderr
    for secret in (WRONG_SECRET, sim.auth_token):
        assert secret not in r.stderr and secret not in r.stdout
    assert r.stdout == ''


def test_bad_api_secret_names_the_api_key_variables(cli, sim):
    r = cli('trhub-task-list', TWILIO_AUTH_TOKEN=None, TWILIO_API_KEY=sim.api_key,
            TWILIO_API_SECRET=WRONG_SECRET)
    assert r.rc == 3, r
    assert 'TRHUB_API_KEY' in r.stderr and 'TRHUB_API_SECRET' in r.stderr
    assert WRONG_SECRET not in r.stderr + r.stdout


def test_api_key_pair_authenticates(cli, sim):
    r = cli('trhub-worker-status', '--json', TWILIO_AUTH_TOKEN=None,
            TWILIO_API_KEY=sim.api_key, TWILIO_API_SECRET=sim.api_secret)
    assert r.rc == 0, r
    assert r.json()['workspace_sid'] == sim.workspace_sid


def test_worker_app_variable_names(sim):
    env = {'PATH': '/usr/bin:/bin', 'ACCOUNT_SID': sim.account_sid,
           'AUTH_TOKEN': sim.auth_token, 'WORKSPACE_SID': sim.workspace_sid,
           'TRHUB_TWILIO_BASE_URL': sim.base_url}
    r = ch.run('trhub-task-list', '--json', env=env)
    assert r.rc == 0, r


def test_trhub_names_beat_the_seed_names(cli, sim):
    r = cli('trhub-task-list', '--json', TWILIO_AUTH_TOKEN=WRONG_SECRET,
            TRHUB_AUTH_TOKEN=sim.auth_token)
    assert r.rc == 0, r


def test_config_file(sim, tmp_path):
    conf = tmp_path / 'trhub.conf'
    conf.write_text('account_sid = %s\nauth_token = %s\nworkspace_sid = %s\n'
                    'twilio_base_url = %s\n' % (sim.account_sid, sim.auth_token,
                                                 sim.workspace_sid, sim.base_url))
    os.chmod(conf, stat.S_IRUSR | stat.S_IWUSR)
    env = {'PATH': '/usr/bin:/bin'}
    r = ch.run('trhub-worker-status', '--config', str(conf), '--json', env=env)
    assert r.rc == 0, r
    assert r.json()['workspace_sid'] == sim.workspace_sid


def test_missing_credentials_exit_3(sim):
    env = {'PATH': '/usr/bin:/bin', 'TRHUB_TWILIO_BASE_URL': sim.base_url}
    r = ch.run('trhub-task-list', env=env)
    assert r.rc == 3, r
    assert 'TRHUB_ACCOUNT_SID' in r.stderr


def test_missing_workspace_exit_3_but_conferences_need_none(cli):
    r = cli('trhub-task-list', TWILIO_WORKSPACE_SID=None)
    assert r.rc == 3, r
    assert 'TRHUB_WORKSPACE_SID' in r.stderr
    r = cli('trhub-conference-list', '--json', TWILIO_WORKSPACE_SID=None)
    assert r.rc == 0, r


@pytest.mark.parametrize('tool', WS_TOOLS)
def test_unknown_workspace_exit_3(tool, cli, sim):
    other = 'WS' + 'e' * 32
    r = cli(tool, '--workspace', other, *_read_only_args(tool))
    assert r.rc == 3, r
    assert 'unknown workspace ' + other in r.stderr
    assert sim.account_sid in r.stderr


def test_workspace_option_overrides_the_environment(cli, sim):
    r = cli('trhub-worker-status', '--json', '--workspace', sim.workspace_sid,
            TWILIO_WORKSPACE_SID='WS' + 'e' * 32)
    assert r.rc == 0, r


def test_malformed_workspace_option_is_a_usage_error(cli):
    r = cli('trhub-task-list', '--workspace', 'WS123')
    assert r.rc == 2, r


def test_unreachable_base_url_exit_4_names_the_variable(cli):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = 'http://127.0.0.1:%d' % port
    r = cli('trhub-task-list', TRHUB_TWILIO_BASE_URL=url)
    assert r.rc == 4, r
    assert 'cannot reach ' + url in r.stderr
    assert 'TRHUB_TWILIO_BASE_URL' in r.stderr


# common/loopback.h LOOPBACK_HTTP_REFUSED: config validation and the client say the same.
LOOPBACK_REFUSED = 'http:// is only allowed to a loopback host (the emulator); use https://'


@pytest.mark.parametrize('url', ['http://127.example.com', 'http://127.0.0.1.nip.io:8080'])
def test_plain_http_to_a_name_that_looks_like_loopback_is_refused(cli, url):
    r = cli('trhub-task-list', TRHUB_TWILIO_BASE_URL=url)
    assert r.rc == 3, r
    assert LOOPBACK_REFUSED in r.stderr, r
    assert 'TRHUB_TWILIO_BASE_URL' in r.stderr, r


@pytest.mark.parametrize('tool', ch.TOOLS)
def test_json_is_one_document(tool, cli):
    r = cli(tool, '--json', *_read_only_args(tool))
    assert r.rc == 0, r
    assert isinstance(r.json(), dict)


def _has_escape(text):
    return '\x1b[' in text


def test_colour_only_on_a_terminal(sim, ws, env):
    ws.add_task()
    rc, out = ch.run_pty('trhub-task-list', env=env)
    assert rc == 0, out
    assert _has_escape(out), 'a terminal gets colour'
    rc, out = ch.run_pty('trhub-task-list', '--no-color', env=env)
    assert rc == 0 and not _has_escape(out), out
    rc, out = ch.run_pty('trhub-task-list', env=dict(env, NO_COLOR='1'))
    assert rc == 0 and not _has_escape(out), out
    r = ch.run('trhub-task-list', env=env)
    assert r.rc == 0 and not _has_escape(r.stdout), r


def test_table_fits_the_terminal_width(sim, ws, env):
    ws.add_task(**{'from': '+1' + '5' * 60})
    p = ch.PtyRun('trhub-task-list', '--no-color', env=env, cols=100)
    assert p.wait() == 0, p.text
    lines = [line for line in p.text.split('\r\n') if line]
    assert lines and all(len(line) <= 100 for line in lines), lines
    assert '~' in p.text, 'the long caller is shortened with ~'
    r = ch.run('trhub-task-list', env=env)
    assert '+1' + '5' * 60 in r.stdout, 'off a terminal nothing is cut'


def test_quiet_keeps_results_and_errors(cli):
    r = cli('trhub-worker-status', '-q')
    assert r.rc == 0 and 'worker' in r.stdout, r
    r = cli('trhub-task-list', '-q', TWILIO_AUTH_TOKEN=WRONG_SECRET)
    assert r.rc == 3 and 'error' in r.stderr, r


def test_json_fields_are_stable(cli, ws):
    ws.add_task(**{'from': '+15550001234'})
    doc = cli('trhub-task-list', '--json').json()
    assert set(doc) == {'workspace_sid', 'count', 'tasks'}
    assert set(doc['tasks'][0]) == {'sid', 'status', 'priority', 'age_seconds', 'date_created',
                                    'queue_sid', 'queue_name', 'from', 'conference_sid',
                                    'reservations'}
    json.dumps(doc)


@pytest.mark.parametrize('tool', ch.TOOLS)
def test_missing_option_argument_says_so(tool, env):
    r = ch.run(tool, '--config', env=env)
    assert r.rc == 2, r
    assert 'option --config needs an argument' in r.stderr, r
    r = ch.run(tool, '--no-such-option', env=env)
    assert 'unknown option --no-such-option' in r.stderr, r
