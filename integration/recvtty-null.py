#!/usr/bin/env python3
"""Minimal console-socket receiver for running runc's bats suite without Go.

Stands in for the test helper that runc builds from Go sources. Only the
"null" mode is implemented: listen on a unix socket, accept any number of
connections, receive one pty master fd per connection (SCM_RIGHTS) and read
it until EOF, discarding the data so the container never blocks on output.

Usage: recvtty-null.py [--mode null] [--pid-file FILE] SOCKET
"""
import argparse
import array
import os
import socket
import sys
import threading


def drain(conn):
    try:
        fds = array.array("i")
        _msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        for fd in fds:
            threading.Thread(target=read_to_eof, args=(fd,), daemon=True).start()
    finally:
        conn.close()


def read_to_eof(fd):
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass  # EIO once the last slave fd closes
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", "-m", default="null")
    ap.add_argument("--pid-file", default="")
    ap.add_argument("--no-stdin", action="store_true")
    ap.add_argument("socket")
    args = ap.parse_args()
    if args.mode != "null":
        sys.exit("recvtty-null: only --mode null is implemented")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(16)
    if args.pid_file:
        tmp = args.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.rename(tmp, args.pid_file)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
