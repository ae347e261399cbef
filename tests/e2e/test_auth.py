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

AP_AUTH, AP_RCPT, AP_CANCEL = 1, 2, 5
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


class AuthBase(kurirtest.HostCase):
    """kurir-auth started as kurird would, with its tables and one link."""
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


    def read_all(self, fids, link=None, timeout=15):
        """Replies on link for each of fids, in any order: {fid: (type,
        payload)}."""
        link = link or self.link
        link.settimeout(timeout)
        got = {}
        while not set(fids) <= set(got):
            ftype, rid, payload = read_frame(link)
            got[rid] = (ftype, payload)
        return got

    def read_until(self, fid, link=None, timeout=15):
        """Replies on link until the one for fid: (type, payload, took)."""
        link = link or self.link
        t0 = time.monotonic()
        link.settimeout(timeout)
        while True:
            ftype, rid, payload = read_frame(link)
            if rid == fid:
                return ftype, payload, time.monotonic() - t0

    def auth_frame(self, user, password, ip, fid):
        return frame(AP_AUTH, fid, b"%s\0%s\0%s" % (
            user.encode(), password.encode(), ip.encode()))


class AuthCase(AuthBase):
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
        # the crypt workers: the same account, root and filter, and no
        # descriptor but stdio and their socket to kurir-auth
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            workers = [int(w) for w in f.read().split()]
        self.assertEqual(len(workers), 2)       # auth_workers' default
        for w in workers:
            with open("/proc/%d/status" % w) as f:
                status = dict(l.split(":", 1) for l in f if ":" in l)
            self.assertEqual(status["Uid"].split(), [str(pw.pw_uid)] * 4)
            self.assertEqual(status["CapEff"].strip(), "0" * 16)
            self.assertEqual(status["Seccomp"].strip(), "2")
            self.assertEqual(os.readlink("/proc/%d/root" % w),
                             os.path.join(self.host.state, "empty"))
            fds = sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % w))
            self.assertEqual(fds, [0, 1, 2, 3])


class AuthLimitCase(AuthBase):
    """The attacks of issue 13 section 2, on kurir-auth's own protocol."""
    # one worker, so that checks queue behind each other
    host_extra = {"auth_workers": "1", "auth_fail_limit": "5",
                  "auth_link_rate": "1000"}

    def test_rcpt_not_behind_crypt(self):
        # a pile of checks (distinct networks: none is blocked) ...
        self.link.sendall(b"".join(
            self.auth_frame("alice", "wrong%d" % i, "198.51.100.%d" % i,
                            100 + i) for i in range(60)))
        # ... and lookups meanwhile are answered at once
        worst = 0
        for i in range(20):
            t0 = time.monotonic()
            self.link.sendall(frame(AP_RCPT, 1000 + i, b"alice"))
            ftype, _, _ = self.read_until(1000 + i)
            worst = max(worst, time.monotonic() - t0)
            self.assertEqual(ftype, AP_OK)
        self.assertLess(worst, 0.5)

    def test_cancel_drops_queued_check(self):
        n = 12
        self.link.sendall(b"".join(
            self.auth_frame("alice", "wrong", "198.51.100.%d" % i, 10 + i)
            for i in range(n)) + b"".join(
            frame(AP_CANCEL, 10 + i) for i in range(1, n)))
        # only the first, which a worker already had, is answered
        ftype, payload, _ = self.read_until(10)
        self.assertEqual((ftype, payload), (AP_FAIL, b"authentication failed"))
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))
        wait_for(lambda: self.log().count("dropped before crypt") +
                 self.log().count("closed session discarded") == n - 1,
                 10, "the cancelled checks")
        # most never reached crypt: the worker was busy with the first
        self.assertGreaterEqual(self.log().count("dropped before crypt"),
                                n // 2)
        self.assertLess(self.log().count("auth failed user=alice"), n // 2)
        # a cancel with a payload breaks the protocol: that link closes
        bad = self.new_link()
        bad.sendall(frame(AP_CANCEL, 1, b"x"))
        self.assertEqual(bad.recv(100), b"")

    def test_network_limit(self):
        # auth_fail_limit failures from one /64, each from another address
        net = "2001:db8:1:2::%x"
        self.link.sendall(b"".join(
            self.auth_frame("alice", "wrong", net % (i + 1), 200 + i)
            for i in range(5)))
        wait_for(lambda: self.log().count("auth failed user=alice ip=2001:"
                                          "db8:1:2::") == 5, 10,
                 "five failures")
        # now even the right password from that /64 is refused, at once
        ftype, payload, took = self.auth("alice", "secret",
                                         "2001:db8:1:2:ffff::9", fid=300)
        self.assertEqual((ftype, payload), (AP_FAIL, b"4.7.0 too many failures"))
        self.assertLess(took, 0.5)
        checked = self.log().count("auth failed") + self.log().count("auth ok")
        # while the neighbouring /64 is checked as ever
        ftype, payload, _ = self.auth("alice", "secret", "2001:db8:1:3::1",
                                      fid=301)
        self.assertEqual((ftype, payload), (AP_OK, b"alice"))
        self.assertIn("too many failures", self.log())
        self.assertEqual(self.log().count("auth failed") +
                         self.log().count("auth ok"), checked + 1)


class AuthLinkRateCase(AuthBase):
    host_extra = {"auth_link_rate": "5", "auth_fail_limit": "100000"}

    def test_link_rate_whatever_the_ip(self):
        # a compromised kurir-smtpd names a new client for every guess
        n = 40
        t0 = time.monotonic()
        self.link.sendall(b"".join(
            self.auth_frame("alice", "guess%d" % i, "10.%d.%d.1" % (i, i),
                            400 + i) for i in range(n)))
        answers = list(self.read_all([400 + i for i in range(n)]).values())
        elapsed = time.monotonic() - t0
        busy = answers.count((AP_FAIL, b"4.3.2 busy"))
        checked = answers.count((AP_FAIL, b"authentication failed"))
        self.assertEqual(busy + checked, n)
        # a burst of 5, then 5 a second at most
        self.assertLessEqual(checked, 5 + 5 * elapsed + 1)
        self.assertGreaterEqual(busy, n - 12)
        self.assertEqual(self.log().count("auth failed"), checked)
        # RCPT is no password check: never refused
        self.assertEqual(self.rcpt("alice"), (AP_OK, b"user"))


if __name__ == "__main__":
    unittest.main()
