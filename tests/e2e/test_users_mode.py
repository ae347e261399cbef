"""The users file holds password hashes: root's alone (issue 13, part 5).

`make install` used to put /etc/kurir/users at 0644 and `kurirctl user
add` kept whatever mode the file had, so `runuser -u nobody -- cat
/etc/kurir/users` printed $y$ hashes for offline guessing.  Now user add
writes it 0600 (replacing a 0644 one atomically, the owner kept), make
install installs it 0600, and kurirctl check and setup warn about one
that group or others can read.  kurird opens it as root and hands
kurir-auth the descriptor, so no service needs to read it by path.
"""
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import unittest

import tools
from kurirtest import HostCase, prog

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


class UsersModeTest(HostCase):

    def users(self):
        return os.path.join(self.host.dir, "users")

    def read_as_nobody(self, path):
        """Try to read path as nobody (setpriv); the CompletedProcess."""
        pw = pwd.getpwnam("nobody")
        argv = [tools.need("setpriv"), "--reuid=%d" % pw.pw_uid,
                "--regid=%d" % pw.pw_gid, "--clear-groups", "--",
                tools.need("cat"), path]
        return subprocess.run(argv, capture_output=True, text=True,
                              timeout=30)

    def test_user_add_writes_0600(self):
        # Why: a users file made 0644 (as make install and an editor with
        # umask 022 leave it) is rewritten 0600 by user add, its owner
        # kept; check warns about the 0644 one first and not after.
        os.chmod(self.users(), 0o644)
        r = self.host.ctl("check")
        self.assertIn("warning: %s is readable by others (mode 0644)"
                      % self.users(), r.stderr)
        before = os.stat(self.users())
        r = self.host.ctl("user", "add", "carol", input="s3cret\n")
        self.assertIn("mode 0600", r.stdout)
        st = os.stat(self.users())
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual((st.st_uid, st.st_gid),
                         (before.st_uid, before.st_gid))
        self.assertNotEqual(st.st_ino, before.st_ino)   # replaced (rename)
        self.assertNotIn("warning", self.host.ctl("check").stderr)
        # a fresh file is made 0600 too
        os.unlink(self.users())
        self.host.ctl("user", "add", "dave", input="pw\n")
        self.assertEqual(stat.S_IMODE(os.stat(self.users()).st_mode), 0o600)

    def test_group_readable_warns(self):
        # Why: 0640 still hands the hashes to the group; check and setup
        # say so (and exit 0: a warning), and leave the mode alone.
        self.host.ctl("user", "add", "carol", input="s3cret\n")
        os.chmod(self.users(), 0o640)
        for cmd in ("check", "setup"):
            r = self.host.ctl(cmd)
            self.assertIn("readable by its group (mode 0640)", r.stderr, cmd)
            self.assertIn("chmod 600 %s" % self.users(), r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(self.users()).st_mode), 0o640)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to act as nobody")
    def test_nobody_cannot_read_hashes(self):
        # Why: the reproduction of issue 13: after user add, nobody
        # cannot read the file, though it can reach it (the directory is
        # opened up for the test, and another table there is readable:
        # the refusal is the file's mode, not the way to it).
        self.host.ctl("user", "add", "carol", input="s3cret\n")
        os.chmod(self.host.dir, 0o755)
        self.assertEqual(self.read_as_nobody(
            os.path.join(self.host.dir, "aliases")).returncode, 0)
        r = self.read_as_nobody(self.users())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        self.assertNotIn("$y$", r.stdout)
        self.assertEqual(os.stat(self.users()).st_uid, 0)

    def test_kurird_reads_it_as_root(self):
        # Why: with the file 0600 and root's, kurird (root) still opens
        # it and hands it to kurir-auth: a mailbox from it is accepted.
        self.host.ctl("user", "add", "carol", input="s3cret\n")
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()
        with self.host.smtp() as c:
            c.cmd("EHLO client.example.test")
            self.assertEqual(c.cmd("MAIL FROM:<x@remote.test>").code, 250)
            r = c.cmd("RCPT TO:<carol@example.test>")
            self.assertEqual(r.code, 250, r)
            r = c.cmd("RCPT TO:<nosuch@example.test>")
            self.assertEqual(r.code, 550, r)


class InstallModeTest(unittest.TestCase):

    def test_make_install_users_0600(self):
        # Why: make install puts the example users file at 0600 (the
        # other examples stay 0644); an existing one is not touched.
        if not os.path.exists(prog("kurirctl")):
            self.skipTest("not built")
        dest = tempfile.mkdtemp(prefix="kurir-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        build = os.environ.get("KURIR_BUILD", os.path.join(ROOT, "build"))
        r = subprocess.run([tools.need("make"), "-C", ROOT, "install",
                            "BUILD=" + build, "DESTDIR=" + dest,
                            "PREFIX=/usr/local", "SYSCONFDIR=/etc"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        etc = os.path.join(dest, "etc", "kurir")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(etc, "users"))
                                      .st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(etc, "aliases"))
                                      .st_mode), 0o644)
        if os.geteuid() == 0:
            self.assertEqual(os.stat(os.path.join(etc, "users")).st_uid, 0)


if __name__ == "__main__":
    unittest.main()
