"""SMTP smuggling through kurir (issue 13, part 3), on the wire.

Inbound SMTP refuses bare CR and LF, but kurir-sendmail takes a CR
that no LF follows as data (SPEC), so cron output or a PHP form could
queue "line1<CR>.<CR><LF>MAIL FROM:<ceo@bank.example>".  kurir-remote
once sent that as it was, and a next hop that takes a bare CR as a line
end read the dot as the end of DATA and the rest as a second
transaction.  Now every line leaves as text plus CRLF: a lone CR is a
line end, so the dot after it starts a line and is stuffed.

The tests inject exactly the reproduction with kurir-sendmail and look
at the bytes a recording server got (smtpdest.ScriptedServer keeps
every byte), then read them as the most lenient server would (CR, LF
and CRLF all line ends): one transaction, MAIL FROM still body text.
A bounce that quotes such a message's header leaves as clean CRLF too.
"""
import re
import unittest

import test_remote as tr
from kurirtest import split_received

REPRO = (b"Subject: s\n\nline1\r.\r\n"
         b"MAIL FROM:<ceo@bank.example>\r\n")


def lenient_lines(data):
    """data split as a server that takes CR, LF and CRLF as line ends."""
    return re.split(rb"\r\n|\r|\n", data)


def recording_script():
    """One transaction, accepted; then QUIT.  A smuggled second MAIL
    would not match the "expect QUIT" step (a mismatch is recorded)."""
    return [("send", b"220 mx.remote.test ESMTP\r\n"),
            ("expect", b"EHLO"),
            ("send", b"250-mx.remote.test\r\n250 8BITMIME\r\n"),
            ("expect", b"MAIL FROM:"),
            ("send", b"250 2.1.0 ok\r\n"),
            ("expect", b"RCPT TO:"),
            ("send", b"250 2.1.5 ok\r\n"),
            ("expect", b"DATA"),
            ("send", b"354 go ahead\r\n"),
            ("data",),
            ("send", b"250 2.0.0 queued\r\n"),
            ("expect", b"QUIT"),
            ("send", b"221 2.0.0 bye\r\n")]


@unittest.skipIf(tr.REMOTE_WHY, tr.REMOTE_WHY)
class SmuggleTest(tr.RemoteCase):
    base_extra = {"retry_min": "1s", "retry_max": "2s"}

    def assertCleanCRLF(self, data):
        for i, c in enumerate(data):
            if c == 0x0D:
                self.assertEqual(data[i + 1:i + 2], b"\n",
                                 "bare CR at %d: %r" % (i, data[i - 20:i + 20]))
            elif c == 0x0A:
                self.assertEqual(data[i - 1:i], b"\r",
                                 "bare LF at %d: %r" % (i, data[i - 20:i + 20]))

    def test_sendmail_bare_cr_dot_not_smuggled(self):
        # Why: the reproduction of issue 13 section 3, exactly: on the
        # wire no CR without LF and no LF without CR, the dot after the
        # CR stuffed ("..") on a line of its own, MAIL FROM:<ceo@...> a
        # body line, and one transaction even for a server that takes
        # any CR or LF as a line end.
        raw = self.scripted(recording_script(), time_limit=40)
        self.start_host("remote.test [127.0.0.1]:%d\n" % raw.port)
        qid = self.inject(["v@remote.test"], REPRO)
        self.wait_gone(qid, 30)
        raw.wait_done(20)
        c, = raw.connections()
        self.assertIsNone(c.mismatch, c)
        self.assertTrue(c.finished, c)
        wire = c.received
        self.assertCleanCRLF(wire)
        head, sep, rest = wire.partition(b"DATA\r\n")
        self.assertTrue(sep, wire)
        body, sep, after = rest.partition(b"\r\n.\r\n")
        self.assertTrue(sep, rest)
        self.assertEqual(after, b"QUIT\r\n")
        self.assertTrue(body.endswith(
            b"\r\n\r\nline1\r\n..\r\nMAIL FROM:<ceo@bank.example>"), body)
        # one MAIL FROM command, before DATA; the other is body text
        self.assertEqual(head.count(b"MAIL FROM:"), 1)
        self.assertNotIn(b"ceo@bank.example", head)
        # as a lenient server reads it: the first "." line ends DATA,
        # and after it comes QUIT, no second transaction
        lines = lenient_lines(wire[len(head) + len(b"DATA\r\n"):])
        self.assertEqual(lines[lines.index(b".") + 1:], [b"QUIT", b""])
        self.assertIn("1 CR sent as line ends", self.host.log())

    def test_cr_variants_clean(self):
        # Why: every way a CR can sit in sendmail input (alone, before a
        # dot, before CRLF, at the very end, in a header field) reaches
        # the next hop as CRLF line ends, the text kept; a CR right
        # before a line end is part of it ("end\r\r\n" is stored as
        # "end\r\n", one line end); the server (aiosmtpd) gets one
        # message.
        d = self.dest(name="mx.remote.test")
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        msg = (b"Subject: a\rX-Two: b\n\n"
               b"mac\rline\rend\r\r\n"
               b".\r.\n"
               b"last\r")
        qid = self.inject(["-f", "alice@example.test", "v@remote.test"], msg)
        env, = d.wait_for_messages(1, 30)
        self.assertCleanCRLF(env.data)
        _, rest = split_received(env.data.replace(b"\r\n", b"\n"))
        head, _, body = rest.partition(b"\n\n")
        # kurir-sendmail adds From, Date, Message-ID after the fields
        self.assertTrue(head.startswith(b"Subject: a\nX-Two: b\n"), head)
        self.assertEqual(body, b"mac\nline\nend\n.\n.\nlast\n")
        self.wait_gone(qid, 30)

    def test_bounce_quoting_it_clean(self):
        # Why: a bounce quotes the original header byte for byte
        # (dsn.c); when it goes to a remote sender it leaves through
        # kurir-remote like any message, so a CR in that header reaches
        # the sender's server as a line end, never bare.
        d = self.dest(name="mx.remote.test",
                      replies={"rej@remote.test": "550 5.1.1 no such user"})
        self.start_host("remote.test [127.0.0.1]:%d\n" % d.port)
        msg = b"Subject: s\r.\r\nX-After: y\n\nline1\r.\r\nbody\n"
        qid = self.inject(["-f", "bob@remote.test", "rej@remote.test"], msg)
        env, = d.wait_for_messages(1, 30)
        self.assertEqual(env.mail_from, "")
        self.assertEqual(env.rcpt_tos, ["bob@remote.test"])
        self.assertCleanCRLF(env.data)
        self.assertIn(b"\r\nSubject: s\r\n.\r\nX-After: y\r\n", env.data)
        self.wait_gone(qid, 30)


if __name__ == "__main__":
    unittest.main()
