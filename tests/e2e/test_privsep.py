"""Privilege separation as root, read from /proc (skipped when not root).

kurir-smtpd and kurir-auth: the uid/gid of their accounts (all four
fields), no other groups, no capabilities, no_new_privs, seccomp filter
mode, root directory <state_dir>/empty, no descriptor on the users table
or the queue.  kurir-queue runs as the queue account, kurird as root.
SIGKILL of kurir-smtpd, kurir-auth or kurir-queue: kurird logs it,
restarts it, and mail (and AUTH) flows again.

The delivery side (DeliveryPrivsepTest, kurird without -n): kurir-send
runs as the queue account, chrooted to <state_dir>/queue; kurir-local as
the mail account, chrooted to <mail_dir>; both with no capabilities,
no_new_privs and a seccomp filter, and neither holds a descriptor on the
other's tree.  Killed, each comes back just as confined and mail is
delivered again.
"""
import base64
import os
import pwd
import re
import signal
import smtplib
import time
import unittest

from kurirtest import SMTPHostCase, tls_client_context, wait_for

ROOT = os.geteuid() == 0


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


@unittest.skipUnless(ROOT, "privilege separation is only in force as root")
class PrivsepTest(SMTPHostCase):
    host_users = {"alice": "alice-pw"}
    host_tls = True
    host_submission = True

    def one_pid(self, name):
        wait_for(lambda: len(self.host.pids_of(name)) == 1, 10, name)
        return self.host.pids_of(name)[0]

    def check_confined(self, name, account):
        pid = self.one_pid(name)
        pw = pwd.getpwnam(account)
        st = proc_status(pid)
        self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4, (name, st["Uid"]))
        self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4, (name, st["Gid"]))
        self.assertIn(st["Groups"].split(), ([str(pw.pw_gid)], []),
                      (name, st["Groups"]))
        self.assertNotEqual(pw.pw_uid, 0)
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            if cap in st:
                self.assertEqual(int(st[cap], 16), 0, (name, cap, st[cap]))
        self.assertEqual(st["NoNewPrivs"], "1", name)
        self.assertEqual(st["Seccomp"], "2", name)
        self.assertEqual(os.readlink("/proc/%d/root" % pid),
                         os.path.join(self.host.state, "empty"), name)
        # nothing it could write to or read secrets from
        users = os.path.realpath(self.host.keys["users_file"])
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if name == "kurir-smtpd":
                self.assertNotEqual(target, users, (name, fd))
            self.assertFalse(target.startswith(
                os.path.join(self.host.state, "queue")), (name, fd, target))
        return pid

    def test_smtpd_confined(self):
        self.check_confined("kurir-smtpd", "kurir-tsmtpd")

    def test_auth_confined(self):
        self.check_confined("kurir-auth", "kurir-tauth")

    def test_queue_and_kurird(self):
        pid = self.one_pid("kurir-queue")
        pw = pwd.getpwnam("kurir-tqueue")
        st = proc_status(pid)
        self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4)
        self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4)
        self.assertEqual(int(st["CapEff"], 16), 0)
        st = proc_status(self.host.kurird.pid)
        self.assertEqual(st["Uid"].split()[0], "0")
        self.assertEqual(os.readlink("/proc/%d/root" % self.host.kurird.pid),
                         "/")

    def test_accounts_distinct(self):
        uids = {pwd.getpwnam("kurir-t" + r).pw_uid
                for r in ("smtpd", "queue", "auth")}
        self.assertEqual(len(uids), 3)

    # -- restarts ---------------------------------------------------------
    def kill_and_wait(self, name):
        self.allow_child_deaths = True
        old = self.one_pid(name)
        os.kill(old, signal.SIGKILL)

        def restarted():
            p = self.host.pids_of(name)
            return len(p) == 1 and p[0] != old
        wait_for(restarted, 20, "%s restarted" % name)
        wait_for(lambda: "%s killed by signal 9" % name in self.host.log(),
                 5, "the kill logged")
        log = self.host.log()
        self.assertRegex(log, r"restarting %s" % re.escape(name))
        return self.host.pids_of(name)[0]

    def send_one(self, tag, port=None, login=None, timeout=20):
        """Send with smtplib, retrying briefly while the service comes back."""
        end = time.monotonic() + timeout
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port or self.host.smtp_port,
                                  timeout=10) as s:
                    if login:
                        s.starttls(context=tls_client_context())
                        s.login(*login)
                    s.sendmail("s@remote.test", ["alice@example.test"],
                               "Subject: %s\r\n\r\n%s\r\n" % (tag, tag))
                break
            except (smtplib.SMTPException, OSError) as e:
                if time.monotonic() > end:
                    raise AssertionError("no mail after restart: %r" % e)
                time.sleep(0.2)
        for e in self.host.queue():
            if ("\n%s\n" % tag).encode() in self.host.message(e["id"]):
                return e
        raise AssertionError("%s not queued" % tag)

    def test_kill_smtpd(self):
        self.send_one("before-kill")
        new = self.kill_and_wait("kurir-smtpd")
        e = self.send_one("after-smtpd-kill")
        self.assertEqual(e["recipients"][0]["address"], "alice@example.test")
        # the new one is confined just the same
        self.assertEqual(self.check_confined("kurir-smtpd", "kurir-tsmtpd"),
                         new)

    def test_kill_auth(self):
        self.send_one("before", login=("alice", "alice-pw"),
                      port=self.host.submission_port)
        self.kill_and_wait("kurir-auth")
        self.send_one("after-auth-kill", login=("alice", "alice-pw"),
                      port=self.host.submission_port)
        # local mailbox lookups (RCPT) also go through kurir-auth
        with self.client() as c:
            c.ehlo()
            c.expect("MAIL FROM:<s@remote.test>", 250)
            self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 250)
            self.assertReply(c.cmd("RCPT TO:<ghost@example.test>"), 550)
        self.check_confined("kurir-auth", "kurir-tauth")

    def test_kill_queue(self):
        self.send_one("before")
        self.kill_and_wait("kurir-queue")
        self.send_one("after-queue-kill")
        self.assertEqual(len(self.host.queue()), 2)

    def test_kill_smtpd_during_session(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n\r\nhalf\r\n")
        self.kill_and_wait("kurir-smtpd")
        self.assertTrue(c.closed(5))
        self.send_one("after")
        self.assertEqual(len(self.host.queue()), 1)

    def test_kill_queue_during_data(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: q\r\n\r\nhalf\r\n")
        self.kill_and_wait("kurir-queue")
        c.send(b"rest\r\n.\r\n")
        r = c.reply()
        # a temporary failure: the client will retry; nothing half-stored
        self.assertEqual(r.code // 100, 4, r)
        self.assertEqual(self.host.queue(), [])
        self.send_one("after")


@unittest.skipUnless(ROOT, "privilege separation is only in force as root")
class DeliveryPrivsepTest(SMTPHostCase):
    host_users = {"alice": "alice-pw"}
    host_deliver = True
    host_extra = {"retry_min": "1s", "retry_max": "2s"}

    def one_pid(self, name):
        wait_for(lambda: len(self.host.pids_of(name)) == 1, 10, name)
        return self.host.pids_of(name)[0]

    def check_confined(self, name, account, root, forbidden,
                       read_only_ok=None):
        """name runs as account, chrooted to root, sandboxed; no open
        descriptor under forbidden (the other side's tree), except
        read-only ones under read_only_ok (the queue entries that
        kurir-send hands to kurir-local)."""
        pid = self.one_pid(name)
        # the root directory is set before the uid changes: wait for the
        # drop to finish (a process seen just after a restart may be early)
        pw = pwd.getpwnam(account)
        wait_for(lambda: proc_status(pid)["Seccomp"] == "2", 10,
                 "%s to enter its sandbox" % name)
        st = proc_status(pid)
        self.assertNotEqual(pw.pw_uid, 0)
        self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4,
                         (name, st["Uid"]))
        self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4,
                         (name, st["Gid"]))
        self.assertIn(st["Groups"].split(), ([str(pw.pw_gid)], []),
                      (name, st["Groups"]))
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            if cap in st:
                self.assertEqual(int(st[cap], 16), 0, (name, cap, st[cap]))
        self.assertEqual(st["NoNewPrivs"], "1", name)
        self.assertEqual(st["Seccomp"], "2", name)
        self.assertEqual(os.readlink("/proc/%d/root" % pid), root, name)
        users = os.path.realpath(self.host.keys["users_file"])
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            self.assertNotEqual(target, users, (name, fd))
            if read_only_ok and target.startswith(read_only_ok + "/"):
                try:
                    with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                        flags = int(re.search(r"flags:\s*([0-7]+)",
                                              f.read()).group(1), 8)
                except OSError:
                    continue
                self.assertEqual(flags & os.O_ACCMODE, os.O_RDONLY,
                                 (name, fd, target))
                continue
            self.assertFalse(target == forbidden or
                             target.startswith(forbidden + "/"),
                             (name, fd, target))
        return pid

    def check_send(self):
        return self.check_confined(
            "kurir-send", "kurir-tqueue",
            os.path.join(self.host.state, "queue"), self.host.mail)

    def check_local(self):
        return self.check_confined(
            "kurir-local", "kurir-tmail", self.host.mail,
            os.path.join(self.host.state, "queue"),
            read_only_ok=os.path.join(self.host.state, "queue", "msg"))

    def deliver_one(self, tag, timeout=30):
        """Inject a message for alice; wait for it in her Maildir."""
        r = self.host.sendmail(["alice@example.test"],
                               "Subject: %s\n\n%s\n" % (tag, tag))
        self.assertEqual(r.returncode, 0, r.stderr)
        new = os.path.join(self.host.mail, "alice", "new")
        needle = ("Subject: %s\n" % tag).encode()

        def arrived():
            if not os.path.isdir(new):
                return False
            for name in os.listdir(new):
                with open(os.path.join(new, name), "rb") as f:
                    if needle in f.read():
                        return True
            return False
        wait_for(arrived, timeout, "%s in alice's Maildir" % tag)

    def test_send_confined(self):
        self.check_send()

    def test_remote_confined(self):
        # the SMTP client faces the network: remote user, chrooted to
        # the empty directory, sandboxed, nothing of the mail tree, and of
        # the queue only entries handed over read-only
        self.check_confined(
            "kurir-remote", "kurir-tremote",
            os.path.join(self.host.state, "empty"), self.host.mail,
            read_only_ok=os.path.join(self.host.state, "queue", "msg"))
        pid = self.one_pid("kurir-remote")
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            self.assertNotEqual(target, os.path.realpath(
                self.host.keys["users_file"]), fd)

    def test_local_confined(self):
        self.check_local()

    def test_accounts_distinct(self):
        q = pwd.getpwnam("kurir-tqueue")
        m = pwd.getpwnam("kurir-tmail")
        self.assertNotEqual(q.pw_uid, m.pw_uid)
        self.assertNotEqual(q.pw_gid, m.pw_gid)

    def test_delivered_file_owner(self):
        self.deliver_one("owner")
        pw = pwd.getpwnam("kurir-tmail")
        box = os.path.join(self.host.mail, "alice")
        for path in (box, os.path.join(box, "new"),
                     os.path.join(box, "new",
                                  os.listdir(os.path.join(box, "new"))[0])):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid),
                             path)
            self.assertEqual(st.st_mode & 0o077, 0, path)

    def kill_and_wait(self, name, also=()):
        """SIGKILL name; wait for kurird to restart it (and also, which
        goes away with it)."""
        self.allow_child_deaths = True
        olds = {n: self.one_pid(n) for n in (name,) + tuple(also)}
        os.kill(olds[name], signal.SIGKILL)
        for n, old in olds.items():
            wait_for(lambda: self.host.pids_of(n) not in ([], [old]) and
                     len(self.host.pids_of(n)) == 1, 30,
                     "%s restarted" % n)
        wait_for(lambda: "%s killed by signal 9" % name in self.host.log(),
                 5, "the kill logged")
        self.assertRegex(self.host.log(), r"restarting %s" % re.escape(name))

    def test_kill_send(self):
        self.deliver_one("before-send-kill")
        # kurir-local's link is kurir-send: it leaves too, and comes back
        self.kill_and_wait("kurir-send", also=("kurir-local",))
        self.deliver_one("after-send-kill")
        self.check_send()
        self.check_local()

    def test_kill_local(self):
        self.deliver_one("before-local-kill")
        self.kill_and_wait("kurir-local")
        self.deliver_one("after-local-kill")
        self.check_local()
        self.check_send()


if __name__ == "__main__":
    unittest.main()
