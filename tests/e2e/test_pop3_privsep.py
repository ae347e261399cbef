"""kurir-pop3d privilege separation as root, read from /proc (skipped
when not root).

The pre-auth kurir-pop3d: one process, the pop3 account (all four uid
and gid fields), no other groups, no capabilities, no_new_privs, seccomp
filter mode, root directory <state_dir>/empty, no descriptor on the users
table, the queue or the mail tree.  Each logged-in session: one more
kurir-pop3d (-s) as the mail account, equally confined, with its root
directory <mail_dir>/<user> and no descriptor on another user's Maildir;
it goes away (reaped) after QUIT.  Files it moves stay owned by the mail
account.  SIGKILL of the pre-auth process: kurird restarts it, confined
again, and an open session's DELE is not applied; SIGKILL of a session
process: that client is disconnected, nothing else is harmed; SIGKILL of
kurir-auth: logins work again soon.
"""
import os
import pwd
import re
import signal
import time
import unittest

from test_pop3 import MAILDROP_RE, USERS, POP3HostCase
from kurirtest import wait_for

ROOT = os.geteuid() == 0


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def argv_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0")[:-1]]
    except OSError:
        return []


@unittest.skipUnless(ROOT, "privilege separation is only in force as root")
class POP3PrivsepTest(POP3HostCase):
    host_tls = True

    def preauth_pids(self):
        return [p for p in self.host.pids_of("kurir-pop3d")
                if "-s" not in argv_of(p)]

    def session_pids(self):
        return [p for p in self.host.pids_of("kurir-pop3d")
                if "-s" in argv_of(p)]

    def one_preauth(self):
        wait_for(lambda: len(self.preauth_pids()) == 1, 10,
                 "one pre-auth kurir-pop3d")
        return self.preauth_pids()[0]

    def fds(self, pid):
        """Targets of pid's descriptors, leaving out the log (kurird -d:
        stderr is the host's kurird.log) when it is open write-only."""
        out = []
        log = os.path.join(self.host.dir, "kurird.log")
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                if target == log:
                    with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                        flags = int(re.search(r"flags:\s*([0-7]+)",
                                              f.read()).group(1), 8)
                    self.assertEqual(flags & os.O_ACCMODE, os.O_WRONLY,
                                     (pid, fd, target))
                    continue
            except OSError:
                continue
            out.append(target)
        return out

    def check_confined(self, pid, account, root, forbidden):
        what = (pid, argv_of(pid))
        wait_for(lambda: proc_status(pid)["Seccomp"] == "2", 10,
                 "%r to enter its sandbox" % (what,))
        pw = pwd.getpwnam(account)
        self.assertNotEqual(pw.pw_uid, 0)
        st = proc_status(pid)
        self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4,
                         (what, st["Uid"]))
        self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4,
                         (what, st["Gid"]))
        self.assertIn(st["Groups"].split(), ([str(pw.pw_gid)], []),
                      (what, st["Groups"]))
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            if cap in st:
                self.assertEqual(int(st[cap], 16), 0, (what, cap, st[cap]))
        self.assertEqual(st["NoNewPrivs"], "1", what)
        self.assertEqual(st["Seccomp"], "2", what)
        self.assertEqual(os.readlink("/proc/%d/root" % pid), root, what)
        users = os.path.realpath(self.host.keys["users_file"])
        for target in self.fds(pid):
            self.assertNotEqual(target, users, what)
            self.assertNotEqual(target, self.host.conf, what)
            for f in forbidden:
                self.assertFalse(target == f or target.startswith(f + "/"),
                                 (what, target))

    def check_preauth(self):
        pid = self.one_preauth()
        self.check_confined(pid, "kurir-tpop3",
                            os.path.join(self.host.state, "empty"),
                            [self.host.mail,
                             os.path.join(self.host.state, "queue")])
        return pid

    def session_of(self, user, timeout=10):
        """The session process serving user (by its root directory)."""
        box = self.host.maildir(user)

        def find():
            for p in self.session_pids():
                try:
                    if os.readlink("/proc/%d/root" % p) == box:
                        return p
                except OSError:
                    pass
            return None
        wait_for(lambda: find() is not None, timeout,
                 "a session process for %s" % user)
        return find()

    def check_session(self, user, other):
        pid = self.session_of(user)
        self.check_confined(pid, "kurir-tmail", self.host.maildir(user),
                            [self.host.maildir(other),
                             os.path.join(self.host.state, "queue")])
        # its descriptors on files are in its own Maildir only
        for target in self.fds(pid):
            if target.startswith("/"):
                self.assertTrue(target.startswith(self.host.maildir(user)) or
                                target.startswith("/dev/") or
                                target == "/", (pid, target))
        return pid

    def zombies_of_kurird(self):
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == self.host.kurird.pid:
                out.append(int(pid))
        return out

    # -- tests --------------------------------------------------------------
    def test_accounts_distinct(self):
        uids = {pwd.getpwnam("kurir-t" + r).pw_uid
                for r in ("pop3", "mail", "auth", "smtpd", "queue")}
        self.assertEqual(len(uids), 5)

    def test_preauth_confined(self):
        self.check_preauth()
        self.assertEqual(self.session_pids(), [])
        # also with clients connected, before and after STLS
        a = self.pop()
        b = self.pop()
        b.stls()
        b.ok("USER alice")
        self.check_preauth()
        self.assertEqual(self.session_pids(), [])
        a.close()

    def test_session_confined(self):
        self.host.put_mail("alice", 2)
        self.host.put_mail("bob", 1)
        pre = self.check_preauth()
        a = self.login("alice")
        apid = self.check_session("alice", "bob")
        b = self.pop()
        b.stls()
        self.assertRegex(b.login("bob", USERS["bob"]), MAILDROP_RE)
        bpid = self.check_session("bob", "alice")
        self.assertNotEqual(apid, bpid)
        self.assertEqual(sorted(self.session_pids()), sorted([apid, bpid]))
        # the pre-auth process is unchanged and still confined
        self.assertEqual(self.check_preauth(), pre)
        self.assertEqual(a.ok("STAT").split()[1], "2")
        self.assertEqual(b.ok("STAT").split()[1], "1")
        a.ok("QUIT")
        b.ok("QUIT")
        self.assertTrue(a.closed(5))
        self.assertTrue(b.closed(5))
        wait_for(lambda: self.session_pids() == [], 10,
                 "the session processes to exit")
        wait_for(lambda: self.zombies_of_kurird() == [], 10,
                 "the session processes to be reaped")

    def test_session_gone_after_drop(self):
        self.host.put_mail("alice", 1)
        a = self.login("alice")
        self.session_of("alice")
        a.close()
        wait_for(lambda: self.session_pids() == [], 10,
                 "the session process to exit after the client left")
        wait_for(lambda: self.zombies_of_kurird() == [], 10,
                 "the session process to be reaped")

    def test_seen_file_owner(self):
        names = self.host.put_mail("alice", 2)
        a = self.login("alice")
        a.ok("RETR 1")
        a.raw_multi()
        a.ok("DELE 2")
        a.ok("QUIT")
        self.assertTrue(a.closed(5))
        pw = pwd.getpwnam("kurir-tmail")
        box = self.host.maildir("alice")
        self.assertEqual(self.host.mail_files("alice", "cur"),
                         [names[0] + ":2,S"])
        self.assertEqual(self.host.mail_files("alice"), [])
        for path in (box, os.path.join(box, "cur"),
                     os.path.join(box, "cur", names[0] + ":2,S")):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid),
                             path)
            self.assertEqual(st.st_mode & 0o077, 0, path)
        # the lock file, if one was made, is the mail account's too
        for name in os.listdir(box):
            st = os.lstat(os.path.join(box, name))
            self.assertEqual(st.st_uid, pw.pw_uid, name)

    def test_new_user_maildir_owner(self):
        # bob never got mail: his Maildir, if the login makes it, is the
        # mail account's, not root's
        b = self.login("bob")
        b.ok("QUIT")
        self.assertTrue(b.closed(5))
        box = self.host.maildir("bob")
        if os.path.exists(box):
            pw = pwd.getpwnam("kurir-tmail")
            for root, dirs, files in os.walk(box):
                for n in [root] + [os.path.join(root, x) for x in
                                   dirs + files]:
                    st = os.lstat(n)
                    self.assertEqual((st.st_uid, st.st_gid),
                                     (pw.pw_uid, pw.pw_gid), n)

    def kill_wait_restart(self, old):
        self.allow_child_deaths = True
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: self.preauth_pids() not in ([], [old]) and
                 len(self.preauth_pids()) == 1, 20,
                 "kurir-pop3d restarted")
        wait_for(lambda: "kurir-pop3d killed by signal 9" in self.host.log(),
                 5, "the kill logged")
        self.assertRegex(self.host.log(), r"restarting kurir-pop3d")

    def test_kill_preauth(self):
        names = self.host.put_mail("alice", 2)
        old = self.check_preauth()
        a = self.login("alice")
        a.ok("DELE 1")
        self.session_of("alice")
        self.kill_wait_restart(old)
        # the client's connection went with it; its DELE was not applied
        self.assertTrue(a.closed(10))
        wait_for(lambda: self.session_pids() == [], 10,
                 "the orphaned session process to exit")
        self.host.wait_pop3()
        self.check_preauth()
        c, r = self.login_retry("alice")
        self.assertTrue(r.startswith("+OK maildrop has 2 messages"), r)
        c.ok("QUIT")
        self.assertEqual(self.host.mail_files("alice"), sorted(names))

    def test_kill_session(self):
        names = self.host.put_mail("alice", 2)
        pre = self.check_preauth()
        other = self.pop()
        other.ok("USER bob")
        a = self.login("alice")
        a.ok("DELE 1")
        pid = self.session_of("alice")
        self.allow_child_deaths = True
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(a.closed(10), "client kept after its session died")
        wait_for(lambda: re.search(r"kurir-pop3d\[%d\] killed by "
                                   r"signal 9" % pid, self.host.log()),
                 5, "the kill logged")
        # the pre-auth process and its other clients live on
        self.assertEqual(self.preauth_pids(), [pre])
        self.assertRegex(other.cmd("PASS " + USERS["bob"]), MAILDROP_RE)
        c, r = self.login_retry("alice")
        self.assertTrue(r.startswith("+OK maildrop has 2 messages"), r)
        c.ok("QUIT")
        self.assertEqual(self.host.mail_files("alice"), sorted(names))

    def test_kill_auth(self):
        self.host.put_mail("alice", 1)
        self.allow_child_deaths = True
        old = self.host.pids_of("kurir-auth")
        self.assertEqual(len(old), 1, old)
        os.kill(old[0], signal.SIGKILL)
        end = time.monotonic() + 20
        while True:
            c = self.pop()
            c.ok("USER alice")
            try:
                r = c.cmd("PASS " + USERS["alice"])
            except EOFError:
                r = "-ERR (connection closed)"
            c.close()
            if MAILDROP_RE.match(r):
                break
            self.assertERR(r)
            self.assertLess(time.monotonic(), end, r)
            time.sleep(0.3)
        self.check_preauth()


if __name__ == "__main__":
    unittest.main()
