#!/usr/bin/python3
"""Starts trhubd the systemd way for the browser tests.

  launch_trhubd.py TRHUBD PORT USERS_FILE NAME:ROLE:PASSWORD...

Binds 127.0.0.1:PORT (0: any; SO_REUSEADDR so a restart gets the same
port), writes USERS_FILE (name:role:crypt-hash lines, hashed here with
crypt(3)), prints "port N" on stdout, reads one line of JSON (the
environment for trhubd) from stdin, and execs trhubd with the socket as fd 3
(LISTEN_FDS=1, LISTEN_PID = this pid, which exec keeps)."""

import json
import os
import socket
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter('ignore', DeprecationWarning)
    import crypt  # deprecated in 3.11 but present in Debian 12's python3


def main():
    trhubd, port, users_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(users_file, 'w') as f:
        for spec in sys.argv[4:]:
            name, role, password = spec.split(':', 2)
            f.write('%s:%s:%s\n' % (name, role,
                                    crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))))
    os.chmod(users_file, 0o640)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(512)
    print('port %d' % s.getsockname()[1], flush=True)
    env = json.loads(sys.stdin.readline())
    fd = s.fileno()
    if fd != 3:
        os.dup2(fd, 3, inheritable=True)
        os.close(fd)
    os.set_inheritable(3, True)
    env['LISTEN_FDS'] = '1'
    env['LISTEN_PID'] = str(os.getpid())
    os.execve(trhubd, [trhubd], env)


main()
