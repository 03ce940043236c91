#!/usr/bin/env python3
"""Runs one child process (a broker such as tansu) and guarantees it dies with us.

    supervise.py [--ready-port PORT] [--ready-timeout SECS] [--log FILE]
                 [--cwd DIR] -- COMMAND [ARGS...]

The child is started in its own process group. The whole group is killed
(SIGTERM, then SIGKILL after a grace period) when:
  * our stdin reaches EOF: the parent (a test binary) exited, panicked or was
    killed, since the kernel closes its end of the pipe in every case;
  * we get SIGTERM, SIGINT or SIGHUP;
  * the readiness check fails.
If the child exits by itself, we exit with its status (128+signal if killed).

stdout carries machine-readable lines only:
  ``READY pid=<child pid>``   the child accepts TCP connections on 127.0.0.1:PORT
                              (printed at once when --ready-port is not given);
  ``EXIT <status>``           the child ended by itself;
  ``ERR <reason>``            it could not start, the port was already taken,
                              or it was not ready in time (we then exit 1).
The child's stdout and stderr go to --log FILE (appended) or to our stderr.

Run it with stdin connected to a pipe that the parent keeps open for as long
as the child must live. With stdin on a terminal, type Ctrl-D to stop.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

GRACE_SECS = 5.0


def say(line):
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def die_with_parent():
    """In the child, before exec: ask Linux to SIGKILL it if we die first (even
    by SIGKILL, when no cleanup of ours can run)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, not on every platform
        pass


class Child:
    def __init__(self, argv, log, cwd):
        self.lock = threading.Lock()
        out = open(log, "ab") if log else sys.stderr.buffer
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=cwd, start_new_session=True,
                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            if log:
                out.close()
        self.pgid = self.proc.pid  # start_new_session: the child leads its group

    def kill_group(self):
        """SIGTERM the group, wait GRACE_SECS, then SIGKILL whatever is left."""
        with self.lock:
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + GRACE_SECS
            while time.monotonic() < deadline:
                if self.proc.poll() is not None and not group_alive(self.pgid):
                    return
                time.sleep(0.05)
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("--ready-port", type=int)
    ap.add_argument("--ready-timeout", type=float, default=60.0)
    ap.add_argument("--log")
    ap.add_argument("--cwd")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        say("ERR no command given (usage: supervise.py [options] -- COMMAND ARGS...)")
        return 1

    if args.ready_port is not None and not port_free(args.ready_port):
        say("ERR port %d on 127.0.0.1 is already in use; pick another port or stop what holds it" % args.ready_port)
        return 1

    try:
        child = Child(argv, args.log, args.cwd)
    except OSError as e:
        say("ERR cannot start %s: %s" % (argv[0], e))
        return 1

    stopping = threading.Event()

    def on_signal(signum, _frame):
        stopping.set()

    for sgn in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sgn, on_signal)

    def watch_stdin():
        try:
            while os.read(0, 4096):
                pass
        except (OSError, ValueError):
            pass
        stopping.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    # Readiness.
    if args.ready_port is not None:
        deadline = time.monotonic() + args.ready_timeout
        while True:
            if stopping.is_set():
                child.kill_group()
                return 0
            rc = child.proc.poll()
            if rc is not None:
                where = " (log: %s)" % args.log if args.log else ""
                say("ERR %s exited with status %d before listening on port %d%s" % (argv[0], rc, args.ready_port, where))
                child.kill_group()
                return 1
            if port_open(args.ready_port):
                break
            if time.monotonic() > deadline:
                where = " (log: %s)" % args.log if args.log else ""
                say(
                    "ERR %s did not listen on 127.0.0.1:%d within %.0fs%s"
                    % (argv[0], args.ready_port, args.ready_timeout, where)
                )
                child.kill_group()
                return 1
            time.sleep(0.1)
    say("READY pid=%d" % child.proc.pid)

    while not stopping.is_set():
        rc = child.proc.poll()
        if rc is not None:
            status = rc if rc >= 0 else 128 - rc
            say("EXIT %d" % status)
            child.kill_group()  # reap any grandchildren left in the group
            return status
        stopping.wait(0.2)
    child.kill_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
