"""authflood.py - RCPT latency of a clean SMTP session while a flood of
AUTH PLAIN with wrong passwords hits the same kurir host (issue 13,
section 2: kurir-auth must not stall the host).

The flood: FLOOD connections (300) from loopback, as fast as THREADS (30)
threads can open them, each EHLO, AUTH PLAIN with a wrong password, and
close without waiting for the answer.  Meanwhile one session sends RCPT TO
a known user RCPTS (500) times on a schedule, one every INTERVAL (2 ms)
from the start of the flood (RSET and MAIL again every 50, untimed), and
goes on until the flood is over.  The latency of each RCPT counts from the
time it was due, not from when a stalled session got round to sending it
(else one RCPT that waits 5 s behind a stalled kurir-auth is one sample
in 500 and hides in the p99: "coordinated omission").  Output: median,
p99 and max of those latencies in ms.

Used by compare.py (make bench, group "auth"); also runs alone against a
build of its own, e.g. to measure another commit:
    sudo /usr/bin/python3 tests/bench/authflood.py BUILD [key=value ...]
(key=value: extra config keys, e.g. auth_fail_limit=100000).  Needs no
Postfix or Dovecot.  Run as root, the privilege separation is in force.
"""
import base64
import os
import socket
import statistics
import sys
import threading
import time

FLOOD = int(os.environ.get("BENCH_AUTH_FLOOD", "300"))
RCPTS = int(os.environ.get("BENCH_AUTH_RCPTS", "500"))
THREADS = 30
INTERVAL = 0.002
TIMEOUT = 60


class Line:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def reply(self):
        """One whole SMTP reply; its code."""
        while True:
            while b"\r\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    raise EOFError("connection closed")
                self.buf += d
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return int(line[:3])

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.s.close()


def flood_one(port, user, n):
    bad = base64.b64encode(b"\0%s\0wrong-%d" % (user.encode(), n)).decode()
    c = Line(port)
    try:
        c.reply()
        c.cmd("EHLO flood.example")
        c.s.sendall(("AUTH PLAIN %s\r\n" % bad).encode())
    finally:
        c.close()       # at once: the answer is not awaited


def flood(port, user):
    """The flood, in a process of its own: its threads must not take the
    measuring session's interpreter lock (that would be our stall, not
    kurir's).  Exit status: 0, or 1 if many connections failed."""
    counter = iter(range(FLOOD))
    lock = threading.Lock()
    errors = []

    def flooder():
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            try:
                flood_one(port, user, n)
            except OSError as e:
                errors.append(str(e))

    threads = [threading.Thread(target=flooder, daemon=True)
               for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    if len(errors) > FLOOD // 10:
        sys.stderr.write("%d flood connections failed: %s\n" % (
            len(errors), errors[:3]))
        os._exit(1)
    os._exit(0)


def run(port, user, rcpt):
    """Flood port while timing RCPTs; (RCPT latencies in s, flood s)."""
    c = Line(port)
    c.reply()
    c.cmd("EHLO clean.example")
    assert c.cmd("MAIL FROM:<a@example.org>") == 250
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        flood(port, user)
    times = []
    status = None
    while len(times) < RCPTS or status is None:
        if status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if len(times) % 50 == 49:
            c.cmd("RSET")
            c.cmd("MAIL FROM:<a@example.org>")
        due = t0 + len(times) * INTERVAL
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        code = c.cmd("RCPT TO:<%s>" % rcpt)
        times.append(time.monotonic() - due)
        if code != 250:
            raise AssertionError("RCPT got %d" % code)
        if time.monotonic() - t0 > TIMEOUT:
            break
    flood_s = time.monotonic() - t0
    if status is None:
        _, status = os.waitpid(pid, 0)
    c.cmd("QUIT")
    c.close()
    if status != 0:
        raise AssertionError("the flood failed (status %d)" % status)
    return times, flood_s


def summary(times):
    t = sorted(times)
    p99 = t[min(len(t) - 1, int(len(t) * 0.99))]
    return {"median_ms": statistics.median(t) * 1000, "p99_ms": p99 * 1000,
            "max_ms": t[-1] * 1000, "n": len(t)}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    os.environ["KURIR_BUILD"] = os.path.abspath(build)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "e2e"))
    import kurirtest
    extra = {"smtp_max_sessions": "2000", "smtp_max_sessions_per_ip": "2000"}
    for kv in sys.argv[2:]:
        k, _, v = kv.partition("=")
        extra[k.strip()] = v.strip()
    host = kurirtest.Host(extra, users={"bench": "bench-pw-7"})
    try:
        host.setup()
        host.start()
        host.wait_smtp()
        times, flood_s = run(host.smtp_port, "bench", "bench@example.test")
        s = summary(times)
        print("RCPT during %d AUTH failures (%.2f s): median %.2f ms, p99 "
              "%.2f ms, max %.1f ms over %d RCPTs" % (
                  FLOOD, flood_s, s["median_ms"], s["p99_ms"], s["max_ms"],
                  s["n"]))
        log = host.log()
        print("kurir-auth: %d checks failed after crypt, %d dropped before "
              "crypt, %d refused lines" % (
                  log.count("auth failed user="),
                  log.count("dropped before crypt"),
                  log.count("auth refused")))
    finally:
        host.cleanup()


if __name__ == "__main__":
    main()
