"""kurir-local end to end: the real build/kurir-local on a socketpair.

The test plays kurir-send: it writes a queue entry (an envelope, then the
message), passes it as a read-only descriptor with an LP_DELIVER frame
(12-byte header: uint32 length, uint16 type, uint16 0, uint32 id, network
order; the descriptor rides on the first byte) and reads the answers.
The Maildir is then read with Python's mailbox.Maildir, a standard
Maildir reader: the message is there, Return-Path and Delivered-To come
first, the rest is byte-exact.  Also: a batch of 50, path traversal and
symlinks refused with nothing written outside, Delivered-To loops, an
unwritable Maildir deferred and then delivered once fixed, the protocol
violations and EOF.  As root (kurirctl setup made the accounts), /proc
shows kurir-local running as the mail user, chrooted to mail_dir and
sandboxed.
"""
import mailbox
import os
import pwd
import socket
import struct
import subprocess
import unittest

from kurirtest import HostCase, prog, wait_for

ROOT = os.geteuid() == 0
LP_DELIVER, LP_OK, LP_TEMP, LP_PERM = 1, 10, 11, 12
EX_PROTOCOL = 76

ENVELOPE = b"S<bob@example.test>\nR<alice@example.test>\nend\n"
MESSAGE = (b"Received: from client.example.test by mail.example.test;\n"
           b" Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"From: Bob <bob@example.test>\n"
           b"To: alice@example.test\n"
           b"Subject: caf\xc3\xa9\n"
           b"\n"
           b"From the start of a line, untouched.\n"
           b".a leading dot\n"
           b"8-bit \xff\xfe and a CR\r in the middle\n"
           b"\n"
           b"last line without a newline")


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


class LocalCase(HostCase):
    """A set-up host and a running kurir-local on a socketpair."""

    def setUp(self):
        super().setUp()
        self.host.setup()
        self.sock, theirs = socket.socketpair()
        self.sock.settimeout(20)
        self.addCleanup(self.sock.close)
        self.logpath = os.path.join(self.host.dir, "kurir-local.log")
        self.logf = open(self.logpath, "ab")
        self.addCleanup(self.logf.close)
        self.proc = subprocess.Popen(
            [prog("kurir-local"), "-d", "-f", self.host.conf,
             "-c", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=self.logf)
        theirs.close()
        self.addCleanup(self.stop)
        self.nq = 0
        self.buf = b""
        self.around = set(os.listdir(self.host.dir))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- kurir-send's side ---------------------------------------------
    def qfd(self, message):
        """A queue entry holding message; (read-only fd, offset)."""
        self.nq += 1
        path = os.path.join(self.host.dir, "q%d" % self.nq)
        with open(path, "wb") as f:
            f.write(ENVELOPE + message)
        fd = os.open(path, os.O_RDONLY)
        os.unlink(path)
        return fd, len(ENVELOPE)

    @staticmethod
    def frame(ftype, fid, payload):
        return struct.pack("!IHHI", len(payload), ftype, 0, fid) + payload

    @staticmethod
    def payload(off, size, mbox, sender, rcpt):
        return b"".join(x + b"\0" for x in (
            str(off).encode(), str(size).encode(), mbox, sender, rcpt))

    def send_frame(self, data, fd=None):
        if fd is None:
            self.sock.sendall(data)
        else:
            socket.send_fds(self.sock, [data[:1]], [fd])
            self.sock.sendall(data[1:])

    def request(self, fid, mbox, message=MESSAGE, sender=b"bob@example.test",
                rcpt=b"alice@example.test", withfd=True):
        fd, off = self.qfd(message)
        try:
            self.send_frame(self.frame(LP_DELIVER, fid, self.payload(
                off, len(message), mbox, sender, rcpt)),
                fd if withfd else None)
        finally:
            os.close(fd)

    def answer(self):
        """(type, id, text) of the next answer."""
        while True:
            if len(self.buf) >= 12:
                n, t, _, i = struct.unpack("!IHHI", self.buf[:12])
                if len(self.buf) >= 12 + n:
                    text = self.buf[12:12 + n].decode()
                    self.buf = self.buf[12 + n:]
                    return t, i, text
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("kurir-local closed the link; log:\n" +
                                     self.log())
            self.buf += chunk

    def deliver(self, mbox, **kw):
        self.request(7, mbox, **kw)
        return self.answer()

    def maildir(self, mbox):
        return mailbox.Maildir(os.path.join(self.host.mail, mbox),
                               factory=None, create=False)

    def outside_untouched(self):
        """Nothing new next to mail_dir (but the tests' own "outside")."""
        now = set(os.listdir(os.path.dirname(self.host.mail)))
        self.assertEqual(now - {"outside"}, self.around)


class DeliveryTest(LocalCase):
    def test_deliver_read_by_mailbox_maildir(self):
        t, i, text = self.deliver(b"alice")
        self.assertEqual((t, i), (LP_OK, 7), text)
        self.assertTrue(text.startswith("2.0.0 delivered to maildir as "))
        name = text.split()[-1]
        md = self.maildir("alice")
        self.assertEqual(md.keys(), [name])
        data = md.get_bytes(name)
        self.assertEqual(data, b"Return-Path: <bob@example.test>\n"
                               b"Delivered-To: alice@example.test\n" + MESSAGE)
        msg = md.get_message(name)
        self.assertEqual(msg.get_subdir(), "new")
        self.assertEqual(msg.keys()[:3],
                         ["Return-Path", "Delivered-To", "Received"])
        for sub in ("tmp", "new", "cur"):
            st = os.lstat(os.path.join(self.host.mail, "alice", sub))
            self.assertEqual(st.st_mode & 0o7777, 0o700)
        self.assertEqual(os.listdir(os.path.join(self.host.mail, "alice",
                                                 "tmp")), [])
        line = "delivered to maildir alice as %s (size %d)" % (name,
                                                               len(MESSAGE))
        wait_for(lambda: line in self.log(), 5, "the log line")

    def test_null_sender_and_big_message(self):
        big = b"Subject: big\n\n" + bytes(range(256)) * 8000   # ~2 MB
        t, _, text = self.deliver(b"bob", message=big, sender=b"",
                                  rcpt=b"bob@example.test")
        self.assertEqual(t, LP_OK, text)
        md = self.maildir("bob")
        self.assertEqual(md.get_bytes(text.split()[-1]),
                         b"Return-Path: <>\nDelivered-To: bob@example.test\n" +
                         big)

    def test_batch_of_50(self):
        for i in range(50):
            self.request(100 + i, b"carol", rcpt=b"carol@example.test")
        answers = [self.answer() for _ in range(50)]
        self.assertEqual([a[1] for a in answers], list(range(100, 150)))
        self.assertEqual({a[0] for a in answers}, {LP_OK}, answers)
        names = [a[2].split()[-1] for a in answers]
        self.assertEqual(len(set(names)), 50)
        md = self.maildir("carol")
        self.assertEqual(sorted(md.keys()), sorted(names))
        for k in names[:5]:
            self.assertTrue(md.get_bytes(k).endswith(MESSAGE))

    def test_traversal_refused(self):
        for mbox in (b"../outside", b"..", b".hidden", b"a/b", b"x\n",
                     b"", b"Alice", b"a" * 65):
            t, _, text = self.deliver(mbox)
            self.assertEqual(t, LP_PERM, (mbox, text))
            self.assertTrue(text.startswith("5.3.5 "), text)
        self.assertEqual(os.listdir(self.host.mail), [])
        self.outside_untouched()

    def test_symlinks_refused(self):
        outside = os.path.join(self.host.dir, "outside")
        os.mkdir(outside)
        os.symlink(outside, os.path.join(self.host.mail, "alice"))
        t, _, text = self.deliver(b"alice")
        self.assertEqual(t, LP_TEMP, text)
        self.assertTrue(text.startswith("4.3.0 mailbox is a symlink"), text)
        # a symlinked new/ inside a real mailbox
        t, _, text = self.deliver(b"bob", rcpt=b"bob@example.test")
        self.assertEqual(t, LP_OK, text)
        new = os.path.join(self.host.mail, "bob", "new")
        for f in os.listdir(new):
            os.unlink(os.path.join(new, f))
        os.rmdir(new)
        os.symlink(outside, new)
        t, _, text = self.deliver(b"bob", rcpt=b"bob@example.test")
        self.assertEqual(t, LP_TEMP, text)
        self.assertIn("symlink", text)
        self.assertEqual(os.listdir(outside), [])
        self.assertEqual(os.listdir(os.path.join(self.host.mail, "bob",
                                                 "tmp")), [])
        self.outside_untouched()

    def test_delivered_to_loop(self):
        looped = b"Delivered-To: ALICE@example.TEST\n" + MESSAGE
        t, _, text = self.deliver(b"alice", message=looped)
        self.assertEqual(t, LP_PERM, text)
        self.assertEqual(text, "5.4.6 mail forwarding loop for "
                               "alice@example.test")
        self.assertFalse(os.path.exists(os.path.join(self.host.mail, "alice")))
        # the same field for another address is no loop
        t, _, text = self.deliver(b"alice", message=b"Delivered-To: "
                                  b"list@example.test\n" + MESSAGE)
        self.assertEqual(t, LP_OK, text)

    def test_unwritable_then_fixed(self):
        t, _, text = self.deliver(b"alice")
        self.assertEqual(t, LP_OK, text)
        new = os.path.join(self.host.mail, "alice", "new")
        os.chmod(new, 0o500)
        try:
            # kurir-local is never root: as root it runs as mail_user
            t, _, text = self.deliver(b"alice")
            self.assertEqual(t, LP_TEMP, text)
            self.assertTrue(text.startswith("4.2.0 "), text)
        finally:
            os.chmod(new, 0o700)
        self.assertEqual(os.listdir(os.path.join(self.host.mail, "alice",
                                                 "tmp")), [])
        # kurir-send's retry, once the admin has fixed it
        t, _, text = self.deliver(b"alice")
        self.assertEqual(t, LP_OK, text)
        self.assertEqual(len(self.maildir("alice").keys()), 2)

    def test_short_queue_file_and_no_fd(self):
        fd, off = self.qfd(MESSAGE)
        self.send_frame(self.frame(LP_DELIVER, 3, self.payload(
            off, len(MESSAGE) + 10, b"alice", b"", b"alice@example.test")), fd)
        os.close(fd)
        t, i, text = self.answer()
        self.assertEqual((t, i), (LP_TEMP, 3), text)
        self.assertTrue(text.startswith("4.3.0 "), text)
        self.request(4, b"alice", withfd=False)
        t, i, text = self.answer()
        self.assertEqual((t, i), (LP_PERM, 4), text)
        self.assertTrue(text.startswith("5.3.5 "), text)

    def test_eof_exits_zero(self):
        self.request(1, b"alice")
        self.sock.shutdown(socket.SHUT_WR)
        t, i, text = self.answer()
        self.assertEqual((t, i), (LP_OK, 1), text)
        self.assertEqual(self.proc.wait(timeout=20), 0)

    def test_unknown_type_ends_link(self):
        self.request(1, b"alice")
        self.send_frame(self.frame(99, 2, b"junk"))
        t, i, _ = self.answer()
        self.assertEqual((t, i), (LP_OK, 1))
        self.assertEqual(self.proc.wait(timeout=20), EX_PROTOCOL)
        self.assertEqual(self.sock.recv(100), b"")

    def test_bad_header_ends_link(self):
        self.sock.sendall(struct.pack("!IHHI", 70000, LP_DELIVER, 0, 1))
        self.assertEqual(self.proc.wait(timeout=20), EX_PROTOCOL)

    def test_sigterm(self):
        t, _, _ = self.deliver(b"alice")
        self.assertEqual(t, LP_OK)
        self.proc.terminate()
        self.assertEqual(self.proc.wait(timeout=20), 0)


@unittest.skipUnless(ROOT, "privilege separation is only in force as root")
class PrivsepTest(LocalCase):
    def test_confined(self):
        # an answer means it has dropped root and entered the sandbox
        t, _, text = self.deliver(b"alice")
        self.assertEqual(t, LP_OK, text)
        pid = self.proc.pid
        pw = pwd.getpwnam(self.host.keys["mail_user"])
        st = proc_status(pid)
        self.assertNotEqual(pw.pw_uid, 0)
        self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4)
        self.assertEqual(st["Gid"].split(), [str(pw.pw_gid)] * 4)
        self.assertIn(st["Groups"].split(), ([str(pw.pw_gid)], []))
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            if cap in st:
                self.assertEqual(int(st[cap], 16), 0, cap)
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(st["Seccomp"], "2")
        self.assertEqual(os.readlink("/proc/%d/root" % pid),
                         os.path.realpath(self.host.mail))
        # the files it made belong to the mail user
        md = os.path.join(self.host.mail, "alice")
        for p in (md, os.path.join(md, "new", text.split()[-1])):
            self.assertEqual(os.stat(p).st_uid, pw.pw_uid)
        self.assertNotIn("sandbox not entered", self.log())


if __name__ == "__main__":
    unittest.main()
