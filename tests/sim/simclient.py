"""Helpers for tests that drive trhub-sim with the official Twilio library.

client_for(base_url, account_sid, auth_token) returns a twilio.rest.Client
whose requests go to the emulator: the HTTP client rewrites the Twilio hosts
(taskrouter, sync, api, ...) to base_url and leaves paths and query strings
untouched, so the library's own URL building, auth, paging and error
handling are what the tests exercise.

start_sim(binary, *args) starts trhub-sim on 127.0.0.1:0, reads its printed
lines and returns a Sim with the base URL and credentials; control() talks
to the /sim/ API with plain urllib.
"""

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_HOST_SUFFIX = ".twilio.com"


class SimHttpClient(TwilioHttpClient):
    """A TwilioHttpClient that sends every *.twilio.com request to the emulator."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.sim_base_url = base_url.rstrip("/")

    def rewrite(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname is None or not parts.hostname.endswith(TWILIO_HOST_SUFFIX):
            return url
        rest = urllib.parse.urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        return self.sim_base_url + rest

    def request(self, method, url, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        return super().request(method, self.rewrite(url), params=params, data=data,
                               headers=headers, auth=auth, timeout=timeout,
                               allow_redirects=allow_redirects)


def client_for(base_url, account_sid, auth_token, username=None):
    """A twilio.rest.Client for the emulator at base_url.

    With username (an API key SID) the key:secret pair authenticates and
    auth_token is taken as the key's secret, as Client(username, password,
    account_sid) does against Twilio.
    """
    http_client = SimHttpClient(base_url)
    if username is not None:
        return Client(username=username, password=auth_token, account_sid=account_sid,
                      http_client=http_client)
    return Client(username=account_sid, password=auth_token, http_client=http_client)


class Sim:
    """A running trhub-sim: base_url, env (the printed KEY=value lines), proc."""

    def __init__(self, proc, base_url, env):
        self.proc = proc
        self.base_url = base_url
        self.env = env

    @property
    def account_sid(self):
        return self.env["TWILIO_ACCOUNT_SID"]

    @property
    def auth_token(self):
        return self.env["TWILIO_AUTH_TOKEN"]

    @property
    def sync_service_sid(self):
        return self.env["TWILIO_SYNC_SERVICE_SID"]

    @property
    def workspace_sid(self):
        return self.env["TWILIO_WORKSPACE_SID"]

    def client(self, api_key=False):
        if api_key:
            return client_for(self.base_url, self.account_sid, self.env["TWILIO_API_SECRET"],
                              username=self.env["TWILIO_API_KEY"])
        return client_for(self.base_url, self.account_sid, self.auth_token)

    def control(self, method, path, body=None):
        """Calls /sim/<path>; returns (status, parsed JSON or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read()
                return resp.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, json.loads(text) if text else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode


def start_sim(binary=None, *args):
    """Starts trhub-sim (default $TRHUB_SIM) and waits for its printed lines."""
    binary = binary or os.environ["TRHUB_SIM"]
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()
    if not first.startswith("listening on "):
        proc.kill()
        raise RuntimeError("trhub-sim did not start: %r" % first)
    base_url = first[len("listening on "):]
    env = {}
    while True:
        line = proc.stdout.readline().strip()
        if not line:
            break
        key, _, value = line.partition("=")
        env[key] = value
        if key == "TRHUB_TWILIO_BASE_URL":
            break
    return Sim(proc, base_url, env)
