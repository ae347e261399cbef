"""Remote delivery end to end: kurir-send -> kurir-remote -> a destination
SMTP server (SPEC 5: "MX lookup (fallback to A/AAAA, RFC 5321 section
5), tries MX hosts by preference, STARTTLS when offered, per-recipient
results").

Each test starts its own destination(s) from smtpdest.py - a recording
SMTP server (aiosmtpd) or a raw scripted server for hostile behaviour -
and then a delivering host (Host(deliver=True)) whose routes_file sends
the test domains there ("remote.test [127.0.0.1]:PORT").  The tests look
only at what an admin or a peer sees: what the destination received
(envelope and bytes), `kurirctl queue --json`, kurir-send's log lines
("QID: to=<addr>, relay=remote, delay=Ns, status=sent|deferred|bounced
(text)") and bounces in the local sender's Maildir (RFC 3464, parsed
with the email package).

The recording destination announces PIPELINING by default; the route
tests run again against one that does not (RouteDeliveryNoPipelining-
Test).  TLS: the default tls=may (STARTTLS when offered, plain text again
when the handshake fails), none, require, and verify - against the
self-signed test certificate with and without it as tls_ca_file.

Without a route kurir-remote asks DNS (dns_server = a dnsserver.py on
loopback); every host here has a dns_server, a dead port by default, so
no query ever leaves the machine.  The MX tests need the destination on
port MX_PORT (25) of 127.0.0.1 and 127.0.0.2 and are skipped when it
cannot be bound (not root, or port 25 taken).

Hostile servers: each must end in a deferral (recipient deferred, with a
last error), with the queue entry intact, no child of kurird dead (the
SMTPHostCase check after every test), and kurir-remote still delivering
to a good destination right after.  smtp_command_timeout (and
smtp_data_timeout) are 3s there, so a server that never finishes its
reply costs seconds, not minutes.

Every wait is bounded; servers are stopped in addCleanup.
"""
import email
import os
import re
import smtplib
import socket
import time
import unittest

import test_delivery as td
from kurirtest import Host, free_port, prog, split_received, tls_cert
from smtpdest import Destination, ScriptedServer, port_bindable

from dnsserver import DNSServer   # fails, naming python3-dnslib, without it

MX_PORT = 25
MX_WHY = None
if not port_bindable("127.0.0.1", MX_PORT):
    MX_WHY = "cannot listen on 127.0.0.1:%d (not root, or taken)" % MX_PORT
elif not port_bindable("127.0.0.2", MX_PORT):
    MX_WHY = "cannot listen on 127.0.0.2:%d" % MX_PORT
V6_OK = MX_WHY is None and port_bindable("::1", MX_PORT)

REMOTE_WHY = None if os.path.exists(prog("kurir-remote")) else \
    "kurir-remote is not built yet (%s)" % prog("kurir-remote")

USERS = {"alice": "alice-pw", "bob": "bob-pw"}

# A message with everything a careless SMTP client mangles: lines that
# start with dots (stuffing both ways), a lone dot, 8-bit UTF-8, tabs,
# trailing blanks, a line of 998 octets, an empty last line.  It has
# From, Date and Message-ID, so kurir-sendmail adds nothing.
BODY = (b"From: Alice <alice@example.test>\n"
        b"To: x@remote.test\n"
        b"Subject: =?utf-8?q?caf=C3=A9?= over SMTP\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
        b"Message-ID: <remote-1@example.test>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n"
        b"\n"
        b".a line that starts with a dot\n"
        b"..two dots\n"
        b".\n"
        b". dot space\n"
        b"...\n"
        b"From the start of a line\n"
        b"8-bit UTF-8: gr\xc3\xbc\xc3\x9fe, \xe6\x97\xa5\xe6\x9c\xac, "
        b"\xf0\x9f\x93\xac\n"
        b"\ttab first\tand inside\t\n"
        b"trailing spaces   \n"
        + b"y" * 998 + b"\n"
        + b"." + b"z" * 900 + b"\n"
        b"the next line is empty and is the last\n"
        b"\n")

# 7-bit, for servers without 8BITMIME
BODY7 = (b"From: Alice <alice@example.test>\n"
         b"Subject: plain\n"
         b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
         b"Message-ID: <remote-2@example.test>\n"
         b"\n"
         b"plain text\n"
         b".dot\n"
         b"end\n")


def dead_udp_port():
    """A UDP port on 127.0.0.1 that nobody answers (ICMP unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simple(subject, n=1):
    return ("From: Alice <alice@example.test>\n"
            "Subject: %s\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
            "Message-ID: <%s.%d@example.test>\n"
            "\n"
            "body of %s\n" % (subject, re.sub(r"\W", "-", subject), n,
                              subject)).encode()


@unittest.skipIf(REMOTE_WHY, REMOTE_WHY)
class RemoteCase(td.DeliveryCase):
    """A DeliveryCase whose host is started by the test itself
    (start_host), once its destinations listen and its routes are
    known."""
    host_users = USERS
    host_aliases = ""
    base_extra = {}
    dest_defaults = {}          # keyword arguments of every Destination

    def setUp(self):
        # no host yet: see start_host
        self.host = None

    def start_host(self, routes="", extra=None, aliases=None):
        keys = {"dns_server": "127.0.0.1:%d" % dead_udp_port()}
        keys.update(self.base_extra)
        keys.update(extra or {})
        self.host = Host(keys, self.host_users,
                         aliases=aliases if aliases is not None
                         else self.host_aliases, deliver=True)
        self.addCleanup(self.host.cleanup)
        with open(os.path.join(self.host.dir, "routes"), "w") as f:
            f.write(routes)
        self.addCleanup(self.assertNoChildDied)
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()
        return self.host

    def inject(self, args, data):
        """kurir-sendmail -i args < data: a lone "." line in data is
        text, not the end of the input (sendmail without -i stops there,
        which would cut BODY short)."""
        return super().inject(["-i"] + list(args), data)

    def dest(self, **kw):
        kw = dict(self.dest_defaults, **kw)
        d = Destination(**kw).start()
        self.addCleanup(d.stop)
        return d

    def scripted(self, script, **kw):
        s = ScriptedServer(script, **kw).start()
        self.addCleanup(s.stop)
        return s

    def dns(self, zone):
        srv = DNSServer(zone)
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    # -- checks ---------------------------------------------------------
    def assertWire(self, env, body, qid=None):
        """env.data is body (LF) as sent on the wire: CRLF only, kurir's
        Received field on top (naming qid), then body byte for byte."""
        data = env.data
        bare = data.replace(b"\r\n", b"")
        self.assertNotIn(b"\n", bare, "a bare LF on the wire")
        self.assertNotIn(b"\r", bare, "a bare CR on the wire")
        self.assertTrue(data.endswith(b"\r\n"), data[-50:])
        received, rest = split_received(data.replace(b"\r\n", b"\n"))
        self.assertIn(b"by mail.example.test", received)
        if qid is not None:
            self.assertIn(qid.encode(), received)
        self.assertEqual(rest, body)

    def wait_deferred(self, qid, addr, timeout=30):
        """Wait for addr's first deferral; its queue state, checked."""
        self.wait_send_lines(qid, 1, addr, "deferred", timeout=timeout)
        r = self.rcpt_state(qid, addr)
        self.assertIsNotNone(r, "%s left the queue" % qid)
        self.assertEqual(r["state"], "deferred", r)
        # a temporary error: ours ("4.4.1 connection refused ...") or
        # the server's reply ("450 4.2.0 try later ...")
        self.assertRegex(r["last_error"], r"^(4\.\d{1,3}\.\d{1,3}|4\d\d)[ -]",
                         r)
        self.assertIsInstance(r["next_try"], int)
        return r

    def assertIntact(self, qid, body):
        """The queue entry is still listed and its message unchanged."""
        e = self.host.entry(qid)
        self.assertTrue(e["recipients"], e)
        _, rest = split_received(self.host.message(qid))
        self.assertEqual(rest, body)

    def bounces(self, user, n, timeout=20):
        """user's n messages, each parsed as a bounce (dsn)."""
        return [self.dsn(m) for m in self.wait_mails(user, n, timeout)]

    def bounced_rcpts(self, user, addrs, timeout=20):
        """Wait until user's bounces name every address in addrs (in one
        report or several); {address: per-recipient fields}."""
        got = {}

        def covered():
            got.clear()
            for m in self.mails(user):
                for r in self.dsn(m)[2]:
                    got[r["Final-Recipient"].partition(";")[2].strip()] = r
            return set(addrs) <= set(got)
        self.wait(covered, timeout, "bounces for %s" % addrs)
        self.assertEqual(sorted(got), sorted(addrs))
        return got

    def remote_lines(self, qid, to=None, status=None):
        return [l for l in self.send_lines(qid, to, status)
                if "relay=remote" in l]


# ---------------------------------------------------------------------------
class RouteDeliveryTest(RemoteCase):
    """Delivery through routes_file to a recording destination."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def test_smtp_message_byte_exact(self):
        # Why: SPEC "Mail as stored and sent": the wire uses CRLF and the
        # message arrives as submitted, only kurir's Received on top;
        # dot-stuffing is done by kurir-remote and undone by the server,
        # so lines starting with '.' (and a lone ".") survive, and so do
        # 8-bit text and a 998-octet line.  The envelope is the original
        # one, the EHLO name is our hostname, and kurir-send logs the
        # delivery.
        d = self.dest()
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=20) as s:
            s.ehlo("client.example.test")
            opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
            self.assertEqual(s.mail("bob@example.test", opts)[0], 250)
            self.assertEqual(s.rcpt("x@remote.test")[0], 250)
            code, text = s.data(BODY.replace(b"\n", b"\r\n"))
            self.assertEqual(code, 250, text)
        qid = re.search(rb"queued as ([0-9a-f]{16})", text).group(1).decode()
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.mail_from, "bob@example.test")
        self.assertEqual(env.rcpt_tos, ["x@remote.test"])
        self.assertEqual(env.helo, "mail.example.test")
        self.assertTrue(env.esmtp)
        self.assertFalse(env.tls)
        self.assertWire(env, BODY, qid)
        self.wait_gone(qid)
        line, = self.wait_send_lines(qid, 1, "x@remote.test", "sent")
        self.assertRegex(line, r"%s: to=<x@remote\.test>, relay=remote, "
                         r"delay=\d+s, status=sent \(.+\)" % qid)
        time.sleep(1.0)
        self.assertEqual(len(d.messages()), 1)
        self.assertEqual(self.mails("bob"), [])       # no bounce
        self.assertQueueEmpty()

    def test_sendmail_message_byte_exact(self):
        # Why: the same through kurir-sendmail (LF input), with the
        # sender's address as MAIL FROM.
        d = self.dest()
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"], BODY)
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.mail_from, "alice@example.test")
        self.assertEqual(env.rcpt_tos, ["x@remote.test"])
        self.assertWire(env, BODY, qid)
        self.wait_gone(qid)

    def test_recipients_of_one_domain_in_one_transaction(self):
        # Why: several recipients at the same domain go in ONE
        # transaction (one copy over the wire, RFC 5321 3.3); another
        # domain gets its own; a local recipient of the same message is
        # delivered locally, once.
        d1 = self.dest()
        d2 = self.dest(name="mx.other.test")
        self.start_host("remote.test [127.0.0.1]:%d\n"
                        "other.test [127.0.0.1]:%d\n" % (d1.port, d2.port))
        rcpts = ["a@remote.test", "b@remote.test", "c@remote.test"]
        qid = self.inject(["-f", "alice@example.test"] + rcpts +
                          ["d@other.test", "bob@example.test"],
                          simple("three and one"))
        env, = d1.wait_for_messages(1, 20)
        self.assertEqual(sorted(env.rcpt_tos), rcpts)
        self.assertEqual(env.mail_from, "alice@example.test")
        env2, = d2.wait_for_messages(1, 20)
        self.assertEqual(env2.rcpt_tos, ["d@other.test"])
        self.assertEqual(env.data, env2.data)
        self.wait_mails("bob", 1)
        self.wait_gone(qid)
        time.sleep(1.0)
        self.assertEqual(len(d1.messages()), 1)
        self.assertEqual(len(d2.messages()), 1)
        self.assertEqual(d1.connections(), 1)
        for r in rcpts + ["d@other.test"]:
            self.assertEqual(len(self.remote_lines(qid, r, "sent")), 1, r)

    def test_rcpt_550_bounces_that_recipient(self):
        # Why: per-recipient results: a 550 to one RCPT bounces that
        # recipient (RFC 3464 report from MAILER-DAEMON with the null
        # sender, Remote-MTA and the server's reply as Diagnostic-Code)
        # while the others of the transaction are delivered.
        d = self.dest(replies={"rej@remote.test": "550 5.1.1 no such user"})
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "ok@remote.test",
                           "rej@remote.test"], simple("one refused"))
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["ok@remote.test"])
        (msg, per_msg, rcpts, hdr), = self.bounces("alice", 1)
        self.assertEqual(msg["To"].strip("<> "), "alice@example.test")
        r, = rcpts
        self.assertEqual(r["Final-Recipient"], "rfc822; rej@remote.test")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertTrue(r["Remote-MTA"].startswith("dns;"), r["Remote-MTA"])
        self.assertIn("127.0.0.1", r["Remote-MTA"])
        self.assertTrue(r["Diagnostic-Code"].startswith("smtp;"),
                        r["Diagnostic-Code"])
        self.assertIn("550 5.1.1 no such user", r["Diagnostic-Code"])
        self.assertIn("Subject: one refused", hdr)
        self.wait_gone(qid)
        self.assertEqual(len(self.remote_lines(qid, "rej@remote.test",
                                               "bounced")), 1)
        self.assertEqual(len(self.remote_lines(qid, "ok@remote.test",
                                               "sent")), 1)
        self.count_stays("alice", 1, settle=1.0)
        self.assertEqual(len(d.messages()), 1)

    def test_bounce_to_remote_sender_has_null_mail_from(self):
        # Why: a bounce that goes to a remote sender leaves with MAIL
        # FROM:<> (RFC 5321 4.5.5), from MAILER-DAEMON@hostname.
        d = self.dest(replies={"rej@remote.test": "550 5.1.1 no such user"})
        self.start_host("remote.test [127.0.0.1]:%d\n"
                        "far.test [127.0.0.1]:%d\n" % (d.port, d.port))
        qid = self.inject(["-f", "carol@far.test", "rej@remote.test"],
                          simple("from afar"))
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.mail_from, "")
        self.assertEqual(env.rcpt_tos, ["carol@far.test"])
        _, rest = split_received(env.data.replace(b"\r\n", b"\n"))
        msg = email.message_from_bytes(rest)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertIn("MAILER-DAEMON@mail.example.test", msg["From"])
        blocks = msg.get_payload()[1].get_payload()
        self.assertEqual(blocks[1]["Final-Recipient"],
                         "rfc822; rej@remote.test")
        self.assertEqual(blocks[1]["Status"], "5.1.1")
        self.wait_gone(qid)
        # the bounce itself left the queue too
        self.wait(lambda: self.host.queue() == [], 10, "an empty queue")

    def test_rcpt_450_deferred_others_delivered_then_retried_alone(self):
        # Why: a 450 to one RCPT defers only that recipient; the others
        # of the transaction are delivered at once, and the retry sends
        # the deferred one alone - nobody gets a second copy.
        d = self.dest(replies={"later@remote.test": "450 4.2.0 try later"})
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "now@remote.test",
                           "later@remote.test"], simple("one later"))
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["now@remote.test"])
        r = self.wait_deferred(qid, "later@remote.test")
        self.assertIn("450", r["last_error"])
        self.assertIn("4.2.0", r["last_error"])
        self.assertEqual(self.rcpt_state(qid, "now@remote.test")["state"],
                         "delivered")
        # retried on the backoff (1s/2s), still 450: still deferred
        self.wait_send_lines(qid, 2, "later@remote.test", "deferred",
                             timeout=15)
        d.set_reply("later@remote.test", None)
        msgs = d.wait_for_messages(2, 20)
        self.assertEqual(msgs[1].rcpt_tos, ["later@remote.test"])
        self.assertEqual(msgs[1].data, msgs[0].data)
        self.wait_gone(qid)
        time.sleep(2.5)                               # > retry_max
        got = [r for e in d.messages() for r in e.rcpt_tos]
        self.assertEqual(sorted(got), ["later@remote.test",
                                       "now@remote.test"])
        self.assertEqual(len(self.remote_lines(qid, "now@remote.test")), 1)
        self.assertEqual(self.mails("alice"), [])     # no bounce

    def test_mail_from_refused_bounces_all(self):
        # Why: a 5xx to MAIL FROM fails the whole transaction: every
        # recipient is bounced with that reply.
        d = self.dest(mail_reply="553 5.7.1 sender not welcome")
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "a@remote.test",
                           "b@remote.test"], simple("sender refused"))
        self.wait_gone(qid, timeout=20)
        got = self.bounced_rcpts("alice", ["a@remote.test", "b@remote.test"])
        for r in got.values():
            self.assertEqual(r["Status"], "5.7.1")
            self.assertIn("553 5.7.1 sender not welcome",
                          r["Diagnostic-Code"])
        self.assertEqual(d.messages(), [])

    def test_data_554_bounces_all(self):
        # Why: a permanent refusal of the message (after the final dot)
        # bounces every recipient that had been accepted.
        d = self.dest(data_reply="554 5.6.0 content refused")
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "a@remote.test",
                           "b@remote.test"], simple("content refused"))
        self.wait_gone(qid, timeout=20)
        got = self.bounced_rcpts("alice", ["a@remote.test", "b@remote.test"])
        for r in got.values():
            self.assertEqual(r["Action"], "failed")
            self.assertIn("554 5.6.0 content refused", r["Diagnostic-Code"])
        self.assertEqual(len(d.all_transactions()), 1)

    def test_data_451_defers_all_then_delivered_once(self):
        # Why: a temporary refusal after the final dot defers every
        # recipient; the retry delivers them together, once.
        d = self.dest(data_reply="451 4.3.0 queue full")
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "a@remote.test",
                           "b@remote.test"], simple("try again"))
        for a in ("a@remote.test", "b@remote.test"):
            r = self.wait_deferred(qid, a)
            self.assertIn("451", r["last_error"])
        d.set_data_reply(None)
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(sorted(env.rcpt_tos), ["a@remote.test",
                                                "b@remote.test"])
        self.wait_gone(qid)
        time.sleep(2.5)
        self.assertEqual(len(d.messages()), 1)
        self.assertEqual(self.mails("alice"), [])

    def test_all_rcpts_refused_bounced(self):
        # Why: every RCPT refused: no DATA is sent (or, pipelined, its
        # 503 is understood), every recipient bounces, nothing hangs.
        d = self.dest(replies={"a@remote.test": "550 5.1.1 no a",
                               "b@remote.test": "553 5.1.3 no b"})
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "a@remote.test",
                           "b@remote.test"], simple("nobody there"))
        got = self.bounced_rcpts("alice", ["a@remote.test", "b@remote.test"])
        self.assertEqual(got["a@remote.test"]["Status"], "5.1.1")
        self.assertEqual(got["b@remote.test"]["Status"], "5.1.3")
        self.wait_gone(qid)
        self.assertEqual(d.all_transactions(), [])

    def test_larger_than_server_size_bounces(self):
        # Why: kurir-remote(8): "A message larger than the server's SIZE
        # fails permanently (5.3.4)" - no use sending it every hour.
        d = self.dest(size_limit=1000)
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("big") + (b"z" * 70 + b"\n") * 40)
        got = self.bounced_rcpts("alice", ["x@remote.test"])
        self.assertTrue(got["x@remote.test"]["Status"].startswith("5.3."),
                        got)
        self.wait_gone(qid)
        self.assertEqual(d.messages(), [])

    def test_greeting_421_deferred(self):
        # Why: a server that is busy (421 greeting) means "try later".
        s = self.scripted([("send", b"421 4.3.2 mx.remote.test busy\r\n"),
                           ("hold", 1)], connections=50, time_limit=60)
        self.start_host("remote.test [127.0.0.1]:%d\n" % s.port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("busy"))
        r = self.wait_deferred(qid, "x@remote.test")
        self.assertIn("421", r["last_error"])

    def test_smarthost_takes_every_remote_domain(self):
        # Why: routes_file "*" is a smarthost: any remote domain goes
        # there (one transaction per domain).
        d = self.dest(name="smarthost.test")
        self.start_host("* [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "x@anything.test",
                           "y@else.example"], simple("via smarthost"))
        msgs = d.wait_for_messages(2, 20)
        self.assertEqual(sorted(r for e in msgs for r in e.rcpt_tos),
                         ["x@anything.test", "y@else.example"])
        self.wait_gone(qid)

    def test_exact_route_beats_smarthost(self):
        # Why: table.h: "an exact match first, then the * smarthost".
        d1 = self.dest()
        d2 = self.dest(name="smarthost.test")
        self.start_host("remote.test [127.0.0.1]:%d\n"
                        "* [127.0.0.1]:%d\n" % (d1.port, d2.port))
        qid = self.inject(["-f", "alice@example.test", "x@remote.test",
                           "y@else.example"], simple("two routes"))
        e1, = d1.wait_for_messages(1, 20)
        e2, = d2.wait_for_messages(1, 20)
        self.assertEqual(e1.rcpt_tos, ["x@remote.test"])
        self.assertEqual(e2.rcpt_tos, ["y@else.example"])
        self.wait_gone(qid)

    def test_helo_only_server(self):
        # Why: a server that refuses EHLO (502) gets HELO (RFC 5321
        # 3.2), and then no ESMTP parameters on MAIL FROM.
        d = self.dest(ehlo=False)
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          BODY7)
        env, = d.wait_for_messages(1, 20)
        self.assertFalse(env.esmtp)
        self.assertEqual(env.helo, "mail.example.test")
        self.assertEqual(env.mail_options, [])
        self.assertWire(env, BODY7, qid)
        self.wait_gone(qid)

    def test_null_sender_relayed_as_null(self):
        # Why: mail with the null sender (a bounce made elsewhere, handed
        # to us by a local program) keeps MAIL FROM:<>.
        d = self.dest()
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        qid = self.inject(["-f", "", "x@remote.test"], simple("null sender"))
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.mail_from, "")
        self.wait_gone(qid)

    def test_alias_to_remote_address(self):
        # Why: an alias target that is a remote address goes out by
        # SMTP with the alias's envelope sender (the original one).
        d = self.dest()
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port,
                        aliases="fwd: alice, carol@remote.test\n")
        qid = self.inject(["-f", "bob@example.test", "fwd@example.test"],
                          simple("forwarded"))
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["carol@remote.test"])
        self.assertEqual(env.mail_from, "bob@example.test")
        self.wait_mails("alice", 1)
        self.wait_gone(qid)


class RouteDeliveryNoPipeliningTest(RouteDeliveryTest):
    """The same, to servers that do not announce PIPELINING: one
    command, one reply."""
    dest_defaults = {"pipelining": False}


# ---------------------------------------------------------------------------
class TLSTest(RemoteCase):
    """STARTTLS: opportunistic by default; route tls= none/require/verify."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def started(self, d, tls_opt=""):
        self.start_host("remote.test [127.0.0.1]:%d%s\n" % (d.port, tls_opt))
        return self.inject(["-f", "alice@example.test", "x@remote.test"],
                           BODY)

    def test_starttls_when_offered(self):
        # Why: SPEC 5 "STARTTLS when offered": the default (tls=may)
        # upgrades, EHLOs again (RFC 3207 4.2) and sends the mail over
        # TLS, unchanged.
        d = self.dest(tls=True)
        qid = self.started(d)
        env, = d.wait_for_messages(1, 20)
        self.assertTrue(env.tls)
        self.assertEqual(env.helo, "mail.example.test")
        self.assertWire(env, BODY, qid)
        cmds = [c[0] for c in d.transcript()]
        self.assertEqual(cmds[:3], ["EHLO", "STARTTLS", "EHLO"], cmds)
        self.wait_gone(qid)

    def test_tls_may_handshake_failure_falls_back_to_plain(self):
        # Why: kurir-remote(8): with tls=may, "when the handshake fails,
        # the same server is tried again in plain text" - opportunistic
        # TLS must not make a server with a broken TLS set-up
        # unreachable.
        d = self.dest(tls="broken")
        qid = self.started(d)
        env, = d.wait_for_messages(1, 20)
        self.assertFalse(env.tls)
        self.assertIn(("STARTTLS",), d.transcript())
        self.assertGreaterEqual(d.connections(), 2)
        self.assertWire(env, BODY, qid)
        self.wait_gone(qid)

    def test_tls_require_handshake_failure_deferred(self):
        # Why: with tls=require the same failure must not fall back.
        d = self.dest(tls="broken")
        qid = self.started(d, " tls=require")
        self.wait_deferred(qid, "x@remote.test")
        time.sleep(1.0)
        self.assertEqual(d.messages(), [])
        self.assertNotIn("MAIL", [c[0] for c in d.transcript()])

    def test_tls_require_over_tls(self):
        d = self.dest(tls=True)
        qid = self.started(d, " tls=require")
        env, = d.wait_for_messages(1, 20)
        self.assertTrue(env.tls)
        self.wait_gone(qid)

    def test_tls_none_stays_plain(self):
        # Why: tls=none never sends STARTTLS, even when offered.
        d = self.dest(tls=True)
        qid = self.started(d, " tls=none")
        env, = d.wait_for_messages(1, 20)
        self.assertFalse(env.tls)
        self.assertNotIn(("STARTTLS",), d.transcript())
        self.wait_gone(qid)

    def test_tls_may_without_starttls_plain(self):
        d = self.dest()
        qid = self.started(d)
        env, = d.wait_for_messages(1, 20)
        self.assertFalse(env.tls)
        self.wait_gone(qid)

    def test_tls_require_without_starttls_deferred(self):
        # Why: tls=require to a server that does not offer STARTTLS must
        # not send the mail in the clear: deferred, and the error says
        # why.
        d = self.dest()
        qid = self.started(d, " tls=require")
        r = self.wait_deferred(qid, "x@remote.test")
        self.assertRegex(r["last_error"], r"(?i)tls")
        self.assertEqual(d.messages(), [])
        self.assertNotIn("MAIL", [c[0] for c in d.transcript()])
        self.assertIntact(qid, BODY)

    def test_tls_verify_self_signed_deferred(self):
        # Why: tls=verify checks the certificate; the test certificate is
        # self-signed, so the handshake must fail and the mail wait -
        # never fall back to plain text.
        d = self.dest(tls=True)
        qid = self.started(d, " tls=verify")
        r = self.wait_deferred(qid, "x@remote.test")
        self.assertTrue(r["last_error"], r)
        time.sleep(1.0)
        self.assertEqual(d.messages(), [])
        self.assertNotIn("MAIL", [c[0] for c in d.transcript()])
        self.assertIntact(qid, BODY)


    def verify_host(self, d, name):
        """A host whose tls_ca_file is the test certificate (self-signed,
        CA:TRUE, CN=mail.example.test) and whose route names the
        destination by name (name -> 127.0.0.1 in a test DNS)."""
        srv = self.dns({name: {"A": ["127.0.0.1"]}})
        cert, _ = tls_cert()
        self.start_host("remote.test %s:%d tls=verify\n" % (name, d.port),
                        extra={"dns_server": "127.0.0.1:%d" % srv.port,
                               "tls_ca_file": cert})
        return self.inject(["-f", "alice@example.test", "x@remote.test"],
                           BODY)

    def test_tls_verify_with_ca_delivered(self):
        # Why: tls=verify with the certificate's CA in tls_ca_file and
        # the route naming the certificate's host: verified, over TLS.
        d = self.dest(tls=True)
        qid = self.verify_host(d, "mail.example.test")
        env, = d.wait_for_messages(1, 20)
        self.assertTrue(env.tls)
        self.assertWire(env, BODY, qid)
        self.wait_gone(qid)

    def test_tls_verify_wrong_name_deferred(self):
        # Why: a trusted certificate for another name is no better than
        # an untrusted one: the route's host name must match.
        d = self.dest(tls=True)
        qid = self.verify_host(d, "relay.remote.test")
        r = self.wait_deferred(qid, "x@remote.test")
        time.sleep(1.0)
        self.assertEqual(d.messages(), [])
        self.assertNotIn("MAIL", [c[0] for c in d.transcript()])
        self.assertIntact(qid, BODY)


# ---------------------------------------------------------------------------
class OfflineTest(RemoteCase):
    """The destination is down, then comes up."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def test_offline_deferred_then_delivered_once(self):
        # Why: SPEC 3: "the destination host may be offline": deferred
        # (4.4.1, connection refused), then delivered exactly once when
        # it is back, on the next retry or at once after a flush.
        port = free_port()
        self.start_host("remote.test [127.0.0.1]:%d\n" % port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test",
                           "y@remote.test"], BODY)
        r = self.wait_deferred(qid, "x@remote.test")
        self.assertIn("4.4.1", r["last_error"])
        self.assertIn("refused", r["last_error"].lower())
        self.assertIntact(qid, BODY)
        d = self.dest(port=port)
        self.host.ctl("flush")
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(sorted(env.rcpt_tos), ["x@remote.test",
                                                "y@remote.test"])
        self.assertWire(env, BODY, qid)
        self.wait_gone(qid)
        time.sleep(2.5)                               # > retry_max
        self.assertEqual(len(d.messages()), 1)
        self.assertEqual(len(self.remote_lines(qid, "x@remote.test",
                                               "sent")), 1)
        self.assertEqual(self.mails("alice"), [])

    def test_offline_retried_on_backoff(self):
        # Why: no flush: the retry on the 1s/2s backoff finds it.
        port = free_port()
        self.start_host("remote.test [127.0.0.1]:%d\n" % port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("backoff"))
        self.wait_deferred(qid, "x@remote.test")
        d = self.dest(port=port)
        d.wait_for_messages(1, 20)
        self.wait_gone(qid)


class OfflineExpiryTest(RemoteCase):
    """Down for longer than queue_lifetime: a bounce."""
    base_extra = {"retry_min": "1s", "retry_max": "1s",
                  "queue_lifetime": "3s"}

    def test_bounce_after_lifetime(self):
        port = free_port()
        self.start_host("remote.test [127.0.0.1]:%d\n" % port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("never there"))
        self.wait_deferred(qid, "x@remote.test")
        (msg, per_msg, rcpts, hdr), = self.bounces("alice", 1)
        r, = rcpts
        self.assertEqual(r["Final-Recipient"], "rfc822; x@remote.test")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "4.4.7")
        self.assertIn("4.4.1", r["Diagnostic-Code"])
        self.assertIn("Subject: never there", hdr)
        self.wait_gone(qid)
        self.count_stays("alice", 1, settle=1.5)


# ---------------------------------------------------------------------------
def ehlo_ok(extra=b""):
    return b"250-mx.remote.test\r\n" + extra + b"250 8BITMIME\r\n"


class HostileServerTest(RemoteCase):
    """Broken and hostile servers: a deferral, never a crash or a hang."""
    base_extra = {"smtp_command_timeout": "3s", "smtp_data_timeout": "3s"}

    def hostile(self, script, connections=2, time_limit=45, timeout=30):
        """Route remote.test to a ScriptedServer playing script and
        good.test to a Destination; send to x@remote.test, wait for the
        deferral, check the queue entry; then check that kurir-remote
        still delivers (to good.test).  (server, recipient state,
        seconds until the deferral)."""
        raw = self.scripted(script, connections=connections,
                            time_limit=time_limit)
        good = self.dest(name="mx.good.test")
        self.start_host("remote.test [127.0.0.1]:%d\n"
                        "good.test [127.0.0.1]:%d\n" % (raw.port, good.port))
        body = simple("to a hostile server")
        t0 = time.monotonic()
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"], body)
        r = self.wait_deferred(qid, "x@remote.test", timeout=timeout)
        took = time.monotonic() - t0
        self.assertIntact(qid, body)
        self.assertEqual(self.mails("alice"), [])      # no bounce
        # kurir-remote is alive and well
        q2 = self.inject(["-f", "alice@example.test", "y@good.test"],
                         simple("afterwards"))
        env, = good.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["y@good.test"])
        self.wait_gone(q2)
        self.assertEqual(self.rcpt_state(qid, "x@remote.test")["state"],
                         "deferred")
        return raw, r, took

    def test_one_megabyte_ehlo_reply(self):
        # Why: a reply of 1 MB in ~14000 lines must not be buffered
        # without bound: the client gives up (a bounded reply) and
        # defers.
        line = b"250-" + b"x" * 70 + b"\r\n"
        big = line * (1024 * 1024 // len(line)) + b"250 OK\r\n"
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", big),
            ("hold", 20)])
        c = raw.connections()[0]
        self.assertTrue(c.client_closed or c.client_stalled, c)
        self.assertLess(took, 25)

    def test_endless_continuation(self):
        # Why: "250-" lines without end (the server streams for 30s):
        # the client must stop reading and defer long before.
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("stream", b"250-" + b"y" * 60 + b"\r\n", 30)],
            time_limit=40)
        self.assertLess(took, 20, "the client kept reading")
        c = raw.connections()[0]
        self.assertTrue(c.client_closed or c.client_stalled, c)
        self.assertLess(c.duration, 20, c)

    def test_malformed_reply_code_to_ehlo(self):
        # Why: "2x0 hi" is no reply (RFC 5321 4.2): the session is
        # dropped and the mail deferred.
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", b"2x0 hi\r\n"),
            ("hold", 20)])
        c = raw.connections()[0]
        self.assertTrue(c.client_closed, c)
        self.assertLess(c.duration, 15, c)
        self.assertNotIn(b"MAIL FROM", c.received.upper())

    def test_malformed_greeting(self):
        raw, r, took = self.hostile([
            ("send", b"2x0 hi\r\n"),
            ("hold", 20)])
        c = raw.connections()[0]
        self.assertTrue(c.client_closed, c)
        self.assertNotIn(b"MAIL FROM", c.received.upper())

    def test_greeting_never_ends(self):
        # Why: a greeting without CRLF, then silence: the client times
        # out (smtp_command_timeout, 3s here), closes and defers.
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP but no line end"),
            ("hold", 40)], time_limit=50)
        c = raw.connections()[0]
        self.assertTrue(c.client_closed, c)
        self.assertLess(c.duration, 15, c)
        self.assertLess(took, 20)

    def test_greeting_trickles_forever(self):
        # Why: the same greeting, but a byte every 0.25s: a timeout that
        # restarts with every byte read would wait for ever (a slow
        # server holding a delivery slot); the reply as a whole is due
        # within the timeout.
        raw, r, took = self.hostile([
            ("send", b"220 "),
            ("trickle", b"slow greeting ", 0.25, 40)], time_limit=50)
        c = raw.connections()[0]
        self.assertTrue(c.client_closed or c.client_stalled, c)
        self.assertLess(c.duration, 15, c)

    def test_bytes_after_starttls_220(self):
        # Why: bytes after "220 ready" in answer to STARTTLS were sent in
        # the clear before the handshake (the CVE-2011-0411 pattern, on
        # the client side): they must never be taken as replies to
        # commands sent inside TLS, and no command goes out in the clear
        # after STARTTLS.
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", ehlo_ok(b"250-STARTTLS\r\n")),
            ("expect", b"STARTTLS"),
            ("send", b"220 ready\r\n250-injected\r\n250 OK\r\n"
                     b"250 2.1.0 Ok\r\n354 go ahead\r\n"),
            ("hold", 15)])
        c = raw.connections()[0]
        self.assertIn(b"STARTTLS\r\n", c.received.upper(), c)
        after = c.received.upper().split(b"STARTTLS\r\n", 1)[1]
        # what follows is a TLS handshake (0x16), nothing, or a QUIT
        # that gives up; never a command of the transaction in the clear
        for cmd in (b"EHLO ", b"HELO ", b"MAIL FROM:", b"RCPT TO:",
                    b"DATA\r\n"):
            self.assertNotIn(cmd, after, after[:200])
        self.assertTrue(after in (b"", b"QUIT\r\n") or
                        after.startswith(b"\x16"), after[:200])

    def test_connection_closed_during_data(self):
        # Why: the server hangs up in the middle of the message: nothing
        # was delivered, so the mail is deferred (not lost, not bounced).
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", ehlo_ok()),
            ("expect", b"MAIL FROM:"),
            ("send", b"250 2.1.0 Ok\r\n"),
            ("expect", b"RCPT TO:"),
            ("send", b"250 2.1.5 Ok\r\n"),
            ("expect", b"DATA"),
            ("send", b"354 go ahead\r\n"),
            ("line",),
            ("close",)])
        self.assertTrue(raw.connections()[0].finished)

    def test_no_reply_to_final_dot(self):
        # Why: the server takes the whole message and never answers the
        # final dot: the client times out and defers (a duplicate is
        # possible here - RFC 1047 - a loss is not).
        raw, r, took = self.hostile([
            ("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", ehlo_ok()),
            ("expect", b"MAIL FROM:"),
            ("send", b"250 2.1.0 Ok\r\n"),
            ("expect", b"RCPT TO:"),
            ("send", b"250 2.1.5 Ok\r\n"),
            ("expect", b"DATA"),
            ("send", b"354 go ahead\r\n"),
            ("data",),
            ("hold", 40)], time_limit=50, timeout=30)
        c = raw.connections()[0]
        self.assertTrue(c.client_closed, c)
        self.assertLess(took, 25)


# ---------------------------------------------------------------------------
class DNSRouteTest(RemoteCase):
    """DNS without port 25: a route to a host name, and DNS failures."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def start_dns_host(self, zone, routes=""):
        srv = self.dns(zone)
        self.start_host(routes, extra={"dns_server": "127.0.0.1:%d" %
                                       srv.port})
        return srv

    def test_route_to_host_name(self):
        # Why: a route's host may be a name: kurir-remote resolves it
        # (A) through dns_server.
        d = self.dest()
        srv = self.start_dns_host({"relay.remote.test": {"A": ["127.0.0.1"]}},
                                  "remote.test relay.remote.test:%d\n"
                                  % d.port)
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("named route"))
        d.wait_for_messages(1, 20)
        self.wait_gone(qid)
        self.assertIn("relay.remote.test", [q[0] for q in srv.queries])

    def test_null_mx_bounces(self):
        # Why: RFC 7505: "MX 0 ." says the domain takes no mail: a
        # permanent failure at once (5.1.10), not days of retries.
        self.start_dns_host({"remote.test": {"MX": [[0, "."]]}})
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("null mx"))
        (msg, _, rcpts, _), = self.bounces("alice", 1)
        r, = rcpts
        self.assertEqual(r["Final-Recipient"], "rfc822; x@remote.test")
        self.assertEqual(r["Action"], "failed")
        self.assertTrue(r["Status"].startswith("5."), r["Status"])
        self.wait_gone(qid)

    def test_nxdomain_bounces(self):
        # Why: a domain that does not exist (NXDOMAIN) is a permanent
        # failure (5.1.2, as other MTAs do); beyond the written contract,
        # what an admin expects.
        self.start_dns_host({"remote.test": {"A": ["127.0.0.1"]}})
        qid = self.inject(["-f", "alice@example.test", "x@nowhere.test"],
                          simple("nowhere"))
        (msg, _, rcpts, _), = self.bounces("alice", 1)
        r, = rcpts
        self.assertEqual(r["Final-Recipient"], "rfc822; x@nowhere.test")
        self.assertTrue(r["Status"].startswith("5."), r["Status"])
        self.wait_gone(qid)

    def test_servfail_deferred(self):
        # Why: a DNS failure (SERVFAIL) is temporary: deferred.
        self.start_dns_host({"remote.test": {"rcode": "SERVFAIL"}})
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("servfail"))
        self.wait_deferred(qid, "x@remote.test")
        self.assertEqual(self.mails("alice"), [])

    def test_dns_unreachable_deferred(self):
        # Why: no answer from dns_server at all (nothing listens there):
        # temporary, deferred - never a bounce.
        self.start_host("")
        qid = self.inject(["-f", "alice@example.test", "x@remote.test"],
                          simple("no dns"))
        self.wait_deferred(qid, "x@remote.test", timeout=60)
        self.assertEqual(self.mails("alice"), [])
        self.assertIntact(qid, simple("no dns"))


@unittest.skipIf(MX_WHY, MX_WHY)
class MXTest(RemoteCase):
    """Route-free domains: MX lookup through dns_server, destinations on
    port MX_PORT of 127.0.0.1 / 127.0.0.2 / ::1."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    ZONE = {"remote.test": {"MX": [[20, "mx2.remote.test"],
                                   [10, "mx1.remote.test"]]},
            "mx1.remote.test": {"A": ["127.0.0.2"]},
            "mx2.remote.test": {"A": ["127.0.0.1"]}}

    def start_mx_host(self, zone):
        self.srv = self.dns(zone)
        self.start_host("", extra={"dns_server": "127.0.0.1:%d" %
                                   self.srv.port})

    def send(self, subject, *rcpts):
        return self.inject(["-f", "alice@example.test"] + list(rcpts or
                           ["x@remote.test"]), simple(subject))

    def test_lowest_preference_first(self):
        # Why: RFC 5321 5.1: MX hosts are tried in preference order (the
        # lowest number first), whatever the order of the answer.
        d1 = self.dest(host="127.0.0.2", port=MX_PORT, name="mx1.remote.test")
        d2 = self.dest(host="127.0.0.1", port=MX_PORT, name="mx2.remote.test")
        self.start_mx_host(self.ZONE)
        qid = self.send("by preference")
        env, = d1.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["x@remote.test"])
        self.wait_gone(qid)
        time.sleep(1.0)
        self.assertEqual(d2.messages(), [])
        self.assertIn(("remote.test", "MX"),
                      [(q[0], q[1]) for q in self.srv.queries])

    def test_next_mx_when_first_is_down(self):
        # Why: the preferred MX refuses connections: the next one gets
        # the mail in the same attempt.
        d2 = self.dest(host="127.0.0.1", port=MX_PORT, name="mx2.remote.test")
        self.start_mx_host(self.ZONE)
        qid = self.send("first down")
        d2.wait_for_messages(1, 20)
        self.wait_gone(qid)

    def test_next_mx_when_first_is_busy(self):
        # Why: a 421 greeting from the preferred MX: try the next.
        busy = self.scripted([("send", b"421 4.3.2 busy\r\n"), ("hold", 5)],
                             host="127.0.0.2", port=MX_PORT, connections=4,
                             time_limit=40)
        d2 = self.dest(host="127.0.0.1", port=MX_PORT, name="mx2.remote.test")
        self.start_mx_host(self.ZONE)
        qid = self.send("first busy")
        d2.wait_for_messages(1, 20)
        self.wait_gone(qid)
        self.assertGreaterEqual(len(busy.connections()), 1)

    def test_a_fallback_without_mx(self):
        # Why: RFC 5321 5.1: no MX record - the domain's own address
        # (A) is the implicit MX.
        d = self.dest(host="127.0.0.1", port=MX_PORT)
        self.start_mx_host({"remote.test": {"A": ["127.0.0.1"]}})
        qid = self.send("implicit mx")
        d.wait_for_messages(1, 20)
        self.wait_gone(qid)

    @unittest.skipUnless(V6_OK, "cannot listen on [::1]:25")
    def test_aaaa_fallback_without_mx(self):
        d = self.dest(host="::1", port=MX_PORT)
        self.start_mx_host({"remote.test": {"AAAA": ["::1"]}})
        qid = self.send("implicit mx v6")
        d.wait_for_messages(1, 20)
        self.wait_gone(qid)

    def test_remote_mta_is_the_mx_host(self):
        # Why: the bounce's Remote-MTA names the MX host that refused
        # ("dns; mx.remote.test"), the Diagnostic-Code its reply.
        d = self.dest(host="127.0.0.1", port=MX_PORT,
                      replies={"rej@remote.test": "550 5.1.1 no such user"})
        self.start_mx_host({"remote.test": {"MX": [[10, "mx.remote.test"]]},
                            "mx.remote.test": {"A": ["127.0.0.1"]}})
        qid = self.send("refused via mx", "ok@remote.test", "rej@remote.test")
        env, = d.wait_for_messages(1, 20)
        self.assertEqual(env.rcpt_tos, ["ok@remote.test"])
        (msg, _, rcpts, _), = self.bounces("alice", 1)
        r, = rcpts
        self.assertEqual(r["Remote-MTA"], "dns; mx.remote.test")
        self.assertTrue(r["Diagnostic-Code"].startswith(
            "smtp; 550 5.1.1 no such user"), r["Diagnostic-Code"])
        self.assertEqual(r["Status"], "5.1.1")
        self.wait_gone(qid)

    def test_null_mx_not_connected(self):
        # Why: null MX bounces, and nothing connects anywhere (the
        # destination on 127.0.0.1:25 sees no session).
        d = self.dest(host="127.0.0.1", port=MX_PORT)
        self.start_mx_host({"remote.test": {"MX": [[0, "."]],
                                            "A": ["127.0.0.1"]}})
        qid = self.send("null mx with an A")
        (msg, _, rcpts, _), = self.bounces("alice", 1)
        self.assertTrue(rcpts[0]["Status"].startswith("5."), rcpts[0])
        self.wait_gone(qid)
        self.assertEqual(d.connections(), 0)


if __name__ == "__main__":
    unittest.main()
