"""Mail loops end (SPEC 9, issue 13 part 1).

Hops are counted: a message whose header carries more than
max_hop_count (50) Received and Delivered-To fields is refused with 554
5.4.6 by kurir-smtpd, and by kurir-queue for kurir-sendmail (EX_DATAERR).
kurir-remote recognises itself: an MX or address where one of our SMTP
listeners accepts, or a server that greets (or answers EHLO) with our own
hostname, fails with 5.4.6 "mail for DOMAIN loops back to myself"; the
bounce has the null sender, so a bounce that loops ends in one
postmaster notice at most.

The reproductions of the issue (a route back to this host; a message
that already carries Delivered-To for a local mailbox, bounced to a
sender in a looping domain; two hosts that route a domain to each
other) must each end after a bounded number of hops, with the queues
empty and at most one bounce or notice.  Every wait is bounded.
"""
import email
import os
import re
import smtplib
import socket
import time
import unittest

import test_delivery as td
from kurirtest import Host, SMTPHostCase, free_port, prog, wait_for
from smtpdest import ScriptedServer, port_bindable

MX_PORT = 25
MX_WHY = None if port_bindable("127.0.0.1", MX_PORT) else \
    "cannot listen on 127.0.0.1:%d (not root, or taken)" % MX_PORT

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def with_hops(n, subject="hops", big=0):
    """A message with n Received fields (the first one big octets long)."""
    out = []
    for i in range(n):
        pad = " " + "x" * big if i == 0 and big else ""
        out.append("Received: from h%d.example.net by h%d.example.net;%s\n"
                   "\tMon, 1 Jan 2024 00:00:00 +0000\n" % (i, i + 1, pad))
    return ("".join(out) + "From: a@example.net\nSubject: %s\n\nbody\n"
            "Received: in the body, not counted\n" % subject)


def count_received(data):
    """Received fields in the header of a message (bytes, LF or CRLF)."""
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return len(re.findall(rb"(?im)^received[ \t]*:", head))


class HopCountTest(SMTPHostCase):
    """Receiving side: kurird -n, the message stays queued if taken."""
    host_users = USERS

    def smtp_send(self, msg):
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=30) as s:
            s.ehlo("client.example.net")
            try:
                s.sendmail("a@example.net", ["alice@example.test"],
                           msg.replace("\n", "\r\n").encode())
                return 250, b""
            except smtplib.SMTPDataError as e:
                return e.smtp_code, e.smtp_error

    def test_smtp_51_refused_50_taken(self):
        # Why: past max_hop_count (50, Postfix's hopcount_limit) the
        # message is a loop or a forgery: 554 5.4.6, nothing queued.
        code, text = self.smtp_send(with_hops(51))
        self.assertEqual(code, 554, text)
        self.assertTrue(text.startswith(b"5.4.6 Too many hops"), text)
        self.assertQueueEmpty()
        code, text = self.smtp_send(with_hops(50))
        self.assertEqual(code, 250, text)
        q = self.host.queue()
        self.assertEqual(len(q), 1, q)
        # ours on top: 51 now, and the next hop will refuse it
        self.assertEqual(count_received(self.host.message(q[0]["id"])), 51)

    def test_smtp_long_fields_across_reads(self):
        # Why: a field is counted once whatever its length and however
        # the reads cut it (the first one here is 200 KB, over several
        # QP_DATA frames); Delivered-To counts as a hop too.
        msg = "Delivered-To: x@example.net\n" + with_hops(50, big=200000)
        code, text = self.smtp_send(msg)
        self.assertEqual(code, 554, text)
        self.assertQueueEmpty()
        code, text = self.smtp_send(with_hops(49, big=200000).replace(
            "From:", "Delivered-To: x@example.net\nFrom:", 1))
        self.assertEqual(code, 250, text)

    def test_bdat_51_refused(self):
        # Why: BDAT is counted as DATA is.
        msg = with_hops(51).replace("\n", "\r\n").encode()
        with self.client() as c:
            c.ehlo()
            self.assertReply(c.cmd("MAIL FROM:<a@example.net>"), 250)
            self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 250)
            half = len(msg) // 2
            c.send(b"BDAT %d\r\n" % half + msg[:half])
            self.assertReply(c.reply(), 250)
            c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
            self.assertReply(c.reply(), 554, "5.4.6 Too many hops")
        self.assertQueueEmpty()

    def test_sendmail_51_refused_50_taken(self):
        # Why: local injection is counted by kurir-queue (the trust
        # boundary: kurir-sendmail runs as the user, who could skip any
        # check of its own); sendmail says why and exits EX_DATAERR.
        r = self.host.sendmail(["-i", "-f", "a@example.test", "alice"],
                               with_hops(51))
        self.assertEqual(r.returncode, 65, r)
        self.assertIn(b"5.4.6 Too many hops", r.stderr)
        self.assertQueueEmpty()
        r = self.host.sendmail(["-i", "-f", "a@example.test", "alice"],
                               with_hops(50))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.host.queue()), 1)


class LoopCase(td.DeliveryCase):
    """Hosts started by the test, once their routes can name their own
    ports: start(routes=lambda host: text, extra=...)."""
    host_aliases = "postmaster: bob\n"

    def setUp(self):
        self.host = None

    def make(self, routes=None, extra=None, port=None, aliases=None):
        keys = {"retry_min": "1s", "retry_max": "2s"}
        if port is not None:
            keys["smtp_listen"] = "127.0.0.1:%d" % port
        keys.update(extra or {})
        h = Host(keys, USERS, aliases=self.host_aliases if aliases is None
                 else aliases, deliver=True)
        self.addCleanup(h.cleanup)
        if port is not None:
            h.smtp_port = port
        if routes is not None:
            with open(os.path.join(h.dir, "routes"), "w") as f:
                f.write(routes(h))
        return h

    def run_host(self, h):
        h.setup()
        h.start()
        h.wait_smtp()
        return h

    def start(self, **kw):
        self.host = self.make(**kw)
        self.addCleanup(self.assertNoChildDied)
        return self.run_host(self.host)

    def assertDrains(self, host, timeout=30):
        wait_for(lambda: host.queue() == [], timeout,
                 "the queue of %s to empty" % host.dir)
        time.sleep(1.0)
        self.assertEqual(host.queue(), [])

    def report(self, data):
        """(status, diagnostic, quoted header) of a bounce or notice."""
        msg = email.message_from_bytes(data)
        self.assertEqual(msg.get_content_type(), "multipart/report", data)
        parts = msg.get_payload()
        r = parts[1].get_payload()[1]
        return r["Status"], r.get("Diagnostic-Code", ""), \
            parts[2].get_payload()


class SelfRouteTest(LoopCase):
    def test_route_back_to_me(self):
        # Why: issue 13 reproduction 1: a route for a domain that points
        # at our own SMTP port went round 6,766 times.  Our greeting
        # carries our hostname: 5.4.6 at the first hop, one bounce.
        self.start(routes=lambda h: "loop.test [127.0.0.1]:%d\n" %
                   h.smtp_port)
        qid = self.inject(["-f", "alice@example.test", "x@loop.test"],
                          "Subject: round and round\n\nx\n")
        data, = self.wait_mails("alice", 1, timeout=30)
        status, diag, _ = self.report(data)
        self.assertEqual(status, "5.4.6")
        self.assertIn("mail for loop.test loops back to myself", diag)
        self.wait_gone(qid)
        self.assertDrains(self.host)
        self.count_stays("alice", 1, settle=1.0)
        self.assertLessEqual(len(self.queued_ids()), 3, self.host.log())

    def test_greeting_with_my_hostname(self):
        # Why: a server that greets with our own hostname is us (behind
        # a NAT, a proxy, another port): a loop, not a delivery.
        for script in ([("send", b"220 mail.example.test ESMTP\r\n"),
                        ("hold", 5)],
                       [("send", b"220 other.test ESMTP\r\n"),
                        ("expect", b"EHLO"),
                        ("send", b"250-MAIL.EXAMPLE.TEST hi\r\n"
                         b"250 PIPELINING\r\n"), ("hold", 5)]):
            srv = ScriptedServer(script, connections=4, time_limit=30).start()
            self.addCleanup(srv.stop)
            h = self.make(routes=lambda h: "loop.test [127.0.0.1]:%d\n" %
                          srv.port)
            self.run_host(h)
            self.host = h
            qid = self.inject(["-f", "alice@example.test", "x@loop.test"],
                              "Subject: greeted by myself\n\nx\n")
            data, = self.wait_mails("alice", 1, timeout=30)
            status, diag, _ = self.report(data)
            self.assertEqual(status, "5.4.6")
            self.assertIn("loops back to myself", diag)
            self.wait_gone(qid)
            h.stop()


class DeliveredToBounceLoopTest(LoopCase):
    def test_delivered_to_bounce_into_loop(self):
        # Why: issue 13 reproduction 2: from a client outside
        # relay_clients, a message that already carries Delivered-To for
        # alice is refused by kurir-local (5.4.6), and its bounce to a
        # sender in a looping domain went round 2,792 times in 5 s.  The
        # bounce has the null sender: when it cannot be delivered (it
        # loops back to us), one notice goes to postmaster, and nothing
        # more.
        self.start(routes=lambda h: "loop.test [127.0.0.1]:%d\n" %
                   h.smtp_port, extra={"relay_clients": "127.0.0.1/32"})
        msg = ("Delivered-To: alice@example.test\r\nFrom: x@loop.test\r\n"
               "Subject: loop bait\r\n\r\nx\r\n")
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=30,
                          source_address=("127.0.0.2", 0)) as s:
            s.ehlo("attacker.example.net")
            s.sendmail("x@loop.test", ["alice@example.test"], msg.encode())
        data, = self.wait_mails("bob", 1, timeout=30)   # postmaster
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:80])
        self.assertLess(count_received(data), 5, data[:2000])
        self.assertDrains(self.host)
        self.count_stays("bob", 1, settle=2.0)
        self.assertEqual(self.mails("alice"), [])
        # the message, its bounce, the notice
        self.assertLessEqual(len(self.queued_ids()), 3, self.host.log())


class TwoHostLoopTest(LoopCase):
    def test_two_hosts_hop_limit(self):
        # Why: two hosts that route a domain to each other do not see
        # themselves; the hop count ends the loop: after at most
        # max_hop_count rounds 554 5.4.6 Too many hops, one bounce to
        # the sender, and both queues empty.
        pa, pb = free_port(), free_port()
        a = self.make(port=pa, routes=lambda h: "loop.test [127.0.0.1]:%d\n"
                      % pb)
        b = self.make(port=pb, aliases="", routes=lambda h:
                      "loop.test [127.0.0.1]:%d\nexample.test "
                      "[127.0.0.1]:%d\n" % (pa, pa),
                      extra={"hostname": "mx.b.test",
                             "local_domains": "b.test"})
        self.host = a
        self.addCleanup(self.assertNoChildDied)
        self.run_host(b)
        self.run_host(a)
        self.inject(["-f", "alice@example.test", "x@loop.test"],
                    "Subject: ping pong\n\nx\n")
        data, = self.wait_mails("alice", 1, timeout=90)
        status, diag, hdr = self.report(data)
        self.assertEqual(status, "5.4.6", diag)
        self.assertIn("Too many hops", diag)
        # the quoted header: at most max_hop_count + 1 hops were made
        self.assertLessEqual(len(re.findall(r"(?im)^received[ \t]*:", hdr)),
                             51)
        self.assertDrains(a)
        self.assertDrains(b)
        self.count_stays("alice", 1, settle=1.0)


    def test_two_hosts_bounce_into_the_loop(self):
        # Why: the sender is in the looping domain too.  The message
        # ends by the hop count; its bounce (null sender, a fresh
        # header: the quoted one is in the body) goes round again and
        # ends the same way, and then only a postmaster notice (at most
        # one) is made: the loop cannot restart.
        pa, pb = free_port(), free_port()
        a = self.make(port=pa, routes=lambda h: "loop.test [127.0.0.1]:%d\n"
                      % pb)
        b = self.make(port=pb, aliases="", routes=lambda h:
                      "loop.test [127.0.0.1]:%d\n" % pa,
                      extra={"hostname": "mx.b.test",
                             "local_domains": "b.test"})
        self.host = a
        self.addCleanup(self.assertNoChildDied)
        self.run_host(b)
        self.run_host(a)
        self.inject(["-f", "x@loop.test", "y@loop.test"],
                    "Subject: ping pong bounce\n\nx\n")
        wait_for(lambda: "dropped" in b.log() or self.mails("bob"), 120,
                 "the postmaster notice (or its drop)")
        self.assertDrains(a, timeout=60)
        self.assertDrains(b, timeout=60)
        self.assertLessEqual(len(self.mails("bob")), 1)
        queued = len(self.queued_ids()) + len(re.findall(
            r"kurir-queue\[\d+\]: [0-9a-f]{16}: from=<", b.log()))
        # two passes of at most 51 hops, the bounce, one notice
        self.assertLessEqual(queued, 2 * 52 + 2)


@unittest.skipIf(MX_WHY, MX_WHY)
class SelfMXTest(LoopCase):
    def test_mx_is_me(self):
        # Why: an MX that points at this host, where our listener is on
        # 127.0.0.1:25 (real MX delivery goes to port 25): kurir-remote
        # sees that the address and port are its own listener's and
        # fails the mail at once, without connecting.
        from dnsserver import DNSServer
        srv = DNSServer({"loop.test": {"MX": [[10, "mx.loop.test"]]},
                         "mx.loop.test": {"A": ["127.0.0.1"]}})
        srv.start()
        self.addCleanup(srv.stop)
        self.start(port=MX_PORT,
                   extra={"dns_server": "127.0.0.1:%d" % srv.port})
        qid = self.inject(["-f", "alice@example.test", "x@loop.test"],
                          "Subject: mx to myself\n\nx\n")
        data, = self.wait_mails("alice", 1, timeout=30)
        status, diag, _ = self.report(data)
        self.assertEqual(status, "5.4.6")
        self.assertIn("mail for loop.test loops back to myself", diag)
        self.assertIn("is one of our SMTP listeners", self.host.log())
        self.wait_gone(qid)
        self.assertDrains(self.host)


if __name__ == "__main__":
    unittest.main()
