"""Long text lines (issue 12, part 4), end to end with the real programs.

Mail with lines over RFC 5321's 998 octets exists (generated HTML,
base64 without line breaks, old mail programs) and the hosts people use
take it, so kurir does too: by default kurir-smtpd and kurir-sendmail
take lines of any length, and kurir-local stores them byte-exact (LF
line ends, Return-Path, Delivered-To and Received on top).
smtp_line_length_limit, when set, refuses longer lines with 550 5.6.0
(SMTP only).  kurir-remote never sends a line over 998 octets plus CRLF:
it folds header fields at the last blank before the limit (CRLF SP where
there is none) and cuts body lines every 998 octets, on the way to a
recording server (smtpdest.py, which itself refuses lines over 1001
octets, as aiosmtpd does).
"""
import re
import smtplib
import unittest

import test_delivery as td
import test_remote as tr
from kurirtest import split_received

MAX = 998
B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def long_line(n):
    """n octets like unfolded base64; a dot first and at octet 998, so
    that dot-stuffing meets it at a line start, before and after a
    fold."""
    line = bytearray((B64 * (n // len(B64) + 1))[:n])
    line[0:1] = b"."
    if n > MAX:
        line[MAX:MAX + 1] = b"."
    return bytes(line)


def message(n, sender="alice@example.test"):
    """A message (LF line ends) with a body line of n octets."""
    return (b"From: <%s>\n" % sender.encode() +
            b"To: <x@remote.test>\n"
            b"Subject: a line of %d octets\n" % n +
            b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
            b"Message-ID: <long-%d@example.test>\n" % n +
            b"\n"
            b"before\n" + long_line(n) + b"\n"
            b"after\n")


def smtp_send(port, sender, rcpt, body):
    """Send body (LF) over SMTP with smtplib; the queue id."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example.test")
        code, text = s.mail(sender)
        if code != 250:
            raise AssertionError("MAIL: %d %r" % (code, text))
        code, text = s.rcpt(rcpt)
        if code != 250:
            raise AssertionError("RCPT: %d %r" % (code, text))
        # smtplib dot-stuffs, but sends bytes as given: give CRLF
        code, text = s.data(body.replace(b"\n", b"\r\n"))
        if code != 250:
            raise AssertionError("DATA: %d %r" % (code, text))
    return re.search(rb"queued as ([0-9a-f]{16})", text).group(1).decode()


class LocalLongLineTest(td.DeliveryCase):
    """No smtp_line_length_limit (the default): into the Maildir intact."""

    def check_stored(self, data, sender, qid, body):
        rp, dt, received, rest = self.trace(data)
        self.assertEqual(rp, b"Return-Path: <%s>" % sender.encode())
        self.assertEqual(dt, b"Delivered-To: alice@example.test")
        self.assertIn(qid.encode(), received)
        self.assertNotIn(b"\r", data)
        self.assertEqual(rest, body)

    def test_smtp_long_lines_byte_exact(self):
        # Why: 2,000- and 100,000-octet lines (and a long header field)
        # are accepted by kurir-smtpd, streamed through kurir-queue and
        # written by kurir-local exactly as sent.
        for i, n in enumerate((2000, 100000)):
            body = message(n).replace(
                b"Subject:", b"X-Long: " + long_line(n)[1:] + b"\nSubject:")
            qid = smtp_send(self.host.smtp_port, "bob@example.test",
                            "alice@example.test", body)
            got = self.wait_mails("alice", i + 1, timeout=30)
            data, = [m for m in got if qid.encode() in m]
            self.check_stored(data, "bob@example.test", qid, body)
        self.assertQueueEmpty()

    def test_sendmail_long_lines_byte_exact(self):
        # Why: kurir-sendmail reads lines of any length, ended by LF or
        # CRLF (SPEC), and they reach the Maildir byte-exact.
        bodies = [message(2000), message(100000).replace(b"\n", b"\r\n")]
        for i, body in enumerate(bodies):
            qid = self.inject(["-i", "-f", "bob@example.test",
                                "alice@example.test"], body)
            got = self.wait_mails("alice", i + 1, timeout=30)
            data, = [m for m in got if qid.encode() in m]
            self.check_stored(data, "bob@example.test", qid,
                              body.replace(b"\r\n", b"\n"))
        self.assertQueueEmpty()


class LimitTest(td.DeliveryCase):
    """smtp_line_length_limit = 998: SMTP refuses longer lines."""
    host_extra = {"smtp_line_length_limit": "998"}

    def test_smtp_refused_sendmail_taken(self):
        # Why: with the limit set, a longer line over SMTP gets 550
        # 5.6.0 at the end of DATA and nothing is queued; a 998-octet
        # line still passes; the limit is the SMTP receiver's (a local
        # program's mail is taken whole, as Postfix's sendmail does).
        with smtplib.SMTP("127.0.0.1", self.host.smtp_port, timeout=30) as s:
            s.ehlo("client.example.test")
            self.assertEqual(s.mail("bob@example.test")[0], 250)
            self.assertEqual(s.rcpt("alice@example.test")[0], 250)
            code, text = s.data(message(2000).replace(b"\n", b"\r\n"))
            self.assertEqual(code, 550, text)
            self.assertTrue(text.startswith(
                b"5.6.0 Error: text line longer than 998 octets"), text)
            s.rset()
            # the session goes on; 998 octets are within the limit
            self.assertEqual(s.mail("bob@example.test")[0], 250)
            self.assertEqual(s.rcpt("alice@example.test")[0], 250)
            code, text = s.data(message(MAX).replace(b"\n", b"\r\n"))
            self.assertEqual(code, 250, text)
        self.wait_mails("alice", 1)
        qid = self.inject(["-i", "-f", "bob@example.test",
                           "alice@example.test"], message(2000))
        got = self.wait_mails("alice", 2, timeout=30)
        data, = [m for m in got if qid.encode() in m]
        self.assertEqual(self.trace(data)[3], message(2000))


@unittest.skipIf(tr.REMOTE_WHY, tr.REMOTE_WHY)
class RemoteFoldTest(tr.RemoteCase):
    """kurir-remote folds lines over 998 octets."""
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def wire_lines(self, env):
        data = env.data
        self.assertTrue(data.endswith(b"\r\n"))
        lines = data[:-2].split(b"\r\n")
        for line in lines:
            self.assertNotIn(b"\n", line)
            self.assertNotIn(b"\r", line)
            self.assertLessEqual(len(line), MAX, line[:60])
        return lines

    def test_folded_on_the_wire(self):
        # Why: RFC 5321 4.5.3.1.6 allows 998 octets plus CRLF on the
        # wire, and the server here refuses more (500, as aiosmtpd and
        # many real servers do).  A header field of words is folded at
        # blanks (unfolding gives it back exactly), a field without a
        # blank is cut with CRLF SP, body lines are cut every 998 octets
        # (a dot that lands at a line start is stuffed and arrives).
        d = self.dest()
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        words = b" ".join([b"word%04d" % i for i in range(400)])  # 3599
        token = long_line(1500)[1:]
        sent = []
        for n in (2000, 100000):
            body = message(n, "bob@example.test").replace(
                b"Subject:", b"X-Words: " + words + b"\nX-Token:" + token +
                b"\nSubject:")
            sent.append((smtp_send(self.host.smtp_port, "bob@example.test",
                                   "x@remote.test", body), n, body))
        envs = d.wait_for_messages(2, 60)
        for qid, n, body in sent:
            env, = [e for e in envs if qid.encode() in e.data]
            lines = self.wire_lines(env)
            _, rest = split_received(b"\n".join(lines) + b"\n")
            head, _, tail = rest.partition(b"\n\n")
            # header: X-Words unfolds to itself; X-Token gained one SP
            # after each cut
            want_head, _, want_tail = body.partition(b"\n\n")
            unfolded = re.sub(rb"\n(?=[ \t])", b"", head)
            self.assertEqual(unfolded.replace(b"X-Token:" + token[:990] +
                                              b" ", b"X-Token:" +
                                              token[:990]),
                             want_head)
            self.assertIn(b"\nX-Token:" + token[:990] + b"\n " +
                          token[990:] + b"\n", b"\n" + head + b"\n")
            # each X-Words line ends at the last blank that fits, or one
            # word earlier when the limit falls on a blank (so that no
            # continuation is that blank alone)
            for line in head.split(b"\n"):
                if line.startswith(b"X-Words:") or line.startswith(b" word"):
                    if len(line) < 900:
                        continue
                    self.assertGreaterEqual(len(line) + len(b" word0000"),
                                            MAX)
            # body: the long line in pieces of 998, nothing else changed
            line = long_line(n)
            pieces = [line[i:i + MAX] for i in range(0, n, MAX)]
            self.assertEqual(tail, b"before\n" + b"\n".join(pieces) +
                             b"\nafter\n")
            self.assertTrue(pieces[1].startswith(b"."))
            self.wait_gone(qid, 30)
        self.assertIn("line ends inserted to keep lines within 998 octets",
                      self.host.log())


if __name__ == "__main__":
    unittest.main()
