"""End-to-end tests of the real kurir-auth binary.

The test plays kurird: it starts build/kurir-auth with one end of a
socketpair as the control channel (-c FD), passes the users and aliases
files as open descriptors (AP_CTL_USERS / AP_CTL_ALIASES) and a client
link (AP_CTL_LINK), then speaks the client protocol of common/authproto.h
on that link.  Frames: uint32 length, uint16 type, uint16 0, uint32 id,
network order, then the payload.  As root it also checks from /proc that
the process runs as the auth user, chrooted to <state_dir>/empty, and
keeps no table file open.

Run: cd tests/e2e && KURIR_BUILD=/path/to/build python3 -m unittest test_auth
"""
import os
import pwd
import signal
import socket
import struct
import subprocess
import time
import unittest

import kurirtest
from kurirtest import prog, wait_for

AP_AUTH, AP_RCPT = 1, 2
AP_OK, AP_FAIL, AP_NOUSER = 10, 11, 12
AP_CTL_USERS, AP_CTL_ALIASES, AP_CTL_LINK = 20, 21, 22


def frame(ftype, fid, payload=b""):
    return struct.pack("!IHHI", len(payload), ftype, 0, fid) + payload


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("link closed")
        data += chunk
    return data


def read_frame(s):
    length, ftype, rsv, fid = struct.unpack("!IHHI", recv_exact(s, 12))
    assert rsv == 0
    return ftype, fid, recv_exact(s, length) if length else b""


class AuthCase(kurirtest.HostCase):
    host_users = {"alice": "secret", "bob": "hunter2"}

    def setUp(self):
        super().setUp()
        self.host.setup()
        with open(os.path.join(self.host.dir, "aliases"), "w") as f:
            f.write("info: alice\nsales: bob, carol@example.org\n")
        self.ctl, theirs = socket.socketpair()
        log = open(os.path.join(self.host.dir, "auth.log"), "ab")
        self.addCleanup(log.close)
        self.proc = subprocess.Popen(
            [prog("kurir-auth"), "-d", "-f", self.host.conf,
             "-c", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            stdout=log, stderr=log)
        theirs.close()
        self.addCleanup(self.stop)
        self.send_table(AP_CTL_USERS, "users")
        self.send_table(AP_CTL_ALIASES, "aliases")
        self.link = self.new_link()
        # the link came after the tables on the control channel: loaded
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.ctl.close()

    def replace_file(self, name, text):
        """Write a table the way configuration management does."""
        path = os.path.join(self.host.dir, name)
        with open(path + ".new", "w") as f:
            f.write(text)
        os.replace(path + ".new", path)

    def log(self):
        return self.host.log("auth")

    def send_table(self, ftype, name):
        path = os.path.join(self.host.dir, name)
        fd = os.open(path, os.O_RDONLY)
        try:
            socket.send_fds(self.ctl, [frame(ftype, 0, path.encode())], [fd])
        finally:
            os.close(fd)

    def reload_table(self, ftype, name):
        """Send a table again and wait until kurir-auth has dealt with it."""
        def events():
            log = self.log()
            return log.count(" from ") + log.count("(keeping the old")
        before = events()
        self.send_table(ftype, name)
        wait_for(lambda: events() > before, 10, "the table reload")

    def new_link(self):
        ours, theirs = socket.socketpair()
        socket.send_fds(self.ctl, [frame(AP_CTL_LINK, 0)], [theirs.fileno()])
        theirs.close()
        ours.settimeout(15)
        self.addCleanup(ours.close)
        return ours

    def auth(self, user, password, ip="127.0.0.1", fid=1, link=None):
        link = link or self.link
        link.sendall(frame(AP_AUTH, fid, b"%s\0%s\0%s" % (
            user.encode(), password.encode(), ip.encode())))
        t0 = time.monotonic()
        ftype, rid, payload = read_frame(link)
        self.assertEqual(rid, fid)
        return ftype, payload, time.monotonic() - t0

    def rcpt(self, local, fid=7):
        self.link.sendall(frame(AP_RCPT, fid, local.encode()))
        ftype, rid, payload = read_frame(self.link)
        self.assertEqual(rid, fid)
        return ftype, payload

    # -- tests ---------------------------------------------------------------
    def test_auth(self):
        ftype, payload, _ = self.auth("Alice", "secret")
        self.assertEqual((ftype, payload), (AP_OK, b"alice"))
        ftype, payload, took = self.auth("alice", "wrong", "192.0.2.1")
        self.assertEqual((ftype, payload), (AP_FAIL, b"authentication failed"))
        self.assertGreaterEqual(took, 0.95)
        # unknown user: the same answer, the delay grows for the same client
        ftype, payload, took = self.auth("nobody", "secret", "192.0.2.1")
        self.assertEqual((ftype, payload), (AP_FAIL, b"authentication failed"))
        self.assertGreaterEqual(took, 1.95)
        ftype, payload, _ = self.auth("alice", "", "192.0.2.1")
        self.assertEqual((ftype, payload), (AP_FAIL, b"malformed"))
        log = self.log()
        self.assertIn("auth ok user=alice ip=127.0.0.1", log)
        self.assertIn("auth failed user=alice ip=192.0.2.1", log)
        self.assertIn("auth failed user=nobody ip=192.0.2.1", log)
        for secret in ("secret", "wrong", "hunter2"):
            self.assertNotIn(secret, log)

    def test_failure_blocks_nobody(self):
        other = self.new_link()
        self.link.sendall(frame(AP_AUTH, 1, b"alice\x00wrong\x00192.0.2.5"))
        t0 = time.monotonic()
        ftype, payload, took = self.auth("bob", "hunter2", link=other, fid=2)
        self.assertEqual((ftype, payload), (AP_OK, b"bob"))
        self.assertLess(took, 0.9)
        self.assertEqual(read_frame(self.link),
                         (AP_FAIL, 1, b"authentication failed"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.95)

    def test_rcpt(self):
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))
        self.assertEqual(self.rcpt("BOB"), (AP_OK, b"user"))
        self.assertEqual(self.rcpt("Sales"), (AP_OK, b"alias"))
        self.assertEqual(self.rcpt("POSTMASTER"), (AP_OK, b"postmaster"))
        self.assertEqual(self.rcpt("nobody"), (AP_NOUSER, b""))
        self.assertEqual(self.rcpt('"no body"'), (AP_NOUSER, b""))

    def test_bad_frame_closes_only_that_link(self):
        bad = self.new_link()
        bad.sendall(frame(99, 1, b"x"))
        self.assertEqual(bad.recv(100), b"")
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))

    def test_reload(self):
        users = os.path.join(self.host.dir, "users")
        with open(users) as f:
            good = f.read()
        self.replace_file("users", good + "broken line\n")
        os.kill(self.proc.pid, signal.SIGHUP)     # ignored: kurird resends
        self.reload_table(AP_CTL_USERS, "users")
        self.assertRegex(self.log(), r"/users:\d+: .*keeping the old")
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))
        self.replace_file("users", "".join(
            l for l in good.splitlines(True) if not l.startswith("alice:")))
        self.reload_table(AP_CTL_USERS, "users")
        self.assertEqual(self.rcpt("alice"), (AP_NOUSER, b""))
        self.assertEqual(self.rcpt("bob"), (AP_OK, b"user"))
        self.assertIsNone(self.proc.poll())

    def test_control_eof_exits_0(self):
        self.ctl.close()
        self.assertEqual(self.proc.wait(timeout=10), 0)

    def test_sigterm(self):
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=10), 0)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_privileges(self):
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))
        pid = self.proc.pid
        pw = pwd.getpwnam(self.host.keys["auth_user"])
        with open("/proc/%d/status" % pid) as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        self.assertEqual(status["Uid"].split(), [str(pw.pw_uid)] * 4)
        self.assertEqual(status["Gid"].split(), [str(pw.pw_gid)] * 4)
        self.assertEqual(status["CapEff"].strip(), "0" * 16)
        self.assertEqual(status["Seccomp"].strip(), "2")     # filter mode
        self.assertEqual(os.readlink("/proc/%d/root" % pid),
                         os.path.join(self.host.state, "empty"))
        for fd in os.listdir("/proc/%d/fd" % pid):
            if int(fd) <= 2:
                continue        # stdio: the log file
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            self.assertFalse(target.startswith(self.host.dir), target)


if __name__ == "__main__":
    unittest.main()
