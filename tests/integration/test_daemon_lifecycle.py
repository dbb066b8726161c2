"""trhubd's systemd contract (STYLE.md 9, 10, 13): socket activation, READY=1 only
when usable, STOPPING=1 and exit 0 on SIGTERM, SIGHUP reload with RELOADING=1 /
MONOTONIC_USEC / READY=1 (also when the new config is refused), --check-config,
and unit files that systemd-analyze accepts."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

import daemon_harness as dh
import trhub_harness as th

make_stack = dh.make_stack_fixture()


def listening_ports(pid):
    """TCP ports the process listens on."""
    return [port for port, state in dh.tcp_sockets(pid) if state == '0A']


def test_socket_activation_and_readiness(make_stack):
    stack = make_stack()
    d = stack.daemon
    assert 'READY=1' in d.notify.poll()
    assert listening_ports(d.proc.pid) == [d.port], \
        'trhubd must serve the passed fd 3 and bind nothing else'
    r = d.get('/healthz')
    assert r.status == 200, r
    r = d.get('/readyz')
    assert r.status == 200, r
    msgs = d.notify.poll()
    assert 'READY=1' in msgs
    status = [m for m in msgs if m.startswith('STATUS=')]
    assert status, 'STATUS= progress lines expected (STYLE.md 9): %r' % msgs


def test_sigterm_sends_stopping_and_exits_0(make_stack):
    stack = make_stack()
    problems = stack.daemon.stop(check=False)
    assert not problems, problems
    assert stack.daemon.proc.returncode == 0
    assert 'STOPPING=1' in stack.daemon.notify.messages


def test_ready_waits_for_the_rebuild(make_stack):
    """READY=1 (and /readyz 200) only once the initial rebuild from Twilio finished."""
    stack = make_stack(start_daemon=False)
    delay_ms = 1500
    stack.sim.add_fault(method='GET', path='/v1/Workspaces/*/Tasks', latency_ms=delay_ms)
    for i in range(3):
        stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid,
                              attributes='{"type":"support","n":%d}' % i)
    d = stack.daemon
    d.start(wait_ready=False)
    probes = []
    done = threading.Event()

    def probe():
        end = time.monotonic() + 10
        while not done.is_set() and time.monotonic() < end:
            t0 = time.monotonic()
            try:
                r = d.get('/readyz', timeout=5)
                probes.append((t0, time.monotonic(), r.status))
            except OSError:
                probes.append((t0, time.monotonic(), None))
            done.wait(0.05)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    try:
        elapsed = d.wait_ready(timeout=20)
    finally:
        done.set()
        t.join(10)
    stack.sim.clear_faults()
    assert elapsed >= delay_ms / 1000.0 * 0.9, \
        'READY=1 after %.3f s, before the delayed task list (%d ms) was read' % (elapsed, delay_ms)
    early = [p for p in probes if p[1] < d.ready_time - 0.05]
    assert all(p[2] in (503, None) for p in early), \
        '/readyz answered 200 before READY=1: %r' % early
    assert d.get('/readyz').status == 200
    assert set(dh.api_task_status(d)) == set(stack.sim_tasks())


def wait_after(notify, first, then, timeout=dh.DEFAULT_TIMEOUT, start=0):
    """Index of the first `then` line after a `first` line at index >= start."""
    def find():
        msgs = notify.poll()
        for i in range(start, len(msgs)):
            if msgs[i] == first:
                for j in range(i + 1, len(msgs)):
                    if msgs[j] == then:
                        return (i, j)
        return None
    return th.wait_until(find, timeout, '%s then %s on NOTIFY_SOCKET' % (first, then))


def reload_stack(make_stack, public_url, extra='', **kw):
    stack = make_stack(start_daemon=False, **kw)
    path = stack.write_config('public_url = %s\n%s' % (public_url, extra))
    env = stack.daemon.extra_env
    env.pop('TRHUB_PUBLIC_URL')
    env['TRHUB_CONFIG'] = path
    stack.daemon.start()
    return stack, path


def signed_event(stack, url):
    f = dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid)
    ev = f.task('task.created', dh.rand_sid('WT'), 'pending')
    return stack.webhook(ev, url=url + '/taskrouter_event'), ev


def test_sighup_reload_applies_a_valid_config(make_stack):
    a, b = 'https://a.example.com', 'https://b.example.com'
    stack, path = reload_stack(make_stack, a)
    d = stack.daemon
    assert signed_event(stack, a)[0].status == 204
    assert signed_event(stack, b)[0].status == 403
    n = len(d.notify.poll())
    with open(path, 'w') as f:
        f.write('public_url = %s\n' % b)
    mono_before = time.monotonic_ns() // 1000
    d.signal(signal.SIGHUP)
    i, _ = wait_after(d.notify, 'RELOADING=1', 'READY=1', start=n)
    mono_after = time.monotonic_ns() // 1000
    msgs = d.notify.poll()
    mono = [m for m in msgs[i - 2:i + 3] if m.startswith('MONOTONIC_USEC=')]
    assert mono, 'RELOADING=1 comes with MONOTONIC_USEC= (sd_notify(3)): %r' % msgs[i - 2:i + 3]
    usec = int(mono[0].split('=', 1)[1])
    assert mono_before - 1_000_000 <= usec <= mono_after + 1_000_000, \
        'MONOTONIC_USEC=%d is not CLOCK_MONOTONIC (%d..%d)' % (usec, mono_before, mono_after)
    assert signed_event(stack, b)[0].status == 204, 'the new public_url is in force'
    assert signed_event(stack, a)[0].status == 403, 'the old public_url is gone'
    assert d.get('/readyz').status == 200


@pytest.mark.parametrize('bad', [
    'public_url = not a url\n',
    'public_url = https://a.example.com\nstats_min_interval_ms = banana\n',
    'public_url = https://a.example.com\nno_such_key = 1\n',
])
def test_sighup_reload_keeps_an_invalid_config_out(make_stack, bad):
    a = 'https://a.example.com'
    stack, path = reload_stack(make_stack, a,
                               expected_errors=[r'(?i)reload|config|public_url|stats_min|key'])
    d = stack.daemon
    n = len(d.notify.poll())
    with open(path, 'w') as f:
        f.write(bad.replace('https://a.example.com', 'https://b.example.com'))
    d.signal(signal.SIGHUP)
    wait_after(d.notify, 'RELOADING=1', 'READY=1', start=n)
    assert d.proc.poll() is None, 'a refused reload must not stop the daemon'
    assert signed_event(stack, a)[0].status == 204, 'the old config stays in force'
    assert signed_event(stack, 'https://b.example.com')[0].status == 403
    assert d.get('/readyz').status == 200
    refused = [line for line in d.stderr_lines
               if 'reload failed, keeping the previous configuration' in line]
    assert refused, 'the refused reload must be logged as such: %r' % d.stderr_lines
    assert not [line for line in d.stderr_lines if 'configuration reloaded' in line], \
        'a refused reload must not claim the configuration was reloaded'


def reload_with(stack, d, path, text):
    """Writes text to the config file, sends SIGHUP and waits for READY=1 after it."""
    n = len(d.notify.poll())
    seen = len(d.stderr_lines)
    with open(path, 'w') as f:
        f.write(text)
    d.signal(signal.SIGHUP)
    wait_after(d.notify, 'RELOADING=1', 'READY=1', start=n)
    th.wait_until(lambda: any('configuration reloaded' in line
                              for line in d.stderr_lines[seen:]),
                  what='the reload summary line')
    return d.stderr_lines[seen:]


def stats_threshold(d):
    r = d.get('/api/stats')
    return r.json().get('slThresholdS') if r.status == 200 else None


def test_sighup_applies_a_live_key_sla_threshold(make_stack):
    """sla_threshold_s is live: the next statistics document carries the new value."""
    a = 'https://a.example.com'
    stack, path = reload_stack(make_stack, a)
    d = stack.daemon
    with open(path, 'a') as f:
        f.write('sla_threshold_s = 30\n')
    th.wait_until(lambda: stats_threshold(d) == 30, what='slThresholdS 30 in /api/stats')
    lines = reload_with(stack, d, path, 'public_url = %s\nsla_threshold_s = 45\n' % a)
    th.wait_until(lambda: stats_threshold(d) == 45,
                  what='the reloaded sla_threshold_s (45) in /api/stats')
    summary = [line for line in lines if 'configuration reloaded' in line]
    assert summary and 'changed and applied: sla_threshold_s' in summary[0], summary
    assert 'restart' not in summary[0], 'nothing needs a restart: %r' % summary


def test_sighup_names_a_changed_restart_key_and_keeps_it(make_stack):
    """recent_events_max needs a restart: the reload warns by name and says so."""
    a = 'https://a.example.com'
    stack, path = reload_stack(make_stack, a)
    d = stack.daemon
    lines = reload_with(stack, d, path, 'public_url = %s\nrecent_events_max = 7\n' % a)
    warned = [line for line in lines
              if 'reload: recent_events_max changed but needs a restart' in line]
    assert warned, 'the changed restart key must be named: %r' % lines
    summary = [line for line in lines if 'configuration reloaded' in line]
    assert summary, lines
    assert summary[0].endswith('changed but not applied until a restart: recent_events_max'), \
        summary
    assert 'changed and applied: nothing' in summary[0], summary
    assert not [line for line in lines if 'reload: public_url' in line], \
        'an unchanged key is not reported: %r' % lines


def big_signed_event(stack, url, pad):
    f = dh.EventFactory(stack.sim.account_sid, stack.sim.workspace_sid)
    ev = f.task('task.created', dh.rand_sid('WT'), 'pending')
    ev['TaskAttributes'] = '{"pad": "%s"}' % ('x' * pad)
    return stack.webhook(ev, url=url + '/taskrouter_event')


def test_sighup_applies_http_body_max_bytes_to_the_front_door(make_stack):
    """http_body_max_bytes is live end to end: the HTTP server and the event ingest
    both use the reloaded cap (the server used to keep its boot value)."""
    a = 'https://a.example.com'
    stack, path = reload_stack(make_stack, a, 'http_body_max_bytes = 2048\n')
    d = stack.daemon
    assert big_signed_event(stack, a, 3000).status == 413, 'the boot cap is in force'
    reload_with(stack, d, path, 'public_url = %s\nhttp_body_max_bytes = 8192\n' % a)
    r = big_signed_event(stack, a, 3000)
    assert r.status == 204, 'the raised cap is in force in the server too: %r' % r
    reload_with(stack, d, path, 'public_url = %s\nhttp_body_max_bytes = 2048\n' % a)
    assert big_signed_event(stack, a, 3000).status == 413, 'the lowered cap is in force'


# --- --check-config -----------------------------------------------------------------

SECRET_TOKEN = 'tok' + 'e1f2' * 7
SECRET_API = 'sec' + '9a8b' * 7


_EMPTY_CONF = None


def empty_conf():
    """An empty config file, so no system file is read."""
    global _EMPTY_CONF
    if _EMPTY_CONF is None:
        fd, _EMPTY_CONF = tempfile.mkstemp(prefix='trhubd-empty-', suffix='.conf')
        os.close(fd)
    return _EMPTY_CONF


def check_env(**over):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('TRHUB_', 'TWILIO_', 'NOTIFY_SOCKET', 'LISTEN_'))}
    env.update({
        'TRHUB_ACCOUNT_SID': 'AC' + '1' * 32,
        'TRHUB_AUTH_TOKEN': SECRET_TOKEN,
        'TRHUB_API_KEY': 'SK' + '2' * 32,
        'TRHUB_API_SECRET': SECRET_API,
        'TRHUB_WORKSPACE_SID': 'WS' + '3' * 32,
        'TRHUB_SYNC_SERVICE_SID': 'IS' + '4' * 32,
        'TRHUB_PUBLIC_URL': 'https://trhub.example.com',
        'TRHUB_CONFIG': empty_conf(),
    })
    for k, v in over.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_check(env, *extra):
    dh._skip_if_missing()
    return subprocess.run([dh.trhubd_binary(), '--check-config'] + list(extra), env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


@pytest.fixture
def conf_dir():
    d = tempfile.mkdtemp(prefix='trhubd-conf-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_check_config_valid_prints_masked_secrets(conf_dir):
    path = os.path.join(conf_dir, 'trhubd.conf')
    with open(path, 'w') as f:
        f.write('stats_min_interval_ms = 2500\n')
    os.chmod(path, 0o600)
    r = run_check(check_env(TRHUB_CONFIG=path))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert SECRET_TOKEN not in out and SECRET_API not in out, 'secrets printed'
    lines = {ln.split('=', 1)[0].strip(): ln.split('=', 1)[1] for ln in r.stdout.splitlines()
             if '=' in ln and not ln.lstrip().startswith('#')}
    assert '********' in lines.get('auth_token', ''), r.stdout
    assert '********' in lines.get('api_secret', ''), r.stdout
    assert lines['stats_min_interval_ms'].split('#')[0].strip() == '2500', r.stdout
    assert lines['account_sid'].split('#')[0].strip() == 'AC' + '1' * 32


@pytest.mark.parametrize('over,key', [
    ({'TRHUB_PUBLIC_URL': None}, 'public_url'),
    ({'TRHUB_STATS_MIN_INTERVAL_MS': 'banana'}, 'stats_min_interval_ms'),
    ({'TRHUB_WORKSPACE_SID': 'WSnot'}, 'workspace_sid'),
    ({'TRHUB_TWILIO_BASE_URL': 'http://twilio.example.com'}, 'twilio_base_url'),
])
def test_check_config_invalid_exits_1_naming_the_key(over, key):
    r = run_check(check_env(**over))
    out = r.stdout + r.stderr
    assert r.returncode == 1, 'exit %d: %s' % (r.returncode, out)
    assert key in out, out
    assert SECRET_TOKEN not in out and SECRET_API not in out


def test_check_config_refuses_plain_http_to_a_name_that_looks_like_loopback():
    r = run_check(check_env(TRHUB_TWILIO_BASE_URL='http://127.example.com'))
    assert r.returncode == 1, r
    assert 'twilio_base_url' in r.stderr, r.stderr
    # the words of common/loopback.h, as the CLIs print them
    assert 'http:// is only allowed to a loopback host (the emulator); use https://' in \
        r.stderr, r.stderr


def test_check_config_refuses_world_readable_secret_file(conf_dir):
    path = os.path.join(conf_dir, 'trhubd.conf')
    with open(path, 'w') as f:
        f.write('auth_token = %s\n' % SECRET_TOKEN)
    os.chmod(path, 0o644)
    r = run_check(check_env(TRHUB_CONFIG=path, TRHUB_AUTH_TOKEN=None))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert SECRET_TOKEN not in out


def test_check_config_does_not_serve(conf_dir):
    # --check-config never binds or notifies: it runs before the service starts.
    r = run_check(check_env(NOTIFY_SOCKET=os.path.join(conf_dir, 'nonexistent')))
    assert r.returncode == 0, r.stdout + r.stderr


# --- unit files -----------------------------------------------------------------------

def test_units_pass_systemd_analyze_verify(tmp_path):
    dh._skip_if_missing()
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        pytest.skip('systemd-analyze is not installed')
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'systemd')
    units = [u for u in ('trhubd.service', 'trhubd.socket')
             if os.path.exists(os.path.join(src, u))]
    assert units == ['trhubd.service', 'trhubd.socket'], \
        'systemd/trhubd.service and systemd/trhubd.socket must exist (found %r)' % units
    for u in units:
        with open(os.path.join(src, u)) as f:
            text = f.read()
        for p in ('/usr/sbin/trhubd', '/usr/bin/trhubd', '/usr/local/sbin/trhubd'):
            text = text.replace(p, dh.trhubd_binary())
        (tmp_path / u).write_text(text)
    service = (tmp_path / 'trhubd.service').read_text()
    assert 'Type=notify' in service
    assert 'ExecReload=' in service and 'HUP' in service
    assert '--check-config' in service, 'ExecStartPre runs --check-config (STYLE.md 10)'
    r = subprocess.run([analyze, 'verify', '--man=no'] + [str(tmp_path / u) for u in units],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    noise = [ln for ln in (r.stdout + r.stderr).splitlines()
             if ln.strip() and 'Cannot add dependency job' not in ln]
    assert r.returncode == 0 and not noise, r.stdout + r.stderr
