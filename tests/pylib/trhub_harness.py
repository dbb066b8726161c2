"""Shared integration-test harness for trhub's programs (STYLE.md section 13).

A program under test is started the way systemd starts it:

  * the test binds the listening socket itself on 127.0.0.1:0 and passes it
    as fd 3 with LISTEN_FDS=1 and LISTEN_PID equal to the program's own pid;
  * NOTIFY_SOCKET points at an AF_UNIX datagram socket owned by the test, and
    the harness waits for READY=1 on it (with a deadline, never a sleep);
  * teardown sends SIGTERM, expects STOPPING=1 and exit code 0, and fails if
    stderr holds an error-level line the test did not declare as expected.

LISTEN_PID cannot be set from the parent (the pid is unknown before fork) and
a preexec_fn cannot change the environment exec() receives, so the child runs
a tiny Python shim that moves the socket to fd 3, puts its own pid (which
exec keeps) into LISTEN_PID and execs the program. No preexec_fn is used, so
starting a program is safe while receiver threads run.

Also here: a signed-callback receiver validating X-Twilio-Signature with the
official library's RequestValidator, JSON helpers for trhub-sim's /sim/
control API, and a twilio.rest.Client whose requests go to the emulator.
"""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PYTHON = '/usr/bin/python3'

# Moves the inherited socket to fd 3, sets LISTEN_PID to this process's pid
# (exec keeps it) and execs the program: argv = shim FD PROGRAM ARGS...
_SHIM = (
    'import os,sys\n'
    'fd=int(sys.argv[1])\n'
    'if fd>=0 and fd!=3:\n'
    '    os.dup2(fd,3,inheritable=True); os.close(fd)\n'
    'if fd>=0:\n'
    '    os.set_inheritable(3,True)\n'
    '    os.environ["LISTEN_FDS"]="1"\n'
    '    os.environ["LISTEN_PID"]=str(os.getpid())\n'
    'os.execv(sys.argv[2],sys.argv[2:])\n'
)

# Error-level lines: "prog: error: ..." on a terminal, "<0>".."<3>" for the
# journal, and sanitizer reports (which must never pass unnoticed).
_ERROR_LINE = re.compile(
    r'^(<[0-3]>'
    r'|[\w.-]+: (error|crit|critical|alert|emerg|fatal)\b'
    r'|.*ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)'
    r'|.*: runtime error: )')

DEFAULT_TIMEOUT = float(os.environ.get('TRHUB_TEST_TIMEOUT', '10'))


class HarnessError(AssertionError):
    pass


def deadline_after(seconds):
    return time.monotonic() + seconds


def wait_until(predicate, timeout=DEFAULT_TIMEOUT, what='condition', cond=None):
    """Polls predicate until it is true or the deadline passes.

    Only for inherent asynchrony (callbacks delivered by another process).
    With cond (a threading.Condition held by the producer) it waits on the
    condition instead of polling.
    """
    end = deadline_after(timeout)
    while True:
        if cond is not None:
            with cond:
                v = predicate()
                while not v:
                    left = end - time.monotonic()
                    if left <= 0:
                        raise HarnessError('timed out after %.1f s waiting for %s' % (timeout, what))
                    cond.wait(left)
                    v = predicate()
                return v
        v = predicate()
        if v:
            return v
        if time.monotonic() >= end:
            raise HarnessError('timed out after %.1f s waiting for %s' % (timeout, what))
        # A short wait on a dedicated event is not a sleep-for-state: it bounds CPU.
        threading.Event().wait(0.005)


class NotifySocket:
    """A test-owned NOTIFY_SOCKET: an AF_UNIX datagram socket in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='trhub-notify-')
        self.path = os.path.join(self.dir, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.path)
        self.messages = []  # every datagram, split into KEY=value lines, in order

    def _drain(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return False
        data = self.sock.recv(65536)
        self.messages.extend(line for line in data.decode('utf-8', 'replace').split('\n') if line)
        return True

    def wait_for(self, line, timeout=DEFAULT_TIMEOUT, proc=None):
        """Waits until a datagram carried exactly `line` (e.g. READY=1)."""
        end = deadline_after(timeout)
        while line not in self.messages:
            left = end - time.monotonic()
            if left <= 0:
                raise HarnessError('no %s on NOTIFY_SOCKET within %.1f s (got %r)' %
                                   (line, timeout, self.messages))
            if proc is not None and proc.poll() is not None and not self._drain(0):
                raise HarnessError('program exited with %r before sending %s' %
                                   (proc.returncode, line))
            self._drain(min(left, 0.1))
        return True

    def poll(self):
        while self._drain(0):
            pass
        return list(self.messages)

    def status_lines(self):
        return [m[len('STATUS='):] for m in self.poll() if m.startswith('STATUS=')]

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


def prebind(host='127.0.0.1'):
    """A listening TCP socket on host:0, ready to be passed as fd 3."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(512)
    return s


class Program:
    """Runs a program the systemd way (see the module docstring).

    argv: program and arguments. socket_activation: pre-bind and pass fd 3.
    expected_errors: regexes of error-level stderr lines the test expects.
    """

    def __init__(self, argv, *, socket_activation=True, env=None, expected_errors=(),
                 notify=True, name=None):
        self.argv = [str(a) for a in argv]
        self.socket_activation = socket_activation
        self.extra_env = dict(env or {})
        self.expected_errors = [re.compile(p) for p in expected_errors]
        self.use_notify = notify
        self.name = name or os.path.basename(self.argv[0])
        self.listen_sock = None
        self.port = None
        self.notify = None
        self.proc = None
        self.stdout_lines = []
        self.stderr_lines = []
        self._out_cond = threading.Condition()
        self._threads = []
        self.stopped = False

    # --- life cycle -------------------------------------------------------

    def start(self, wait_ready=True, timeout=DEFAULT_TIMEOUT):
        env = {k: v for k, v in os.environ.items()
               if k not in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET',
                            'JOURNAL_STREAM', 'WATCHDOG_USEC', 'WATCHDOG_PID')}
        env.update(self.extra_env)
        fd = -1
        pass_fds = ()
        if self.socket_activation:
            self.listen_sock = prebind()
            self.port = self.listen_sock.getsockname()[1]
            fd = self.listen_sock.fileno()
            pass_fds = (fd,)
        if self.use_notify:
            self.notify = NotifySocket()
            env['NOTIFY_SOCKET'] = self.notify.path
        self.proc = subprocess.Popen(
            [PYTHON, '-I', '-S', '-c', _SHIM, str(fd)] + self.argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, pass_fds=pass_fds, close_fds=True)
        if self.listen_sock is not None:
            # The child holds its copy; ours would keep accepting into a dead backlog.
            self.listen_sock.close()
            self.listen_sock = None
        for stream, sink in ((self.proc.stdout, self.stdout_lines),
                             (self.proc.stderr, self.stderr_lines)):
            t = threading.Thread(target=self._reader, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        if wait_ready and self.use_notify:
            self.notify.wait_for('READY=1', timeout, proc=self.proc)
        return self

    def _reader(self, stream, sink):
        for raw in iter(stream.readline, b''):
            with self._out_cond:
                sink.append(raw.decode('utf-8', 'replace').rstrip('\n'))
                self._out_cond.notify_all()
        stream.close()
        with self._out_cond:
            self._out_cond.notify_all()

    def wait_stdout(self, predicate, timeout=DEFAULT_TIMEOUT, what='stdout line'):
        """Waits until predicate(list of stdout lines so far) is true; returns its value."""
        def check():
            v = predicate(self.stdout_lines)
            if not v and self.proc.poll() is not None and all(not t.is_alive() for t in self._threads):
                raise HarnessError('%s exited (%r) before %s; stderr:\n%s' % (
                    self.name, self.proc.returncode, what, '\n'.join(self.stderr_lines)))
            return v
        return wait_until(check, timeout, what, cond=self._out_cond)

    def error_lines(self):
        return [line for line in self.stderr_lines if _ERROR_LINE.match(line)]

    def unexpected_errors(self):
        return [line for line in self.error_lines()
                if not any(p.search(line) for p in self.expected_errors)]

    def expect_error(self, pattern):
        self.expected_errors.append(re.compile(pattern))

    def stop(self, timeout=DEFAULT_TIMEOUT, check=True):
        """SIGTERM; expects STOPPING=1 and exit 0 and no unexpected error lines."""
        if self.stopped or self.proc is None:
            return None
        self.stopped = True
        problems = []
        if self.proc.poll() is not None:
            problems.append('%s had already exited with %r' % (self.name, self.proc.returncode))
        else:
            self.proc.send_signal(signal.SIGTERM)
            if self.notify is not None:
                try:
                    self.notify.wait_for('STOPPING=1', timeout)
                except HarnessError as e:
                    problems.append(str(e))
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append('%s did not exit within %.1f s of SIGTERM' % (self.name, timeout))
            else:
                if rc != 0:
                    problems.append('%s exited with %r after SIGTERM' % (self.name, rc))
        for t in self._threads:
            t.join(timeout)
        unexpected = self.unexpected_errors()
        if unexpected:
            problems.append('%s logged unexpected error lines:\n  %s' % (
                self.name, '\n  '.join(unexpected)))
        if self.notify is not None:
            self.notify.poll()
            self.notify.close()
        if problems and check:
            raise HarnessError('; '.join(problems) + '\nstderr:\n' + '\n'.join(self.stderr_lines[-50:]))
        return problems

    def kill(self):
        """Unchecked cleanup (used when a test already failed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stopped = True
        if self.notify is not None:
            self.notify.close()


# --- the emulator -----------------------------------------------------------------

SIM_KEYS = ('TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_KEY', 'TWILIO_API_SECRET',
            'TWILIO_WORKSPACE_SID', 'TWILIO_WORKFLOW_SID', 'TWILIO_SYNC_SERVICE_SID',
            'TRHUB_TWILIO_BASE_URL')

_KV = re.compile(r'^([A-Z][A-Z0-9_]*)=(.*)$')


def sim_binary():
    path = os.environ.get('TRHUB_SIM')
    if not path:
        raise HarnessError('TRHUB_SIM is not set (run through meson test)')
    return path


class ControlError(AssertionError):
    def __init__(self, status, body):
        super().__init__('control API answered %s: %s' % (status, body))
        self.status = status
        self.body = body


class Sim(Program):
    """trhub-sim on a pre-bound loopback socket, with its printed KEY=value lines parsed."""

    def __init__(self, args=(), *, binary=None, **kw):
        super().__init__([binary or sim_binary()] + list(args), **kw)
        self.env = {}

    def start(self, wait_ready=True, timeout=DEFAULT_TIMEOUT):
        super().start(wait_ready=wait_ready, timeout=timeout)
        if wait_ready:
            self.wait_stdout(lambda lines: all(k in self._parse(lines) for k in SIM_KEYS),
                             timeout, 'the KEY=value lines ' + ', '.join(SIM_KEYS))
            self.env = self._parse(self.stdout_lines)
        return self

    @staticmethod
    def _parse(lines):
        out = {}
        for line in lines:
            m = _KV.match(line)
            if m:
                out[m.group(1)] = m.group(2)
        return out

    # Printed values.
    base_url = property(lambda self: self.env['TRHUB_TWILIO_BASE_URL'].rstrip('/'))
    account_sid = property(lambda self: self.env['TWILIO_ACCOUNT_SID'])
    auth_token = property(lambda self: self.env['TWILIO_AUTH_TOKEN'])
    api_key = property(lambda self: self.env['TWILIO_API_KEY'])
    api_secret = property(lambda self: self.env['TWILIO_API_SECRET'])
    workspace_sid = property(lambda self: self.env['TWILIO_WORKSPACE_SID'])
    workflow_sid = property(lambda self: self.env['TWILIO_WORKFLOW_SID'])
    sync_service_sid = property(lambda self: self.env['TWILIO_SYNC_SERVICE_SID'])

    @property
    def ws_path(self):
        return '/v1/Workspaces/' + self.workspace_sid

    # --- official library client ---------------------------------------------

    def client(self, api_key=False, username=None, password=None, timeout=DEFAULT_TIMEOUT):
        """A twilio.rest.Client talking to the emulator (auth token or API key)."""
        return sim_client(self.base_url, self.account_sid,
                          username or (self.api_key if api_key else self.account_sid),
                          password or (self.api_secret if api_key else self.auth_token),
                          timeout=timeout)

    # --- raw HTTP ------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, auth=True, json_body=None,
             timeout=DEFAULT_TIMEOUT):
        """One request; returns (status, headers dict (lower-case names), body bytes)."""
        url = self.base_url + path
        hdrs = dict(headers or {})
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs.setdefault('Content-Type', 'application/json')
        elif body is not None:
            data = body if isinstance(body, bytes) else urllib.parse.urlencode(body, doseq=True).encode()
            hdrs.setdefault('Content-Type', 'application/x-www-form-urlencoded')
        if auth is True:
            auth = (self.account_sid, self.auth_token)
        if auth:
            import base64
            hdrs['Authorization'] = 'Basic ' + base64.b64encode(
                ('%s:%s' % auth).encode()).decode()
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def http_json(self, method, path, **kw):
        status, headers, body = self.http(method, path, **kw)
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            raise AssertionError('%s %s: not JSON (%s): %r' % (method, path, status, body[:200]))
        return status, headers, doc

    # --- control API (no auth, JSON) -----------------------------------------

    def control(self, method, path, body=None, expect=(200, 201, 204)):
        status, _, doc = self.http_json(method, path, json_body=body, auth=None) \
            if body is not None else self.http_json(method, path, auth=None)
        if expect and status not in expect:
            raise ControlError(status, doc)
        return doc

    def reset(self):
        return self.control('POST', '/sim/reset', {})

    def add_fault(self, **fault):
        return self.control('POST', '/sim/faults', fault)

    def faults(self):
        return self.control('GET', '/sim/faults')

    def clear_faults(self):
        return self.control('DELETE', '/sim/faults')

    def counters(self):
        return self.control('GET', '/sim/counters')

    def clear_counters(self):
        return self.control('DELETE', '/sim/counters')

    def advance(self, ms):
        return self.control('POST', '/sim/clock', {'advance_ms': int(ms)})

    def state(self):
        return self.control('GET', '/sim/state')

    def bulk_tasks(self, count, attributes=None, priority=None):
        body = {'count': count}
        if attributes is not None:
            body['attributes'] = attributes
        if priority is not None:
            body['priority'] = priority
        return self.control('POST', '/sim/tasks', body)

    def bulk_workers(self, count, activity=None, skills=None):
        body = {'count': count}
        if activity is not None:
            body['activity'] = activity
        if skills is not None:
            body['skills'] = skills
        return self.control('POST', '/sim/workers', body)


def sim_client(base_url, account_sid, username, password, timeout=DEFAULT_TIMEOUT):
    """twilio.rest.Client whose TaskRouter, Sync and API 2010 requests go to base_url."""
    from twilio.rest import Client
    return Client(username, password, account_sid, http_client=SimHttpClient(base_url, timeout))


def _make_http_client_class():
    # The host rewriting lives in tests/sim/simclient.py (written with the emulator);
    # this adds a request timeout (a hung emulator must fail a test, not stall it) and a
    # record of the requests made, so tests can count pages.
    simdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'sim')
    if simdir not in sys.path:
        sys.path.append(simdir)
    import simclient

    class _SimHttpClient(simclient.SimHttpClient):
        def __init__(self, base_url, timeout=DEFAULT_TIMEOUT):
            super().__init__(base_url, timeout=timeout)
            self.requests = []  # (method, emulator URL) of every request, in order

        def request(self, method, url, params=None, data=None, headers=None, auth=None,
                    timeout=None, allow_redirects=False):
            target = self.rewrite(url)
            if not target.startswith(self.sim_base_url):
                raise AssertionError('request to a non-emulator URL: ' + url)
            self.requests.append((method, target))
            return super().request(method, url, params=params, data=data, headers=headers,
                                   auth=auth, timeout=timeout, allow_redirects=allow_redirects)

    return _SimHttpClient


_http_client_class = None


def SimHttpClient(base_url, timeout=DEFAULT_TIMEOUT):
    global _http_client_class
    if _http_client_class is None:
        _http_client_class = _make_http_client_class()
    return _http_client_class(base_url, timeout)


# --- signed-callback receiver --------------------------------------------------------

class Callback:
    """One received request."""

    def __init__(self, receiver, seq, method, path, headers, raw, params, url):
        self.receiver = receiver
        self.seq = seq          # arrival order, 0-based
        self.method = method
        self.path = path
        self.headers = headers  # dict, names as sent
        self.raw = raw          # raw body bytes
        self.params = params    # list of (name, value) in body order
        self.url = url          # the URL the signature is computed over
        self.signature = None
        for k, v in headers.items():
            if k.lower() == 'x-twilio-signature':
                self.signature = v
        self.form = {}
        self.repeated = set()
        for k, v in params:
            if k in self.form:
                self.repeated.add(k)
            self.form[k] = v

    def get(self, key, default=None):
        return self.form.get(key, default)

    def validate(self, auth_token):
        """The official RequestValidator's verdict for this request."""
        from twilio.request_validator import RequestValidator
        if self.signature is None or auth_token is None:
            return False
        return RequestValidator(auth_token).validate(self.url, dict(self.params), self.signature)

    @property
    def valid(self):
        return self.validate(self.receiver.auth_token)

    def __getitem__(self, key):
        return self.form[key]

    def __repr__(self):
        return '<Callback #%d %s %s>' % (self.seq, self.form.get('EventType'),
                                          self.form.get('ResourceSid'))


class CallbackReceiver:
    """An HTTP server on 127.0.0.1:0 recording every request in arrival order.

    Each request can be checked with twilio.request_validator.RequestValidator
    against the auth token (Callback.valid, computed when asked, so the token
    may be set after the emulator printed it); nothing is enforced here, so
    tests assert on it. Answers 204 (Twilio's recommendation) unless told
    otherwise via `status`.
    """

    def __init__(self, auth_token=None, path='/taskrouter_event', status=204):
        self.auth_token = auth_token
        self.path = path
        self.status = status
        self.received = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                receiver._record(self, raw)
                self.send_response(receiver.status)
                self.send_header('Content-Type', 'application/json')
                if receiver.status != 204:
                    self.send_header('Content-Length', '0')
                self.end_headers()

            do_GET = do_POST

            def log_message(self, fmt, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = 'http://127.0.0.1:%d%s' % (self.port, path)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _record(self, handler, raw):
        text = raw.decode('utf-8', 'replace')
        params = urllib.parse.parse_qsl(text, keep_blank_values=True)
        url = 'http://127.0.0.1:%d%s' % (self.port, handler.path)
        headers = {k: v for k, v in handler.headers.items()}
        with self.cond:
            cb = Callback(self, len(self.received), handler.command, handler.path, headers, raw,
                          params, url)
            self.received.append(cb)
            self.cond.notify_all()

    def events(self, event_type=None, **match):
        with self.cond:
            out = list(self.received)
        if event_type is not None:
            out = [c for c in out if c.get('EventType') == event_type]
        for k, v in match.items():
            out = [c for c in out if c.get(k) == v]
        return out

    def wait_count(self, n, timeout=DEFAULT_TIMEOUT, event_type=None, what=None, **match):
        """Waits (condition variable, bounded) until at least n matching callbacks arrived."""
        return wait_until(lambda: len(self.events(event_type, **match)) >= n and
                          self.events(event_type, **match), timeout,
                          what or '%d %s callbacks' % (n, event_type or 'any'), cond=self.cond)

    def wait_for(self, pred, timeout=DEFAULT_TIMEOUT, what='a callback'):
        return wait_until(lambda: [c for c in self.events() if pred(c)], timeout, what,
                          cond=self.cond)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(DEFAULT_TIMEOUT)
