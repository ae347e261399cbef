"""smtp_bench.py - messages per second accepted by kurir-smtpd.

For each concurrency C, starts a fresh kurir host (tests/e2e/kurirtest.py)
and sends N messages of SIZE bytes to postmaster@example.test over C
concurrent SMTP sessions, one message per session, the way Postfix's
smtp-source does by default.  Uses /usr/sbin/smtp-source when installed,
else a small Python client with the same dialogue.  Counts a run only if
all N messages are in the queue afterwards.  Each run is aborted after
--timeout seconds.

usage: python3 tests/bench/smtp_bench.py [-n N] [-c 1,10,50] [-l SIZE]
       [--timeout S] [--client auto|smtp-source|python]
(KURIR_BUILD names the build directory; tests/bench/run.sh sets it.)
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import kurirtest  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
SENDER = "a@example.test"
RCPT = "postmaster@example.test"


def make_message(size):
    head = b"From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n\r\n" % (
        SENDER.encode(), RCPT.encode())
    line = b"x" * 70 + b"\r\n"
    body = b""
    while len(head) + len(body) + len(line) <= size:
        body += line
    rest = size - len(head) - len(body)
    if rest >= 3:
        body += b"y" * (rest - 2) + b"\r\n"
    return head + body


class PyClient:
    """One message per session: EHLO, MAIL, RCPT, DATA, QUIT."""

    def __init__(self, port, n, conc, size, deadline):
        self.port, self.n, self.conc = port, n, conc
        self.msg = make_message(size) + b".\r\n"
        self.deadline = deadline
        self.lock = threading.Lock()
        self.left = n
        self.ok = 0
        self.errors = []

    def take(self):
        with self.lock:
            if self.left == 0:
                return False
            self.left -= 1
            return True

    @staticmethod
    def reply(f):
        while True:
            line = f.readline()
            if not line:
                raise EOFError("connection closed")
            if line[3:4] != b"-":
                return int(line[:3])

    def one(self):
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=30) as s:
            f = s.makefile("rb")
            steps = [(None, 220), (b"EHLO bench.test\r\n", 250),
                     (b"MAIL FROM:<%s>\r\n" % SENDER.encode(), 250),
                     (b"RCPT TO:<%s>\r\n" % RCPT.encode(), 250),
                     (b"DATA\r\n", 354), (self.msg, 250),
                     (b"QUIT\r\n", 221)]
            for out, want in steps:
                if out:
                    s.sendall(out)
                code = self.reply(f)
                if code != want:
                    raise RuntimeError("%r -> %d" % (out and out[:20], code))

    def worker(self):
        while time.monotonic() < self.deadline and self.take():
            try:
                self.one()
                with self.lock:
                    self.ok += 1
            except Exception as e:      # noqa: BLE001 - counted, reported
                with self.lock:
                    self.errors.append(repr(e))

    def run(self):
        ts = [threading.Thread(target=self.worker, daemon=True)
              for _ in range(self.conc)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(max(0.1, self.deadline - time.monotonic() + 5))
        return self.ok, self.errors


def smtp_source_argv(port, n, conc, size):
    return [SMTP_SOURCE, "-s", str(conc), "-m", str(n), "-l", str(size),
            "-f", SENDER, "-t", RCPT, "127.0.0.1:%d" % port]


def fs_type(path):
    try:
        return subprocess.run(["stat", "-f", "-c", "%T", path],
                              capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def bench_one(args, conc, client):
    # a fresh host per run; sessions limits raised so C sessions fit
    host = kurirtest.Host({"smtp_max_sessions_per_ip": str(max(100, 2 * conc)),
                           "smtp_max_sessions": str(max(1000, 4 * conc)),
                           "message_size_limit": "10m"})
    try:
        host.setup()
        host.start()
        host.wait_smtp()
        start = time.monotonic()
        deadline = start + args.timeout
        errors = []
        if client == "smtp-source":
            argv = smtp_source_argv(host.smtp_port, args.n, conc, args.size)
            try:
                r = subprocess.run(argv, capture_output=True, text=True,
                                   timeout=args.timeout)
                if r.returncode != 0:
                    errors.append("smtp-source exit %d: %s" %
                                  (r.returncode, r.stderr.strip()[:300]))
            except subprocess.TimeoutExpired:
                errors.append("aborted after %ds" % args.timeout)
        else:
            _, errs = PyClient(host.smtp_port, args.n, conc, args.size,
                               deadline).run()
            errors += errs[:5]
            if time.monotonic() >= deadline:
                errors.append("aborted after %ds" % args.timeout)
        took = time.monotonic() - start
        queued = len(os.listdir(os.path.join(host.state, "queue", "msg")))
        return took, queued, errors, fs_type(host.state)
    finally:
        host.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", 2000)))
    ap.add_argument("-c", default=os.environ.get("BENCH_C", "1,10,50"))
    ap.add_argument("-l", "--size", type=int,
                    default=int(os.environ.get("BENCH_SIZE", 1024)))
    ap.add_argument("--timeout", type=int,
                    default=int(os.environ.get("BENCH_TIMEOUT", 120)))
    ap.add_argument("--client", default=os.environ.get("BENCH_CLIENT", "auto"),
                    choices=("auto", "smtp-source", "python"))
    args = ap.parse_args()
    client = args.client
    if client == "auto":
        client = "smtp-source" if os.access(SMTP_SOURCE, os.X_OK) else "python"
    if client == "smtp-source" and not os.access(SMTP_SOURCE, os.X_OK):
        sys.exit("smtp-source not installed (sh tools/bootstrap.sh bench)")
    concs = [int(x) for x in args.c.split(",") if x.strip()]
    print("kurir SMTP benchmark: %d messages of %d bytes per run, one per "
          "session, client %s, build %s, %s" % (
              args.n, args.size, client, kurirtest.BUILD,
              "as root (privilege separation on)" if os.geteuid() == 0
              else "as uid %d" % os.geteuid()))
    rows, failed = [], False
    for conc in concs:
        took, queued, errors, fs = bench_one(args, conc, client)
        ok = queued == args.n and not errors
        failed |= not ok
        rows.append((conc, queued, took, queued / took if took > 0 else 0,
                     fs, "" if ok else "INCOMPLETE: " + "; ".join(errors)[:200]))
        sys.stdout.flush()
    print("%8s %9s %9s %10s  %s" % ("sessions", "queued", "seconds", "msg/s",
                                    "state fs"))
    for conc, queued, took, rate, fs, note in rows:
        print("%8d %9d %9.2f %10.1f  %s %s" % (conc, queued, took, rate, fs,
                                               note))
    print("reproduce: sh tests/bench/run.sh %s   (BENCH_N=%d BENCH_C=%s "
          "BENCH_SIZE=%d BENCH_CLIENT=%s)" % (
              os.environ.get("BENCH_BUILD_ARG", kurirtest.BUILD), args.n,
              args.c, args.size, client))
    if client == "smtp-source":
        print("  each run: " + " ".join(smtp_source_argv(0, args.n, 0,
                                                         args.size))
              .replace("-s 0", "-s C").replace(":0", ":PORT"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
