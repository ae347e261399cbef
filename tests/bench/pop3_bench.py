"""pop3_bench.py - messages per second served by kurir-pop3d.

Starts a fresh kurir host (tests/e2e/kurirtest.py) with POP3 on
127.0.0.1 and one user whose Maildir holds N messages of about SIZE
bytes (written straight into new/, as kurir-local would leave them),
then times one session fetching all of them, twice:

  lockstep   poplib: USER/PASS, UIDL, then RETR 1..N one at a time
             (command, whole reply, next command), then QUIT;
  pipelined  a raw socket: UIDL and RETR 1..N written as fast as the
             server takes them (RFC 2449 PIPELINING) while the replies
             are read, then QUIT.

Each fetch is checked (N replies, every message byte-exact after
un-stuffing); QUIT's UPDATE (moving N messages to cur/) is timed
separately.  Every run is aborted after --timeout seconds.
Also reports the login (PASS until "+OK maildrop", which lists the
Maildir) and QUIT (UPDATE) times of each session.

usage: python3 tests/bench/pop3_bench.py [-n N] [-l SIZE] [--timeout S]
(KURIR_BUILD names the build directory; tests/bench/run.sh sets it.)
"""
import argparse
import os
import poplib
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import kurirtest  # noqa: E402

USER, PASSWORD = "bench", "bench-pw"


def make_messages(n, size):
    line = b"x" * 70 + b"\n"
    out = []
    for i in range(n):
        head = (b"Return-Path: <a@example.test>\nDelivered-To: "
                b"bench@example.test\nFrom: <a@example.test>\n"
                b"To: <bench@example.test>\nSubject: bench %d\n\n" % i)
        body = b""
        while len(head) + len(body) + len(line) <= size:
            body += line
        out.append(head + body)
    return out


class Aborted(Exception):
    pass


def lockstep(port, msgs, deadline):
    """(seconds for the login, for UIDL + all RETRs, for QUIT; octets)."""
    p = poplib.POP3("127.0.0.1", port, timeout=30)
    try:
        p.user(USER)
        tl = time.monotonic()
        p.pass_(PASSWORD)
        t0 = time.monotonic()
        _, uidl, _ = p.uidl()
        if len(uidl) != len(msgs):
            raise Aborted("UIDL listed %d of %d" % (len(uidl), len(msgs)))
        octets = 0
        for i, want in enumerate(msgs):
            _, lines, o = p.retr(i + 1)
            if b"\n".join(lines) + b"\n" != want:
                raise Aborted("RETR %d: wrong content" % (i + 1))
            octets += o
            if time.monotonic() > deadline:
                raise Aborted("aborted after %d messages" % i)
        t1 = time.monotonic()
        p.quit()
        return t0 - tl, t1 - t0, time.monotonic() - t1, octets
    finally:
        p.close()


class Reader:
    """Replies from a socket: status lines and multi-line bodies."""

    def __init__(self, sock, deadline):
        self.sock, self.deadline = sock, deadline
        self.buf = bytearray()
        self.off = 0

    def fill(self):
        if time.monotonic() > self.deadline:
            raise Aborted("timed out reading replies")
        if self.off > 1 << 20:
            del self.buf[:self.off]
            self.off = 0
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise Aborted("connection closed")
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b"\r\n", self.off)
            if i >= 0:
                out = bytes(self.buf[self.off:i])
                self.off = i + 2
                return out
            self.fill()

    def body(self):
        """A multi-line body as sent (stuffed, CRLF), without the end."""
        at = self.off
        while True:
            if self.buf.startswith(b".\r\n", self.off):
                self.off += 3
                return b""
            i = self.buf.find(b"\r\n.\r\n", at)
            if i >= 0:
                out = bytes(self.buf[self.off:i + 2])
                self.off = i + 5
                return out
            # fill() may move the buffer: keep the scan point relative
            rel = max(0, len(self.buf) - 4 - self.off)
            self.fill()
            at = self.off + rel


def pipelined(port, msgs, deadline):
    """(seconds for the login, for UIDL + all RETRs, for QUIT; octets)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        r = Reader(s, deadline)
        r.line()
        tl = time.monotonic()
        s.sendall(b"USER %s\r\nPASS %s\r\n" % (USER.encode(),
                                                PASSWORD.encode()))
        for _ in range(2):
            st = r.line()
            if not st.startswith(b"+OK"):
                raise Aborted("login: %r" % st)
        n = len(msgs)
        errors = []

        def writer():
            try:
                s.sendall(b"UIDL\r\n")
                for a in range(1, n + 1, 500):
                    s.sendall(b"".join(b"RETR %d\r\n" % i for i in
                                       range(a, min(n, a + 499) + 1)))
            except OSError as e:
                errors.append(e)
        t0 = time.monotonic()
        w = threading.Thread(target=writer, daemon=True)
        w.start()
        if not r.line().startswith(b"+OK"):
            raise Aborted("UIDL refused")
        if r.body().count(b"\r\n") != n:
            raise Aborted("UIDL: wrong count")
        octets = 0
        for i, want in enumerate(msgs):
            st = r.line()
            if not st.startswith(b"+OK"):
                raise Aborted("RETR %d: %r" % (i + 1, st))
            got = r.body()
            if got != kurirtest.to_wire(want):
                raise Aborted("RETR %d: wrong content" % (i + 1))
            octets += len(got)
        t1 = time.monotonic()
        w.join(5)
        if errors:
            raise Aborted("writing: %r" % errors[0])
        s.sendall(b"QUIT\r\n")
        if not r.line().startswith(b"+OK"):
            raise Aborted("QUIT refused")
        return t0 - tl, t1 - t0, time.monotonic() - t1, octets
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int,
                    default=int(os.environ.get("BENCH_POP3_N", 5000)))
    ap.add_argument("-l", "--size", type=int,
                    default=int(os.environ.get("BENCH_SIZE", 1024)))
    ap.add_argument("--timeout", type=int,
                    default=int(os.environ.get("BENCH_TIMEOUT", 120)))
    args = ap.parse_args()
    print("kurir POP3 benchmark: one session fetching %d messages of about "
          "%d bytes, build %s, %s" % (
              args.n, args.size, kurirtest.BUILD,
              "as root (privilege separation on)" if os.geteuid() == 0
              else "as uid %d" % os.geteuid()))
    host = kurirtest.Host({"pop3_idle_timeout": "10m"},
                          users={USER: PASSWORD}, pop3=True)
    rows, failed = [], False
    try:
        host.setup()
        host.start()
        host.wait_pop3()
        msgs = make_messages(args.n, args.size)
        t = time.monotonic()
        host.put_mail(USER, msgs)
        print("  %d messages written into the Maildir in %.2f s" %
              (args.n, time.monotonic() - t))
        sys.stdout.flush()
        for name, fn in (("lockstep", lockstep), ("pipelined", pipelined)):
            deadline = time.monotonic() + args.timeout
            try:
                login, took, quit_took, octets = fn(host.pop3_port, msgs,
                                                    deadline)
                rows.append((name, args.n, took, args.n / took,
                             octets / took / 1e6, login, quit_took, ""))
            except (Aborted, OSError, poplib.error_proto, EOFError) as e:
                failed = True
                rows.append((name, 0, 0, 0, 0, 0, 0, "FAILED: %s" % e))
        # every message RETR'd: all in cur/ now, none lost
        seen = len(host.mail_files(USER, "cur"))
        if seen != args.n or host.mail_files(USER):
            failed = True
            rows.append(("maildir", seen, 0, 0, 0, 0, 0,
                         "FAILED: %d messages in cur/, %d in new/, want %d "
                         "in cur/" % (seen, len(host.mail_files(USER)),
                                      args.n)))
    finally:
        host.cleanup()
    print("%10s %9s %9s %10s %8s %8s %8s" % ("mode", "messages", "seconds",
                                             "msg/s", "MB/s", "login s",
                                             "QUIT s"))
    for name, n, took, rate, mbs, login, q, note in rows:
        print("%10s %9d %9.3f %10.1f %8.2f %8.3f %8.3f %s" % (
            name, n, took, rate, mbs, login, q, note))
    print("  seconds, msg/s and MB/s: UIDL plus every RETR; login: PASS to "
          "its +OK (the maildrop listed); QUIT: the UPDATE state")
    print("reproduce: KURIR_BUILD=%s python3 tests/bench/pop3_bench.py -n %d "
          "-l %d" % (os.environ.get("BENCH_BUILD_ARG", kurirtest.BUILD),
                     args.n, args.size))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
