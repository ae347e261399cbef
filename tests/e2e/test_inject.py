"""Local injection end to end: kurir-sendmail -> kurir-queue -> queue/msg.

Covers: durable queueing with the right envelope, added header fields,
-t with Bcc removal, the null sender, injection as a non-root user (uid
recorded from the kernel), refusal over message_size_limit, a queue that
is down, kurirctl queue/delete/check/user add.
"""
import os
import pwd
import re
import subprocess
import unittest

from kurirtest import HostCase, prog, wait_for


class InjectTest(HostCase):
    host_extra = {"message_size_limit": "20k"}

    def setUp(self):
        super().setUp()
        self.host.setup()
        self.host.start()

    def only_entry(self):
        q = self.host.queue()
        self.assertEqual(len(q), 1, q)
        return q[0]

    def test_basic_injection(self):
        body = "Subject: hello\n\nline one\r\nline two\n.dot line\n"
        r = self.host.sendmail(["-f", "alice@example.test", "bob"], body)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"")
        e = self.only_entry()
        self.assertEqual(e["sender"], "alice@example.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["bob@mail.example.test"])
        self.assertEqual(e["recipients"][0]["state"], "pending")
        self.assertIsNone(e["recipients"][0]["last_error"])
        self.assertTrue(re.fullmatch(r"[0-9a-f]{16}", e["id"]))
        msg = self.host.message(e["id"])
        self.assertEqual(len(msg), e["size"])
        head, _, rest = msg.partition(b"\n\n")
        # our trace field first, then the fields sendmail added
        self.assertTrue(head.startswith(b"Received: (from "), head)
        for field in (b"\nDate: ", b"\nMessage-ID: <", b"\nFrom: ",
                      b"\nSubject: hello"):
            self.assertIn(field, head)
        self.assertEqual(rest, b"line one\nline two\n.dot line\n")
        self.assertNotIn(b"\r", msg)
        self.assertIn("(queued)", self.host.log())

    def test_existing_fields_not_doubled(self):
        body = ("from: Al <alice@example.test>\nDATE: Mon, 1 Jan 2024 00:00:00"
                " +0000\nMessage-Id: <x@y>\n\nhi\n")
        r = self.host.sendmail(["-i", "bob@example.test"], body)
        self.assertEqual(r.returncode, 0, r.stderr)
        head = self.host.message(self.only_entry()["id"]).partition(b"\n\n")[0]
        for name in (b"from:", b"date:", b"message-id:"):
            n = sum(1 for line in head.lower().split(b"\n")
                    if line.startswith(name))
            self.assertEqual(n, 1, head)

    def test_dash_t_removes_bcc(self):
        body = ("To: a@example.test, B <b@example.test>\nCc: c@example.test\n"
                "Bcc: secret@example.test\nSubject: t\n\nbody\n")
        r = self.host.sendmail(["-t", "-i"], body)
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.only_entry()
        got = sorted(x["address"] for x in e["recipients"])
        self.assertEqual(got, ["a@example.test", "b@example.test",
                               "c@example.test", "secret@example.test"])
        self.assertNotIn(b"secret", self.host.message(e["id"]))

    def test_null_sender(self):
        for form in ("", "<>"):
            r = self.host.sendmail(["-f", form, "bob@example.test"], "x\n")
            self.assertEqual(r.returncode, 0, r.stderr)
        q = self.host.queue()
        self.assertEqual([e["sender"] for e in q], ["", ""])

    def test_default_sender_is_login(self):
        r = self.host.sendmail(["bob@example.test"], "Subject: s\n\nx\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        login = pwd.getpwuid(os.getuid()).pw_name
        self.assertEqual(self.only_entry()["sender"],
                         login + "@mail.example.test")

    def test_non_root_user(self):
        if os.geteuid() == 0:
            user = "nobody"
            uid = pwd.getpwnam(user).pw_uid
        else:
            user, uid = None, os.getuid()
        r = self.host.sendmail(["bob@example.test"], "Subject: s\n\nx\n",
                               user=user)
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.only_entry()
        with open(self.host.msg_path(e["id"]), "rb") as f:
            envelope = f.read().split(b"\nend\n")[0]
        self.assertIn(b"\nuid %d\n" % uid, envelope)
        self.assertIn(b"uid %d)" % uid, self.host.message(e["id"]))
        if user:
            self.assertEqual(e["sender"], "nobody@mail.example.test")

    def test_too_large_refused(self):
        big = "Subject: big\n\n" + ("x" * 99 + "\n") * 300   # 30 kB > 20k
        r = self.host.sendmail(["bob@example.test"], big)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"too large", r.stderr)
        self.assertEqual(self.host.queue(), [])
        # and just under the limit goes through
        ok = "Subject: ok\n\n" + ("x" * 99 + "\n") * 150
        r = self.host.sendmail(["bob@example.test"], ok)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.host.queue()), 1)
        self.assertEqual(os.listdir(os.path.join(self.host.state, "queue",
                                                 "tmp")), [])

    def test_bad_recipient_refused(self):
        r = self.host.sendmail(["bad..dots@example.test"], "x\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.host.queue(), [])
        r = self.host.sendmail(["-i"], "x\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"recipient", r.stderr)

    def test_delete(self):
        r = self.host.sendmail(["bob@example.test"], "x\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        qid = self.only_entry()["id"]
        self.host.ctl("delete", qid)
        self.assertEqual(self.host.queue(), [])
        r = self.host.ctl("delete", qid, check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.host.ctl("delete", "../../etc/passwd", check=False)
        self.assertNotEqual(r.returncode, 0)
        text = self.host.ctl("queue").stdout
        self.assertIn("empty", text)

    def test_queue_text_listing(self):
        self.host.sendmail(["-f", "al@example.test", "bob@example.test"], "x\n")
        out = self.host.ctl("queue").stdout
        self.assertRegex(out, r"^[0-9a-f]{16} \d+ \d{4}-\d\d-\d\dT\S+ "
                              r"<al@example.test> bob@example.test \(pending\)")


class QueueDownTest(HostCase):
    def test_queue_down_is_temporary(self):
        self.host.setup()
        r = self.host.sendmail(["bob@example.test"], "x\n", timeout=60)
        self.assertEqual(r.returncode, 75, r.stderr)   # EX_TEMPFAIL
        self.assertIn(b"kurird", r.stderr)


class CtlTest(HostCase):
    def test_check_reports_file_and_line(self):
        self.host.setup()
        self.assertEqual(self.host.ctl("check").returncode, 0)
        with open(self.host.conf, "a") as f:
            f.write("no_such_key = 1\n")
        r = self.host.ctl("check", check=False)
        self.assertNotEqual(r.returncode, 0)
        with open(self.host.conf) as f:
            lines = len(f.read().splitlines())
        self.assertIn("%s:%d:" % (self.host.conf, lines), r.stderr)

    def test_check_bad_table_line(self):
        with open(os.path.join(self.host.dir, "aliases"), "w") as f:
            f.write("# comment\npostmaster: root\nbroken line without colon\n")
        r = self.host.ctl("check", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("aliases:3:", r.stderr)

    def test_user_add(self):
        self.host.ctl("user", "add", "Carol", input="s3cret\n")
        self.host.ctl("user", "add", "dave", input="pw1\n")
        self.host.ctl("user", "add", "carol", input="other\n")   # replaces
        lines = open(os.path.join(self.host.dir, "users")).read().splitlines()
        self.assertEqual(len(lines), 2, lines)
        # names are stored in lower case: local parts match without case
        self.assertEqual(sorted(l.split(":")[0] for l in lines),
                         ["carol", "dave"])
        self.assertTrue(all(re.match(r"^[a-z]+:\$y\$", l) for l in lines))
        r = self.host.ctl("user", "add", "../evil", input="x\n", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.host.ctl("user", "add", "eve", input="", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("users", self.host.ctl("check").stdout)

    def test_setup_is_idempotent_and_sets_modes(self):
        self.host.setup()
        self.host.setup()
        st = os.stat(os.path.join(self.host.state, "queue", "msg"))
        self.assertEqual(st.st_mode & 0o777, 0o700)
        if os.geteuid() == 0:
            self.assertEqual(pwd.getpwuid(st.st_uid).pw_name, "kurir-tqueue")


if __name__ == "__main__":
    unittest.main()
