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


if __name__ == "__main__":
    unittest.main()
