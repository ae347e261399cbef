"""kurird, the root supervisor, never waits on a child.

A child is a confined process that parses untrusted input; one that is
compromised must not be able to freeze the supervisor, which restarts
the others.  The attack: a kurir-auth that sends half a control frame
and then stalls (today's kurird read its channel with a blocking read).
The stand-in kurir-auth is a small script put beside a copy of kurird
(kurird starts the programs found beside itself); kurird must go on
serving: it restarts a kurir-queue killed meanwhile.
"""
import os
import re
import shutil
import signal
import stat
import tempfile
import time
import unittest

from kurirtest import HostCase, prog, wait_for

# kurir-auth's stand-in: its control channel is descriptor 3; a frame
# header is 12 octets, of which it sends 5, then drains what kurird sends
# (tables, links) for at most 60 s without ever answering.
STALLING_AUTH = """#!/usr/bin/python3
import os, select, time
os.write(3, b"\\x00\\x07\\x00\\x00\\x00")
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([3], [], [], 1)
    if r and not os.read(3, 65536):
        break
"""

PROGRAMS = ("kurir-queue", "kurir-sendmail", "kurirctl", "kurir-smtpd",
            "kurir-send", "kurir-local", "kurir-remote", "kurir-pop3d")


class StallingChildTest(HostCase):
    def bindir_with_stalling_auth(self):
        d = tempfile.mkdtemp(prefix="kurir-bin-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        # a copy, not a link: kurird finds its children beside its own
        # resolved path
        shutil.copy2(prog("kurird"), os.path.join(d, "kurird"))
        for p in PROGRAMS:
            if os.path.exists(prog(p)):
                os.symlink(prog(p), os.path.join(d, p))
        auth = os.path.join(d, "kurir-auth")
        with open(auth, "w") as f:
            f.write(STALLING_AUTH)
        os.chmod(auth, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
                 stat.S_IROTH | stat.S_IXOTH)
        return d

    def queue_pid(self):
        m = re.findall(r"started kurir-queue \(pid (\d+)\)", self.host.log())
        return int(m[-1]) if m else None

    def test_half_a_frame_does_not_freeze_kurird(self):
        d = self.bindir_with_stalling_auth()
        self.host.setup()
        self.host.kurird = self.host.start_logged(
            [os.path.join(d, "kurird"), "-d", "-n", "-f", self.host.conf],
            "kurird")
        wait_for(self.host.queue_ready, 15, "the queue socket")
        wait_for(lambda: "started kurir-auth" in self.host.log(), 10,
                 "kurir-auth's stand-in started")
        time.sleep(0.5)         # its half frame is in kurird's socket
        first = self.queue_pid()
        self.assertIsNotNone(first)
        os.kill(first, signal.SIGKILL)
        # the supervisor's loop still runs: it reaps and restarts
        wait_for(lambda: self.queue_pid() not in (None, first), 20,
                 "kurird to restart kurir-queue")
        wait_for(self.host.queue_ready, 15, "the queue socket again")
        self.assertIsNone(self.host.kurird.poll(), "kurird exited")
        # and it still takes mail for the queue
        r = self.host.sendmail(["alice"], "Subject: t\n\nstill here\n")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
