"""kurird, the root supervisor, never waits on a child, and carries their
log lines so that no confined child holds a syslog socket.

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
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from kurirtest import Host, HostCase, prog, wait_for

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

# kurir-remote's stand-in: log lines that claim another name, carry
# control bytes, run past the line bound, lack a level; then idle
FORGING_REMOTE = """#!/usr/bin/python3
import os, select, time
os.write(2, b"<3>kurird[1]: forged\\x1b[31m red\\n")
os.write(2, b"<6>" + b"x" * 5000 + b"\\n")
os.write(2, b"no level at all\\n")
os.write(2, b"<9>out of range\\n")
end = time.monotonic() + 60
while time.monotonic() < end:
    r, _, _ = select.select([3], [], [], 1)
    if r and not os.read(3, 65536):
        break
"""

PROGRAMS = ("kurir-queue", "kurir-sendmail", "kurirctl", "kurir-smtpd",
            "kurir-send", "kurir-local", "kurir-remote", "kurir-pop3d")


def bindir_with(case, name, script):
    """A folder with a copy of kurird, the built programs beside it, and
    program name replaced by script (removed when case ends)."""
    d = tempfile.mkdtemp(prefix="kurir-bin-")
    case.addCleanup(shutil.rmtree, d, True)
    os.chmod(d, 0o755)
    # a copy, not a link: kurird finds its children beside its own
    # resolved path
    shutil.copy2(prog("kurird"), os.path.join(d, "kurird"))
    for p in PROGRAMS + ("kurir-auth",):
        if p != name and os.path.exists(prog(p)):
            os.symlink(prog(p), os.path.join(d, p))
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
             stat.S_IROTH | stat.S_IXOTH)
    return d


class StallingChildTest(HostCase):
    def bindir_with_stalling_auth(self):
        return bindir_with(self, "kurir-auth", STALLING_AUTH)

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


def unix_socket_types():
    """inode -> type (1 stream, 2 datagram, 5 seqpacket) of every AF_UNIX
    socket, from /proc/net/unix."""
    types = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            t = line.split()
            types[t[6]] = int(t[4], 16)
    return types


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat_ = f.read()
        except OSError:
            continue
        # the ppid is the 2nd field after the ")" that ends the name
        if int(stat_.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids


def socket_inodes(pid):
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.append(t[8:-1])
    return out


class SyslogCase(unittest.TestCase):
    """kurird in the background (syslog mode), its syslog daemon the
    test's own socket (KURIR_SYSLOG_SOCKET)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kurir-syslog-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        path = os.path.join(self.dir, "log")
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.got = []
        threading.Thread(target=self.collect, daemon=True).start()
        # where no syslog daemon runs, stand in for one at /dev/log too,
        # so that a child that opened syslog itself would be caught
        if os.geteuid() == 0 and not os.path.exists("/dev/log"):
            self.devlog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.devlog.bind("/dev/log")
            self.addCleanup(self.devlog.close)
            self.addCleanup(os.unlink, "/dev/log")
            # read it as a daemon would: a full socket blocks syslog(3)
            threading.Thread(target=self.drain, args=(self.devlog,),
                             daemon=True).start()
        self.host = Host(pop3=True)
        self.addCleanup(self.stop)
        self.host.setup()
        env = self.host.env()
        env["KURIR_SYSLOG_SOCKET"] = path
        subprocess.run(self.kurird_argv(), env=env, check=True, timeout=30,
                       stdin=subprocess.DEVNULL)
        wait_for(self.host.queue_ready, 15, "the queue socket")
        pidfile = os.path.join(self.host.state, "kurird.pid")
        wait_for(lambda: os.path.exists(pidfile), 10, "kurird.pid")
        with open(pidfile) as f:
            self.kurird = int(f.read().split()[0])

    def kurird_argv(self):
        return [prog("kurird"), "-f", self.host.conf]

    @staticmethod
    def drain(sock):
        try:
            while sock.recv(8192):
                pass
        except OSError:
            pass

    def stop(self):
        try:
            os.kill(self.kurird, signal.SIGTERM)
            wait_for(lambda: not os.path.exists("/proc/%d" % self.kurird),
                     20, "kurird to stop")
        except (AttributeError, ProcessLookupError):
            pass
        self.host.cleanup()

    def collect(self):
        """The test's syslog daemon: keep every datagram."""
        try:
            while True:
                self.got.append(self.sock.recv(8192))
        except OSError:
            pass

    def lines(self, want, timeout=10):
        """Wait until a datagram contains want (bytes); those so far."""
        try:
            wait_for(lambda: any(want in g for g in self.got), timeout,
                     "a syslog line with %r" % want)
        except AssertionError:
            self.fail("no %r among %r" % (want, self.got[-20:]))
        return list(self.got)



class LogPipeTest(SyslogCase):
    """Every child writes its lines to kurird, none keeps a datagram
    socket (the attack: a confined child with an unfiltered sendmsg on a
    syslog socket can aim it at any local datagram socket, the abstract
    namespace ignoring chroot)."""

    def test_children_log_through_kurird(self):
        kids = []
        wait_for(lambda: len(children_of(self.kurird)) >= 6, 15,
                 "kurird's children")
        kids = children_of(self.kurird)
        names = {}
        for pid in kids:
            with open("/proc/%d/comm" % pid) as f:
                names[pid] = f.read().strip()
        smtpd = [p for p, n in names.items() if n == "kurir-smtpd"]
        self.assertEqual(len(smtpd), 1, names)
        # kurir-smtpd's start-up line, under its own name and pid, as
        # facility mail (2 << 3) at level info (6)
        got = self.lines(b"kurir-smtpd[%d]: ready" % smtpd[0])
        ready = [g for g in got if b"kurir-smtpd[%d]: ready" % smtpd[0] in g]
        self.assertTrue(ready[0].startswith(b"<22>"), ready)
        types = unix_socket_types()
        for pid in kids:
            dgram = [i for i in socket_inodes(pid) if types.get(i) == 2]
            self.assertEqual(dgram, [], "%s[%d] holds a datagram socket" %
                             (names[pid], pid))

    def test_a_child_cannot_speak_as_another(self):
        """Lines are logged under the name and pid kurird knows the child
        by, whatever the child writes; control bytes are replaced, a line
        is cut at the bound, a missing or bad level is a warning."""
        wait_for(lambda: len(children_of(self.kurird)) >= 6, 15,
                 "kurird's children")
        got = self.lines(b"kurir-queue[")
        for g in got:
            self.assertRegex(g, rb"^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d "
                             rb"kurir-[a-z0-9]+\[\d+\]: ")
            self.assertNotIn(b"\n", g)


class ForgingChildTest(SyslogCase):
    """A kurir-remote that writes what it likes."""

    def kurird_argv(self):
        return [os.path.join(bindir_with(self, "kurir-remote",
                                         FORGING_REMOTE), "kurird"),
                "-f", self.host.conf]

    def test_a_child_cannot_speak_as_another(self):
        got = self.lines(b"out of range")
        remote = [g for g in got if b"forged" in g or b"xxxx" in g or
                  b"no level" in g or b"out of range" in g]
        self.assertEqual(len(remote), 4, remote)
        names = set(re.search(rb"\d\d:\d\d:\d\d ([^:]+): ", g).group(1)
                    for g in remote)
        self.assertEqual(len(names), 1, names)
        name = names.pop()
        self.assertRegex(name, rb"^kurir-remote\[\d+\]$")
        forged, long_, nolevel, badlevel = remote
        self.assertTrue(forged.startswith(b"<19>"), forged)   # mail.err
        self.assertIn(b"kurird[1]: forged?[31m red", forged)
        self.assertTrue(long_.startswith(b"<22>"))
        self.assertLessEqual(long_.count(b"x"), 2048)
        self.assertTrue(nolevel.startswith(b"<20>"), nolevel)  # warning
        self.assertTrue(badlevel.startswith(b"<20>"), badlevel)
        self.assertIn(b"<9>out of range", badlevel)

if __name__ == "__main__":
    unittest.main()
