"""kurir-smtpd end to end: the SMTP dialogue, policy, DATA and BDAT.

Covers: greeting and EHLO keywords, MAIL parameters, RCPT policy for
local users, aliases, postmaster and remote domains (relay clients and
not; percent hack, source routes, quoted local parts, address literals),
DATA with exact dot-unstuffing and the Received field, SMTP smuggling
(bare CR/LF never ends a message, nothing is queued), NUL bytes, BDAT,
the other commands, pipelining, and real clients (smtplib, swaks, curl),
each message then found intact in the queue with the right envelope.
Limits (lines, sizes, timeouts, sessions, errors) are in
test_smtp_limits.py; STARTTLS and AUTH in test_smtp_tls_auth.py.
"""
import os
import socket
import re
import signal
import smtplib
import subprocess
import time
import unittest

import tools
from kurirtest import SMTPHostCase, split_received, to_wire

SMUGGLE_SEPS = ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n",
                "\r\n.\r", "\n.\r", "\r.\n", "\n..\n", "\r\n.\r\r\n"]


class ProtocolTest(SMTPHostCase):
    host_users = {"alice": "pw-alice"}

    def test_greeting(self):
        c = self.client()
        self.assertReply(c.greeting, 220)
        self.assertEqual(c.greeting.lines, ["mail.example.test ESMTP kurir"])

    def test_relay_client_greeted_at_once(self):
        t = time.monotonic()
        c = self.client()
        self.assertLess(time.monotonic() - t, 0.8, "greet pause for loopback")
        self.assertReply(c.greeting, 220)

    def test_ehlo_keywords(self):
        c = self.client()
        r = c.expect("EHLO client.example.test", 250)
        self.assertEqual(r.lines[0].split()[0], "mail.example.test")
        kw = r.lines[1:]
        for k in ("PIPELINING", "SIZE 1048576", "8BITMIME", "SMTPUTF8",
                  "CHUNKING", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"):
            self.assertIn(k, kw)
        # no certificate: no STARTTLS, and STARTTLS is refused
        self.assertNotIn("STARTTLS", kw)
        r = c.cmd("STARTTLS")
        self.assertGreaterEqual(r.code, 500, r)

    def test_helo(self):
        c = self.client()
        r = c.expect("HELO client.example.test", 250)
        self.assertEqual(len(r.lines), 1)
        self.assertTrue(r.lines[0].startswith("mail.example.test"), r)
        # plain SMTP after HELO: a message goes through
        qid = c.mail_transaction("a@remote.test", ["alice@example.test"],
                                 b"Subject: helo\r\n\r\nhi\r\n")
        rec, _ = self.stored(qid)
        self.assertIn(b"with SMTP ", rec)

    def test_ehlo_needs_argument(self):
        c = self.client()
        r = c.cmd("EHLO")
        self.assertEqual(r.code // 100, 5, r)

    def test_mail_before_helo(self):
        c = self.client()
        self.assertReply(c.cmd("MAIL FROM:<a@remote.test>"), 503)

    def test_order_of_commands(self):
        c = self.client()
        c.ehlo()
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)
        self.assertReply(c.cmd("DATA"), 503)
        c.expect("MAIL FROM:<a@remote.test>", 250)
        self.assertReply(c.cmd("MAIL FROM:<a@remote.test>"), 503)
        self.assertReply(c.cmd("DATA"), 503)
        # RSET ends the transaction; MAIL is allowed again
        c.expect("RSET", 250)
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)
        c.expect("MAIL FROM:<a@remote.test>", 250)

    def test_mail_parameters(self):
        c = self.client()
        c.ehlo()
        for params in ("SIZE=1000", "BODY=7BIT", "BODY=8BITMIME", "SMTPUTF8",
                       "SIZE=1048576 BODY=8BITMIME SMTPUTF8", "body=8bitmime"):
            self.assertReply(c.cmd("MAIL FROM:<a@remote.test> " + params),
                             250, "2.1.0")
            c.expect("RSET", 250)
        r = c.cmd("MAIL FROM:<a@remote.test> SIZE=1048577")
        self.assertReply(r, 552, "5.3.4")
        for bad in ("FOO=bar", "X-EVIL", "SIZE=abc", "BODY=BINARYMIME"):
            r = c.cmd("MAIL FROM:<a@remote.test> " + bad)
            self.assertEqual(r.code // 100, 5, (bad, r))
            self.assertNotEqual(r.code, 250)
        self.assertReply(c.cmd("MAIL FROM:<a@remote.test> FOO=bar"), 555)
        # the null sender
        self.assertReply(c.cmd("MAIL FROM:<>"), 250, "2.1.0")

    def test_mail_syntax_errors(self):
        c = self.client()
        c.ehlo()
        for bad in ("MAIL FROM:a@remote.test@", "MAIL FROM:<a@@remote.test>",
                    "MAIL FROM:<a@remote.test", "MAIL TO:<a@remote.test>",
                    "MAIL FROM:<a b@remote.test>"):
            r = c.cmd(bad)
            self.assertEqual(r.code // 100, 5, (bad, r))

    def test_simple_commands(self):
        c = self.client()
        c.ehlo()
        self.assertReply(c.cmd("NOOP"), 250)
        self.assertReply(c.cmd("RSET"), 250)
        self.assertReply(c.cmd("HELP"), 214)
        self.assertReply(c.cmd("EXPN staff"), 502)
        # VRFY: 252 without disclosure, the same for a user and a stranger
        r1 = c.cmd("VRFY alice")
        r2 = c.cmd("VRFY nosuchuser")
        self.assertReply(r1, 252)
        self.assertReply(r2, 252)
        self.assertEqual(r1.lines, r2.lines)
        self.assertNotIn("alice", r1.text)
        self.assertReply(c.cmd("FROB"), 500, "5.5.2")
        self.assertReply(c.cmd("noop"), 250)
        self.assertReply(c.cmd("QUIT"), 221)
        self.assertTrue(c.closed(5), "not closed after QUIT")

    def test_pipelined_transaction(self):
        c = self.client()
        body = b"Subject: pipelined\r\n\r\none\r\n..two\r\n"
        c.send(b"EHLO client.example.test\r\n"
               b"MAIL FROM:<sender@remote.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"RCPT TO:<nobody@example.test>\r\n"
               b"RCPT TO:<postmaster@example.test>\r\n"
               b"DATA\r\n" + body + b".\r\nQUIT\r\n")
        codes = [c.reply() for _ in range(8)]
        self.assertEqual([r.code for r in codes],
                         [250, 250, 250, 550, 250, 354, 250, 221], codes)
        self.assertTrue(codes[3].lines[0].startswith("5.1.1"), codes[3])
        qid = re.search(r"queued as ([0-9a-f]{16})", codes[6].text).group(1)
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], "sender@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test", "postmaster@example.test"])
        self.assertEqual(self.stored(qid)[1],
                         b"Subject: pipelined\n\none\n.two\n")
        self.assertTrue(c.closed(5))

    def test_many_pipelined_transactions(self):
        c = self.client()
        c.ehlo()
        n = 20
        batch = b""
        for i in range(n):
            batch += (b"MAIL FROM:<s%d@remote.test>\r\nRCPT TO:<alice@example.test>"
                      b"\r\nDATA\r\nSubject: %d\r\n\r\nbody %d\r\n.\r\n" % (i, i, i))
        c.send(batch + b"QUIT\r\n")
        ids = []
        for i in range(n):
            rs = [c.reply() for _ in range(4)]
            self.assertEqual([r.code for r in rs], [250, 250, 354, 250], rs)
            ids.append(rs[3].lines[0].split()[-1])
        self.assertReply(c.reply(), 221)
        self.assertEqual(len(set(ids)), n)
        for i, qid in enumerate(ids):
            self.assertEqual(self.host.entry(qid)["sender"],
                             "s%d@remote.test" % i)
            self.assertEqual(self.stored(qid)[1],
                             b"Subject: %d\n\nbody %d\n" % (i, i))

    def test_header_injection_impossible(self):
        c = self.client()
        for line in (b"EHLO evil\rX-Injected: 1\r\n",
                     b"MAIL FROM:<a@remote.test>\rX-Injected: 1\r\n",
                     b"EHLO evil\x00X-Injected\r\n"):
            c.send(line)
            self.assertReply(c.reply(), 500)
        c.ehlo("good.example.test")
        r = c.cmd("MAIL FROM:<a@remote.test> BODY=8BITMIME\rX-Injected: 1")
        self.assertEqual(r.code, 500, r)
        qid = c.mail_transaction("a@remote.test", ["alice@example.test"],
                                 b"Subject: x\r\n\r\nbody\r\n")
        msg = self.host.message(qid)
        self.assertNotIn(b"X-Injected", msg)
        rec, rest = split_received(msg)
        self.assertTrue(rec.startswith(b"Received: from good.example.test "
                                       b"([127.0.0.1])\n"), rec)
        self.assertEqual(rest, b"Subject: x\n\nbody\n")

    def test_session_after_errors_still_usable(self):
        c = self.client()
        c.ehlo()
        for _ in range(3):
            self.assertEqual(c.cmd("BOGUS").code, 500)
        c.mail_transaction("a@remote.test", ["alice@example.test"],
                           b"Subject: ok\r\n\r\nx\r\n")


class RcptPolicyTest(SMTPHostCase):
    """Loopback is a relay client here (the default relay_clients)."""
    host_users = {"alice": "pw-alice", "bob": "pw-bob"}
    host_aliases = "info: alice, bob\nsales: carol@remote.test\n"

    def rcpt(self, addr, c=None):
        if c is None:
            c = self.client()
            c.ehlo()
            c.expect("MAIL FROM:<s@remote.test>", 250)
            self.c = c
        return c.cmd("RCPT TO:%s" % addr)

    def test_local_recipients(self):
        self.rcpt("<alice@example.test>")
        c = self.c
        for a in ("<bob@example.test>", "<ALICE@EXAMPLE.TEST>",
                  "<Alice@Example.Test>", "<alice@localhost>",
                  "<info@example.test>", "<sales@example.test>",
                  "<postmaster@example.test>", "<POSTMASTER@example.test>",
                  "<PostMaster@LOCALHOST>", "<postmaster>", "<Postmaster>",
                  '<"alice"@example.test>'):
            self.assertReply(self.rcpt(a, c), 250, "2.1.5")

    def test_unknown_local_user(self):
        self.rcpt("<alice@example.test>")
        for a in ("<nobody@example.test>", "<nobody@localhost>",
                  "<alice.x@example.test>", "<postmaster2@example.test>",
                  "<user%remote.test@example.test>",
                  '<"user@remote.test"@example.test>',
                  '<"alice bob"@example.test>'):
            self.assertReply(self.rcpt(a, self.c), 550, "5.1.1")

    def test_relay_client_may_relay(self):
        self.rcpt("<alice@example.test>")
        for a in ("<x@remote.test>", "<x@REMOTE.TEST>", "<x@[192.0.2.1]>",
                  "<@example.test:x@remote.test>"):
            self.assertReply(self.rcpt(a, self.c), 250, "2.1.5")

    def test_envelope_canonical(self):
        c = self.client()
        c.ehlo()
        qid = c.mail_transaction(
            '"dave"@Remote.TEST',
            ['"alice"@Example.Test', "BOB@EXAMPLE.TEST", "postmaster",
             "@relay.test,@other.test:carol@Remote.Test"],
            b"Subject: canon\r\n\r\nx\r\n")
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], "dave@remote.test")
        got = [x["address"] for x in e["recipients"]]
        self.assertEqual(len(got), 4, got)
        self.assertEqual(got[0], "alice@example.test")
        self.assertEqual(got[1].lower(), "bob@example.test")
        self.assertTrue(got[1].endswith("@example.test"), got)
        self.assertEqual(got[2].lower(), "postmaster@example.test")
        self.assertEqual(got[3], "carol@remote.test")
        for x in e["recipients"]:
            self.assertEqual(x["state"], "pending")

    def test_null_sender(self):
        c = self.client()
        c.ehlo()
        qid = c.mail_transaction("", ["alice@example.test"],
                                 b"Subject: bounce\r\n\r\nx\r\n")
        self.assertEqual(self.host.entry(qid)["sender"], "")

    def test_quoted_local_part_kept(self):
        c = self.client()
        c.ehlo()
        qid = c.mail_transaction('"john doe"@remote.test',
                                 ['"odd user"@remote.test'],
                                 b"Subject: q\r\n\r\nx\r\n")
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], '"john doe"@remote.test')
        self.assertEqual(e["recipients"][0]["address"],
                         '"odd user"@remote.test')


class NonRelayTest(SMTPHostCase):
    """Loopback is not a relay client: only local domains are accepted."""
    host_users = {"alice": "pw-alice"}
    host_extra = {"relay_clients": "192.0.2.0/24", "smtp_greet_pause": "0"}

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.c.ehlo()
        self.c.expect("MAIL FROM:<s@remote.test>", 250)

    def test_remote_denied(self):
        for a in ("<user@remote.test>", "<user@REMOTE.test>",
                  "<user@example.test.remote.test>",
                  "<user@sub.example.test>", "<postmaster@remote.test>"):
            r = self.c.cmd("RCPT TO:" + a)
            self.assertReply(r, 554, "5.7.1")
            self.assertIn("Relay access denied", r.text)

    def test_trailing_dot_domain(self):
        for a in ("<user@remote.test.>", "<user@example.test.>"):
            r = self.c.cmd("RCPT TO:" + a)
            self.assertNotEqual(r.code // 100, 2, (a, r))
        self.assertReply(self.c.cmd("DATA"), 503)

    def test_relay_tricks(self):
        cases = [
            # percent hack is off: a local part with % is just unknown
            ("<user%remote.test@example.test>", 550),
            ("<user%remote.test@localhost>", 550),
            # source routes are stripped: the mailbox is remote
            ("<@example.test:user@remote.test>", 554),
            ("<@example.test,@localhost:user@remote.test>", 554),
            # a quoted @ stays in the local part: local, unknown
            ('<"user@remote.test"@example.test>', 550),
            ('<"user%remote.test"@example.test>', 550),
            # an address literal is not one of our domains
            ("<user@[127.0.0.1]>", 554),
            ("<postmaster@[127.0.0.1]>", 554),
            ("<user@[IPv6:::1]>", 554),
            ("<user@[192.0.2.1]>", 554),
        ]
        for addr, code in cases:
            r = self.c.cmd("RCPT TO:" + addr)
            if r.code // 100 == 5 and code // 100 == 5 and r.code == 501:
                continue        # refusing the syntax is fine as well
            self.assertEqual(r.code, code, (addr, r))
        # nothing slipped through: DATA has no recipients
        self.assertReply(self.c.cmd("DATA"), 503)

    def test_bang_path_and_other_forms_not_relayed(self):
        for addr in ("<remote.test!user@example.test>",
                     "<user@remote.test@example.test>",
                     "<user@example.test@remote.test>",
                     "<\"user\"@remote.test>"):
            r = self.c.cmd("RCPT TO:" + addr)
            self.assertNotEqual(r.code // 100, 2, (addr, r))
        self.assertReply(self.c.cmd("DATA"), 503)

    def test_local_still_accepted(self):
        for a in ("<alice@example.test>", "<postmaster@example.test>",
                  "<postmaster>", "<@remote.test:alice@example.test>"):
            self.assertReply(self.c.cmd("RCPT TO:" + a), 250, "2.1.5")
        self.c.expect("DATA", 354)
        self.c.send(b"Subject: in\r\n\r\nhello\r\n.\r\n")
        r = self.c.reply()
        self.assertReply(r, 250, "2.0.0 Ok: queued as ")
        e = self.host.queue()
        self.assertEqual(len(e), 1)
        # duplicates may or may not be merged
        self.assertIn(len(e[0]["recipients"]), (2, 3, 4), e)
        for x in e[0]["recipients"]:
            self.assertTrue(x["address"].lower().endswith("@example.test"), x)


class NoLocalDomainsTest(SMTPHostCase):
    """A relay-only host (local_domains empty) still takes <postmaster>
    (RFC 5321 4.5.1) - a regression test for a NULL dereference."""
    host_extra = {"local_domains": "", "relay_clients": "192.0.2.0/24",
                  "smtp_greet_pause": "0"}

    def test_bare_postmaster(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        self.assertReply(c.cmd("RCPT TO:<postmaster>"), 250)
        self.assertReply(c.cmd("RCPT TO:<user@remote.test>"), 554, "5.7.1")
        self.assertReply(c.cmd("NOOP"), 250)


class ReviewRegressionTest(SMTPHostCase):
    """Regressions from the code review."""
    host_users = {"alice": "pw"}

    def test_client_gone_before_250_keeps_the_queue_link(self):
        """Closing right after the final dot must not abort the committed
        transaction nor cost every later session its queue link."""
        s = socket.create_connection(("127.0.0.1", self.host.smtp_port),
                                     timeout=10)
        s.recv(1000)
        s.sendall(b"EHLO x\r\nMAIL FROM:<a@example.test>\r\n"
                  b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        time.sleep(0.3)
        s.recv(10000)
        s.sendall(b"Subject: y\r\n\r\nbody\r\n.\r\n")
        s.close()
        time.sleep(0.5)
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@example.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        self.assertReply(c.cmd("DATA"), 354)
        self.assertNotIn("broke the protocol", self.host.log())

    def test_rcpt_after_bdat_refused(self):
        """The envelope went to the queue with the first chunk: a later
        RCPT would be accepted and silently lost."""
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<a@example.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.send(b"BDAT 12\r\nSubject: x\r\n")
        self.assertReply(c.reply(), 250)
        self.assertReply(c.cmd("RCPT TO:<postmaster@example.test>"), 503)
        c.send(b"BDAT 6 LAST\r\n\r\nhi\r\n")
        r = c.reply()
        self.assertReply(r, 250)
        e = self.host.queue()[0]
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test"])


class PercentHackTest(SMTPHostCase):
    host_users = {"alice": "pw-alice"}
    host_extra = {"relay_clients": "192.0.2.0/24", "smtp_greet_pause": "0",
                  "percent_hack": "yes"}

    def test_percent_hack_never_relays(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        r = c.cmd("RCPT TO:<user%remote.test@example.test>")
        self.assertReply(r, 554, "5.7.1")
        for a in ("<user%remote.test%example.test@example.test>",
                  "<user%remote.test@localhost>",
                  "<user%[127.0.0.1]@example.test>",
                  "<@example.test:user%remote.test@example.test>"):
            r = c.cmd("RCPT TO:" + a)
            self.assertNotEqual(r.code // 100, 2, (a, r))
        self.assertReply(c.cmd("DATA"), 503)
        # rewritten to a local mailbox: accepted as that mailbox
        r = c.cmd("RCPT TO:<alice%example.test@example.test>")
        self.assertReply(r, 250)
        c.expect("DATA", 354)
        c.send(b"Subject: pct\r\n\r\nx\r\n.\r\n")
        self.assertReply(c.reply(), 250)
        e = self.host.queue()[0]
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test"])


class DataTest(SMTPHostCase):
    host_users = {"alice": "pw-alice", "bob": "pw-bob"}

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.c.ehlo("client.example.test")

    def send_message(self, wire, sender="s@remote.test",
                     rcpts=("alice@example.test",)):
        return self.c.mail_transaction(sender, list(rcpts), wire)

    def test_message_stored_exactly(self):
        text = (b"From: S <s@remote.test>\nTo: alice@example.test\n"
                b"Subject: test\n\nHello.\n\n  indented\n\ttab\ntrailing  \n")
        qid = self.send_message(to_wire(text), rcpts=("alice@example.test",
                                                      "bob@example.test"))
        msg = self.host.message(qid)
        rec, rest = split_received(msg)
        self.assertEqual(rest, text)
        self.assertNotIn(b"\r", msg)
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], "s@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test", "bob@example.test"])
        self.assertEqual(e["size"], len(msg))
        # the Received field (RFC 5321 4.4)
        self.assertTrue(rec.startswith(b"Received: from client.example.test "
                                       b"([127.0.0.1])\n"), rec)
        flat = b" ".join(rec.split())
        self.assertRegex(flat, rb"by mail\.example\.test \(kurir\) with ESMTP "
                               rb"id " + qid.encode() + rb"\b")
        self.assertRegex(flat, rb"; \w{3}, \d{1,2} \w{3} \d{4} "
                               rb"\d\d:\d\d:\d\d [+-]\d{4}$")
        for line in rec.split(b"\n")[1:-1]:
            self.assertIn(line[:1], (b" ", b"\t"), rec)
        self.assertIn(qid, self.host.log())

    def test_received_for_single_recipient(self):
        qid = self.send_message(b"Subject: one\r\n\r\nx\r\n")
        rec, _ = self.stored(qid)
        self.assertIn(b"<alice@example.test>", rec)

    def test_dot_unstuffing_exact(self):
        lines = [b".", b"..", b"...", b".x", b"..x", b" .", b"x.", b". .",
                 b"", b".\t", b"a.b", b"." * 50]
        text = b"Subject: dots\n\n" + b"\n".join(lines) + b"\n"
        wire = to_wire(text)
        self.assertIn(b"\r\n..\r\n", wire)
        qid = self.send_message(wire)
        self.assertEqual(self.stored(qid)[1], text)

    def test_unstuffing_at_start_of_message(self):
        # the first line of the message can be stuffed too
        qid = self.send_message(b"..starts with a dot\r\n")
        self.assertEqual(self.stored(qid)[1], b".starts with a dot\n")

    def test_split_reads(self):
        """The end marker and line ends split across TCP segments."""
        c = self.c
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        pieces = [b"Subject: split\r", b"\n\r", b"\n", b"a\r\n.", b".b\r\n",
                  b".", b"\r", b"\n"]
        for p in pieces[:-1]:
            c.send(p)
            time.sleep(0.05)
            self.assertFalse(c.pending(0.05), "reply before the end: %r" % p)
        c.send(pieces[-1])
        r = c.reply()
        self.assertReply(r, 250, "2.0.0 Ok: queued as ")
        qid = r.lines[0].split()[-1]
        self.assertEqual(self.stored(qid)[1], b"Subject: split\n\na\n.b\n")

    def test_byte_by_byte(self):
        c = self.c
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        data = b"Subject: bytes\r\n\r\n..x\r\ny\r\n.\r\n"
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.reply()
        self.assertReply(r, 250)
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: bytes\n\n.x\ny\n")

    def test_8bit_and_utf8(self):
        c = self.c
        c.expect("MAIL FROM:<s@remote.test> BODY=8BITMIME SMTPUTF8", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        text = ("Subject: Grüße\n\nÆøå ünïcödé \u2603\n".encode() +
                bytes(range(0x80, 0x100)) + b"\n")
        c.send(to_wire(text) + b".\r\n")
        r = c.reply()
        self.assertReply(r, 250)
        qid = r.lines[0].split()[-1]
        rec, rest = self.stored(qid)
        self.assertEqual(rest, text)

    def test_utf8_addresses(self):
        c = self.c
        r = c.cmd("MAIL FROM:<jörg@bücher.test> SMTPUTF8")
        self.assertReply(r, 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: u\r\n\r\nx\r\n.\r\n")
        r = c.reply()
        self.assertReply(r, 250)
        qid = r.lines[0].split()[-1]
        self.assertEqual(self.host.entry(qid)["sender"], "jörg@bücher.test")
        rec, _ = self.stored(qid)
        self.assertRegex(rec, rb"with (UTF8SMTP|ESMTP) ")

    def test_empty_lines_and_no_trailing_newline(self):
        qid = self.send_message(b"\r\n\r\nbody\r\n")
        self.assertEqual(self.stored(qid)[1], b"\n\nbody\n")

    def test_queued_reply_form(self):
        c = self.c
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354, "End data with <CR><LF>.<CR><LF>")
        c.send(b"x\r\n.\r\n")
        r = c.reply()
        self.assertEqual(r.code, 250)
        self.assertRegex(r.lines[0], r"^2\.0\.0 Ok: queued as [0-9a-f]{16}$")
        qid = r.lines[0].split()[-1]
        # durable before the reply: the entry is there at once
        self.assertTrue(os.path.exists(self.host.msg_path(qid)))
        self.assertEqual(self.host.entry(qid)["id"], qid)

    def test_rset_after_data_refusal_and_reuse(self):
        c = self.c
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"bad\x00byte\r\n.\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        # the transaction is over: RCPT needs a new MAIL
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)
        self.send_message(b"Subject: after\r\n\r\nok\r\n")
        self.assertEqual(len(self.host.queue()), 1)

    def test_nul_byte_refused(self):
        for wire in (b"Subject: nul\r\n\r\na\x00b\r\n",
                     b"\x00\r\n", b"Subject: x\r\n\r\n.\x00\r\n"):
            c = self.c
            c.expect("MAIL FROM:<s@remote.test>", 250)
            c.expect("RCPT TO:<alice@example.test>", 250)
            c.expect("DATA", 354)
            c.send(wire + b".\r\n")
            self.assertReply(c.reply(), 550, "5.6.0")
        self.assertQueueEmpty()

    def test_quit_during_data_is_text(self):
        """Commands inside DATA are message text."""
        text = b"QUIT\nRSET\nMAIL FROM:<x@y>\n"
        qid = self.send_message(to_wire(text))
        self.assertEqual(self.stored(qid)[1], text)

    def test_connection_lost_in_data_queues_nothing(self):
        c = self.c
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: cut\r\n\r\nhalf a message\r\n")
        c.close()
        self.assertQueueEmpty(0.5)
        # the host still takes mail
        c2 = self.client()
        c2.ehlo()
        c2.mail_transaction("s@remote.test", ["alice@example.test"],
                            b"Subject: next\r\n\r\nx\r\n")


class ReloadTest(SMTPHostCase):
    """SIGHUP: kurird reloads the tables; sessions are not dropped."""
    host_users = {"alice": "pw-alice"}

    def test_sighup_reloads_users_and_aliases(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        self.assertReply(c.cmd("RCPT TO:<carol@example.test>"), 550)
        self.assertReply(c.cmd("RCPT TO:<sales@example.test>"), 550)
        self.host.ctl("user", "add", "carol", input="pw-carol\n")
        with open(os.path.join(self.host.dir, "aliases"), "w") as f:
            f.write("sales: alice\n")
        self.host.kurird.send_signal(signal.SIGHUP)
        end = time.monotonic() + 10
        while True:
            with self.host.smtp() as n:
                n.ehlo()
                n.expect("MAIL FROM:<s@remote.test>", 250)
                if n.cmd("RCPT TO:<carol@example.test>").code == 250:
                    self.assertReply(n.cmd("RCPT TO:<sales@example.test>"),
                                     250)
                    break
            self.assertLess(time.monotonic(), end, "tables not reloaded")
            time.sleep(0.2)
        # the old session lives on and sees the new tables
        self.assertReply(c.cmd("RCPT TO:<carol@example.test>"), 250)
        c.expect("DATA", 354)
        c.send(b"Subject: reload\r\n\r\nx\r\n.\r\n")
        self.assertReply(c.reply(), 250)


class SmugglingTest(SMTPHostCase):
    """SMTP smuggling: only <CRLF>.<CRLF> ends a message, and a message
    with a bare CR or LF anywhere is refused whole; nothing is queued."""
    host_users = {"alice": "pw-alice"}

    def smuggle(self, sep, eol):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        inner = ("MAIL FROM:<x@y>" + eol + "RCPT TO:<postmaster@example.test>"
                 + eol + "DATA" + eol + "smuggled" + eol + "." + eol)
        payload = "Subject: smuggle\r\n\r\nhello" + sep + inner
        if not payload.endswith("\r\n.\r\n"):
            payload += "\r\n.\r\n"
        c.send(payload.encode())
        r = c.reply()
        self.assertEqual(r.code, 550, (sep, eol, r))
        self.assertTrue(r.lines[0].startswith("5.6.0"), r)
        # nothing else was answered: the next reply is HELP's
        c.send(b"HELP\r\n")
        extra = []
        while True:
            r = c.reply()
            if r.code == 214:
                break
            extra.append(r)
            self.assertLess(len(extra), 10, extra)
        self.assertEqual(extra, [], (sep, eol))
        c.expect("QUIT", 221)

    def test_smuggling_never_queues(self):
        for sep in SMUGGLE_SEPS:
            for eol in ("\r\n", "\n"):
                with self.subTest(sep=sep, eol=eol):
                    self.smuggle(sep, eol)
        self.assertQueueEmpty(0.5)
        for root, _, files in os.walk(self.host.state):
            for f in files:
                p = os.path.join(root, f)
                if os.path.isfile(p):
                    with open(p, "rb") as fh:
                        self.assertNotIn(b"smuggled", fh.read(), p)

    def test_brief_example(self):
        """The literal example: LF.LF then a second transaction in LF."""
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: s\r\n\r\ntext\n.\nMAIL FROM:<x@y>\nRCPT TO:"
               b"<postmaster@example.test>\nDATA\nsmuggled\n.\r\n")
        # "\n.\r\n" is no end either: the message is still open
        self.assertFalse(c.pending(1.0), "a reply before the real end")
        c.send(b"\r\n.\r\n")
        self.assertReply(c.reply(), 550, "5.6.0")
        self.assertFalse(c.pending(0.5), "more replies than one")
        self.assertQueueEmpty()

    def test_pipelined_smuggling(self):
        """Whole session in one write, the smuggled part with CRLF."""
        c = self.client()
        c.send(b"EHLO x.test\r\nMAIL FROM:<s@remote.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\nDATA\r\n"
               b"Subject: s\r\n\r\ntext\n.\r\nMAIL FROM:<x@y>\r\n"
               b"RCPT TO:<postmaster@example.test>\r\nDATA\r\n"
               b"smuggled\r\n.\r\nQUIT\r\n")
        codes = []
        while True:
            try:
                r = c.reply()
            except EOFError:
                break
            codes.append(r.code)
            if r.code == 221 or len(codes) > 12:
                break
        # EHLO, MAIL, RCPT, DATA, then the refusal; QUIT
        self.assertEqual(codes, [250, 250, 250, 354, 550, 221])
        self.assertQueueEmpty()

    def test_bare_cr_lf_inside_line(self):
        for text in (b"a\rb\r\n", b"a\nb\r\n", b"a\r\r\n", b"a\n\r\n",
                     b"\n\r\n", b"\r\r\n"):
            with self.subTest(text=text):
                c = self.client()
                c.ehlo()
                c.expect("MAIL FROM:<s@remote.test>", 250)
                c.expect("RCPT TO:<alice@example.test>", 250)
                c.expect("DATA", 354)
                c.send(b"Subject: b\r\n\r\n" + text + b".\r\n")
                self.assertReply(c.reply(), 550, "5.6.0")
        self.assertQueueEmpty()

    def test_refused_bdat_chunk_never_commands(self):
        """RFC 3030: the octets of a refused BDAT are read and thrown away;
        message text must never run as commands."""
        chunk = (b"MAIL FROM:<x@y.test>\r\nRCPT TO:<postmaster@example.test>"
                 b"\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
        cases = [
            # every RCPT refused: BDAT gets 503/554, its chunk is not SMTP
            b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<ghost@example.test>\r\n",
            # no transaction at all
            b"",
        ]
        for pre in cases:
            with self.subTest(pre=pre):
                c = self.client()
                c.ehlo()
                c.send(pre + b"BDAT %d LAST\r\n" % len(chunk) + chunk +
                       b"HELP\r\n")
                codes = []
                while True:
                    r = c.reply()
                    if r.code == 214:
                        break
                    codes.append(r.code)
                    self.assertLess(len(codes), 10, codes)
                # MAIL, RCPT (550), then only the refusal of BDAT
                self.assertEqual(codes[-1] // 100, 5, codes)
                self.assertEqual(len(codes), pre.count(b"\r\n") + 1, codes)
        self.assertQueueEmpty()

    def test_good_message_after_smuggling_attempt(self):
        self.smuggle("\n.\n", "\r\n")
        c = self.client()
        c.ehlo()
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                 b"Subject: fine\r\n\r\nok\r\n")
        self.assertEqual(len(self.host.queue()), 1)
        self.assertEqual(self.stored(qid)[1], b"Subject: fine\n\nok\n")


class BdatTest(SMTPHostCase):
    host_users = {"alice": "pw-alice"}

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.c.ehlo()
        self.c.expect("MAIL FROM:<s@remote.test>", 250)
        self.c.expect("RCPT TO:<alice@example.test>", 250)

    def bdat(self, data, last=False):
        self.c.send(b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"")
                    + data)
        return self.c.reply()

    def test_chunks(self):
        c1 = b"Subject: bdat\r\n\r\n.line\r\n"
        r = self.bdat(c1)
        self.assertReply(r, 250)
        self.assertEqual(r.lines[0], "2.0.0 %d octets received" % len(c1))
        c2 = b"..x\r\n.\r\nafter\r\n"
        r = self.bdat(c2, last=True)
        self.assertReply(r, 250)
        m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9a-f]{16})", r.lines[0])
        self.assertTrue(m, r)
        qid = m.group(1)
        self.assertEqual(self.stored(qid)[1],
                         b"Subject: bdat\n\n.line\n..x\n.\nafter\n")
        e = self.host.entry(qid)
        self.assertEqual(e["sender"], "s@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test"])

    def test_crlf_split_between_chunks(self):
        self.assertReply(self.bdat(b"Subject: s\r"), 250)
        self.assertReply(self.bdat(b"\n\r\nbody\r"), 250)
        r = self.bdat(b"\n", last=True)
        self.assertReply(r, 250)
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: s\n\nbody\n")

    def test_zero_last(self):
        self.assertReply(self.bdat(b"Subject: z\r\n\r\nbody\r\n"), 250)
        r = self.c.cmd("BDAT 0 LAST")
        self.assertReply(r, 250, "2.0.0 Ok: queued as ")
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: z\n\nbody\n")

    def test_data_after_bdat(self):
        self.assertReply(self.bdat(b"Subject: z\r\n\r\n"), 250)
        self.assertReply(self.c.cmd("DATA"), 503)
        # the transaction goes on with BDAT
        r = self.bdat(b"body\r\n", last=True)
        self.assertReply(r, 250)
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: z\n\nbody\n")

    def test_pipelined_with_data(self):
        c = self.client()
        c.send(b"EHLO x.test\r\nMAIL FROM:<s@remote.test>\r\n"
               b"RCPT TO:<alice@example.test>\r\nBDAT 12\r\nSubject: p\r\n"
               b"BDAT 8 LAST\r\n\r\nbody\r\nQUIT\r\n")
        rs = [c.reply() for _ in range(6)]
        self.assertEqual([r.code for r in rs], [250] * 5 + [221], rs)
        self.assertEqual(self.stored(rs[4].lines[0].split()[-1])[1],
                         b"Subject: p\n\nbody\n")

    def test_bdat_without_transaction(self):
        c = self.client()
        c.ehlo()
        self.assertReply(c.cmd("BDAT 0 LAST"), 503)
        c.expect("MAIL FROM:<s@remote.test>", 250)
        self.assertReply(c.cmd("BDAT 0 LAST"), 503)
        self.assertReply(c.cmd("NOOP"), 250)

    def test_bad_bdat_syntax(self):
        """A BDAT whose size cannot be read: where its octets end is
        unknowable, so the session is refused and closed."""
        for bad in ("BDAT", "BDAT x", "BDAT -1", "BDAT 1 FIRST",
                    "BDAT 99999999999999999999999"):
            c = self.client()
            c.ehlo()
            r = c.cmd(bad)
            self.assertEqual(r.code // 100, 5, (bad, r))
            self.assertReply(c.reply(), 421, "4.5.0")

    def test_bdat_nul_refused(self):
        r = self.bdat(b"Subject: n\r\n\r\na\x00b\r\n", last=True)
        self.assertReply(r, 550, "5.6.0")
        self.assertQueueEmpty()

    # long lines: BdatLineLimitTest (no limit by default)
    early_bad = (b"Subject: one\r\n\r\na\x00b\r\n",
                 b"Subject: one\r\n\r\nbare\nLF\r\n")

    def test_error_in_early_chunk_refuses_message(self):
        """A bad first chunk is not forgotten when a later chunk is fine:
        the whole message is refused, nothing (no tail) is queued."""
        for first in self.early_bad:
            with self.subTest(first=first[:40]):
                self.c = self.client()
                self.c.ehlo()
                self.c.expect("MAIL FROM:<s@remote.test>", 250)
                self.c.expect("RCPT TO:<alice@example.test>", 250)
                r = self.bdat(first)
                self.assertIn(r.code, (250, 550), r)
                if r.code == 250:
                    r = self.bdat(b"second chunk\r\n", last=True)
                    self.assertReply(r, 550, "5.6.0")
        self.assertQueueEmpty()

    def test_large_bdat(self):
        body = (b"0123456789" * 99 + b"\r\n") * 600   # ~600 kB
        r = self.bdat(b"Subject: big\r\n\r\n" + body, last=True)
        self.assertReply(r, 250)
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: big\n\n" + body.replace(b"\r\n", b"\n"))

    def test_long_line_taken(self):
        """No smtp_line_length_limit: a 2000-octet line across chunks."""
        r = self.bdat(b"Subject: long\r\n\r\n" + b"x" * 1200)
        self.assertReply(r, 250)
        r = self.bdat(b"y" * 800 + b"\r\n", last=True)
        self.assertReply(r, 250)
        self.assertEqual(self.stored(r.lines[0].split()[-1])[1],
                         b"Subject: long\n\n" + b"x" * 1200 + b"y" * 800 +
                         b"\n")


class BdatLineLimitTest(SMTPHostCase):
    """BDAT with smtp_line_length_limit = 998: a long line in an early
    chunk refuses the whole message, as a NUL or a bare LF does."""
    host_users = {"alice": "pw-alice"}
    host_extra = {"smtp_line_length_limit": "998"}
    bdat = BdatTest.bdat
    early_bad = (b"Subject: one\r\n\r\n" + b"x" * 1200 + b"\r\n",
                 b"Subject: one\r\n\r\n" + b"x" * 999,
                 b"Subject: one\r\n\r\na\x00b\r\n")
    test_error_in_early_chunk_refuses_message = \
        BdatTest.test_error_in_early_chunk_refuses_message

    def setUp(self):
        super().setUp()
        self.c = self.client()
        self.c.ehlo()
        self.c.expect("MAIL FROM:<s@remote.test>", 250)
        self.c.expect("RCPT TO:<alice@example.test>", 250)

    def test_998_taken(self):
        r = self.bdat(b"Subject: ok\r\n\r\n" + b"x" * 500)
        self.assertReply(r, 250)
        r = self.bdat(b"y" * 498 + b"\r\n", last=True)
        self.assertReply(r, 250)


class RealClientTest(SMTPHostCase):
    host_users = {"alice": "pw-alice", "bob": "pw-bob"}

    def only(self):
        q = self.host.queue()
        self.assertEqual(len(q), 1, q)
        return q[0]

    def test_smtplib(self):
        text = ("From: s@remote.test\r\nTo: alice@example.test\r\n"
                "Subject: smtplib\r\n\r\n.leading dot\r\n..two\r\nend\r\n")
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=10) as s:
            refused = s.sendmail("s@remote.test",
                                 ["alice@example.test", "bob@example.test",
                                  "x@remote.test"], text)
            self.assertEqual(refused, {})
        e = self.only()
        self.assertEqual(e["sender"], "s@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test", "bob@example.test",
                          "x@remote.test"])
        self.assertEqual(self.stored(e["id"])[1],
                         text.replace("\r\n", "\n").encode())

    def test_smtplib_refused_recipient(self):
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=10) as s:
            refused = s.sendmail("s@remote.test",
                                 ["alice@example.test", "ghost@example.test"],
                                 "Subject: r\r\n\r\nx\r\n")
        self.assertEqual(list(refused), ["ghost@example.test"])
        self.assertEqual(refused["ghost@example.test"][0], 550)
        e = self.only()
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test"])

    def test_smtplib_many_messages_one_session(self):
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=10) as s:
            for i in range(10):
                s.sendmail("s@remote.test", ["alice@example.test"],
                           "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        self.assertEqual(len(self.host.queue()), 10)

    def test_smtplib_large(self):
        body = "".join("line %06d %s\r\n" % (i, "x" * 60) for i in range(9000))
        text = "Subject: large\r\n\r\n" + body
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=30) as s:
            s.sendmail("s@remote.test", ["alice@example.test"], text)
        e = self.only()
        self.assertEqual(self.stored(e["id"])[1],
                         text.replace("\r\n", "\n").encode())

    def test_swaks(self):
        r = subprocess.run(
            [tools.need_swaks(),
             "--server", "127.0.0.1:%d" % self.host.smtp_port,
             "--to", "alice@example.test,bob@example.test",
             "--from", "sender@remote.test", "--helo", "swaks.test",
             "--header", "Subject: via swaks",
             "--body", "Hello from swaks\n.dotted\n"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.only()
        self.assertEqual(e["sender"], "sender@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test", "bob@example.test"])
        rec, rest = self.stored(e["id"])
        self.assertTrue(rec.startswith(b"Received: from swaks.test "), rec)
        head, _, body = rest.partition(b"\n\n")
        self.assertIn(b"\nSubject: via swaks", b"\n" + head)
        self.assertTrue(body.startswith(b"Hello from swaks\n.dotted\n"), body)
        # byte-exact: what swaks says it sent after 354, unstuffed
        sent, on = [], False
        for line in r.stdout.split("\n"):
            if line.startswith("<-  354"):
                on = True
            elif on and line.startswith(" -> "):
                if line == " -> .":
                    break
                t = line[4:]
                sent.append(t[1:] if t.startswith(".") else t)
        self.assertEqual(rest, ("\n".join(sent) + "\n").encode())

    def test_swaks_refused_recipient(self):
        r = subprocess.run(
            [tools.need_swaks(),
             "--server", "127.0.0.1:%d" % self.host.smtp_port,
             "--to", "ghost@example.test", "--from", "s@remote.test",
             "--quit-after", "RCPT"],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("550 5.1.1", r.stdout + r.stderr)

    def test_curl(self):
        text = (b"From: c@remote.test\r\nTo: alice@example.test\r\n"
                b"Subject: via curl\r\n\r\nline 1\r\n.dot\r\n\r\nlast\r\n")
        path = os.path.join(self.host.dir, "curl.eml")
        with open(path, "wb") as f:
            f.write(text)
        r = subprocess.run(
            [tools.need("curl"), "-sS", "--max-time", "30",
             "smtp://127.0.0.1:%d/curl.test" % self.host.smtp_port,
             "--mail-from", "c@remote.test",
             "--mail-rcpt", "alice@example.test",
             "--mail-rcpt", "postmaster@example.test", "-T", path],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        e = self.only()
        self.assertEqual(e["sender"], "c@remote.test")
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["alice@example.test", "postmaster@example.test"])
        self.assertEqual(self.stored(e["id"])[1], text.replace(b"\r\n", b"\n"))

    def test_curl_crlf_option(self):
        text = b"Subject: curl lf\n\nunix line ends\n..two dots\n"
        path = os.path.join(self.host.dir, "curl-lf.eml")
        with open(path, "wb") as f:
            f.write(text)
        r = subprocess.run(
            [tools.need("curl"), "-sS", "--max-time", "30", "--crlf",
             "smtp://127.0.0.1:%d" % self.host.smtp_port,
             "--mail-from", "c@remote.test",
             "--mail-rcpt", "alice@example.test", "-T", path],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stored(self.only()["id"])[1], text)

    def test_curl_bare_lf_refused(self):
        """Without --crlf curl sends bare LFs: refused whole (550)."""
        path = os.path.join(self.host.dir, "curl-bare.eml")
        with open(path, "wb") as f:
            f.write(b"Subject: bare\n\nbare LF\n")
        r = subprocess.run(
            [tools.need("curl"), "-sS", "--max-time", "30",
             "smtp://127.0.0.1:%d" % self.host.smtp_port,
             "--mail-from", "c@remote.test",
             "--mail-rcpt", "alice@example.test", "-T", path],
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertQueueEmpty()


if __name__ == "__main__":
    unittest.main()
