"""The local queue socket cannot be taken over by one user, and a full
disk defers new mail without losing what is queued (issue 13, part 5).

Reproduced before the fix: one local user opening 1,030 idle
connections to the queue socket made every other user's sendmail fail
(EX_TEMPFAIL), and nothing kept free space for the queue.  Root only
where a second user or a small filesystem of the test's own is needed.
"""
import os
import pwd
import smtplib
import socket
import subprocess
import sys
import time
import unittest

import tools
from kurirtest import HostCase, wait_for

ROOT = os.geteuid() == 0

# run as another user: open n connections to the queue socket, send
# nothing, then say how many the server still holds open after a while
FLOOD = r"""
import select, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except OSError:
        s.close()
        continue
    socks.append(s)
time.sleep(1.0)
open_ = 0
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        open_ += 1              # nothing to read, no EOF: still held
print(open_, flush=True)
sys.stdin.read()                # hold them until told
"""


@unittest.skipUnless(ROOT, "a second local user needs root")
class PerUidLimitTest(HostCase):
    host_extra = {"queue_max_clients_per_uid": "5"}

    def test_one_user_cannot_lock_out_the_others(self):
        self.host.setup()
        self.host.start()
        nobody = pwd.getpwnam("nobody")
        flood = subprocess.Popen(
            [tools.need("setpriv"), "--reuid=%d" % nobody.pw_uid,
             "--regid=%d" % nobody.pw_gid, "--clear-groups", "--",
             sys.executable, "-c", FLOOD, self.host.queue_sock(), "40"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(flood.wait, 30)
        self.addCleanup(flood.stdin.close)
        held = int(flood.stdout.readline())
        self.assertEqual(held, 5, "connections one user may hold")
        # meanwhile another user's sendmail goes through
        r = self.host.sendmail(["alice"], "Subject: through\n\nok\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queue_max_clients_per_uid", self.host.log())


class FirstFrameTest(HostCase):
    def test_silent_connection_closed_soon(self):
        """A connection that sends nothing is closed after 10 s, not the
        600 s of a client that has begun."""
        self.host.setup()
        self.host.start()
        s = socket.socket(socket.AF_UNIX)
        self.addCleanup(s.close)
        s.connect(self.host.queue_sock())
        start = time.monotonic()
        s.settimeout(30)
        self.assertEqual(s.recv(1), b"")
        took = time.monotonic() - start
        self.assertGreaterEqual(took, 8)
        self.assertLess(took, 25)


@unittest.skipUnless(ROOT, "a small filesystem of the test's own needs root")
class MinFreeTest(HostCase):
    host_users = {"alice": "pw"}
    host_extra = {"queue_min_free": "8m"}

    def setUp(self):
        super().setUp()
        # the state tree on a 16 MB tmpfs of its own, before it is made
        self.mount = tools.need("mount")
        self.umount = tools.need("umount")
        self.state = self.host.state
        os.makedirs(self.state)
        subprocess.run([self.mount, "-t", "tmpfs", "-o",
                        "size=16m,mode=0755", "tmpfs", self.state],
                       check=True, timeout=30)
        self.addCleanup(self.unmount)
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()
        self.filler = os.path.join(self.state, "filler")

    def unmount(self):
        self.host.stop()
        subprocess.run([self.umount, "-l", self.state], timeout=30)

    def fill(self):
        with open(self.filler, "wb") as f:
            f.write(b"\0" * (10 * 1024 * 1024))

    def test_low_space_defers_new_mail_keeps_old(self):
        first = self.host.sendmail(["alice"], "Subject: before\n\nkept\n")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.fill()
        r = self.host.sendmail(["alice"], "Subject: during\n\nno\n")
        self.assertEqual(r.returncode, 75, r.stderr)       # EX_TEMPFAIL
        self.assertIn("4.3.1", r.stderr.decode())
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=30) as s:
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("s@remote.test", ["alice@example.test"],
                           b"Subject: smtp\r\n\r\nno\r\n")
            self.assertEqual(cm.exception.smtp_code, 452)
            self.assertIn(b"4.3.1", cm.exception.smtp_error)
        self.assertEqual(len(self.host.queue()), 1)         # nothing lost
        os.unlink(self.filler)
        r = self.host.sendmail(["alice"], "Subject: after\n\nyes\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: len(self.host.queue()) == 2, 10, "two queued")


if __name__ == "__main__":
    unittest.main()
