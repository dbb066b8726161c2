"""trhub-sim's command line and its systemd protocol (STYLE.md sections 9 and 13)."""

import os
import re
import signal
import subprocess

import pytest

import trhub_harness as th

OPTIONS = ('--listen', '--account-sid', '--auth-token', '--api-key', '--api-secret',
           '--workspace-sid', '--sync-service-sid', '--event-callback-url', '--workers',
           '--reservation-timeout', '--seed', '--calls-per-minute', '--agents',
           '--task-removal')


def _run(*args, timeout=10):
    return subprocess.run([th.sim_binary()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_option():
    p = _run('--help')
    assert p.returncode == 0, p.stderr
    for opt in OPTIONS + ('--help',):
        assert opt in p.stdout, '%s missing from --help' % opt
    assert p.stderr == ''


@pytest.mark.parametrize('args', [
    ['--bogus'],
    ['--workers', 'abc'],
    ['--workers', '-1'],
    ['--reservation-timeout', '0'],
    ['--listen', 'not-an-address'],
    ['--calls-per-minute', 'fast'],
    ['--account-sid', 'XX123'],
    ['--workspace-sid', 'WSnothex'],
    ['--seed'],
    ['extra-positional'],
])
def test_bad_arguments_exit_2_with_a_message(args):
    p = _run(*args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert p.stderr.strip(), 'no message for %r' % args
    assert p.stdout == '' or 'listening' not in p.stdout


def test_ready_on_notify_socket_and_listening_line_with_own_bind():
    sim = th.Sim(['--listen', '127.0.0.1:0'], socket_activation=False)
    try:
        sim.start()
        first = sim.stdout_lines[0]
        m = re.match(r'^listening on http://127\.0\.0\.1:(\d+)$', first)
        assert m, 'first stdout line: %r' % first
        port = int(m.group(1))
        assert port > 0
        assert sim.base_url == 'http://127.0.0.1:%d' % port
        assert 'READY=1' in sim.notify.messages
        status, _, _ = sim.http('GET', sim.ws_path)
        assert status == 200
    finally:
        sim.stop()


def test_socket_activation_uses_the_inherited_fd(sim):
    assert sim.port and sim.base_url == 'http://127.0.0.1:%d' % sim.port
    assert sim.stdout_lines[0] == 'listening on http://127.0.0.1:%d' % sim.port
    assert sim.http('GET', sim.ws_path)[0] == 200


def test_printed_keys_and_given_credentials(start_sim):
    ac = 'AC' + '1' * 32
    sk = 'SK' + '2' * 32
    ws = 'WS' + '3' * 32
    is_ = 'IS' + '4' * 32
    sim = start_sim('--account-sid', ac, '--auth-token', 'tok123', '--api-key', sk,
                    '--api-secret', 'sec456', '--workspace-sid', ws, '--sync-service-sid', is_)
    assert sim.account_sid == ac and sim.auth_token == 'tok123'
    assert sim.api_key == sk and sim.api_secret == 'sec456'
    assert sim.workspace_sid == ws and sim.sync_service_sid == is_
    assert sim.workflow_sid.startswith('WW') and len(sim.workflow_sid) == 34
    c = sim.client()
    assert c.taskrouter.v1.workspaces(ws).fetch().sid == ws
    assert sim.client(api_key=True).sync.v1.services(is_).fetch().sid == is_


def test_generated_sids_look_like_twilio_sids(sim):
    for key, prefix in (('TWILIO_ACCOUNT_SID', 'AC'), ('TWILIO_API_KEY', 'SK'),
                        ('TWILIO_WORKSPACE_SID', 'WS'), ('TWILIO_WORKFLOW_SID', 'WW'),
                        ('TWILIO_SYNC_SERVICE_SID', 'IS')):
        assert re.match(r'^%s[0-9a-f]{32}$' % prefix, sim.env[key]), (key, sim.env[key])
    assert len(sim.auth_token) >= 16 and len(sim.api_secret) >= 16


def _sids_after_same_work(sim):
    c = sim.client()
    ws = c.taskrouter.v1.workspaces(sim.workspace_sid)
    workers = sorted(w.sid for w in ws.workers.list())
    tasks = [ws.tasks.create(attributes='{}').sid for _ in range(3)]
    return [sim.env[k] for k in th.SIM_KEYS if k != 'TRHUB_TWILIO_BASE_URL'] + workers + tasks


def test_seed_determinism(start_sim):
    a = _sids_after_same_work(start_sim('--seed', '42', '--workers', '3'))
    b = _sids_after_same_work(start_sim('--seed', '42', '--workers', '3'))
    c = _sids_after_same_work(start_sim('--seed', '43', '--workers', '3'))
    assert a == b
    assert a != c
    assert len(set(a[-6:]) & set(c[-6:])) == 0


def test_no_seed_gives_fresh_sids(start_sim):
    a = start_sim()
    b = start_sim()
    assert a.workspace_sid != b.workspace_sid or a.auth_token != b.auth_token


def test_sigterm_sends_stopping_and_exits_0(sim):
    assert sim.stop() == []
    assert 'STOPPING=1' in sim.notify.messages
    assert sim.proc.returncode == 0


def test_sigint_also_stops_cleanly():
    sim = th.Sim([])
    sim.start()
    try:
        sim.proc.send_signal(signal.SIGINT)
        assert sim.proc.wait(10) == 0
    finally:
        sim.stopped = True
        sim.kill()
    assert sim.unexpected_errors() == []


def test_listen_pid_mismatch_ignores_fd3():
    """LISTEN_FDS meant for another process must be ignored (sd_listen_fds rules):
    the emulator binds --listen itself instead."""
    sock = th.prebind()
    try:
        env = dict(os.environ, LISTEN_FDS='1', LISTEN_PID='1')
        notify = th.NotifySocket()
        env['NOTIFY_SOCKET'] = notify.path
        fd = sock.fileno()
        shim = ('import os,sys\nos.dup2(int(sys.argv[1]),3)\n'
                'os.execv(sys.argv[2],sys.argv[2:])\n')
        p = subprocess.Popen([th.PYTHON, '-I', '-S', '-c', shim, str(fd), th.sim_binary(),
                              '--listen', '127.0.0.1:0'], pass_fds=(fd,),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        try:
            notify.wait_for('READY=1', proc=p)
            first = p.stdout.readline().strip()
            m = re.match(r'^listening on http://127\.0\.0\.1:(\d+)$', first)
            assert m, first
            assert int(m.group(1)) != sock.getsockname()[1]
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(10) == 0
            notify.close()
    finally:
        sock.close()


def test_status_lines_are_reported(sim):
    # STATUS= is optional progress text; when sent it must be non-empty.
    for s in sim.notify.status_lines():
        assert s.strip()


def test_base_url_serves_all_three_apis(sim):
    for path in (sim.ws_path, '/v1/Services/' + sim.sync_service_sid,
                 '/2010-04-01/Accounts/%s/Conferences.json' % sim.account_sid):
        assert sim.http('GET', path)[0] == 200, path


def test_connection_keepalive(sim):
    import http.client
    import base64
    conn = http.client.HTTPConnection('127.0.0.1', sim.port, timeout=10)
    auth = base64.b64encode(('%s:%s' % (sim.account_sid, sim.auth_token)).encode()).decode()
    for _ in range(20):
        conn.request('GET', sim.ws_path + '/Workers?PageSize=50',
                     headers={'Authorization': 'Basic ' + auth})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        assert r.getheader('Connection', '').lower() != 'close'
    conn.close()


def test_traffic_generator_makes_calls(start_sim, receiver):
    sim = start_sim('--agents', '3', '--calls-per-minute', '600', '--seed', '7',
                    receiver=receiver)
    # Ten simulated seconds at 600 calls/min: about a hundred calls, agents answering.
    for _ in range(10):
        sim.advance(1_000)
    receiver.wait_count(5, event_type='task.created', timeout=20)
    ws = sim.client().taskrouter.v1.workspaces(sim.workspace_sid)
    workers = ws.workers.list()
    assert len(workers) >= 3
    tasks = ws.tasks.list()
    assert len(tasks) >= 5
    assert all(e.valid for e in receiver.events())
