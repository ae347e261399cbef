"""e2e_bench.py - end-to-end messages per second: smtp-source sends N
messages of 1 KiB (one per session, C sessions at once) to a fresh kurir
host that delivers them into a Maildir; the clock stops when the last
one is in new/.  Also prints the accepted rate (all 250s received).

usage: KURIR_BUILD=build /usr/bin/python3 tests/bench/e2e_bench.py [N [C]]
(needs /usr/sbin/smtp-source: sh tools/bootstrap.sh bench).  A first
version of what the performance issue makes part of `make bench`.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import kurirtest  # noqa: E402


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    c = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    host = kurirtest.Host({"smtp_max_sessions_per_ip": str(max(100, 2 * c)),
                           "message_size_limit": "10m"},
                          users={"demo": "bench-pw"},
                          aliases="postmaster: demo\n", deliver=True)
    try:
        host.setup()
        host.start()
        host.wait_smtp()
        new = os.path.join(host.mail, "demo", "new")

        def delivered():
            try:
                return len(os.listdir(new))
            except OSError:
                return 0
        t0 = time.monotonic()
        r = subprocess.run(["/usr/sbin/smtp-source", "-s", str(c), "-m",
                            str(n), "-l", "1024", "-f", "a@example.test",
                            "-t", "postmaster@example.test",
                            "127.0.0.1:%d" % host.smtp_port],
                           capture_output=True, text=True, timeout=300)
        t1 = time.monotonic()
        end = t1 + 300
        while delivered() < n and time.monotonic() < end:
            time.sleep(0.005)
        t2 = time.monotonic()
        got = delivered()
        print("%d messages, %d sessions: accepted %.0f msg/s, end to end "
              "%.0f msg/s, %d delivered%s" % (
                  n, c, n / (t1 - t0), got / (t2 - t0), got,
                  "" if r.returncode == 0 else
                  " (smtp-source: %s)" % r.stderr.strip()[:200]))
        return 0 if got == n and r.returncode == 0 else 1
    finally:
        host.cleanup()


if __name__ == "__main__":
    sys.exit(main())
