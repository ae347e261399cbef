"""Delivery end to end: kurir-smtpd / kurir-sendmail -> kurir-queue ->
kurir-send -> kurir-auth (alias expansion) -> kurir-local -> Maildir.

The whole host runs with its delivery side on (Host(deliver=True)), and
the tests look only at what a user or an admin sees: the Maildirs (read
with Python's mailbox.Maildir, a standard reader), bounces parsed with
the email package, `kurirctl queue [--json]`, `kurirctl flush` and the
log.  Covered:

  - byte-exact local delivery by SMTP and by kurir-sendmail, with the
    trace fields Return-Path, Delivered-To, Received on top (SPEC "Mail
    as stored and sent");
  - aliases: one copy per user, per-target state across retries, no
    duplicates when a user is reached twice in one message;
  - temporary failures: deferral, backoff retry, delivery once fixed;
  - queue_lifetime: an RFC 3464 bounce with Status 4.4.7;
  - permanent failures bounce at once (unknown user, alias loop, alias
    to nowhere); the null sender gets a postmaster notice once, and a
    notice that fails is dropped (no loop);
  - path traversal and symlinked Maildirs never write outside mail_dir;
  - kurirctl queue shows per-recipient state, last error and next try.

Every wait is bounded (kurirtest.wait_for); each test has its own host.
Nothing here needs root: as root kurir-local runs as the mail user, who
owns the Maildirs, and as another user it runs as that user; either way
a mode like 0500 or 000 binds it, which the retry tests rely on.
remote.test is routed (routes_file) to a loopback port where nothing
listens, so its recipients stay deferred ("4.4.1 connect to ...:
Connection refused"), which several tests use as a recipient that stays
in the queue.
"""
import datetime
import email
import mailbox
import os
import re
import smtplib
import time
import unittest

from kurirtest import SMTPHostCase, free_port, split_received, wait_for

# remote.test is routed to a loopback port where nothing listens: its
# recipients stay deferred ("4.4.1 connect to ...: Connection refused")
DEAD_PORT = free_port()
ROUTES = "remote.test [127.0.0.1]:%d\n" % DEAD_PORT


def remote_deferred(text):
    """Is text the deferral of a remote.test recipient?"""
    return (text or "").startswith("4.4.1 connect to") and \
        "refused" in text

USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
ALIASES = ("team: alice, bob, carol@remote.test\n"
           "staff: alice, bob\n"
           "twice: alice, alice, staff\n"
           "outer: staff, alice\n"
           "loop1: loop2\n"
           "loop2: loop1\n"
           "ghost: nosuchuser\n"
           "mixed: carol, nosuchuser\n")


class DeliveryCase(SMTPHostCase):
    """A running host that delivers, with users alice, bob, carol."""
    host_deliver = True
    host_users = USERS
    host_aliases = ALIASES
    host_routes = ROUTES

    # -- Maildirs -------------------------------------------------------
    def mdpath(self, user):
        return os.path.join(self.host.mail, user)

    def mails(self, user):
        """The messages (bytes) in user's Maildir (new/ and cur/), by
        file name; [] if the Maildir does not exist (yet)."""
        try:
            md = mailbox.Maildir(self.mdpath(user), factory=None,
                                 create=False)
            return [md.get_bytes(k) for k in sorted(md.keys())]
        except (mailbox.NoSuchMailboxError, FileNotFoundError):
            # none yet, or kurir-local is making tmp/, new/, cur/ now
            return []

    def wait(self, pred, timeout, what):
        """wait_for, with the log as it is at the timeout in the error."""
        try:
            wait_for(pred, timeout, what)
        except AssertionError as e:
            raise AssertionError("%s; log:\n%s" % (e, self.host.log()))

    def wait_mails(self, user, n, timeout=10):
        """Wait until user has n messages; return them (exactly n)."""
        self.wait(lambda: len(self.mails(user)) >= n, timeout,
                  "%d message(s) for %s" % (n, user))
        got = self.mails(user)
        self.assertEqual(len(got), n, "too many messages for " + user)
        return got

    def count_stays(self, user, n, settle=1.0):
        """user still has exactly n messages after settle seconds."""
        time.sleep(settle)
        self.assertEqual(len(self.mails(user)), n,
                         "messages for %s; log:\n%s" % (user, self.host.log()))

    # -- injection and the log ------------------------------------------
    def queued_ids(self, client=None):
        """Queue ids from kurir-queue's "(queued)" lines, in order."""
        out = []
        for m in re.finditer(r"kurir-queue\[\d+\]: ([0-9a-f]{16}): from=<"
                             r"[^>]*>, size=\d+, nrcpt=\d+, client=([^\n]*) "
                             r"\(queued\)", self.host.log()):
            if client is None or m.group(2).startswith(client):
                out.append(m.group(1))
        return out

    def inject(self, args, data):
        """kurir-sendmail args < data, which must succeed; the queue id
        (found as the new "(queued)" line of a local client)."""
        before = set(self.queued_ids("local"))
        r = self.host.sendmail(args, data)
        self.assertEqual(r.returncode, 0, r.stderr)
        new = []

        def appeared():
            new[:] = [q for q in self.queued_ids("local") if q not in before]
            return bool(new)
        wait_for(appeared, 10, "the (queued) log line")
        self.assertEqual(len(new), 1, new)
        return new[0]

    def send_lines(self, qid, to=None, status=None):
        """kurir-send's per-recipient lines for qid, optionally only
        those for to=<to> and status=status."""
        out = []
        for line in self.host.log().splitlines():
            m = re.search(r"kurir-send\[\d+\]: %s: to=<([^>]*)>.*, "
                          r"status=(\w+) " % qid, line)
            if m and (to is None or m.group(1) == to) and \
                    (status is None or m.group(2) == status):
                out.append(line)
        return out

    def wait_send_lines(self, qid, n, to=None, status=None, timeout=10):
        self.wait(lambda: len(self.send_lines(qid, to, status)) >= n,
                  timeout, "%d %s line(s) for %s to %s" % (n, status, qid, to))
        return self.send_lines(qid, to, status)

    def entry_or_none(self, qid):
        for e in self.host.queue():
            if e["id"] == qid:
                return e
        return None

    def rcpt_state(self, qid, address):
        e = self.entry_or_none(qid)
        if e is None:
            return None
        for r in e["recipients"]:
            if r["address"] == address:
                return r
        raise AssertionError("%s not a recipient of %r" % (address, e))

    def wait_gone(self, qid, timeout=10):
        self.wait(lambda: self.entry_or_none(qid) is None, timeout,
                  "%s to leave the queue" % qid)

    # -- stored messages and bounces ------------------------------------
    def trace(self, data):
        """(Return-Path line, Delivered-To line, Received field, rest) of
        a delivered message."""
        rp, dt, rest = data.split(b"\n", 2)
        received, rest = split_received(rest)
        return rp, dt, received, rest

    def dsn(self, data):
        """A bounce (bytes) checked for RFC 3464 shape; returns (msg,
        per-message fields, [per-recipient fields], header part text)."""
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:200])
        msg = email.message_from_bytes(data)
        self.assertEqual(msg.get_content_type(), "multipart/report", data)
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        self.assertIn("MAILER-DAEMON@mail.example.test", msg["From"])
        parts = msg.get_payload()
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status",
                          "text/rfc822-headers"], data)
        blocks = parts[1].get_payload()
        self.assertGreaterEqual(len(blocks), 2, data)
        self.assertIn("mail.example.test", blocks[0]["Reporting-MTA"])
        return msg, blocks[0], blocks[1:], parts[2].get_payload()

    def only_bounce(self, user, n=1):
        """The n-th (last) message of user's n, parsed as a bounce."""
        return self.dsn(self.wait_mails(user, n)[n - 1])

    # -- file modes ------------------------------------------------------
    def chmod(self, path, mode, restore=0o700):
        os.chmod(path, mode)
        self.addCleanup(lambda: os.path.exists(path) and
                        os.chmod(path, restore))


# ---------------------------------------------------------------------------
class LocalDeliveryTest(DeliveryCase):
    """Plain local delivery, by SMTP and by kurir-sendmail."""

    # The message of test 1: everything that a careless deliverer mangles.
    BODY = (b"From: Bob <bob@example.test>\n"
            b"To: alice@example.test, carol@example.test\n"
            b"Subject: =?utf-8?q?caf=C3=A9?=\n"
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
            b"Message-ID: <t1@client.example.test>\n"
            b"MIME-Version: 1.0\n"
            b"Content-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: 8bit\n"
            b"\n"
            b"From the start of a line (no '>' quoting in a Maildir).\n"
            b".a line that starts with a dot\n"
            b"..two dots\n"
            b".\n"
            b"8-bit UTF-8: gr\xc3\xbc\xc3\x9fe, \xe6\x97\xa5\xe6\x9c\xac, "
            b"\xf0\x9f\x93\xac\n"
            b"\ttab first\tand inside\t\n"
            b"trailing spaces   \n"
            + b"x" * 998 + b"\n"
            b"the next line is empty and is the last\n"
            b"\n")

    def test_smtp_to_two_users_byte_exact(self):
        # Why: the SPEC's promise "the body is otherwise byte-exact" with
        # the trace fields on top, checked through a standard Maildir
        # reader, for two recipients of one SMTP transaction.
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=20) as s:
            s.ehlo("client.example.test")
            opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
            code, _ = s.mail("bob@example.test", opts)
            self.assertEqual(code, 250)
            for r in ("alice@example.test", "carol@example.test"):
                code, text = s.rcpt(r)
                self.assertEqual(code, 250, text)
            # smtplib dot-stuffs, but sends bytes as given: give CRLF
            code, text = s.data(self.BODY.replace(b"\n", b"\r\n"))
            self.assertEqual(code, 250, text)
        m = re.search(rb"queued as ([0-9a-f]{16})", text)
        self.assertTrue(m, text)
        qid = m.group(1).decode()
        for user in ("alice", "carol"):
            data, = self.wait_mails(user, 1)
            rp, dt, received, rest = self.trace(data)
            self.assertEqual(rp, b"Return-Path: <bob@example.test>")
            self.assertEqual(dt, b"Delivered-To: %s@example.test" %
                             user.encode())
            self.assertIn(b"by mail.example.test", received)
            self.assertIn(qid.encode(), received)
            self.assertEqual(rest, self.BODY)
            self.assertNotIn(b"\r", data)
            md = mailbox.Maildir(self.mdpath(user), factory=None,
                                 create=False)
            key, = md.keys()
            msg = md.get_message(key)
            self.assertEqual(msg.get_subdir(), "new")
            self.assertEqual(msg.keys()[:3],
                             ["Return-Path", "Delivered-To", "Received"])
            self.assertEqual(os.listdir(os.path.join(self.mdpath(user),
                                                     "tmp")), [])
        self.assertEqual(self.mails("bob"), [])
        # kurir-send logs after kurir-local has answered: wait for it
        self.assertEqual(len(self.wait_send_lines(qid, 2, status="sent")), 2)
        self.wait(lambda: "%s: removed" % qid in self.host.log(), 10,
                  "the removed line")
        self.assertQueueEmpty()

    def test_sendmail_bare_and_full_address(self):
        # Why: the local injection path (kurir-sendmail) reaches the
        # Maildir too, for a bare name (SPEC: "a bare recipient is a
        # local mailbox") and a full address; the envelope sender becomes
        # Return-Path.
        body = b"Subject: via sendmail\n\nline one\r\nline two\n.dot\n"
        q1 = self.inject(["-f", "bob@example.test", "alice"], body)
        first, = self.wait_mails("alice", 1)
        q2 = self.inject(["-f", "carol@example.test", "alice@example.test"],
                         body)
        got = self.wait_mails("alice", 2)
        second, = [m for m in got if m != first]
        for data, sender, qid in ((first, b"bob", q1), (second, b"carol", q2)):
            rp, dt, received, rest = self.trace(data)
            self.assertEqual(rp, b"Return-Path: <%s@example.test>" % sender)
            # the bare name is qualified with a domain of this host
            self.assertTrue(re.fullmatch(
                rb"Delivered-To: alice@(mail\.)?example\.test", dt), dt)
            self.assertIn(qid.encode(), received)
            head, _, tail = rest.partition(b"\n\n")
            self.assertIn(b"Subject: via sendmail\n", head + b"\n")
            self.assertEqual(tail, b"line one\nline two\n.dot\n")
        self.assertEqual(self.trace(second)[1],
                         b"Delivered-To: alice@example.test")
        self.assertQueueEmpty()


# ---------------------------------------------------------------------------
class AliasTest(DeliveryCase):
    """Alias expansion: one copy per mailbox, per-target state."""

    def test_alias_with_remote_target_and_flush(self):
        # Why: "team" reaches two local users and one remote address.
        # The local copies are made at once; the remote one cannot be
        # (its server is down) so the entry stays, deferred.  A retry
        # (kurirctl flush) must not deliver the local copies again:
        # kurir-send keeps a state per alias target, not only per
        # envelope recipient.
        qid = self.inject(["-f", "bob@example.test", "team@example.test"],
                          "Subject: team\n\nhello team\n")
        for user in ("alice", "bob"):
            data, = self.wait_mails(user, 1)
            self.assertEqual(self.trace(data)[1],
                             b"Delivered-To: %s@example.test" % user.encode())
        self.wait_send_lines(qid, 1, "carol@remote.test", "deferred")
        e = self.host.entry(qid)
        self.assertEqual(len(e["recipients"]), 1, e)
        r = e["recipients"][0]
        self.assertEqual(r["address"], "team@example.test")
        self.assertEqual(r["state"], "deferred")
        self.assertTrue(remote_deferred(r["last_error"]), r)
        self.assertIsInstance(r["next_try"], int)
        # flush: the remote target is tried again (a second log line),
        # the local ones are not
        self.host.ctl("flush")
        self.wait_send_lines(qid, 2, "carol@remote.test", "deferred")
        self.count_stays("alice", 1)
        self.count_stays("bob", 1, settle=0)
        self.assertEqual(len(self.send_lines(qid, "alice@example.test")), 1)
        self.assertEqual(len(self.send_lines(qid, "bob@example.test")), 1)
        self.assertEqual(self.rcpt_state(qid, "team@example.test")["state"],
                         "deferred")

    def test_alias_state_survives_restart(self):
        # Why: the per-target state is on disk, not only in kurir-send's
        # memory: after a clean restart of the whole host (SIGTERM, start
        # again) the retry of the remote target still gives alice and bob
        # no second copy.
        qid = self.inject(["-f", "bob@example.test", "team@example.test"],
                          "Subject: team\n\nhello team\n")
        self.wait_mails("alice", 1)
        self.wait_mails("bob", 1)
        self.wait_send_lines(qid, 1, "carol@remote.test", "deferred")
        self.host.stop()
        self.host.start()
        self.host.wait_smtp()
        self.host.ctl("flush")
        self.wait_send_lines(qid, 2, "carol@remote.test", "deferred")
        self.count_stays("alice", 1)
        self.count_stays("bob", 1, settle=0)
        self.assertEqual(self.rcpt_state(qid, "team@example.test")["state"],
                         "deferred")

    def test_duplicate_suppressed(self):
        # Why: alice reached directly and through an alias in one message
        # gets one copy (in either order), and so does a user named twice
        # in an alias or through nested aliases.
        for n, rcpts in enumerate((["alice@example.test", "staff@example.test"],
                                   ["staff@example.test", "alice@example.test"],
                                   ["twice@example.test"],
                                   ["outer@example.test", "staff@example.test",
                                    "bob@example.test"]), 1):
            qid = self.inject(["-f", "carol@example.test"] + rcpts,
                              "Subject: dup %d\n\nx\n" % n)
            self.wait_gone(qid)
            self.assertEqual(len(self.mails("alice")), n, rcpts)
            self.assertEqual(len(self.mails("bob")), n, rcpts)
        self.count_stays("alice", 4, settle=0.5)
        self.count_stays("bob", 4, settle=0)
        self.assertEqual(self.mails("carol"), [])     # no bounce either
        self.assertQueueEmpty()

    def test_duplicate_suppressed_case_insensitive(self):
        # Why: SPEC: local parts match without regard to case, so
        # ALICE@example.test is alice's mailbox, the same one staff
        # reaches: one copy.
        qid = self.inject(["-f", "carol@example.test", "ALICE@example.test",
                           "staff@example.test"], "Subject: dup\n\nx\n")
        self.wait_gone(qid)
        self.count_stays("alice", 1, settle=0.5)
        self.assertEqual(len(self.mails("bob")), 1)


# ---------------------------------------------------------------------------
class RetryTest(DeliveryCase):
    """A Maildir that cannot be written: deferral, backoff, recovery."""
    host_extra = {"retry_min": "1s", "retry_max": "2s"}

    def test_unwritable_maildir_retried_then_delivered(self):
        # Why: a temporary local failure (disk full, wrong mode) must not
        # lose or bounce the mail: it is deferred with a 4.x.x error and
        # retried on the backoff schedule (not in a hot loop), and
        # delivered once - exactly once - when the admin fixes it.
        self.inject(["-f", "bob@example.test", "alice@example.test"],
                    "Subject: first\n\nmakes the Maildir\n")
        self.wait_mails("alice", 1)
        # kurir-local writes into tmp/ first; as root it runs as the mail
        # user, who owns the Maildir, and mode 0500 binds the owner too
        tmp = os.path.join(self.mdpath("alice"), "tmp")
        self.chmod(tmp, 0o500)
        start = time.monotonic()
        qid = self.inject(["-f", "bob@example.test", "alice@example.test"],
                          "Subject: second\n\nwaits for the fix\n")
        self.wait_send_lines(qid, 1, "alice@example.test", "deferred")
        r = self.rcpt_state(qid, "alice@example.test")
        self.assertEqual(r["state"], "deferred", r)
        self.assertTrue(r["last_error"].startswith("4."), r)
        self.assertIsInstance(r["next_try"], int)
        self.assertLessEqual(r["next_try"], time.time() + 2 + 1, r)
        # the retries are visible in the log, on the 1s/2s backoff
        self.wait_send_lines(qid, 3, "alice@example.test", "deferred",
                             timeout=15)
        elapsed = time.monotonic() - start
        tries = len(self.send_lines(qid, "alice@example.test", "deferred"))
        self.assertLessEqual(tries, elapsed / 1.0 + 2,
                             "retried faster than retry_min:\n" +
                             self.host.log())
        self.assertEqual(len(self.mails("alice")), 1)
        self.assertEqual(os.listdir(tmp), [])
        # fixed: delivered on the next retry (at most retry_max away)
        os.chmod(tmp, 0o700)
        self.wait_send_lines(qid, 1, "alice@example.test", "sent", timeout=10)
        got = self.wait_mails("alice", 2)
        self.assertTrue(any(b"Subject: second\n" in m for m in got))
        self.wait_gone(qid)
        self.count_stays("alice", 2, settle=2.5)   # > retry_max: no 2nd copy
        self.assertEqual(self.mails("bob"), [])    # and no bounce
        self.assertQueueEmpty()

    def test_unwritable_maildir_delivered_after_flush(self):
        # Why: kurirctl flush makes a deferred recipient due at once, so
        # the admin need not wait for the backoff after a fix.
        self.inject(["-f", "bob@example.test", "alice@example.test"],
                    "Subject: first\n\nx\n")
        self.wait_mails("alice", 1)
        # this time the whole Maildir: not even searchable (mode 000
        # binds the owner, which kurir-local is, as root or not)
        md = self.mdpath("alice")
        self.chmod(md, 0o000)
        qid = self.inject(["-f", "bob@example.test", "alice@example.test"],
                          "Subject: second\n\ny\n")
        self.wait_send_lines(qid, 1, "alice@example.test", "deferred")
        os.chmod(md, 0o700)
        self.host.ctl("flush")
        self.wait_mails("alice", 2, timeout=5)
        self.wait_gone(qid)
        self.count_stays("alice", 2, settle=1.0)


class ExpiryTest(DeliveryCase):
    """queue_lifetime: a message that cannot be delivered in time."""
    host_extra = {"retry_min": "1s", "retry_max": "1s",
                  "queue_lifetime": "3s"}

    def test_bounce_after_queue_lifetime(self):
        # Why: SPEC 3: "after the queue lifetime returns the message to
        # its sender as an RFC 3464 delivery status notification".
        self.inject(["-f", "carol@example.test", "alice@example.test"],
                    "Subject: first\n\nx\n")
        self.wait_mails("alice", 1)
        self.chmod(os.path.join(self.mdpath("alice"), "tmp"), 0o500)
        qid = self.inject(["-f", "bob@example.test", "alice@example.test"],
                          "Subject: will expire\n\nbody text\n")
        self.wait_send_lines(qid, 1, "alice@example.test", "deferred")
        # retried meanwhile, then bounced
        msg, per_msg, rcpts, hdr = self.only_bounce("bob")
        self.assertEqual(msg["To"].strip("<> "), "bob@example.test")
        self.assertEqual(len(rcpts), 1)
        r = rcpts[0]
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "4.4.7")
        self.assertEqual(r["Final-Recipient"], "rfc822; alice@example.test")
        self.assertIn("delivery time expired", r["Diagnostic-Code"])
        self.assertIn("last error: 4.", r["Diagnostic-Code"])
        self.assertIn("Subject: will expire", hdr)
        self.assertNotIn("body text", hdr)
        self.assertIn(qid, per_msg["X-Kurir-Queue-ID"] or "")
        self.assertGreaterEqual(len(self.send_lines(
            qid, "alice@example.test", "deferred")), 2, self.host.log())
        self.wait_gone(qid)
        self.assertEqual(len(self.mails("alice")), 1)
        self.count_stays("bob", 1, settle=1.5)     # one bounce only
        self.assertQueueEmpty()


# ---------------------------------------------------------------------------
class BounceTest(DeliveryCase):
    """Permanent failures bounce at once, with the right Status."""

    def bounce_for(self, rcpt, subject, extra=""):
        """Send from bob to rcpt (extra: more header lines); wait for
        the one bounce to bob; its per-recipient field blocks."""
        qid = self.inject(["-f", "bob@example.test", rcpt],
                          "%sSubject: %s\n\nbody\n" % (extra, subject))
        msg, per_msg, rcpts, hdr = self.only_bounce("bob")
        self.assertIn("Subject: %s" % subject, hdr)
        self.wait_gone(qid)
        self.assertQueueEmpty()
        return rcpts

    def test_unknown_user(self):
        # Why: sendmail accepts any local address (unlike SMTP RCPT); an
        # unknown one must come back as a 5.1.1 bounce, not sit queued.
        r, = self.bounce_for("nobody@example.test", "to nobody")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertEqual(r["Final-Recipient"], "rfc822; nobody@example.test")
        self.assertIn("5.1.1", r["Diagnostic-Code"])

    def test_alias_loop(self):
        # Why: loop1 -> loop2 -> loop1 must end in a bounce (5.4.6), not
        # in an endless expansion or mail bouncing between aliases.
        r, = self.bounce_for("loop1@example.test", "looping")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.4.6")
        self.assertIn("loop", r["Diagnostic-Code"])
        self.assertEqual(self.mails("alice"), [])

    def test_alias_to_missing_target(self):
        # Why: an alias whose target exists nowhere bounces (5.1.1), and
        # the report names the alias as Original-Recipient.
        r, = self.bounce_for("ghost@example.test", "to ghost")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertEqual(r["Original-Recipient"], "rfc822; ghost@example.test")
        self.assertIn("alias target nosuchuser does not exist",
                      r["Diagnostic-Code"])

    def test_alias_missing_target_final_recipient_is_an_address(self):
        # Why: RFC 3464 2.3.2: with address-type rfc822 the value of
        # Final-Recipient is an RFC 822 address (local-part@domain); a
        # bare "nosuchuser" is none, and report parsers choke on it.
        r, = self.bounce_for("ghost@example.test", "to ghost")
        kind, _, addr = r["Final-Recipient"].partition(";")
        self.assertEqual(kind.strip().lower(), "rfc822")
        self.assertRegex(addr.strip(), r"^nosuchuser@[^@\s]+$",
                         r["Final-Recipient"])

    def test_delivered_to_loop(self):
        # Why: a message that already carries "Delivered-To: alice@..."
        # has been here before (a forwarding loop through some other
        # host): kurir-local refuses it (5.4.6) and the sender gets a
        # bounce instead of an endless loop.
        r, = self.bounce_for("alice@example.test", "looped",
                             extra="Delivered-To: alice@example.test\n")
        self.assertEqual(r["Status"], "5.4.6")
        self.assertIn("loop", r["Diagnostic-Code"])
        self.assertEqual(self.mails("alice"), [])

    def test_alias_partly_failing(self):
        # Why: one good and one bad alias target: the good one is
        # delivered once, the bounce lists only the bad one.
        qid = self.inject(["-f", "bob@example.test", "mixed@example.test"],
                          "Subject: mixed\n\nbody\n")
        self.wait_mails("carol", 1)
        msg, _, rcpts, hdr = self.only_bounce("bob")
        self.assertEqual(len(rcpts), 1)
        self.assertEqual(rcpts[0]["Status"], "5.1.1")
        self.assertIn("nosuchuser", rcpts[0]["Final-Recipient"])
        self.wait_gone(qid)
        self.count_stays("carol", 1, settle=0.5)


class NullSenderTest(DeliveryCase):
    """A failing message with the null sender: a notice to postmaster."""
    host_aliases = ALIASES + "postmaster: alice\n"

    def test_notice_to_postmaster_once(self):
        # Why: SPEC: mail with the null sender is never bounced; a notice
        # goes once to postmaster, resolved through the aliases.
        qid = self.inject(["-f", "", "nobody@example.test"],
                          "Subject: a bounce that fails\n\nx\n")
        data, = self.wait_mails("alice", 1)
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:100])
        msg = email.message_from_bytes(data)
        self.assertIn("MAILER-DAEMON@mail.example.test", msg["From"])
        _, _, rcpts, hdr = self.dsn(data)
        self.assertEqual(rcpts[0]["Final-Recipient"],
                         "rfc822; nobody@example.test")
        self.assertIn("Subject: a bounce that fails", hdr)
        self.wait_gone(qid)
        self.count_stays("alice", 1, settle=2.0)
        self.assertQueueEmpty(settle=0)
        self.assertNotIn("dropped", self.host.log())


class NullSenderNoPostmasterTest(DeliveryCase):
    """No postmaster configured: the notice fails too and is dropped."""

    def test_notice_dropped_no_loop(self):
        # Why: the notice (null sender) about a notice must not be sent
        # again and again: it is logged and dropped, and the queue
        # empties.
        self.inject(["-f", "", "nobody@example.test"],
                    "Subject: a bounce that fails\n\nx\n")
        self.wait(lambda: "a postmaster notice could not be delivered; "
                  "dropped" in self.host.log(), 10, "the dropped line")
        time.sleep(2.0)
        self.assertQueueEmpty(settle=0)
        # the message and at most one notice were ever queued
        self.assertLessEqual(len(self.queued_ids()), 2, self.host.log())
        for user in USERS:
            self.assertEqual(self.mails(user), [], user)


# ---------------------------------------------------------------------------
class PathSafetyTest(DeliveryCase):
    """Recipient names and symlinks never lead outside mail_dir."""

    def snapshot(self):
        """Every path under the host's directory but the queue, the log
        and bob's Maildir (bounces go there), which may change."""
        out = set()
        for root, dirs, files in os.walk(self.host.dir):
            rel = os.path.relpath(root, self.host.dir)
            if rel.split(os.sep)[0] == "state" or \
                    rel.split(os.sep)[:2] == ["mail", "bob"]:
                continue
            for n in dirs + files:
                if os.path.join(rel, n) not in ("mail/bob", "kurird.log"):
                    out.add(os.path.join(rel, n))
        return out

    def test_traversal_names_bounced(self):
        # Why: a recipient's local part names a directory under
        # mail_dir; "..", "/" and a leading dot must never reach the
        # file system.  kurir-sendmail may refuse the address at once
        # (exit 67, EX_NOUSER); if it takes it, the result is a bounce.
        before = self.snapshot()
        bounces = 0
        for rcpt in ("../evil@example.test", "a/b@example.test",
                     ".hidden@example.test", "..@example.test",
                     "a/../../evil@example.test", "\"../evil\"@example.test",
                     "\".hidden\"@example.test", "\"a/b\"@example.test",
                     "\"..\"@example.test"):
            r = self.host.sendmail(["-f", "bob@example.test", rcpt],
                                   "Subject: %s\n\nx\n" % rcpt)
            if r.returncode != 0:
                self.assertNotEqual(r.stderr, b"", rcpt)
                continue
            bounces += 1
            _, _, rcpts, _ = self.only_bounce("bob", bounces)
            self.assertTrue(rcpts[0]["Status"].startswith("5."), rcpts[0])
        self.wait(lambda: self.host.queue() == [], 10, "an empty queue")
        # the same names by SMTP are refused at RCPT
        with self.client() as c:
            c.ehlo()
            c.expect("MAIL FROM:<bob@example.test>", 250)
            for rcpt in ("../evil@example.test", "a/b@example.test",
                         ".hidden@example.test"):
                r = c.cmd("RCPT TO:<%s>" % rcpt)
                self.assertTrue(500 <= r.code < 600, (rcpt, r))
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(sorted(os.listdir(self.host.mail)),
                         ["bob"] if bounces else [])
        self.assertFalse(os.path.exists(os.path.join(self.host.dir, "evil")))
        self.assertQueueEmpty()

    def test_symlinked_maildir_not_followed(self):
        # Why: <mail>/alice replaced by a symlink (to a directory that
        # looks like a Maildir) must not receive mail through the link.
        # kurir-local treats it as a temporary failure ("4.3.0 mailbox is
        # a symlink"), so the recipient stays deferred for the admin.
        outside = os.path.join(self.host.dir, "outside")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(outside, sub))
        os.chmod(outside, 0o777)
        for sub in ("tmp", "new", "cur"):
            os.chmod(os.path.join(outside, sub), 0o777)
        os.symlink(outside, self.mdpath("alice"))
        qid = self.inject(["-f", "bob@example.test", "alice@example.test"],
                          "Subject: via a link\n\nx\n")
        self.wait(lambda: self.send_lines(qid, "alice@example.test"), 10,
                  "an attempt")
        line = self.send_lines(qid, "alice@example.test")[0]
        self.assertNotIn("status=sent", line)
        self.assertIn("status=deferred", line)
        self.assertIn("symlink", line)
        r = self.rcpt_state(qid, "alice@example.test")
        self.assertEqual(r["state"], "deferred", r)
        self.assertTrue(r["last_error"].startswith("4."), r)
        for sub in ("tmp", "new", "cur"):
            self.assertEqual(os.listdir(os.path.join(outside, sub)), [], sub)
        self.assertTrue(os.path.islink(self.mdpath("alice")))
        self.assertEqual(self.mails("bob"), [])


# ---------------------------------------------------------------------------
class QueueViewTest(DeliveryCase):
    """kurirctl queue: per-recipient state for the admin."""

    def test_queue_shows_deferred_recipient(self):
        # Why: SPEC "Commands": one line per message with recipients,
        # last error and next try; --json with the per-recipient state.
        # One recipient delivered and one deferred in the same message.
        before = int(time.time())
        qid = self.inject(["-f", "bob@example.test", "alice@example.test",
                           "carol@remote.test"], "Subject: q\n\nx\n")
        self.wait_mails("alice", 1)
        self.wait_send_lines(qid, 1, "carol@remote.test", "deferred")
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], "bob@example.test")
        self.assertGreater(e["size"], 0)
        self.assertGreaterEqual(e["arrival"], before - 1)
        rs = {r["address"]: r for r in e["recipients"]}
        self.assertEqual(set(rs), {"alice@example.test", "carol@remote.test"})
        self.assertEqual(rs["alice@example.test"]["state"], "delivered")
        self.assertIsNone(rs["alice@example.test"]["next_try"])
        c = rs["carol@remote.test"]
        self.assertEqual(c["state"], "deferred")
        self.assertTrue(remote_deferred(c["last_error"]), c)
        self.assertIsInstance(c["next_try"], int)
        self.assertGreater(c["next_try"], e["arrival"])
        # the text form: the same facts on the entry's line
        out = self.host.ctl("queue").stdout
        lines = [l for l in out.splitlines() if l.startswith(qid)]
        self.assertEqual(len(lines), 1, out)
        line = lines[0]
        self.assertIn("<bob@example.test>", line)
        self.assertIn(str(e["size"]), line.split())
        nt = datetime.datetime.fromtimestamp(
            c["next_try"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertIn('carol@remote.test (deferred, next try %s, "%s")'
                      % (nt, c["last_error"]), line)
        self.assertIn("alice@example.test (delivered", line)
        # flush: due now, tried again, next_try moves on
        self.host.ctl("flush")
        self.wait_send_lines(qid, 2, "carol@remote.test", "deferred")
        self.wait(lambda: (self.rcpt_state(qid, "carol@remote.test")
                           ["next_try"] or 0) > c["next_try"], 10,
                  "a later next_try after the flush")
        c2 = self.rcpt_state(qid, "carol@remote.test")
        self.assertEqual(c2["state"], "deferred")
        self.assertTrue(remote_deferred(c2["last_error"]), c2)
        self.assertEqual(self.rcpt_state(qid, "alice@example.test")["state"],
                         "delivered")
        self.assertEqual(len(self.mails("alice")), 1)


# ---------------------------------------------------------------------------
class DelayWarningTest(DeliveryCase):
    """delay_warning: the sender hears once that mail is still waiting."""
    host_extra = {"retry_min": "1s", "retry_max": "1s",
                  "delay_warning": "2s", "queue_lifetime": "1h"}

    def test_one_warning_while_deferred(self):
        # Why: the issue's "optionally, a delay warning after a
        # configurable time"; once per message, however many retries.
        self.inject(["-f", "carol@example.test", "alice@example.test"],
                    "Subject: first\n\nx\n")
        self.wait_mails("alice", 1)
        self.chmod(os.path.join(self.mdpath("alice"), "tmp"), 0o500)
        qid = self.inject(["-f", "bob@example.test", "alice@example.test"],
                          "Subject: slow one\n\nbody\n")
        data = self.wait_mails("bob", 1, timeout=15)[0]
        msg = email.message_from_bytes(data)
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:200])
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertIn("Delayed", msg["Subject"])
        blocks = msg.get_payload()[1].get_payload()
        self.assertEqual(blocks[1]["Action"], "delayed")
        self.assertTrue(blocks[1]["Status"].startswith("4."), data)
        self.assertEqual(blocks[1]["Final-Recipient"],
                         "rfc822; alice@example.test")
        self.assertIsNotNone(blocks[1]["Will-Retry-Until"])
        self.assertIn("Subject: slow one",
                      msg.get_payload()[2].get_payload())
        # more retries, no second warning; still queued
        self.wait_send_lines(qid, 4, "alice@example.test", "deferred")
        self.count_stays("bob", 1, settle=1.0)
        self.assertEqual(self.rcpt_state(qid, "alice@example.test")["state"],
                         "deferred")
        # and once the Maildir is fixed the message itself arrives
        os.chmod(os.path.join(self.mdpath("alice"), "tmp"), 0o700)
        self.host.ctl("flush")
        self.wait_mails("alice", 2)
        self.wait_gone(qid)


class ReloadTest(DeliveryCase):
    """SIGHUP: a new local domain is delivered locally from then on."""

    def test_new_local_domain_after_sighup(self):
        # Why: SPEC: "SIGHUP: reload the config and every table".  Both
        # kurir-send (local or remote?) and kurir-auth (alias targets)
        # must see the new local_domains.
        qid = self.inject(["-f", "bob@example.test", "alice@other.test"],
                          "Subject: before\n\nx\n")
        self.wait_send_lines(qid, 1, "alice@other.test", "deferred")
        self.assertEqual(self.mails("alice"), [])
        with open(self.host.conf) as f:
            conf = f.read()
        with open(self.host.conf, "w") as f:
            f.write(conf.replace("local_domains = example.test localhost",
                                 "local_domains = example.test localhost "
                                 "other.test"))
        with open(os.path.join(self.host.dir, "aliases"), "a") as f:
            f.write("fwd: alice@other.test\n")
        os.kill(self.host.kurird.pid, 1)
        self.wait(lambda: "config reloaded" in self.host.log(), 10,
                  "the reload")
        time.sleep(0.3)
        self.host.ctl("flush")
        got = self.wait_mails("alice", 1)
        self.assertIn(b"Delivered-To: alice@other.test\n", got[0])
        self.wait_gone(qid)
        # an alias target in the new domain is local now too
        self.inject(["-f", "bob@example.test", "fwd@example.test"],
                    "Subject: via alias\n\nx\n")
        self.wait_mails("alice", 2)


if __name__ == "__main__":
    unittest.main()
