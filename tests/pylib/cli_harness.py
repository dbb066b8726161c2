"""Running the trhub-* ops tools in tests: plain runs, runs on a pseudo-terminal.

Every run gets a clean environment built from a th.Sim (the emulator prints
its credentials), so nothing from the developer's shell or /etc leaks in, and
a new session without a controlling terminal unless the run is on a pty, so a
tool that asks for confirmation can never reach the developer's terminal.
All waits have deadlines; nothing sleeps for state.
"""

import json
import os
import pty
import select
import signal
import subprocess
import time

TOOLS = ('trhub-worker-status', 'trhub-task-list', 'trhub-task-fix', 'trhub-task-delete-all',
         'trhub-conference-list')

TIMEOUT = float(os.environ.get('TRHUB_TEST_TIMEOUT', '10')) * 6


def tool_path(tool):
    d = os.environ.get('TRHUB_CLI_DIR')
    if not d:
        raise AssertionError('TRHUB_CLI_DIR is not set (run through meson test)')
    return os.path.join(d, tool)


def sim_env(sim, **override):
    """Environment pointing a tool at the emulator, with the seeds' TWILIO_* names.

    override adds or replaces variables; a None value removes one.
    """
    env = {
        'PATH': '/usr/bin:/bin',
        'LANG': 'C.UTF-8',
        'TWILIO_ACCOUNT_SID': sim.account_sid,
        'TWILIO_AUTH_TOKEN': sim.auth_token,
        'TWILIO_WORKSPACE_SID': sim.workspace_sid,
        'TRHUB_TWILIO_BASE_URL': sim.base_url,
    }
    for k, v in override.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def json(self):
        """The one JSON document on stdout (fails if there is anything else)."""
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError('stdout of %s is not one JSON document (%s):\n%s\nstderr:\n%s'
                                 % (' '.join(self.argv), e, self.stdout[:2000], self.stderr))

    def __repr__(self):
        return '<Result %s rc=%r\nstdout:\n%s\nstderr:\n%s>' % (
            ' '.join(self.argv), self.rc, self.stdout[-3000:], self.stderr[-3000:])


def run(tool, *args, env, timeout=TIMEOUT):
    """Runs a tool without a terminal (stdin /dev/null, new session)."""
    argv = [tool_path(tool)] + [str(a) for a in args]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=env, timeout=timeout, start_new_session=True)
    return Result(argv, p.returncode, p.stdout, p.stderr)


class PtyRun:
    """A tool on a pseudo-terminal: stdout, stderr and /dev/tty are the pty."""

    def __init__(self, tool, *args, env, cols=200):
        self.argv = [tool_path(tool)] + [str(a) for a in args]
        self.output = b''
        pid, fd = pty.fork()
        if pid == 0:  # child: the pty is its controlling terminal
            try:
                import fcntl
                import struct
                import termios
                fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack('HHHH', 50, cols, 0, 0))
                os.execve(self.argv[0], self.argv, env)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.rc = None

    def _read(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.fd], [], [], left)
        if not r:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return None
        if not data:
            return None
        self.output += data
        return True

    def expect(self, text, timeout=TIMEOUT):
        """Waits until text (str) has appeared in the output."""
        want = text.encode()
        deadline = time.monotonic() + timeout
        while want not in self.output:
            got = self._read(deadline)
            if got is None:
                raise AssertionError('%r never appeared; the tool ended. Output:\n%s'
                                     % (text, self.text))
            if got is False:
                raise AssertionError('%r did not appear within %.0f s. Output:\n%s'
                                     % (text, timeout, self.text))

    def send(self, line):
        os.write(self.fd, line.encode() + b'\n')

    def wait(self, timeout=TIMEOUT):
        """Reads to the end and returns the exit code."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._read(deadline)
            if got is None:
                break
            if got is False:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError('%s did not finish within %.0f s. Output:\n%s'
                                     % (' '.join(self.argv), timeout, self.text))
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        self.rc = os.waitstatus_to_exitcode(status)
        return self.rc

    @property
    def text(self):
        return self.output.decode('utf-8', 'replace')


def run_pty(tool, *args, env, answer=None, prompt=None, timeout=TIMEOUT):
    """Runs a tool on a pty; when prompt appears, types answer. Returns (rc, output)."""
    p = PtyRun(tool, *args, env=env)
    if prompt is not None:
        p.expect(prompt, timeout)
        p.send(answer)
    rc = p.wait(timeout)
    return rc, p.text
