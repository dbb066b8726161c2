"""trhubd-specific helpers on top of tests/pylib/trhub_harness.py.

The daemon is started the systemd way (STYLE.md 13): the test binds its
listening socket, passes it as fd 3 with LISTEN_FDS/LISTEN_PID and waits for
READY=1 on a test-owned NOTIFY_SOCKET. Unlike th.Program, Trhubd keeps the
listening socket open in the test between incarnations, as trhubd.socket
does under systemd: a restarted (or kill -9'ed and restarted) daemon gets the
same socket, callbacks sent meanwhile wait in the backlog, and the emulator's
callback URL stays valid.

Expectations are always recomputed from the emulator (its REST API as read by
the official twilio library, its /sim/state and /sim/counters), never from
what trhubd says about itself.
"""

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))

import trhub_harness as th  # noqa: E402

DEFAULT_TIMEOUT = th.DEFAULT_TIMEOUT
# Deadline for "eventually consistent" checks: a few stats_max_interval_ms
# plus Sync backoff under faults. Bounded, never a sleep.
CONVERGE_TIMEOUT = float(os.environ.get('TRHUB_CONVERGE_TIMEOUT', '30'))

ZERO_SID = '0' * 32


def trhubd_binary():
    path = os.environ.get('TRHUBD')
    if not path:
        raise th.HarnessError('TRHUBD is not set (run through meson test)')
    return path


def rand_sid(prefix):
    return prefix + secrets.token_hex(16)


# --- signatures --------------------------------------------------------------------

def compute_signature(auth_token, url, params):
    """X-Twilio-Signature by the official library (twilio-api.md 7)."""
    from twilio.request_validator import RequestValidator
    return RequestValidator(auth_token).compute_signature(url, params)


def encode_form(params):
    """params: dict or list of pairs -> urlencoded bytes."""
    items = params.items() if isinstance(params, dict) else params
    return urllib.parse.urlencode(list(items)).encode()


# --- HTTP to trhubd ----------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError('not JSON (HTTP %d): %r' % (self.status, self.body[:300]))

    def __repr__(self):
        return '<Response %d %r>' % (self.status, self.body[:120])


# The session cookie a test logged in with, by daemon port: SSEClient and
# Trhubd.request send it unless the caller gives its own Cookie header.
SESSION_COOKIES = {}

SUPERVISOR = ('sup', 'sup-pass')
WORKER = ('alice', 'alice-pass')


def cookie_of(resp):
    """The trhub_session=... pair of a login answer's Set-Cookie, or None."""
    sc = resp.headers.get('set-cookie', '')
    m = re.match(r'\s*(trhub_session=[0-9a-f]{64})', sc)
    return m.group(1) if m else None


def http_request(port, method, path, body=None, headers=None, timeout=DEFAULT_TIMEOUT,
                 host='127.0.0.1'):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


# --- the daemon --------------------------------------------------------------------

class Trhubd(th.Program):
    """trhubd on a test-held pre-bound socket; restartable on the same socket."""

    def __init__(self, args=(), *, env=None, expected_errors=(), binary=None):
        super().__init__([binary or trhubd_binary()] + list(args), env=env,
                         expected_errors=expected_errors, name='trhubd')
        self.listen_sock = th.prebind()
        self.port = self.listen_sock.getsockname()[1]
        self.incarnations = 0
        self.past_stderr = []   # stderr of earlier incarnations (killed or stopped)
        self.start_time = None  # monotonic time of the last spawn
        self.ready_time = None  # monotonic time READY=1 arrived
        # (user, password) the test helpers log in with on a 401 (None: never).
        self.auto_login = None

    @property
    def base_url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, wait_ready=True, timeout=DEFAULT_TIMEOUT):
        env = {k: v for k, v in os.environ.items()
               if k not in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET',
                            'JOURNAL_STREAM', 'WATCHDOG_USEC', 'WATCHDOG_PID')
               and not k.startswith(('TRHUB_', 'TWILIO_'))}
        env.update(self.extra_env)
        self.notify = th.NotifySocket()
        env['NOTIFY_SOCKET'] = self.notify.path
        fd = self.listen_sock.fileno()
        self.stdout_lines = []
        self.stderr_lines = []
        self._threads = []
        self.stopped = False
        self.ready_time = None
        self.start_time = time.monotonic()
        self.proc = subprocess.Popen(
            [th.PYTHON, '-I', '-S', '-c', th._SHIM, str(fd)] + self.argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, pass_fds=(fd,), close_fds=True)
        self.incarnations += 1
        for stream, sink in ((self.proc.stdout, self.stdout_lines),
                             (self.proc.stderr, self.stderr_lines)):
            t = threading.Thread(target=self._reader, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        self.notify.wait_for('READY=1', timeout, proc=self.proc)
        if self.ready_time is None:
            self.ready_time = time.monotonic()
        return self.ready_time - self.start_time

    def kill9(self):
        """SIGKILL, as a crash: no STOPPING=1 expected; the socket stays open."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(DEFAULT_TIMEOUT)
        for t in self._threads:
            t.join(DEFAULT_TIMEOUT)
        self.past_stderr += self.stderr_lines
        self.notify.close()
        self.stopped = True

    def stop(self, timeout=DEFAULT_TIMEOUT, check=True):
        problems = super().stop(timeout=timeout, check=check)
        self.past_stderr += self.stderr_lines
        return problems

    def close(self):
        SESSION_COOKIES.pop(self.port, None)
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        if self.listen_sock is not None:
            self.listen_sock.close()
            self.listen_sock = None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def rss_kb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        raise AssertionError('no VmRSS')

    # --- HTTP -----------------------------------------------------------------

    @property
    def origin(self):
        return self.base_url

    def login(self, user, password, origin=True, remember=True):
        """POST /login; on 200 (and remember) the cookie becomes this daemon's default."""
        hdrs = {'Content-Type': 'application/json', 'Cookie': ''}
        if origin:
            hdrs['Origin'] = self.origin
        r = http_request(self.port, 'POST', '/login',
                         body=json.dumps({'username': user, 'password': password}).encode(),
                         headers=hdrs)
        if r.status == 200 and remember:
            SESSION_COOKIES[self.port] = cookie_of(r)
        return r

    def request(self, method, path, body=None, headers=None, timeout=DEFAULT_TIMEOUT):
        hdrs = dict(headers or {})
        explicit = any(k.lower() == 'cookie' for k in hdrs)
        if not explicit and SESSION_COOKIES.get(self.port):
            hdrs['Cookie'] = SESSION_COOKIES[self.port]
        r = http_request(self.port, method, path, body=body, headers=hdrs, timeout=timeout)
        if r.status == 401 and not explicit and self.auto_login and path != '/login':
            # A restarted daemon forgot its sessions: log in again once.
            if self.login(*self.auto_login).status == 200:
                hdrs['Cookie'] = SESSION_COOKIES[self.port]
                r = http_request(self.port, method, path, body=body, headers=hdrs,
                                 timeout=timeout)
        return r

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def get_json(self, path, expect=200):
        r = self.get(path)
        assert r.status == expect, 'GET %s: HTTP %d %r' % (path, r.status, r.body[:300])
        return r.json()

    def metrics(self):
        r = self.get('/metrics')
        assert r.status == 200, r
        return parse_prometheus(r.body.decode())


# --- a recording forwarder between the emulator and trhubd ----------------------------

class Recorder:
    """Forwards the emulator's callbacks to trhubd and records each one with trhubd's answer.

    It stands where a reverse proxy would: public_url is the recorder's URL, so
    the emulator signs for it and trhubd verifies against it. The record gives
    the tests an independent log of what the emulator delivered (the latest
    event, counts by type) and of every status trhubd answered.
    """

    def __init__(self, target_port, timeout=60):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.target_port = target_port
        self.records = []  # dicts: seq, path, params (list), form (dict), status, t_sent, t_done
        self.cond = threading.Condition()
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                fwd = {k: v for k, v in self.headers.items()
                       if k.lower() in ('content-type', 'x-twilio-signature',
                                        'i-twilio-idempotency-token', 'user-agent')}
                t0 = time.monotonic()
                try:
                    r = http_request(rec.target_port, 'POST', self.path, body=raw, headers=fwd,
                                     timeout=timeout)
                    status, body = r.status, r.body
                except OSError as e:
                    status, body = 0, str(e).encode()
                rec.add(self.path, raw.decode('utf-8', 'replace'), status, t0,
                        time.monotonic())
                self.send_response(status or 502)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body) if status not in (0, 204) else 0))
                self.end_headers()
                if status not in (0, 204):
                    self.wfile.write(body)

            def log_message(self, fmt, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path, raw, status, t_sent, t_done, **more):
        """Records one forwarded callback (raw: its form body as text)."""
        params = urllib.parse.parse_qsl(raw, keep_blank_values=True)
        with self.cond:
            self.records.append(dict({'seq': len(self.records), 'path': path,
                                      'params': params, 'form': dict(params),
                                      'status': status, 't_sent': t_sent,
                                      't_done': t_done}, **more))
            self.cond.notify_all()

    def events(self):
        with self.cond:
            return list(self.records)

    def non_2xx(self):
        return [r for r in self.events() if not 200 <= r['status'] < 300]

    def latest(self):
        """The latest delivered event: highest TimestampMs, then arrival order."""
        ev = [r for r in self.events() if 200 <= r['status'] < 300]
        if not ev:
            return None
        return max(ev, key=lambda r: (int(r['form'].get('TimestampMs') or 0), r['seq']))

    def count(self):
        with self.cond:
            return len(self.records)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(DEFAULT_TIMEOUT)


class ProcessRecorder(Recorder):
    """The Recorder's record, kept by tests/bench/bench_ack_proxy (a C program).

    Its forwarding and its clock run outside this interpreter, so an ack time
    is trhubd's even while the test's own threads are busy: the outage
    benchmark's "every ack within 5 ms" needs that. Same records, same methods,
    and with baseline_port each record also has the baseline server's status
    and times (b_status, b_sent, b_done); stalls lists the proxy's stall
    probe's late wake-ups as (cpu, t_asleep, t_woke).
    """

    def __init__(self, target_port, binary, baseline_port=None):
        self.records = []
        self.stalls = []
        self.cond = threading.Condition()
        argv = [binary, str(target_port)] + ([str(baseline_port)] if baseline_port else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        first = self.proc.stdout.readline().decode()
        if not first.startswith('PORT '):
            self.proc.kill()
            raise RuntimeError('%s did not start: %r' % (binary, first))
        self.port = int(first.split()[1])
        self.base_url = 'http://127.0.0.1:%d' % self.port
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            parts = line.decode('utf-8', 'replace').rstrip('\n').split(' ', 8)
            if len(parts) == 4 and parts[0] == 'STALL':
                with self.cond:
                    self.stalls.append((int(parts[1]), float(parts[2]), float(parts[3])))
                continue
            if len(parts) < 8 or parts[0] != 'REC':
                continue
            self.add(parts[7], parts[8] if len(parts) == 9 else '', int(parts[3]),
                     float(parts[1]), float(parts[2]), b_status=int(parts[6]),
                     b_sent=float(parts[4]), b_done=float(parts[5]))

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.thread.join(DEFAULT_TIMEOUT)
        self.proc.stdout.close()


# --- the stack: emulator + daemon ---------------------------------------------------

def users_file(directory):
    """A users file (name:role:crypt-hash) with a supervisor and a worker."""
    import crypt  # deprecated in 3.11 but present in Debian 12's python3
    path = os.path.join(directory, 'users')
    with open(path, 'w') as f:
        f.write('sup:supervisor:%s\n' % crypt.crypt('sup-pass', crypt.mksalt(crypt.METHOD_SHA512)))
        f.write('alice:worker:%s\n' % crypt.crypt('alice-pass', crypt.mksalt(crypt.METHOD_SHA512)))
        f.write('bob:worker:%s\n' % crypt.crypt('bob-pass', crypt.mksalt(crypt.METHOD_SHA512)))
    os.chmod(path, 0o640)
    return path


class Stack:
    """trhub-sim posting its signed callbacks to trhubd, and trhubd using the sim.

    Order: bind trhubd's socket (port known), start the sim with
    --event-callback-url pointing at it, then start trhubd with the sim's
    credentials. Callbacks the sim sends before trhubd runs wait in the
    socket's backlog, as under systemd socket activation.
    """

    def __init__(self, sim_args=(), daemon_env=None, daemon_args=(), expected_errors=(),
                 sim_expected_errors=(), callback_path='/taskrouter_event', public_url=None,
                 start_daemon=True, record=False, callbacks=True, recorder=None):
        self.tmp = tempfile.mkdtemp(prefix='trhubd-test-')
        self.daemon = Trhubd(daemon_args, expected_errors=expected_errors)
        self.recorder = (recorder or Recorder)(self.daemon.port) if record else None
        front = self.recorder.base_url if record else self.daemon.base_url
        if record and public_url is None:
            public_url = front
        self.callback_url = front + callback_path
        cb_args = ['--event-callback-url', self.callback_url] if callbacks else []
        self.sim = th.Sim(list(sim_args) + cb_args, expected_errors=sim_expected_errors)
        try:
            self.sim.start()
        except BaseException:
            self.sim.kill()
            self.daemon.close()
            raise
        env = {
            'TRHUB_ACCOUNT_SID': self.sim.account_sid,
            'TRHUB_AUTH_TOKEN': self.sim.auth_token,
            'TRHUB_API_KEY': self.sim.api_key,
            'TRHUB_API_SECRET': self.sim.api_secret,
            'TRHUB_WORKSPACE_SID': self.sim.workspace_sid,
            'TRHUB_WORKFLOW_SID': self.sim.workflow_sid,
            'TRHUB_SYNC_SERVICE_SID': self.sim.sync_service_sid,
            'TRHUB_TWILIO_BASE_URL': self.sim.base_url,
            'TRHUB_PUBLIC_URL': public_url or self.daemon.base_url,
            'TRHUB_STATS_MIN_INTERVAL_MS': '100',
            'TRHUB_STATS_MAX_INTERVAL_MS': '1000',
            'TRHUB_RECONCILE_INTERVAL_S': '0',
            'TRHUB_USERS_FILE': users_file(self.tmp),
            # The traffic tests play the agents, completing tasks themselves; trhubd's
            # own completion (on by default) is tested where it is wanted.
            'TRHUB_AUTO_COMPLETE_WRAPPING': 'false',
            'TRHUB_CONFIG': self.write_config(''),
        }
        env.update(daemon_env or {})
        self.daemon.extra_env = {k: v for k, v in env.items() if v is not None}
        self._client = None
        # The read-only API and stream tests act as the users file's supervisor.
        self.daemon.auto_login = SUPERVISOR
        if start_daemon:
            try:
                self.daemon.start()
                self.daemon.login(*SUPERVISOR)
            except BaseException:
                self.close(check=False)
                raise

    def write_config(self, text, name='trhubd.conf'):
        """A config file in the stack's temp dir (mode 0600); returns its path."""
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    @property
    def client(self):
        if self._client is None:
            self._client = self.sim.client()
        return self._client

    @property
    def auth_token(self):
        return self.sim.auth_token

    @property
    def public_url(self):
        return self.daemon.extra_env['TRHUB_PUBLIC_URL']

    def close(self, check=True):
        problems = []
        try:
            if not self.daemon.stopped and self.daemon.proc is not None:
                problems += self.daemon.stop(check=False) or []
        finally:
            self.daemon.close()
            if not self.sim.stopped:
                problems += self.sim.stop(check=False) or []
            if self.recorder is not None:
                self.recorder.close()
        if problems and check:
            raise th.HarnessError('\n'.join(problems))
        return problems

    # --- webhooks -------------------------------------------------------------

    def webhook(self, params, *, token=None, url=None, signature=None, path='/taskrouter_event',
                body=None, headers=None, sign=True):
        """POST a form-encoded event; signed for public_url+path unless told otherwise."""
        signed_url = url or (self.public_url + path)
        hdrs = {'Content-Type': 'application/x-www-form-urlencoded'}
        if sign:
            hdrs['X-Twilio-Signature'] = signature or compute_signature(
                token or self.auth_token, signed_url, params)
        hdrs.update(headers or {})
        return self.daemon.request('POST', path, body=encode_form(params) if body is None else body,
                                   headers=hdrs)

    # --- truth from the emulator ---------------------------------------------

    @property
    def ws(self):
        return self.client.taskrouter.v1.workspaces(self.sim.workspace_sid)

    def sim_tasks(self):
        """Open tasks of the emulator: {WT: task instance}."""
        out = {}
        for status in ('pending', 'reserved', 'assigned', 'wrapping'):
            for t in self.ws.tasks.list(assignment_status=[status], page_size=1000):
                out[t.sid] = t
        return out

    def sim_workers(self):
        return {w.sid: w for w in self.ws.workers.list(page_size=1000)}

    def sim_queues(self):
        return {q.sid: q for q in self.ws.task_queues.list(page_size=1000)}

    def sim_statistics(self, **kw):
        return self.ws.statistics().fetch(**kw)

    def sync_state(self):
        """Documents and maps in the emulator, by unique name (control API, not counted)."""
        st = self.sim.state()
        sync = st.get('sync', st)
        docs = {d['unique_name']: d for d in sync.get('documents', [])}
        maps = {m['unique_name']: m for m in sync.get('maps', [])}
        return docs, maps

    def sync_document(self, name):
        docs, _ = self.sync_state()
        d = docs.get(name)
        return None if d is None else d.get('data')

    def sync_map_items(self, name):
        _, maps = self.sync_state()
        m = maps.get(name)
        if m is None:
            return None
        items = m.get('items', {})
        if isinstance(items, list):
            return {i['key']: i.get('data') for i in items}
        return {k: v.get('data') for k, v in items.items()}

    def rest_request_count(self, prefix=None):
        """Requests the emulator served on its REST routes (not /sim/), from its counters."""
        req = self.sim.counters().get('requests', {})
        n = 0
        for route, c in req.items():
            path = route.split(' ', 1)[1] if ' ' in route else route
            if path.startswith('/sim'):
                continue
            if prefix is not None and not path.startswith(prefix):
                continue
            n += int(c.get('total', 0))
        return n


# --- /api helpers --------------------------------------------------------------------

def tcp_table():
    """inode -> (local port, remote port, state) for every TCP socket on the host, from
    /proc/net/tcp{,6} (state '0A' is LISTEN)."""
    out = {}
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    p = line.split()
                    out[p[9]] = (int(p[1].rsplit(':', 1)[1], 16), int(p[2].rsplit(':', 1)[1], 16),
                                 p[3])
        except OSError:
            pass
    return out


def socket_inodes(pid):
    """(number of open fds, socket inodes) of a process."""
    d = '/proc/%d/fd' % pid
    inodes = []
    n = 0
    for name in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, name))
        except OSError:
            continue  # closed while listing
        n += 1
        if target.startswith('socket:['):
            inodes.append(target[8:-1])
    return n, inodes


def tcp_sockets(pid):
    """(local port, state) of every TCP socket the process holds."""
    table = tcp_table()
    return [(table[i][0], table[i][2]) for i in socket_inodes(pid)[1] if i in table]


def served_connections(pid, port):
    """Accepted TCP connections the process still holds on its listening port.
    Unlike a count of every fd, trhubd's own client connections (statistics, Sync)
    opening and closing meanwhile do not move it."""
    return sum(1 for p, state in tcp_sockets(pid) if p == port and state != '0A')


def as_list(doc, key):
    """/api/tasks may be a list or {"tasks": [...]}: the list either way."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for k in (key, 'items', 'data'):
            if isinstance(doc.get(k), list):
                return doc[k]
    raise AssertionError('expected a list or {"%s": [...]}, got %r' % (key, str(doc)[:300]))


def field(obj, *names):
    for n in names:
        if n in obj:
            return obj[n]
    raise AssertionError('none of %s in %r' % (names, sorted(obj)))


def by_sid(objs, *sid_names):
    names = sid_names or ('sid',)
    return {field(o, *names): o for o in objs}


# --- Prometheus text format -----------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_prometheus(text):
    """Parses the text exposition format 0.0.4 strictly.

    Returns {'samples': [(name, {labels}, value)], 'types': {family: type},
    'help': {family: text}}; raises AssertionError on any malformed line.
    """
    samples, types, helps = [], {}, {}
    for n, line in enumerate(text.split('\n'), 1):
        if not line:
            continue
        if line.startswith('#'):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == 'TYPE':
                assert parts[3] in ('counter', 'gauge', 'histogram', 'summary', 'untyped'), line
                assert parts[2] not in types, 'line %d: second TYPE for %s' % (n, parts[2])
                types[parts[2]] = parts[3]
            elif len(parts) >= 3 and parts[1] == 'HELP':
                helps[parts[2]] = parts[3] if len(parts) > 3 else ''
            continue
        m = _SAMPLE.match(line)
        assert m, 'line %d is not a sample: %r' % (n, line)
        labels = {}
        if m.group(3):
            rest = m.group(3)
            pos = 0
            while pos < len(rest):
                lm = _LABEL.match(rest, pos)
                assert lm, 'line %d: bad labels %r' % (n, rest)
                labels[lm.group(1)] = lm.group(2)
                pos = lm.end()
        v = m.group(4)
        value = float('inf') if v == '+Inf' else float('-inf') if v == '-Inf' else float(v)
        samples.append((m.group(1), labels, value))
    for name, _, _ in samples:
        fam = re.sub(r'_(bucket|sum|count|total|created)$', '', name)
        assert name in types or fam in types or (name.rsplit('_', 1)[0] in types), \
            'sample %s has no TYPE line' % name
    return {'samples': samples, 'types': types, 'help': helps}


def metric_sum(parsed, name, **labels):
    total = 0.0
    for n, lb, v in parsed['samples']:
        if n == name and all(lb.get(k) == str(x) for k, x in labels.items()):
            total += v
    return total


# --- SSE client -----------------------------------------------------------------------

class SSEClient:
    """A raw-socket Server-Sent-Events reader (one thread), recording every message."""

    def __init__(self, port, path='/api/stream', headers=None, rcvbuf=None, read=True,
                 timeout=DEFAULT_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(('127.0.0.1', port))
        req = 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n' % (path, port)
        headers = dict(headers or {})
        if not any(k.lower() == 'cookie' for k in headers) and SESSION_COOKIES.get(port):
            headers['Cookie'] = SESSION_COOKIES[port]
        for k, v in headers.items():
            req += '%s: %s\r\n' % (k, v)
        req += '\r\n'
        self.sock.sendall(req.encode())
        self.status = None
        self.headers = {}
        self.messages = []   # dicts: event, id, data, t (monotonic arrival)
        self.comments = []   # (text, t)
        self.closed = False
        self.cond = threading.Condition()
        self._buf = b''
        self._chunked = False
        self._raw = b''
        self.thread = None
        if read:
            self.start()

    def start(self):
        """Starts reading (a client made with read=False reads nothing until then)."""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(None)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self._feed(data, time.monotonic())
        except OSError:
            pass
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def _feed(self, data, t):
        self._raw += data
        if self.status is None:
            if b'\r\n\r\n' not in self._raw:
                return
            head, self._raw = self._raw.split(b'\r\n\r\n', 1)
            lines = head.decode('latin-1').split('\r\n')
            with self.cond:
                self.status = int(lines[0].split()[1])
                for line in lines[1:]:
                    k, _, v = line.partition(':')
                    self.headers[k.strip().lower()] = v.strip()
                self._chunked = 'chunked' in self.headers.get('transfer-encoding', '').lower()
                self.cond.notify_all()
        if self._chunked:
            while True:
                if b'\r\n' not in self._raw:
                    return
                size_line, rest = self._raw.split(b'\r\n', 1)
                size = int(size_line.split(b';')[0] or b'0', 16)
                if len(rest) < size + 2:
                    return
                self._buf += rest[:size]
                self._raw = rest[size + 2:]
                self._parse(t)
        else:
            self._buf += self._raw
            self._raw = b''
            self._parse(t)

    def _parse(self, t):
        while True:
            idx = self._buf.find(b'\n\n')
            if idx < 0:
                return
            block, self._buf = self._buf[:idx].decode('utf-8', 'replace'), self._buf[idx + 2:]
            msg = {'event': 'message', 'id': None, 'data': None, 't': t}
            data = []
            for line in block.split('\n'):
                if line.startswith(':'):
                    with self.cond:
                        self.comments.append((line[1:].strip(), t))
                    continue
                k, _, v = line.partition(':')
                v = v[1:] if v.startswith(' ') else v
                if k == 'event':
                    msg['event'] = v
                elif k == 'id':
                    msg['id'] = v
                elif k == 'data':
                    data.append(v)
            if data:
                msg['data'] = '\n'.join(data)
            else:
                # No data field: nothing is dispatched (HTML Living Standard, SSE
                # interpretation); comments and retry: lines end up here.
                with self.cond:
                    self.cond.notify_all()
                continue
            with self.cond:
                self.messages.append(msg)
                self.cond.notify_all()

    def wait(self, predicate, timeout=DEFAULT_TIMEOUT, what='SSE messages', any_status=False):
        def check():
            if not any_status and self.status is not None and self.status != 200:
                raise AssertionError('GET /api/stream answered %d (%r) while waiting for %s' % (
                    self.status, self._raw[:200], what))
            return predicate(self)
        return th.wait_until(check, timeout, what, cond=self.cond)

    def of(self, event):
        with self.cond:
            return [m for m in self.messages if m['event'] == event]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.thread is not None:
            self.thread.join(DEFAULT_TIMEOUT)


# --- forged events ---------------------------------------------------------------------

class EventFactory:
    """Builds TaskRouter callback forms (twilio-api.md 6) for one workspace."""

    def __init__(self, account_sid, workspace_sid, queue_sid=None, workflow_sid=None):
        self.account_sid = account_sid
        self.workspace_sid = workspace_sid
        self.queue_sid = queue_sid or rand_sid('WQ')
        self.workflow_sid = workflow_sid or rand_sid('WW')
        self.ms = int(time.time() * 1000)

    def now_ms(self, ms=None):
        if ms is None:
            self.ms += 1
            ms = self.ms
        return ms

    def base(self, event_type, resource_type, resource_sid, ms=None):
        ms = self.now_ms(ms)
        return {
            'EventType': event_type,
            'AccountSid': self.account_sid,
            'WorkspaceSid': self.workspace_sid,
            'WorkspaceName': 'trhub test',
            'EventDescription': '%s %s' % (event_type, resource_sid),
            'ResourceType': resource_type,
            'ResourceSid': resource_sid,
            'Timestamp': str(ms // 1000),
            'TimestampMs': str(ms),
            'Sid': rand_sid('EV'),
        }

    def task(self, event_type, task_sid, status, version=0, ms=None, priority=0, attributes=None,
             **extra):
        f = self.base(event_type, 'Task', task_sid, ms)
        f.update({
            'TaskSid': task_sid,
            'TaskAttributes': json.dumps(attributes or {'type': 'support'}),
            'TaskAge': '0',
            'TaskPriority': str(priority),
            'TaskAssignmentStatus': status,
            'TaskVersion': str(version),
            'TaskDateCreated': f['Timestamp'],
            'TaskQueueSid': self.queue_sid,
            'TaskQueueName': 'Support',
            'WorkflowSid': self.workflow_sid,
            'WorkflowName': 'Default',
            'TaskChannelUniqueName': 'default',
        })
        f.update(extra)
        return f

    def worker(self, event_type, worker_sid, name, activity_sid, activity_name, version=0,
               ms=None, **extra):
        f = self.base(event_type, 'Worker', worker_sid, ms)
        f.update({
            'WorkerSid': worker_sid,
            'WorkerName': name,
            'WorkerAttributes': json.dumps({'skills': ['support']}),
            'WorkerActivitySid': activity_sid,
            'WorkerActivityName': activity_name,
            'WorkerVersion': str(version),
        })
        f.update(extra)
        return f


# --- pytest fixtures (imported by each test_daemon_*.py) -------------------------------

def _skip_if_missing():
    import pytest
    try:
        import twilio  # noqa: F401 (only whether it imports)
    except ImportError:
        pytest.exit('python3-twilio is not installed', returncode=77)
    if not os.environ.get('TRHUBD') or not os.environ.get('TRHUB_SIM'):
        pytest.exit('TRHUBD or TRHUB_SIM is not set; run through meson test', returncode=77)


def make_stack_fixture():
    import pytest

    @pytest.fixture
    def make_stack():
        """Factory: make_stack(**Stack kwargs) -> Stack, closed with the harness checks."""
        _skip_if_missing()
        stacks = []

        def make(**kw):
            s = Stack(**kw)
            stacks.append(s)
            return s
        yield make
        problems = []
        for s in stacks:
            problems += s.close(check=False) or []
        if problems:
            raise th.HarnessError('\n'.join(problems))
    return make_stack


# --- the daemon's views, normalised ---------------------------------------------------

TASK_SID_KEYS = ('sid', 'task_sid', 'TaskSid')
TASK_STATUS_KEYS = ('assignment_status', 'status', 'TaskStatus', 'TaskAssignmentStatus')
WORKER_SID_KEYS = ('sid', 'worker_sid', 'WorkerSid')
ACTIVITY_NAME_KEYS = ('activityName', 'activity_name', 'activity', 'WorkerActivityName')
QUEUE_SID_KEYS = ('sid', 'queue_sid', 'task_queue_sid', 'TaskQueueSid')


def api_tasks(daemon):
    """GET /api/tasks -> {WT: object}."""
    return by_sid(as_list(daemon.get_json('/api/tasks'), 'tasks'), *TASK_SID_KEYS)


def api_task_status(daemon):
    return {sid: field(t, *TASK_STATUS_KEYS) for sid, t in api_tasks(daemon).items()}


def api_workers(daemon):
    return by_sid(as_list(daemon.get_json('/api/workers'), 'workers'), *WORKER_SID_KEYS)


def api_queues(daemon):
    return by_sid(as_list(daemon.get_json('/api/queues'), 'queues'), *QUEUE_SID_KEYS)


def activity_of(worker):
    v = field(worker, *ACTIVITY_NAME_KEYS)
    if isinstance(v, dict):
        v = field(v, 'friendly_name', 'name')
    return v


def events_received(daemon):
    return metric_sum(daemon.metrics(), 'trhubd_events_received_total')


def observable_state(daemon):
    """What a rejected webhook must not change: the task and worker views and the
    accepted-event counter."""
    return {
        'tasks': api_task_status(daemon),
        'workers': {sid: activity_of(w) for sid, w in api_workers(daemon).items()},
        'events_received': events_received(daemon),
    }


# --- a scripted contact-center day, driven through the official library -----------------

class Day:
    """Workers log in, calls arrive, agents accept, reject or let reservations time
    out, wrap up and complete; callers hang up; agents take breaks. Deterministic
    for a seed (up to the emulator's routing order). Every loop is bounded."""

    def __init__(self, stack, seed=1, agents=6, extra_workers=2):
        import random
        from trhub_tr import Workspace
        self.stack = stack
        self.rng = random.Random(seed)
        self.w = Workspace(stack.sim, stack.client)
        self.agents = []
        self.others = []
        self.n_tasks = 0
        for i in range(agents):
            self.agents.append(self.w.add_worker('agent%02d' % i, activity='Available'))
        for i in range(extra_workers):
            act = 'Unavailable' if i % 2 == 0 else None
            self.others.append(self.w.add_worker('standby%02d' % i, activity=act))
        self.stop = threading.Event()

    def tasks(self, status):
        return self.w.ws.tasks.list(assignment_status=[status], page_size=200)

    def step(self, new_tasks=4, advance_ms=20_000):
        rng = self.rng
        w = self.w
        for _ in range(new_tasks):
            self.n_tasks += 1
            w.add_task(priority=rng.choice([0, 0, 0, 5, 10]), caller='caller %d' % self.n_tasks)
        for a in self.agents:
            for res in w.worker_reservations(a.sid, 'pending'):
                x = rng.random()
                try:
                    if x < 0.6:
                        w.reservation(res.task_sid, res.sid).update(reservation_status='accepted')
                    elif x < 0.8:
                        w.reservation(res.task_sid, res.sid).update(reservation_status='rejected')
                except Exception:  # raced with a timeout or a cancel: the emulator decides
                    pass
        for t in self.tasks('assigned'):
            if rng.random() < 0.5:
                w.ws.tasks(t.sid).update(assignment_status='wrapping')
        for t in self.tasks('wrapping'):
            if rng.random() < 0.6:
                w.ws.tasks(t.sid).update(assignment_status='completed', reason='resolved')
        for t in self.tasks('pending'):
            if rng.random() < 0.15:
                w.ws.tasks(t.sid).update(assignment_status='canceled', reason='hangup')
        if self.agents and rng.random() < 0.5:
            a = rng.choice(self.agents)
            try:
                w.set_activity(a.sid, rng.choice(['Available', 'Available', 'Unavailable']))
            except Exception:  # a worker with a pending reservation may refuse: fine
                pass
        if advance_ms:
            self.stack.sim.advance(advance_ms)

    def run(self, rounds, **kw):
        for _ in range(rounds):
            if self.stop.is_set():
                break
            self.step(**kw)

    def run_in_thread(self, rounds, **kw):
        self.error = None

        def body():
            try:
                self.run(rounds, **kw)
            except BaseException as e:  # reported by join()
                self.error = e
        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()
        return self.thread

    def join(self, timeout=120):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'the scripted day did not finish in %d s' % timeout
        if self.error is not None:
            raise self.error


# --- convergence ---------------------------------------------------------------------

LEGACY_STATS_KEYS = ('totalTasks', 'totalWorkers', 'avgTaskAcceptanceTime', 'startTime',
                     'endTime')


def sim_stats_raw(stack, start_date=None):
    q = ''
    if start_date:
        q = '?' + urllib.parse.urlencode({'StartDate': start_date})
    status, _, doc = stack.sim.http_json('GET', stack.sim.ws_path + '/Statistics' + q)
    assert status == 200, (status, doc)
    return doc


SLA_THRESHOLD_S = 30  # the default sla_threshold_s


def _rate(num, den):
    """Exact percentage; the daemon's one-decimal rounding is allowed for by
    diff_dicts (ROUNDED_KEYS), whichever way it breaks ties."""
    return None if den == 0 else 100.0 * num / den


def expected_stats(stack, start_date, threshold=SLA_THRESHOLD_S):
    """The statistics document (kpi.h), recomputed from the emulator's workspace
    statistics over the same window: the seed dashboard's keys
    (twilio-api.md 3.7) and the KPIs of twilio-operations.md 7."""
    q = {'SplitByWaitTime': str(threshold)}
    if start_date:
        q['StartDate'] = start_date
    status, _, doc = stack.sim.http_json(
        'GET', stack.sim.ws_path + '/Statistics?' + urllib.parse.urlencode(q))
    assert status == 200, (status, doc)
    rt, cum = doc['realtime'], doc['cumulative']
    exp = {'totalTasks': rt['total_tasks'], 'totalWorkers': rt['total_workers'],
           # no sample (null), not TaskRouter's 0, until a reservation is accepted
           'avgTaskAcceptanceTime': (cum['avg_task_acceptance_time']
                                     if cum['reservations_accepted'] else None),
           'startTime': cum['start_time']}
    for st, n in rt['tasks_by_status'].items():
        exp[st + 'Tasks'] = n
    for a in rt['activity_statistics']:
        exp['activity' + ''.join(a['friendly_name'].split()) + 'Workers'] = a['workers']
    exp['workersByActivity'] = {a['friendly_name']: a['workers']
                                for a in rt['activity_statistics']}
    exp['slThresholdS'] = threshold
    exp['tasksCreated'] = cum['tasks_created']
    exp['tasksCompleted'] = cum['tasks_completed']
    exp['abandoned'] = cum['tasks_canceled']
    exp['reservationsAccepted'] = cum['reservations_accepted']
    exp['reservationsRejected'] = cum['reservations_rejected']
    exp['reservationsTimedOut'] = cum['reservations_timed_out']
    exp['abandonmentRate'] = _rate(cum['tasks_canceled'], cum['tasks_created'])
    split = cum.get('split_by_wait_time', {}).get(str(threshold), {})
    below = split.get('below', {}).get('reservations_accepted', 0)
    exp['serviceLevel'] = _rate(below, cum['reservations_accepted'] + cum['tasks_canceled'])
    return exp


# Keys whose value is rounded to one decimal by the daemon.
ROUNDED_KEYS = ('abandonmentRate', 'serviceLevel', 'asa', 'avgTaskAcceptanceTime')


def day_starts_utc():
    """Plausible StartDate values for day_start 00:00 UTC: today's, and yesterday's if
    the test straddles midnight."""
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for delta in (0, 1):
        d = (now - datetime.timedelta(days=delta)).date()
        out.append(d.strftime('%Y-%m-%dT00:00:00Z'))
    return out


def diff_dicts(what, got, exp, keys=None, rounded=()):
    out = []
    keys = keys if keys is not None else sorted(set(got) | set(exp))
    for k in keys:
        g, e = got.get(k, '<missing>'), exp.get(k, '<missing>')
        tol = 0.0501 if k in rounded else 1e-6 * max(1, abs(e)) if isinstance(e, (int, float)) \
            else 0
        if isinstance(g, (int, float)) and isinstance(e, (int, float)) and \
                not isinstance(g, bool) and abs(g - e) <= tol:
            continue
        if g != e:
            out.append('%s[%s]: trhubd %r, emulator %r' % (what, k, g, e))
    return out


def stats_differences(stack, doc, what):
    if not isinstance(doc, dict):
        return ['%s: no document (%r)' % (what, doc)]
    start = doc.get('startTime')
    if start not in day_starts_utc():
        return ['%s: startTime %r is not the configured day start %r' % (
            what, start, day_starts_utc())]
    exp = expected_stats(stack, start)
    out = diff_dicts(what, doc, exp, keys=sorted(exp), rounded=ROUNDED_KEYS)
    if 'endTime' not in doc:
        out.append('%s: no endTime' % what)
    return out


def model_differences(stack):
    """Differences between trhubd's /api views and the emulator's own state."""
    d = stack.daemon
    out = []
    sim_tasks = stack.sim_tasks()
    exp = {sid: t.assignment_status for sid, t in sim_tasks.items()}
    got_tasks = api_tasks(d)
    got = {sid: field(t, *TASK_STATUS_KEYS) for sid, t in got_tasks.items()}
    out += diff_dicts('/api/tasks status', got, exp)
    for sid, t in got_tasks.items():
        if sid in sim_tasks:
            p = field(t, 'priority', 'TaskPriority')
            if int(p) != sim_tasks[sid].priority:
                out.append('/api/tasks[%s] priority %r, emulator %r' % (
                    sid, p, sim_tasks[sid].priority))
    sim_workers = stack.sim_workers()
    got_w = api_workers(d)
    out += diff_dicts('/api/workers activity', {s: activity_of(w) for s, w in got_w.items()},
                      {s: w.activity_name for s, w in sim_workers.items()})
    for sid, w in got_w.items():
        if sid in sim_workers:
            name = field(w, 'friendlyName', 'friendly_name', 'name', 'WorkerName')
            if name != sim_workers[sid].friendly_name:
                out.append('/api/workers[%s] name %r, emulator %r' % (
                    sid, name, sim_workers[sid].friendly_name))
    sim_q = stack.sim_queues()
    got_q = api_queues(d)
    if set(got_q) != set(sim_q):
        out.append('/api/queues SIDs %r, emulator %r' % (sorted(got_q), sorted(sim_q)))
    for sid, q in got_q.items():
        if sid not in sim_q:
            continue
        name = field(q, 'friendlyName', 'friendly_name', 'name')
        if name != sim_q[sid].friendly_name:
            out.append('/api/queues[%s] name %r, emulator %r' % (sid, name,
                                                                sim_q[sid].friendly_name))
        status, _, rt = stack.sim.http_json(
            'GET', '%s/TaskQueues/%s/RealTimeStatistics' % (stack.sim.ws_path, sid))
        assert status == 200, (status, rt)
        exp_by = {k: v for k, v in rt['tasks_by_status'].items()
                  if k in ('pending', 'reserved', 'assigned', 'wrapping')}
        got_by = q.get('tasks', {})
        out += diff_dicts('/api/queues[%s].tasks' % sid, got_by, exp_by, keys=sorted(exp_by))
    return out


def sync_differences(stack, latest_event=None):
    out = []
    docs, maps = stack.sync_state()
    stats = docs.get('SyncTaskRouterStats', {}).get('data')
    out += stats_differences(stack, stats, 'Sync SyncTaskRouterStats')
    if latest_event is not None:
        ev = docs.get('SyncTaskRouterEvents', {}).get('data')
        if ev != latest_event:
            out.append('Sync SyncTaskRouterEvents %r, latest delivered event %r' % (
                ev, latest_event))
    items = stack.sync_map_items('SyncTaskRouterTasks')
    sim_tasks = stack.sim_tasks()
    if items is None:
        if sim_tasks:
            out.append('Sync map SyncTaskRouterTasks missing with %d open tasks' % len(sim_tasks))
    else:
        if set(items) != set(sim_tasks):
            out.append('Sync map SyncTaskRouterTasks keys: extra %r, missing %r' % (
                sorted(set(items) - set(sim_tasks)), sorted(set(sim_tasks) - set(items))))
        for sid, data in items.items():
            if sid in sim_tasks:
                st = None
                for k in ('TaskStatus', 'assignment_status', 'status'):
                    if isinstance(data, dict) and k in data:
                        st = data[k]
                        break
                if st != sim_tasks[sid].assignment_status:
                    out.append('Sync map item %s status %r, emulator %r' % (
                        sid, st, sim_tasks[sid].assignment_status))
    return out


def all_differences(stack, latest_event=None):
    out = model_differences(stack)
    stats = stack.daemon.get_json('/api/stats')
    out += stats_differences(stack, stats, '/api/stats')
    out += sync_differences(stack, latest_event)
    return out


def converge(check, timeout=CONVERGE_TIMEOUT, what='convergence'):
    """Polls check() (a list of differences) until it is empty; fails with the last one."""
    end = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if not last:
            return
        if time.monotonic() >= end:
            raise AssertionError('no %s within %.0f s; differences:\n  %s' % (
                what, timeout, '\n  '.join(last[:40])))
        threading.Event().wait(0.2)


def sync_write_stats(stack):
    """{unique_name or sid: {'writes': n, 'max_per_second': m}} from the emulator's counters."""
    out = {}
    for sid, w in stack.sim.counters().get('sync_writes', {}).items():
        out[w.get('unique_name') or sid] = w
    return out
