"""kurir-smtpd limits and bad input, end to end.

Each limit of SPEC.md and issue 3 with a small configured value (and the
default where cheap): command line 512 octets, NUL and bare CR in
commands, text lines (any length by default; smtp_line_length_limit
998 refuses longer), message_size_limit (SIZE= early,
oversize DATA/BDAT after reading to the end, session usable after),
smtp_max_recipients, smtp_max_errors, smtp_command_timeout,
smtp_data_timeout, smtp_max_sessions, smtp_max_sessions_per_ip, talking
before the greeting, and a client that never reads its replies.
"""
import os
import socket
import time
import unittest

from kurirtest import SMTPClient, SMTPHostCase, to_wire, wait_for


def begin_data(c, rcpt="alice@example.test"):
    c.expect("MAIL FROM:<s@remote.test>", 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    c.expect("DATA", 354)


class CommandLineTest(SMTPHostCase):
    host_users = {"alice": "pw"}

    def test_line_too_long(self):
        c = self.client()
        c.ehlo()
        r = c.cmd("NOOP " + "x" * 600)
        self.assertReply(r, 500)
        self.assertEqual(r.lines[0], "5.5.2 Error: line too long")
        self.assertFalse(c.pending(0.3), "more than one reply")
        # the session goes on
        self.assertReply(c.cmd("NOOP"), 250)

    def test_line_limit_boundary(self):
        c = self.client()
        c.ehlo()
        line = "NOOP " + "x" * 505          # 510 + CRLF = 512 octets
        self.assertEqual(len(line) + 2, 512)
        r = c.cmd(line)
        self.assertNotIn("too long", r.text)
        r = c.cmd("NOOP " + "x" * 506)      # 513 octets
        self.assertReply(r, 500, "5.5.2 Error: line too long")
        # a full-length RCPT line within the limit is parsed
        local = "a" * 64
        r = c.cmd("MAIL FROM:<%s@%s>" % (local, "b" * 60 + ".remote.test"))
        self.assertReply(r, 250)

    def test_huge_line_without_newline(self):
        c = self.client()
        c.ehlo()
        c.send(b"X" * 300000)
        c.send(b"\r\n")
        r = c.reply()
        self.assertReply(r, 500, "5.5.2 Error: line too long")
        self.assertReply(c.cmd("NOOP"), 250)
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                 b"Subject: after\r\n\r\nx\r\n")
        self.assertEqual(self.host.entry(qid)["sender"], "s@remote.test")

    def test_long_line_then_pipelined_commands(self):
        c = self.client()
        c.ehlo()
        c.send(b"NOOP " + b"y" * 2000 + b"\r\nRSET\r\nNOOP\r\n")
        self.assertReply(c.reply(), 500, "5.5.2 Error: line too long")
        self.assertReply(c.reply(), 250)
        self.assertReply(c.reply(), 250)
        self.assertFalse(c.pending(0.3))

    def test_nul_and_bare_cr_in_command(self):
        c = self.client()
        c.ehlo()
        for line in (b"NO\x00OP\r\n", b"NOOP\x00\r\n", b"NO\rOP\r\n",
                     b"MAIL FROM:<a@b.test>\r\r\n", b"\rNOOP\r\n"):
            c.send(line)
            r = c.reply()
            self.assertEqual(r.code, 500, (line, r))
        self.assertReply(c.cmd("NOOP"), 250)

    def test_lf_only_command_line(self):
        # a bare LF ending a command is tolerated or refused, never a hang
        c = self.client()
        c.send(b"NOOP\n")
        r = c.reply()
        self.assertIn(r.code, (250, 500), r)


class TextLineDefaultTest(SMTPHostCase):
    """No smtp_line_length_limit: lines of any length are taken."""
    host_users = {"alice": "pw"}

    def test_long_lines_accepted(self):
        c = self.client()
        c.ehlo()
        for line in (b"x" * 999, b"Subject: " + b"y" * 990, b"z" * 50000):
            body = b"Subject: long\r\n\r\n" + line + b"\r\nmore\r\n"
            qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                     body)
            self.assertEqual(self.stored(qid)[1], b"Subject: long\n\n" +
                             line + b"\nmore\n")


class TextLineTest(SMTPHostCase):
    """smtp_line_length_limit = 998: RFC 5321's 1000 octets with CRLF."""
    host_users = {"alice": "pw"}
    host_extra = {"smtp_line_length_limit": "998"}

    def test_1000_octets_accepted(self):
        c = self.client()
        c.ehlo()
        line = b"x" * 998
        body = b"Subject: long\r\n\r\n" + line + b"\r\n"
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"], body)
        self.assertEqual(self.stored(qid)[1], b"Subject: long\n\n" + line + b"\n")

    def test_1000_octets_with_stuffed_dot(self):
        c = self.client()
        c.ehlo()
        wire = b"." + b"." + b"x" * 996 + b"\r\n"   # 1000 octets on the wire
        self.assertEqual(len(wire), 1000)
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                 b"Subject: d\r\n\r\n" + wire)
        self.assertEqual(self.stored(qid)[1],
                         b"Subject: d\n\n." + b"x" * 996 + b"\n")

    def test_1001_octets_refused(self):
        c = self.client()
        c.ehlo()
        for line in (b"x" * 999, b"Subject: " + b"y" * 990, b"z" * 50000):
            begin_data(c)
            c.send(b"Subject: long\r\n\r\n" + line + b"\r\nmore\r\n.\r\n")
            self.assertReply(c.reply(), 550, "5.6.0 Error: text line longer "
                             "than 998 octets plus CRLF")
        self.assertQueueEmpty()
        # the session stays usable
        c.mail_transaction("s@remote.test", ["alice@example.test"],
                           b"Subject: short\r\n\r\nx\r\n")


class SizeTest(SMTPHostCase):
    host_users = {"alice": "pw"}
    host_extra = {"message_size_limit": "10k"}
    LIMIT = 10240

    def test_size_announced_and_checked(self):
        c = self.client()
        r = c.ehlo()
        self.assertIn("SIZE %d" % self.LIMIT, r.lines)
        self.assertReply(c.cmd("MAIL FROM:<s@remote.test> SIZE=%d" %
                               self.LIMIT), 250)
        c.expect("RSET", 250)
        r = c.cmd("MAIL FROM:<s@remote.test> SIZE=%d" % (self.LIMIT + 1))
        self.assertReply(r, 552, "5.3.4")
        r = c.cmd("MAIL FROM:<s@remote.test> SIZE=99999999999999999999999")
        self.assertEqual(r.code // 100, 5, r)
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 503)

    def oversize(self, c, nbytes):
        begin_data(c)
        line = b"o" * 78 + b"\r\n"
        data = b"Subject: big\r\n\r\n" + line * (nbytes // len(line) + 1)
        c.send(data)
        # the reply comes only after the end of the data
        self.assertFalse(c.pending(0.5), "reply before the end of the data")
        c.send(b".\r\n")
        r = c.reply()
        self.assertReply(r, 552, "5.3.4")

    def test_oversize_data(self):
        c = self.client()
        c.ehlo()
        self.oversize(c, self.LIMIT + 100)
        self.assertQueueEmpty()
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"],
                                 b"Subject: next\r\n\r\nsmall\r\n")
        self.assertEqual(len(self.host.queue()), 1)
        self.assertEqual(self.stored(qid)[1], b"Subject: next\n\nsmall\n")

    def test_much_too_big(self):
        c = self.client(timeout=30)
        c.ehlo()
        self.oversize(c, 3 * 1024 * 1024)
        self.assertQueueEmpty()
        self.assertReply(c.cmd("NOOP"), 250)

    def test_at_the_limit_accepted(self):
        # self.LIMIT octets counted with CRLF (RFC 1870): within the limit
        c = self.client()
        c.ehlo()
        head = b"Subject: fits\r\n\r\n"
        line = b"f" * 98 + b"\r\n"
        n = (self.LIMIT - len(head)) // len(line)
        pad = self.LIMIT - len(head) - n * len(line)
        body = head + line * n + (b"p" * (pad - 2) + b"\r\n" if pad >= 2 else b"")
        self.assertLessEqual(len(body), self.LIMIT)
        self.assertGreater(len(body), self.LIMIT - 2)
        qid = c.mail_transaction("s@remote.test", ["alice@example.test"], body)
        self.assertEqual(self.stored(qid)[1], body.replace(b"\r\n", b"\n"))

    def test_oversize_bdat(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        chunk = (b"b" * 98 + b"\r\n") * 60             # 6000 octets
        replies = []
        for last in (False, False, True):
            c.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"")
                   + chunk)
            replies.append(c.reply())
        for r in replies[:-1]:
            self.assertIn(r.code, (250, 552), replies)
        self.assertReply(replies[-1], 552, "5.3.4")
        self.assertQueueEmpty()
        c.expect("RSET", 250)
        c.mail_transaction("s@remote.test", ["alice@example.test"],
                           b"Subject: next\r\n\r\nx\r\n")


class RecipientLimitTest(SMTPHostCase):
    host_users = {"alice": "pw"}
    host_extra = {"smtp_max_recipients": "3"}

    def test_max_recipients(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        for i in range(3):
            c.expect("RCPT TO:<r%d@remote.test>" % i, 250)
        r = c.cmd("RCPT TO:<r3@remote.test>")
        self.assertReply(r, 452, "4.5.3")
        self.assertReply(c.cmd("RCPT TO:<alice@example.test>"), 452)
        c.expect("DATA", 354)
        c.send(b"Subject: three\r\n\r\nx\r\n.\r\n")
        r = c.reply()
        self.assertReply(r, 250)
        e = self.host.entry(r.lines[0].split()[-1])
        self.assertEqual([x["address"] for x in e["recipients"]],
                         ["r0@remote.test", "r1@remote.test", "r2@remote.test"])
        # the next transaction may have three again
        c.expect("MAIL FROM:<s@remote.test>", 250)
        for i in range(3):
            c.expect("RCPT TO:<r%d@remote.test>" % i, 250)


class DefaultRecipientLimitTest(SMTPHostCase):
    def test_default_100(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.send(b"".join(b"RCPT TO:<r%d@remote.test>\r\n" % i
                        for i in range(101)))
        codes = [c.reply().code for _ in range(101)]
        self.assertEqual(codes, [250] * 100 + [452])


class ErrorLimitTest(SMTPHostCase):
    host_extra = {"smtp_max_errors": "5"}

    def test_too_many_errors(self):
        c = self.client()
        c.ehlo()
        replies = []
        for i in range(7):
            c.send(b"BOGUS%d\r\n" % i)
            replies.append(c.reply())
            # the 421 follows the last error reply at once
            if c.pending(0.2):
                try:
                    replies.append(c.reply())
                except EOFError:
                    break
            if replies[-1].code == 421:
                break
        codes = [r.code for r in replies]
        self.assertIn(421, codes, replies)
        self.assertIn(codes.index(421), (4, 5), replies)
        r = replies[codes.index(421)]
        self.assertTrue(r.lines[0].startswith("4.7.0"), r)
        self.assertIn("too many errors", r.text)
        self.assertTrue(c.closed(5), "not closed after 421")

    def test_errors_in_one_write(self):
        c = self.client()
        c.send(b"BAD\r\n" * 50)
        codes = []
        while True:
            try:
                codes.append(c.reply().code)
            except EOFError:
                break
            self.assertLess(len(codes), 20)
        self.assertEqual(codes[-1], 421)
        self.assertLessEqual(len(codes), 6)

    def test_good_commands_do_not_count(self):
        c = self.client()
        c.ehlo()
        for _ in range(30):
            self.assertReply(c.cmd("NOOP"), 250)
        for _ in range(3):
            self.assertReply(c.cmd("BOGUS"), 500)
        self.assertReply(c.cmd("NOOP"), 250)


class DefaultErrorLimitTest(SMTPHostCase):
    def test_default_20(self):
        c = self.client()
        c.send(b"BAD\r\n" * 30)
        codes = []
        while True:
            try:
                codes.append(c.reply().code)
            except EOFError:
                break
            self.assertLess(len(codes), 40)
        self.assertEqual(codes[-1], 421, codes)
        self.assertIn(len(codes), (20, 21), codes)


class TimeoutTest(SMTPHostCase):
    host_users = {"alice": "pw"}
    host_extra = {"smtp_command_timeout": "2s", "smtp_data_timeout": "4s"}

    def test_command_timeout(self):
        c = self.client()
        c.ehlo()
        t = time.monotonic()
        c.sock.settimeout(10)
        r = c.reply()
        took = time.monotonic() - t
        self.assertReply(r, 421, "4.4.2")
        self.assertIn("timeout exceeded", r.text)
        self.assertGreater(took, 1.5)
        self.assertLess(took, 6)
        self.assertTrue(c.closed(5))

    def test_partial_command_times_out(self):
        c = self.client()
        c.send(b"EHLO half-a-li")
        r = c.reply()
        self.assertReply(r, 421, "4.4.2")
        self.assertTrue(c.closed(5))

    def test_activity_keeps_session(self):
        c = self.client()
        c.ehlo()
        for _ in range(4):
            time.sleep(1)
            self.assertReply(c.cmd("NOOP"), 250)

    def test_data_timeout(self):
        c = self.client()
        c.ehlo()
        begin_data(c)
        c.send(b"Subject: slow\r\n\r\nsome text\r\n")
        t = time.monotonic()
        # the data timeout (4 s), not the command timeout (2 s)
        self.assertFalse(c.pending(2.8), "DATA used the command timeout")
        r = c.reply()
        took = time.monotonic() - t
        self.assertReply(r, 421, "4.4.2")
        self.assertIn("timeout exceeded", r.text)
        self.assertLess(took, 9)
        self.assertTrue(c.closed(5))
        self.assertQueueEmpty()

    def test_slow_data_within_timeout(self):
        # pauses shorter than the data timeout; the whole text within it
        # too, since a few octets buy little time (smtp_min_data_rate:
        # a longer trickle is dropped, see test_deadlines.py)
        c = self.client()
        c.ehlo()
        begin_data(c)
        for i in range(3):
            c.send(b"line %d\r\n" % i)
            time.sleep(1.0)
        c.send(b".\r\n")
        self.assertReply(c.reply(), 250)

    def test_bdat_timeout(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.send(b"BDAT 100 LAST\r\nonly a part")
        r = c.reply()
        self.assertReply(r, 421, "4.4.2")
        self.assertQueueEmpty()


class SessionLimitTest(SMTPHostCase):
    host_extra = {"smtp_max_sessions": "3"}

    def test_max_sessions(self):
        cs = [self.client() for _ in range(3)]
        for c in cs:
            self.assertReply(c.greeting, 220)
        extra = self.client(greet=False)
        r = extra.reply()
        self.assertReply(r, 421, "4.7.0")
        self.assertIn("Too many connections", r.text)
        self.assertTrue(extra.closed(5))
        # the three still work
        for c in cs:
            self.assertReply(c.cmd("NOOP"), 250)
        # one leaves: a new session is taken again
        cs[0].cmd("QUIT")
        cs[0].close()

        def fresh():
            with SMTPClient(self.host.smtp_port) as c:
                return c.greeting.code == 220
        wait_for(fresh, 5, "a free session slot")


class PerIPLimitTest(SMTPHostCase):
    host_extra = {"smtp_max_sessions_per_ip": "2"}

    def test_per_ip(self):
        cs = [self.client() for _ in range(2)]
        extra = self.client(greet=False)
        r = extra.reply()
        self.assertReply(r, 421, "4.7.0")
        self.assertIn("Too many connections", r.text)
        self.assertTrue(extra.closed(5))
        # another address is not affected
        try:
            other = self.client(source="127.0.0.2")
        except OSError as e:
            self.skipTest("cannot bind 127.0.0.2: %s" % e)
        self.assertReply(other.greeting, 220)
        for c in cs + [other]:
            self.assertReply(c.cmd("NOOP"), 250)


class GreetPauseTest(SMTPHostCase):
    host_extra = {"relay_clients": "192.0.2.0/24"}

    def test_talker_before_greeting(self):
        c = self.client(greet=False)
        c.send(b"EHLO hasty.example.test\r\n")
        r = c.reply()
        self.assertReply(r, 554, "5.5.0")
        self.assertIn("command sent before greeting", r.text)
        self.assertTrue(c.closed(5))
        self.assertNotIn(b"220 ", c.buf)

    def test_pipelined_session_before_greeting(self):
        c = self.client(greet=False)
        c.send(b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:"
               b"<postmaster@example.test>\r\nDATA\r\nspam\r\n.\r\nQUIT\r\n")
        r = c.reply()
        self.assertEqual(r.code, 554, r)
        self.assertTrue(c.closed(5))
        self.assertQueueEmpty()

    def test_polite_client_waits(self):
        t = time.monotonic()
        c = self.client()
        took = time.monotonic() - t
        self.assertReply(c.greeting, 220)
        self.assertGreater(took, 0.8)
        self.assertLess(took, 5)
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<postmaster@example.test>", 250)


class UnreadRepliesTest(SMTPHostCase):
    """A client that pipelines forever and never reads: kurir-smtpd must
    stop reading (or drop it) instead of buffering without bound."""

    def rss_kb(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def test_bounded_memory(self):
        pids = self.host.pids_of("kurir-smtpd")
        self.assertEqual(len(pids), 1, pids)
        before = self.rss_kb(pids[0])
        s = socket.create_connection(("127.0.0.1", self.host.smtp_port),
                                     timeout=10)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(3)
        block = b"NOOP\r\n" * 10000
        sent = 0
        deadline = time.monotonic() + 30
        try:
            while sent < 100 * 1024 * 1024 and time.monotonic() < deadline:
                s.sendall(block)
                sent += len(block)
        except (socket.timeout, OSError):
            pass
        grown = self.rss_kb(pids[0]) - before
        self.assertLess(grown, 64 * 1024,
                        "kurir-smtpd grew %d kB after %d bytes unread"
                        % (grown, sent))
        # the host still serves others
        c = self.client()
        self.assertReply(c.cmd("NOOP"), 250)


if __name__ == "__main__":
    unittest.main()
