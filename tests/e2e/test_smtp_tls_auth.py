"""kurir-smtpd STARTTLS and AUTH end to end.

Covers: STARTTLS offered only with a certificate and only before TLS;
plaintext pipelined after STARTTLS is discarded (RFC 3207); state is
forgotten after the handshake (EHLO again, no transaction); Received says
ESMTPS with the TLS version; a failed handshake harms nobody else.  AUTH
PLAIN (initial response and 334 continuation) and LOGIN against the users
table via kurir-auth: 235 / 535 (delayed) / 501 on "*"; AUTH allows
relaying; Received says ESMTPA or ESMTPSA; the submission port demands
AUTH before MAIL; smtplib STARTTLS and login, swaks with TLS and AUTH.
AUTH without TLS from a non-loopback address is refused with 538 (uses a
non-loopback address of this host when there is one).
"""
import base64
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

import tools
from kurirtest import (HostCase, SMTPClient, SMTPHostCase,
                       non_loopback_address, tls_client_context, to_wire)

USERS = {"alice": "alice-secret", "bob": "b0b p@ss:word"}


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def plain(user, pw, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, pw))


class StartTLSTest(SMTPHostCase):
    host_users = USERS
    host_tls = True

    def test_offered_once(self):
        c = self.client()
        r = c.ehlo()
        self.assertIn("STARTTLS", r.lines)
        c.starttls()
        r = c.ehlo()
        self.assertNotIn("STARTTLS", r.lines)
        self.assertIn("AUTH PLAIN LOGIN", r.lines)
        for k in ("PIPELINING", "SIZE 1048576", "8BITMIME", "CHUNKING",
                  "ENHANCEDSTATUSCODES"):
            self.assertIn(k, r.lines)
        r = c.cmd("STARTTLS")
        self.assertEqual(r.code // 100, 5, r)
        self.assertReply(c.cmd("NOOP"), 250)

    def test_ready_reply(self):
        c = self.client()
        c.ehlo()
        r = c.starttls()
        self.assertEqual(r.lines, ["2.0.0 Ready to start TLS"])
        self.assertTrue(c.sock.version().startswith("TLSv1"), c.sock.version())

    def test_pipelined_plaintext_discarded(self):
        c = self.client()
        c.ehlo()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        r = c.reply()
        self.assertReply(r, 220)
        self.assertEqual(c.buf, b"", "data after 220")
        c.sock = tls_client_context().wrap_socket(
            c.sock, server_hostname="mail.example.test")
        # the first reply inside TLS answers HELP, not the NOOP
        r = c.cmd("HELP")
        self.assertReply(r, 214)
        self.assertReply(c.cmd("NOOP"), 250)

    def test_pipelined_transaction_after_starttls_discarded(self):
        c = self.client()
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\ninjected\r\n.\r\n")
        self.assertReply(c.reply(), 220)
        c.sock = tls_client_context().wrap_socket(
            c.sock, server_hostname="mail.example.test")
        c.ehlo()
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)
        self.assertReply(c.cmd("DATA"), 503)
        self.assertQueueEmpty()

    def test_state_reset_after_tls(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.starttls()
        # EHLO is needed again, and the old transaction is gone
        self.assertReply(c.cmd("MAIL FROM:<s@remote.test>"), 503)
        c.ehlo()
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)
        c.expect("MAIL FROM:<s@remote.test>", 250)

    def test_message_over_tls(self):
        c = self.client()
        c.ehlo()
        c.starttls()
        c.ehlo("tls.example.test")
        text = b"Subject: tls\n\nover TLS\n.dot\n"
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                 to_wire(text))
        rec, rest = self.stored(qid)
        self.assertEqual(rest, text)
        flat = b" ".join(rec.split())
        self.assertIn(b"from tls.example.test ([127.0.0.1])", flat)
        self.assertRegex(flat, rb"\(using TLSv1\.[0-3]")
        self.assertIn(b"with ESMTPS id " + qid.encode(), flat)

    def test_bad_handshake_harms_nobody(self):
        c = self.client()
        c.ehlo()
        c.cmd("STARTTLS")
        c.send(b"this is not a TLS client hello\r\n" * 10)
        self.assertTrue(c.closed(10))
        # a handshake that stops half way
        raw = self.client()
        raw.ehlo()
        raw.cmd("STARTTLS")
        raw.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        # meanwhile others are served
        good = self.client()
        good.ehlo()
        good.starttls()
        good.ehlo()
        good.mail_transaction("s@remote.test", ["alice@example.test"],
                              b"Subject: ok\r\n\r\nx\r\n")
        raw.close()
        self.assertEqual(len(self.host.queue()), 1)

    def test_garbage_in_socket_after_starttls(self):
        """The handshake fails at once (the bytes are already there): that
        session ends, kurir-smtpd and the other sessions live on."""
        other = self.client()
        other.ehlo()
        other.expect("MAIL FROM:<s@remote.test>", 250)
        pids = self.host.pids_of("kurir-smtpd")
        c = self.client()
        c.ehlo()
        # more than one read: some garbage is still in the socket when
        # the handshake starts
        c.send(b"STARTTLS\r\n" + b"G" * 100000)
        self.assertTrue(c.closed(10))
        time.sleep(0.3)
        self.assertNoChildDied()
        self.assertEqual(self.host.pids_of("kurir-smtpd"), pids)
        other.expect("RCPT TO:<alice@example.test>", 250)
        other.expect("DATA", 354)
        other.send(b"Subject: survived\r\n\r\nx\r\n.\r\n")
        self.assertReply(other.reply(), 250)

    def test_smtplib_starttls(self):
        text = "Subject: smtplib tls\r\n\r\nbody\r\n..dot\r\n"
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=10) as s:
            s.ehlo("smtplib.test")
            s.starttls(context=tls_client_context())
            s.ehlo("smtplib.test")
            self.assertFalse(s.has_extn("starttls"))
            refused = s.sendmail("s@remote.test",
                                 ["alice@example.test", "bob@example.test"],
                                 text)
            self.assertEqual(refused, {})
        q = self.host.queue()
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["sender"], "s@remote.test")
        self.assertEqual([x["address"] for x in q[0]["recipients"]],
                         ["alice@example.test", "bob@example.test"])
        rec, rest = self.stored(q[0]["id"])
        self.assertEqual(rest, b"Subject: smtplib tls\n\nbody\n..dot\n")
        self.assertIn(b"ESMTPS", rec)

    def test_tls_auth_received(self):
        c = self.client()
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235, "2.7.0")
        qid = c.mail_transaction("alice@example.test", ["x@remote.test"],
                                 b"Subject: sa\r\n\r\nx\r\n")
        rec, _ = self.stored(qid)
        self.assertIn(b"with ESMTPSA id", b" ".join(rec.split()))
        # the password never reaches the queue or the log
        self.assertNotIn(USERS["alice"].encode(), self.host.message(qid))
        self.assertNotIn(USERS["alice"], self.host.log())

    def test_swaks_tls_auth(self):
        r = subprocess.run(
            [tools.need_swaks(tls=True),
             "--server", "127.0.0.1:%d" % self.host.smtp_port, "--tls", "--auth", "LOGIN", "--auth-user", "bob",
             "--auth-password", USERS["bob"],
             "--to", "x@remote.test", "--from", "bob@example.test",
             "--header", "Subject: swaks tls", "--body", "secure\n"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        q = self.host.queue()
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["sender"], "bob@example.test")
        self.assertEqual(q[0]["recipients"][0]["address"], "x@remote.test")
        rec, rest = self.stored(q[0]["id"])
        self.assertIn(b"ESMTPSA", rec)
        self.assertIn(b"\nsecure\n", rest)


class AuthTest(SMTPHostCase):
    """AUTH on plain loopback sessions (allowed: loopback)."""
    host_users = USERS

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.c.ehlo()

    def test_plain_initial_response(self):
        r = self.c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        self.assertReply(r, 235, "2.7.0")
        r = self.c.ehlo()
        self.assertFalse([k for k in r.lines if k.startswith("AUTH")], r)
        self.assertEqual(self.c.cmd("AUTH PLAIN " + plain("alice", "x")).code,
                         503)

    def test_plain_continuation(self):
        r = self.c.cmd("AUTH PLAIN")
        self.assertEqual(r.code, 334, r)
        self.assertEqual(r.lines, [""])
        self.assertReply(self.c.cmd(plain("bob", USERS["bob"])), 235, "2.7.0")

    def test_plain_with_authzid(self):
        r = self.c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"], "alice"))
        self.assertReply(r, 235)

    def test_plain_authzid_other_user_refused(self):
        r = self.c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"], "bob"))
        self.assertNotEqual(r.code, 235, r)

    def test_login(self):
        r = self.c.cmd("AUTH LOGIN")
        self.assertEqual((r.code, r.lines), (334, ["VXNlcm5hbWU6"]))
        r = self.c.cmd(b64("bob"))
        self.assertEqual((r.code, r.lines), (334, ["UGFzc3dvcmQ6"]))
        self.assertReply(self.c.cmd(b64(USERS["bob"])), 235, "2.7.0")

    def test_login_initial_response(self):
        r = self.c.cmd("AUTH LOGIN " + b64("alice"))
        self.assertEqual((r.code, r.lines), (334, ["UGFzc3dvcmQ6"]))
        self.assertReply(self.c.cmd(b64(USERS["alice"])), 235)

    def test_bad_password_delayed(self):
        for line in ("AUTH PLAIN " + plain("alice", "wrong"),
                     "AUTH PLAIN " + plain("nosuchuser", "whatever"),
                     "AUTH PLAIN " + plain("alice", USERS["bob"])):
            t = time.monotonic()
            r = self.c.cmd(line)
            took = time.monotonic() - t
            self.assertReply(r, 535, "5.7.8")
            self.assertGreaterEqual(took, 0.95, line)
        # still not authenticated: a later good AUTH works
        self.assertReply(self.c.cmd("AUTH PLAIN " + plain("alice",
                                    USERS["alice"])), 235)

    def test_login_bad_password_delayed(self):
        self.c.expect("AUTH LOGIN", 334)
        self.c.expect(b64("bob"), 334)
        t = time.monotonic()
        r = self.c.cmd(b64("nope"))
        self.assertReply(r, 535, "5.7.8")
        self.assertGreaterEqual(time.monotonic() - t, 0.95)

    def test_case_of_user_name(self):
        # whatever the rule, a wrong-case password is wrong
        r = self.c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"].upper()))
        self.assertReply(r, 535)

    def test_cancel(self):
        self.c.expect("AUTH LOGIN", 334)
        self.assertReply(self.c.cmd("*"), 501)
        self.c.expect("AUTH LOGIN", 334)
        self.c.expect(b64("bob"), 334)
        self.assertReply(self.c.cmd("*"), 501)
        self.c.expect("AUTH PLAIN", 334)
        self.assertReply(self.c.cmd("*"), 501)
        self.assertReply(self.c.cmd("NOOP"), 250)

    def test_bad_input(self):
        for line in ("AUTH PLAIN !!!notbase64", "AUTH PLAIN " + b64("nonul"),
                     "AUTH PLAIN " + b64("a\0b"), "AUTH PLAIN " + b64("\0\0")):
            r = self.c.cmd(line)
            self.assertIn(r.code, (501, 535), (line, r))
        self.assertReply(self.c.cmd("AUTH CRAM-MD5"), 504)
        r = self.c.cmd("AUTH")
        self.assertEqual(r.code // 100, 5, r)
        self.assertReply(self.c.cmd("NOOP"), 250)

    def test_long_auth_line(self):
        r = self.c.cmd("AUTH PLAIN " + plain("alice", "p" * 1000))
        self.assertEqual(r.code // 100, 5, r)
        r = self.c.cmd("AUTH PLAIN " + "A" * 5000)
        self.assertEqual(r.code // 100, 5, r)
        self.assertReply(self.c.cmd("NOOP"), 250)

    def test_auth_in_transaction_refused(self):
        self.c.expect("MAIL FROM:<s@remote.test>", 250)
        r = self.c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        self.assertReply(r, 503)

    def test_esmtpa_received(self):
        self.c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        qid = self.c.mail_transaction("alice@example.test", ["x@remote.test"],
                                      b"Subject: a\r\n\r\nx\r\n")
        rec, _ = self.stored(qid)
        self.assertIn(b"with ESMTPA id", b" ".join(rec.split()))

    def test_auth_survives_kurir_auth_restart(self):
        pids = self.host.pids_of("kurir-auth")
        self.assertEqual(len(pids), 1, pids)
        self.allow_child_deaths = True
        os.kill(pids[0], signal.SIGKILL)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            p = self.host.pids_of("kurir-auth")
            if p and p != pids:
                break
            time.sleep(0.1)
        # AUTH gets a temporary answer or succeeds; it works again soon
        while True:
            c = self.client()
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
            if r.code == 235:
                break
            self.assertIn(r.code // 100, (4,), r)
            self.assertLess(time.monotonic(), end, r)
            time.sleep(0.3)


class AuthRelayTest(SMTPHostCase):
    """Loopback is not a relay client: AUTH is what allows relaying."""
    host_users = USERS
    host_extra = {"relay_clients": "192.0.2.0/24", "smtp_greet_pause": "0"}

    def test_relay_after_auth(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<alice@example.test>", 250)
        self.assertReply(c.cmd("RCPT TO:<x@remote.test>"), 554, "5.7.1")
        c.expect("RSET", 250)
        c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        c.expect("MAIL FROM:<alice@example.test>", 250)
        for a in ("x@remote.test", "y@[192.0.2.1]", "alice@example.test"):
            self.assertReply(c.cmd("RCPT TO:<%s>" % a), 250, "2.1.5")
        self.assertReply(c.cmd("RCPT TO:<ghost@example.test>"), 550, "5.1.1")
        c.expect("DATA", 354)
        c.send(b"Subject: relayed\r\n\r\nx\r\n.\r\n")
        r = c.reply()
        self.assertReply(r, 250)
        e = self.host.entry(r.lines[0].split()[-1])
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["x@remote.test", "y@[192.0.2.1]",
                          "alice@example.test"])

    def test_failed_auth_gives_nothing(self):
        c = self.client()
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN " + plain("alice", "bad")), 535)
        c.expect("MAIL FROM:<alice@example.test>", 250)
        self.assertReply(c.cmd("RCPT TO:<x@remote.test>"), 554)

    def test_auth_not_shared_between_sessions(self):
        a = self.client()
        a.ehlo()
        a.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        b = self.client()
        b.ehlo()
        b.expect("MAIL FROM:<alice@example.test>", 250)
        self.assertReply(b.cmd("RCPT TO:<x@remote.test>"), 554)


class SubmissionTest(SMTPHostCase):
    host_users = USERS
    host_submission = True
    host_tls = True

    def test_auth_required(self):
        c = self.client(self.host.submission_port)
        self.assertReply(c.greeting, 220)
        c.ehlo()
        r = c.cmd("MAIL FROM:<alice@example.test>")
        self.assertReply(r, 530, "5.7.0")
        c.starttls()
        c.ehlo()
        self.assertReply(c.cmd("MAIL FROM:<alice@example.test>"), 530)
        c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        c.expect("MAIL FROM:<alice@example.test>", 250)
        c.expect("RCPT TO:<x@remote.test>", 250)

    def test_smtp_port_unchanged(self):
        # the MX port still takes mail without AUTH
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)

    def test_smtplib_login(self):
        text = "Subject: submitted\r\n\r\nfrom smtplib\r\n.x\r\n"
        with smtplib.SMTP("127.0.0.1", self.host.submission_port,
                          timeout=10) as s:
            s.starttls(context=tls_client_context())
            s.login("bob", USERS["bob"])
            refused = s.sendmail("bob@example.test",
                                 ["friend@remote.test", "alice@example.test"],
                                 text)
            self.assertEqual(refused, {})
        q = self.host.queue()
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["sender"], "bob@example.test")
        self.assertEqual([x["address"] for x in q[0]["recipients"]],
                         ["friend@remote.test", "alice@example.test"])
        rec, rest = self.stored(q[0]["id"])
        self.assertEqual(rest, b"Subject: submitted\n\nfrom smtplib\n.x\n")
        self.assertIn(b"with ESMTPSA id", b" ".join(rec.split()))

    def test_smtplib_login_plaintext_loopback(self):
        with smtplib.SMTP("127.0.0.1", self.host.submission_port,
                          timeout=10) as s:
            s.login("alice", USERS["alice"])
            s.sendmail("alice@example.test", ["x@remote.test"],
                       "Subject: p\r\n\r\nx\r\n")
        rec, _ = self.stored(self.host.queue()[0]["id"])
        self.assertIn(b"with ESMTPA id", b" ".join(rec.split()))

    def test_smtplib_bad_login(self):
        with smtplib.SMTP("127.0.0.1", self.host.submission_port,
                          timeout=10) as s:
            s.starttls(context=tls_client_context())
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                s.login("bob", "wrong")
            self.assertEqual(cm.exception.smtp_code, 535)
            with self.assertRaises(smtplib.SMTPSenderRefused):
                s.sendmail("bob@example.test", ["x@remote.test"], "x\r\n")
        self.assertEqual(self.host.queue(), [])


NONLO = non_loopback_address()


def free_port_on(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


@unittest.skipUnless(NONLO, "no non-loopback address to test with")
class NonLoopbackAuthTest(SMTPHostCase):
    """A session from a non-loopback address without TLS gets no AUTH."""
    host_users = USERS
    host_tls = True
    plaintext_auth = "no"

    def setUp(self):
        self.port = free_port_on(NONLO)
        self.host_extra = {
            "smtp_listen": "%s:%d" % (NONLO, self.port),
            "smtp_greet_pause": "0",
            "plaintext_auth": self.plaintext_auth}
        HostCase.setUp(self)
        self.host.setup()
        self.host.start()
        end = time.monotonic() + 15
        while True:
            try:
                with SMTPClient(self.port, host=NONLO, source=NONLO,
                                timeout=5) as c:
                    if c.greeting.code == 220:
                        break
            except (OSError, EOFError, AssertionError):
                pass
            self.assertLess(time.monotonic(), end, "no greeting")
            time.sleep(0.1)

    def connect(self):
        c = SMTPClient(self.port, host=NONLO, source=NONLO)
        self.addCleanup(c.close)
        return c

    def test_auth_needs_tls(self):
        c = self.connect()
        r = c.ehlo()
        self.assertFalse([k for k in r.lines if k.startswith("AUTH")], r)
        r = c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        self.assertReply(r, 538)
        # and no relaying for this non-relay client
        c.expect("MAIL FROM:<alice@example.test>", 250)
        self.assertReply(c.cmd("RCPT TO:<x@remote.test>"), 554)
        c.expect("RSET", 250)
        c.starttls()
        r = c.ehlo()
        self.assertIn("AUTH PLAIN LOGIN", r.lines)
        c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        c.expect("MAIL FROM:<alice@example.test>", 250)
        c.expect("RCPT TO:<x@remote.test>", 250)


@unittest.skipUnless(NONLO, "no non-loopback address to test with")
class PlaintextAuthTest(NonLoopbackAuthTest):
    plaintext_auth = "yes"

    def test_auth_needs_tls(self):
        pass

    def test_plaintext_auth_allowed(self):
        c = self.connect()
        r = c.ehlo()
        self.assertIn("AUTH PLAIN LOGIN", r.lines)
        c.expect("AUTH PLAIN " + plain("alice", USERS["alice"]), 235)
        c.expect("MAIL FROM:<alice@example.test>", 250)
        c.expect("RCPT TO:<x@remote.test>", 250)


if __name__ == "__main__":
    unittest.main()
