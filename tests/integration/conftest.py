"""Fixtures for the ops CLI integration tests: real binaries against trhub-sim,
judged by the official Twilio library (python3-twilio) reading the same sim."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'pylib'))

try:
    import twilio  # noqa: F401
except ImportError:  # pragma: no cover - the judge is missing
    pytest.exit('python3-twilio is not installed', returncode=77)

for var in ('TRHUB_SIM', 'TRHUB_CLI_DIR'):
    if not os.environ.get(var):
        pytest.exit('%s is not set; run through meson test' % var, returncode=77)

import cli_harness as ch  # noqa: E402
import trhub_harness as th  # noqa: E402
from trhub_tr import Workspace  # noqa: E402


@pytest.fixture
def start_sim():
    """Factory: start_sim(*args) -> th.Sim, stopped (and checked) at teardown."""
    started = []

    def start(*args, expected_errors=()):
        sim = th.Sim(list(args), expected_errors=expected_errors)
        started.append(sim)
        try:
            sim.start()
        except BaseException:
            sim.kill()
            raise
        return sim

    yield start
    problems = []
    for sim in started:
        if not sim.stopped:
            problems += sim.stop(check=False) or []
    if problems:
        raise th.HarnessError('\n'.join(problems))


@pytest.fixture
def sim(start_sim):
    return start_sim()


@pytest.fixture
def client(sim):
    return sim.client()


@pytest.fixture
def ws(sim, client):
    """trhub_tr.Workspace: TaskRouter helpers written against the official library."""
    return Workspace(sim, client)


@pytest.fixture
def env(sim):
    return ch.sim_env(sim)


@pytest.fixture
def cli(env):
    """cli(tool, *args, **env_override) -> cli_harness.Result."""
    def run(tool, *args, timeout=ch.TIMEOUT, **override):
        e = dict(env)
        for k, v in override.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return ch.run(tool, *args, env=e, timeout=timeout)
    return run
