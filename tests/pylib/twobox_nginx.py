#!/usr/bin/python3
"""nginx in front of two trhubd, as doc/scaling.md configures it, for the two-box tests.

doc/scaling.md's nginx block is run as written, only its ports replaced: TaskRouter's
callbacks go to nginx, which answers them through hub-a and mirrors each to hub-b; pages
go to one instance per client address. Used by tests/integration/test_daemon_twobox.py
(import) and tests/browser/twobox.test.mjs (command line):

  twobox_nginx.py --which              print nginx's path; exit 77 when it is missing
  twobox_nginx.py DIR LISTEN A B       write DIR/nginx.conf (listen on 127.0.0.1:LISTEN,
                                       hub-a on port A, hub-b on port B) and exec nginx in
                                       the foreground; the caller waits for the port
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'doc', 'scaling.md')


def nginx_binary():
    """nginx's path, or None (Debian puts it in /usr/sbin, not always on PATH)."""
    return shutil.which('nginx') or ('/usr/sbin/nginx' if os.path.exists('/usr/sbin/nginx')
                                     else None)


def nginx_conf(tmp, listen_port, port_a, port_b):
    text = open(DOC).read()
    block = re.search(r'```nginx\n(.*?)```', text, re.S).group(1)
    for old, new in (('127.0.0.1:8080', listen_port), ('127.0.0.1:8081', port_a),
                     ('127.0.0.1:8082', port_b)):
        assert old in block, 'doc/scaling.md no longer names %s' % old
        block = block.replace(old, '127.0.0.1:%d' % new)
    temp = ''.join('    %s_temp_path %s/%s;\n' % (k, tmp, k)
                   for k in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    return ('daemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\n'
            'http {\n    access_log off;\n%s%s}\n' % (tmp, tmp, temp, block))


def command(binary, tmp, listen_port, port_a, port_b):
    """Writes tmp/nginx.conf; the argv that runs nginx on it in the foreground."""
    conf = os.path.join(tmp, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write(nginx_conf(tmp, listen_port, port_a, port_b))
    return [binary, '-p', tmp, '-c', conf, '-e', tmp + '/error.log']


def start(binary, tmp, listen_port, port_a, port_b, timeout=10):
    """nginx started and listening; the caller terminates the Popen."""
    p = subprocess.Popen(command(binary, tmp, listen_port, port_a, port_b),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', listen_port), timeout=1).close()
            return p
        except OSError:
            if p.poll() is not None or time.monotonic() > deadline:
                p.kill()
                raise AssertionError('nginx did not start: %r' % p.stderr.read())
            time.sleep(0.05)


def main(argv):
    binary = nginx_binary()
    if argv[1:] == ['--which']:
        if binary is None:
            return 77
        print(binary)
        return 0
    if len(argv) != 5 or binary is None:
        sys.stderr.write(__doc__)
        return 2
    argv_nginx = command(binary, argv[1], *(int(a) for a in argv[2:5]))
    os.execv(binary, argv_nginx)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
