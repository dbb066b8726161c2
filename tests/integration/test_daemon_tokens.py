"""GET /token and GET /api/worker/token, judged by python3-twilio.

Each token trhubd issues is decoded with PyJWT (the signature verified with
the emulator's API secret or auth token), and compared claim by claim, and
header field by header field, with what twilio-python's AccessToken and
WorkerCapabilityToken produce for the same inputs at the same second.
"""

import json
from unittest import mock

import jwt as pyjwt

import daemon_harness as dh

make_stack = dh.make_stack_fixture()


def login(stack, user, password):
    r = stack.daemon.login(user, password, remember=False)
    assert r.status == 200, r
    return dh.cookie_of(r)


def get(stack, path, cookie):
    return dh.http_request(stack.daemon.port, 'GET', path, headers={'Cookie': cookie or ''})


def decode(token, key):
    header = pyjwt.get_unverified_header(token)
    claims = pyjwt.decode(token, key, algorithms=['HS256'],
                          options={'verify_exp': True, 'verify_nbf': True})
    return header, claims


def twilio_at(now, fn):
    """Runs fn with time.time() frozen at now (twilio-python reads it for jti/nbf/exp)."""
    with mock.patch('time.time', return_value=float(now)):
        return fn()


def test_sync_token_is_the_supervisors_and_matches_twilio_python(make_stack):
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import SyncGrant
    stack = make_stack()
    sim = stack.sim
    sup = login(stack, 'sup', 'sup-pass')
    # The caller cannot name the identity (the old dashboard let anyone).
    r = get(stack, '/token?identity=mallory', sup)
    assert r.status == 200, r
    doc = r.json()
    assert sorted(doc) == ['identity', 'token']
    assert doc['identity'] == 'sup'
    header, claims = decode(doc['token'], sim.api_secret)
    assert header == {'typ': 'JWT', 'alg': 'HS256', 'cty': 'twilio-fpa;v=1'}
    assert claims['exp'] - claims['nbf'] == 3600

    def build():
        t = AccessToken(sim.account_sid, sim.api_key, sim.api_secret, identity='sup',
                        ttl=3600)
        t.add_grant(SyncGrant(service_sid=sim.sync_service_sid))
        return t.to_jwt()
    ref = twilio_at(claims['nbf'], build)
    ref_header, ref_claims = decode(ref, sim.api_secret)
    assert header == ref_header
    assert set(claims) == set(ref_claims), (claims, ref_claims)
    for k in ref_claims:
        assert claims[k] == ref_claims[k], (k, claims[k], ref_claims[k])
    # A wrong key is refused.
    try:
        pyjwt.decode(doc['token'], 'not-the-secret', algorithms=['HS256'])
        raise AssertionError('a token verified with the wrong key')
    except pyjwt.InvalidSignatureError:
        pass


def test_token_routes_refuse_the_wrong_people(make_stack):
    stack = make_stack()
    alice = login(stack, 'alice', 'alice-pass')
    sup = login(stack, 'sup', 'sup-pass')
    assert get(stack, '/token', None).status == 401
    assert get(stack, '/token', alice).status == 403
    assert get(stack, '/api/worker/token', None).status == 401
    assert get(stack, '/api/worker/token', sup).status == 403
    # alice is not a TaskRouter worker yet: a clear 409, no token.
    r = get(stack, '/api/worker/token', alice)
    assert r.status == 409 and r.json()['error'] == 'no worker', r


def test_worker_tokens_match_twilio_python(make_stack):
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import TaskRouterGrant
    from twilio.jwt.taskrouter.capabilities import WorkerCapabilityToken
    stack = make_stack(daemon_env={'TRHUB_TOKEN_TTL_S': '1800'})
    sim = stack.sim
    wk = stack.ws.workers.create(friendly_name='alice').sid
    dh.converge(lambda: [] if stack.daemon.login('alice', 'alice-pass', remember=False).json().get('workerSid')
                else ['alice unresolved'], what='alice in the model')
    alice = login(stack, 'alice', 'alice-pass')
    r = get(stack, '/api/worker/token', alice)
    assert r.status == 200, r
    doc = r.json()
    assert doc['identity'] == 'alice' and doc['workerSid'] == wk
    assert doc['workspaceSid'] == sim.workspace_sid

    header, claims = decode(doc['accessToken'], sim.api_secret)
    assert doc['accessTokenExpiresAtMs'] == claims['exp'] * 1000
    assert claims['exp'] - claims['nbf'] == 1800

    def build_access():
        t = AccessToken(sim.account_sid, sim.api_key, sim.api_secret, identity='alice',
                        ttl=1800)
        t.add_grant(TaskRouterGrant(workspace_sid=sim.workspace_sid, worker_sid=wk,
                                    role='worker'))
        return t.to_jwt()
    ref_header, ref_claims = decode(twilio_at(claims['nbf'], build_access), sim.api_secret)
    assert header == ref_header
    assert claims == ref_claims, json.dumps([claims, ref_claims], indent=1)

    cheader, cclaims = decode(doc['capabilityToken'], sim.auth_token)
    assert doc['capabilityTokenExpiresAtMs'] == cclaims['exp'] * 1000

    def build_capability():
        t = WorkerCapabilityToken(sim.account_sid, sim.auth_token, sim.workspace_sid, wk,
                                  ttl=1800, allow_update_activities=True,
                                  allow_update_reservations=True)
        return t.to_jwt()
    ref_cheader, ref_cclaims = decode(twilio_at(cclaims['nbf'], build_capability),
                                      sim.auth_token)
    assert cheader == ref_cheader
    assert set(cclaims) == set(ref_cclaims), (sorted(cclaims), sorted(ref_cclaims))
    for k in ref_cclaims:
        assert cclaims[k] == ref_cclaims[k], (k, cclaims[k], ref_cclaims[k])
