"""trhubd's pages (daemon/static.c): only the files of web_dir's table are
served, with ETag/304, Cache-Control, precompressed gzip, content types and a
strict Content-Security-Policy on every answer.

The web tree here is made by the test (with a symlink and files outside it
that must never be reachable); the last test checks the real built tree
(build/web) file by file against its manifest."""

import gzip
import json
import os

import daemon_harness as dh

make_stack = dh.make_stack_fixture()

CSP = "default-src 'self'"
SECRET = b'TOP SECRET: must never be served'


def make_tree(root):
    web = os.path.join(root, 'web')
    os.makedirs(os.path.join(web, 'assets'))
    os.makedirs(os.path.join(root, 'custom'))
    files = {
        'dashboard.html': b'<!doctype html><title>dash</title>',
        'worker.html': b'<!doctype html><title>agent</title>',
        'login.html': b'<!doctype html><title>login</title>',
        'favicon.svg': b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        'assets/app-ABC123.js': b'console.log("app");\n' * 50,
        'assets/app-ABC123.css': b'body{color:red}\n' * 20,
        'assets/.hidden.js': b'hidden',
        'assets/noext': b'no type',
    }
    for rel, data in files.items():
        with open(os.path.join(web, rel), 'wb') as f:
            f.write(data)
    with open(os.path.join(web, 'assets/app-ABC123.js.gz'), 'wb') as f:
        f.write(gzip.compress(files['assets/app-ABC123.js']))
    with open(os.path.join(root, 'secret.txt'), 'wb') as f:
        f.write(SECRET)
    os.symlink(os.path.join(root, 'secret.txt'), os.path.join(web, 'assets', 'link.js'))
    os.symlink(os.path.join(root, 'secret.txt'), os.path.join(web, 'secret.txt'))
    with open(os.path.join(root, 'custom', 'branding.json'), 'w') as f:
        json.dump({'title': 'ACME Care', 'logo': 'logo.svg'}, f)
    with open(os.path.join(root, 'custom', 'logo.svg'), 'wb') as f:
        f.write(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    return web, os.path.join(root, 'custom'), files


def stack_with_tree(make_stack, tmp_path):
    web, custom, files = make_tree(str(tmp_path))
    stack = make_stack(daemon_env={'TRHUB_WEB_DIR': web, 'TRHUB_WEB_CUSTOM_DIR': custom})
    return stack, files


def get(stack, path, headers=None, method='GET'):
    return dh.http_request(stack.daemon.port, method, path, headers=headers)


def test_pages_and_assets_are_served_with_their_types(make_stack, tmp_path):
    stack, files = stack_with_tree(make_stack, tmp_path)
    for path, rel, ctype in (('/', 'dashboard.html', 'text/html; charset=utf-8'),
                             ('/dashboard', 'dashboard.html', 'text/html; charset=utf-8'),
                             ('/worker', 'worker.html', 'text/html; charset=utf-8'),
                             ('/login', 'login.html', 'text/html; charset=utf-8'),
                             ('/favicon.svg', 'favicon.svg', 'image/svg+xml'),
                             ('/assets/app-ABC123.js', 'assets/app-ABC123.js',
                              'text/javascript; charset=utf-8'),
                             ('/assets/app-ABC123.css', 'assets/app-ABC123.css',
                              'text/css; charset=utf-8')):
        r = get(stack, path)
        assert r.status == 200, (path, r)
        assert r.body == files[rel], path
        assert r.headers['content-type'] == ctype, path
        assert r.headers['x-content-type-options'] == 'nosniff'
    head = get(stack, '/assets/app-ABC123.js', method='HEAD')
    assert head.status == 200 and head.body == b''


def test_traversal_and_unlisted_files_are_404(make_stack, tmp_path):
    stack, _ = stack_with_tree(make_stack, tmp_path)
    for path in ('/assets/../dashboard.html', '/assets/..%2fdashboard.html',
                 '/assets/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt',
                 '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/custom/..%2fsecret.txt',
                 '/assets/link.js', '/secret.txt', '/assets/.hidden.js', '/assets/noext',
                 '/dashboard.html', '/assets/app-ABC123.js.gz', '/assets/app-ABC123.js%00',
                 '/assets//app-ABC123.js', '/assets/APP-ABC123.JS', '/etc/passwd',
                 '//etc/passwd', '/assets/'):
        r = get(stack, path)
        assert r.status in (400, 404), (path, r)
        assert SECRET not in r.body, path


def test_etag_gives_304_and_assets_are_immutable(make_stack, tmp_path):
    stack, _ = stack_with_tree(make_stack, tmp_path)
    r = get(stack, '/assets/app-ABC123.js')
    etag = r.headers['etag']
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    assert 'immutable' in r.headers['cache-control']
    assert 'max-age=31536000' in r.headers['cache-control']
    again = get(stack, '/assets/app-ABC123.js', {'If-None-Match': etag})
    assert again.status == 304 and again.body == b''
    assert again.headers['etag'] == etag
    assert get(stack, '/assets/app-ABC123.js', {'If-None-Match': '"other"'}).status == 200
    assert get(stack, '/assets/app-ABC123.js', {'If-None-Match': 'W/' + etag}).status == 304
    page = get(stack, '/dashboard')
    assert page.headers['cache-control'] == 'no-cache'
    assert get(stack, '/dashboard', {'If-None-Match': page.headers['etag']}).status == 304


def test_gzip_twin_is_sent_when_accepted(make_stack, tmp_path):
    stack, files = stack_with_tree(make_stack, tmp_path)
    plain = get(stack, '/assets/app-ABC123.js')
    assert 'content-encoding' not in plain.headers
    assert plain.headers['vary'] == 'Accept-Encoding'
    gz = get(stack, '/assets/app-ABC123.js', {'Accept-Encoding': 'br, gzip, deflate'})
    assert gz.headers['content-encoding'] == 'gzip'
    assert gzip.decompress(gz.body) == files['assets/app-ABC123.js']
    assert len(gz.body) < len(files['assets/app-ABC123.js'])
    assert gz.headers['etag'] != plain.headers['etag']
    refused = get(stack, '/assets/app-ABC123.js', {'Accept-Encoding': 'gzip;q=0, identity'})
    assert 'content-encoding' not in refused.headers
    # a file without a twin is sent as it is
    css = get(stack, '/assets/app-ABC123.css', {'Accept-Encoding': 'gzip'})
    assert 'content-encoding' not in css.headers and css.body == files['assets/app-ABC123.css']


def test_every_answer_has_the_strict_csp(make_stack, tmp_path):
    stack, _ = stack_with_tree(make_stack, tmp_path)
    for path in ('/', '/worker', '/login', '/assets/app-ABC123.js', '/assets/nope.js',
                 '/custom/branding.json'):
        r = get(stack, path)
        csp = r.headers.get('content-security-policy', '')
        assert csp.startswith(CSP), (path, csp)
        assert 'unsafe-inline' not in csp and 'unsafe-eval' not in csp and 'http' not in csp
        assert "frame-ancestors 'none'" in csp


def test_branding_from_web_custom_dir(make_stack, tmp_path):
    stack, _ = stack_with_tree(make_stack, tmp_path)
    b = get(stack, '/custom/branding.json')
    assert b.status == 200 and json.loads(b.body)['title'] == 'ACME Care'
    assert get(stack, '/custom/logo.svg').headers['content-type'] == 'image/svg+xml'
    css = get(stack, '/custom/custom.css')  # absent from the folder: an empty default
    assert css.status == 200 and css.headers['content-type'].startswith('text/css')


def test_missing_custom_dir_gives_default_branding(make_stack, tmp_path):
    web, _, _ = make_tree(str(tmp_path))
    stack = make_stack(daemon_env={'TRHUB_WEB_DIR': web,
                                   'TRHUB_WEB_CUSTOM_DIR': str(tmp_path / 'nowhere')})
    assert json.loads(get(stack, '/custom/branding.json').body) == {}
    assert get(stack, '/').status == 200


def test_no_web_tree_answers_503_and_the_api_still_works(make_stack, tmp_path):
    stack = make_stack(daemon_env={'TRHUB_WEB_DIR': str(tmp_path)},
                       expected_errors=())
    r = get(stack, '/dashboard')
    assert r.status == 503 and json.loads(r.body)['error'] == 'unavailable'
    assert get(stack, '/healthz').status == 200


def test_the_built_tree_is_served_file_by_file(make_stack):
    web = os.environ.get('TRHUB_WEB_BUILD_DIR')
    if not web or not os.path.exists(os.path.join(web, 'manifest.json')):
        import pytest
        pytest.skip('the pages were not built (node or web/node_modules missing)')
    stack = make_stack(daemon_env={'TRHUB_WEB_DIR': web})
    with open(os.path.join(web, 'manifest.json')) as f:
        manifest = json.load(f)
    assert manifest['dashboardFirstLoadGzipBytes'] <= 150 * 1024
    for entry in manifest['files']:
        rel = entry['path']
        if rel.endswith('.html'):
            path = {'dashboard.html': '/', 'worker.html': '/worker',
                    'login.html': '/login'}[rel]
        else:
            path = '/' + rel
        r = get(stack, path, {'Accept-Encoding': 'gzip'})
        assert r.status == 200, (path, r)
        body = gzip.decompress(r.body) if r.headers.get('content-encoding') == 'gzip' else r.body
        with open(os.path.join(web, rel), 'rb') as f:
            assert body == f.read(), path
        if rel.startswith('assets/'):
            assert 'immutable' in r.headers['cache-control']
    # no page carries an inline script
    for path in ('/', '/worker', '/login'):
        html = get(stack, path).body.decode()
        for chunk in html.split('<script')[1:]:
            assert 'src="/assets/' in chunk.split('>')[0], chunk[:80]


def test_recording_callback_gives_the_task_its_recording_link(make_stack):
    """The task table's recording link: a signed recording callback for an open
    task puts its RecordingUrl into the task's JSON (snapshot, /api/tasks)."""
    import urllib.parse
    stack = make_stack()
    assert stack.daemon.login('sup', 'sup-pass').status == 200
    task = stack.ws.tasks.create(workflow_sid=stack.sim.workflow_sid,
                                 attributes=json.dumps({'from': '+15550101010'}))
    dh.th.wait_until(lambda: task.sid in {t['sid'] for t in stack.daemon.get_json('/api/tasks')},
                     what='the task in /api/tasks')
    t = next(t for t in stack.daemon.get_json('/api/tasks') if t['sid'] == task.sid)
    assert t['recordingUrl'] is None  # no recording: null, not a dead link
    url = 'https://api.twilio.com/2010-04-01/Accounts/%s/Recordings/RE%s' % (
        stack.sim.account_sid, '7' * 32)
    path = '/taskrouter_recording_callback?' + urllib.parse.urlencode({'TaskSid': task.sid})
    params = {'AccountSid': stack.sim.account_sid, 'RecordingSid': 'RE' + '7' * 32,
              'RecordingUrl': url, 'RecordingStatus': 'completed'}
    r = stack.webhook(params, path=path)
    assert r.status == 204, r
    t = next(t for t in stack.daemon.get_json('/api/tasks') if t['sid'] == task.sid)
    assert t['recordingUrl'] == url
