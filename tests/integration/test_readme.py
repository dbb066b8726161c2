"""The README's commands, extracted from its shell blocks and run as written, in order, in a
fresh copy of the tree (the tracked files only), so they cannot rot.

The copy's `build` is a link to the build directory under test, so `meson setup build` and
`ninja -C build` run for real but find the tree already built. Two commands are not run as
plain lines: `scripts/check` (it runs this test) is only checked to exist, and `scripts/demo`
runs on free ports (`--port`, `--sim-port`; 8080 may be taken on a shared machine) until it
prints its `source .../demo.env` line; then the printed CLI command runs against it and Ctrl-C
stops it. In the Development block, `meson test` lines run with `--list` and `ninja ...
benchmark` with `-n` (dry run): they would otherwise run the whole suite from inside it;
`scripts/check-fuzz` and `scripts/check-package` are gates that `scripts/check` itself runs (for
minutes), so here they are only checked to exist, be executable and parse. The Users block
is for an installed trhubd: its `--hash-password` line runs against the built binary, and the
lines that write /etc/trhub or call systemctl are checked to name what they should.
Everything listens on 127.0.0.1 and every wait is bounded."""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

SOURCE = os.environ.get('TRHUB_SOURCE_ROOT')
BUILD = os.environ.get('TRHUB_BUILD_ROOT')
if not SOURCE or not BUILD:
    pytest.skip('run through meson test (TRHUB_SOURCE_ROOT, TRHUB_BUILD_ROOT)',
                allow_module_level=True)

TIMEOUT = 180


def _blocks():
    """[(heading, [command lines])] for every ```sh block, in README order."""
    out = []
    heading = ''
    lines = open(os.path.join(SOURCE, 'README.md')).read().split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('## '):
            heading = line[3:].strip()
        if line.strip() == '```sh':
            body = []
            i += 1
            while lines[i].strip() != '```':
                body.append(lines[i])
                i += 1
            out.append((heading, [b for b in body if b.strip()]))
        i += 1
    return out


@pytest.fixture(scope='module')
def clone(tmp_path_factory):
    """The tracked files of the source tree in a new directory, build linked in."""
    dest = tmp_path_factory.mktemp('clone')
    try:
        files = subprocess.run(['git', '-C', SOURCE, 'ls-files', '-z'], check=True,
                               capture_output=True).stdout.decode().split('\0')
    except (OSError, subprocess.CalledProcessError):
        pytest.skip('not a git checkout')
    for f in files:
        if not f or not os.path.exists(os.path.join(SOURCE, f)):
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(SOURCE, f), os.path.join(dest, f))
    os.symlink(BUILD, os.path.join(dest, 'build'))
    return str(dest)


def _env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('TWILIO_', 'TRHUB_')) and k not in ('LISTEN_FDS', 'LISTEN_PID',
                                                                   'NOTIFY_SOCKET')}
    env.setdefault('PATH', '/usr/bin:/bin')
    return env


def _free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Ran:
    def __init__(self, rc, stdout, stderr):
        self.returncode, self.stdout, self.stderr = rc, stdout, stderr

    def __repr__(self):
        return '<rc=%r\nstdout:\n%s\nstderr:\n%s>' % (self.returncode, self.stdout[-3000:],
                                                     self.stderr[-3000:])


def _bash(script, cwd, timeout=TIMEOUT):
    """Runs script in its own session with its output in files (a command it leaves in the
    background cannot hold a pipe open), and kills whatever is left of it at the end."""
    with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
        p = subprocess.Popen(['bash', '-e', '-c', script], cwd=cwd, env=_env(), text=True,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = 'timeout after %d s' % timeout
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        out.seek(0)
        err.seek(0)
        return _Ran(rc, out.read(), err.read())


def _reap_demo(port, sim_port):
    """Kills what a demo on these ports left running. scripts/demo starts trhub-sim and
    trhubd under setsid (Ctrl-C reaches the script, which stops them in order), so a
    kill of the script's process group does not reach them when the script failed to."""
    for pattern in ('--listen 127.0.0.1:%d ' % sim_port, 'demo/%d/trhubd.conf' % port):
        subprocess.run(['pkill', '-KILL', '-f', '--', pattern], check=False)


def test_readme_has_the_blocks_this_test_knows():
    headings = [h for h, _ in _blocks()]
    assert headings == ['Two commands', 'Configuration', 'Users', 'Development'], headings


def test_users(clone):
    (_, lines), = [b for b in _blocks() if b[0] == 'Users']
    first = lines[0].split('#')[0].strip()
    assert first.endswith('| trhubd --hash-password'), first
    cmd = first.replace('trhubd --hash-password', 'build/daemon/trhubd --hash-password')
    r = _bash(cmd, cwd=clone, timeout=60)
    assert r.returncode == 0, r
    assert re.match(r'^\$y\$[^\s:]+\n$', r.stdout), r.stdout
    rest = ' '.join(lines[1:])
    assert 'trhubd --hash-password' in rest and '/etc/trhub/users' in rest, rest
    assert 'systemctl reload trhubd' in rest, rest


def test_two_commands(clone):
    (_, lines), = [b for b in _blocks() if b[0] == 'Two commands']
    commands = [line.split('#')[0].strip() for line in lines]
    assert commands == ['scripts/demo', 'scripts/check']
    check = os.path.join(clone, 'scripts', 'check')
    assert os.stat(check).st_mode & stat.S_IXUSR
    port, sim_port = _free_port(), _free_port()
    demo = subprocess.Popen(['scripts/demo', '--port', str(port), '--sim-port', str(sim_port)],
                            cwd=clone, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = []
    source = None
    example = None
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and example is None:
            line = demo.stdout.readline()
            if not line:
                break
            out.append(line)
            m = re.match(r'\s+source (\S+/demo\.env)$', line.rstrip('\n'))
            if m:
                source = m.group(1)
            elif source is not None and line.strip().startswith('build/cli/trhub-'):
                example = line.strip()
        assert source is not None and example is not None, ''.join(out)
        mode = stat.S_IMODE(os.stat(source).st_mode)
        assert mode == 0o600, oct(mode)
        logs = os.path.dirname(source)
        # The printed lines, as a person would type them in another shell.
        r = _bash('source %s\n%s' % (source, example), cwd=clone, timeout=60)
        assert r.returncode == 0, r
        assert 'agent-001' in r.stdout, r.stdout
        # The emulator's own URL says what it is.
        with open(source) as f:
            base = re.search(r'TRHUB_TWILIO_BASE_URL=(\S+)', f.read()).group(1)
        r = _bash('curl -fsS %s/' % base, cwd=clone, timeout=30)
        assert '"trhub-sim"' in r.stdout and '/sim/agents/{WK}/claim' in r.stdout, r
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
        try:
            rest, _ = demo.communicate(timeout=60)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
                _reap_demo(port, sim_port)
        out.append(rest or '')
    text = ''.join(out)
    assert demo.returncode == 0, text
    assert 'logs kept in' in text
    assert not os.path.exists(source), 'demo.env goes when the demo stops'
    assert os.path.getsize(os.path.join(logs, 'trhubd.log')) >= 0
    assert os.path.exists(os.path.join(logs, 'sim.log'))


def test_demo_into_a_file_stops_on_term(clone, tmp_path):
    """Run as `scripts/demo > demo.log &` (or under a service manager): the URLs and
    logins are written once, and a TERM to the script alone stops trhubd and the
    emulator. Before, the shell held the TERM until its foreground summary loop
    ended, which it never did, and the whole screen was appended every 3 s."""
    port, sim_port = _free_port(), _free_port()
    log = str(tmp_path / 'demo.log')
    with open(log, 'w') as out:
        demo = subprocess.Popen(['scripts/demo', '--no-bootstrap', '--port', str(port),
                                 '--sim-port', str(sim_port)], cwd=clone, env=_env(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and demo.poll() is None:
            with open(log) as f:
                if 'open tasks' in f.read():
                    break
            time.sleep(0.2)
        demo.send_signal(signal.SIGTERM)
        rc = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
            _reap_demo(port, sim_port)
    with open(log) as f:
        text = f.read()
    assert rc == 0, text
    assert text.count('demo logins') == 1, text
    assert 'demo: stopping trhubd' in text and 'logs kept in' in text, text
    for p in (port, sim_port):
        with socket.socket() as c:
            assert c.connect_ex(('127.0.0.1', p)) != 0, 'port %d still served' % p


def test_a_second_demo_on_a_busy_port_names_the_option(clone):
    holder = socket.socket()
    holder.bind(('127.0.0.1', 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        r = subprocess.run(['scripts/demo', '--no-bootstrap', '--port', str(_free_port()),
                            '--sim-port', str(busy)], cwd=clone, env=_env(), text=True,
                           capture_output=True, timeout=TIMEOUT)
    finally:
        holder.close()
    assert r.returncode != 0
    assert 'in use' in r.stderr and '--sim-port' in r.stderr, r.stderr
    assert 'Cannot assign requested address' not in r.stderr


def test_against_the_emulator(clone):
    (_, lines), = [b for b in _blocks() if b[0] == 'Configuration']
    script = '\n'.join(lines)
    r = _bash(script, cwd=clone)
    assert r.returncode == 0, r
    assert 'agent-001' in r.stdout or 'worker-001' in r.stdout, r.stdout
    assert 'is not set' not in r.stderr


def test_development(clone):
    (_, lines), = [b for b in _blocks() if b[0] == 'Development']
    for line in lines:
        cmd = line.split('#')[0].strip()
        if cmd.startswith('meson test '):
            cmd += ' --list'
        elif cmd.startswith('ninja ') and cmd.endswith(' benchmark'):
            cmd = cmd.replace('ninja ', 'ninja -n ', 1)
        elif cmd.startswith(('scripts/check-fuzz', 'scripts/check-package')):
            script = cmd.split()[0]
            assert os.stat(os.path.join(clone, script)).st_mode & stat.S_IXUSR, script
            cmd = 'sh -n ' + script
        r = _bash(cmd, cwd=clone, timeout=600)
        assert r.returncode == 0, (line, r)
