"""Deadlines per command, not per read (issue 12), end to end: kurir-smtpd.

A client that sends a byte now and then must not hold a session: a
command must be complete smtp_command_timeout after the previous reply
(or the greeting), however it trickles in, and message text must keep
coming at smtp_min_data_rate, with smtp_data_timeout of slack.  A client
sending at a good rate is never cut off, however long it takes.  The
POP3 side is in test_pop3.py (IdleTimeoutTest).

Timings are loose on purpose (a slow 2-core machine): a trickler must be
dropped no sooner than 0.8 T and well before it would have been if each
read re-armed the clock (it never would be), and every wait is bounded.
"""
import socket
import select
import time
import unittest

from kurirtest import SMTPHostCase
from test_smtp_limits import begin_data

T_CMD = 2.0         # smtp_command_timeout in these tests
T_DATA = 3.0        # smtp_data_timeout


def trickle(c, data, interval=0.4, limit=None):
    """Send data a byte every interval seconds (cycling through it) until
    the server answers or closes, or limit seconds pass.  Returns the
    seconds it took for the server to speak (None: it never did)."""
    limit = limit or 4 * max(T_CMD, T_DATA)
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < limit:
        r, _, _ = select.select([c.sock], [], [], interval)
        if r:
            return time.monotonic() - start
        try:
            c.sock.sendall(data[i % len(data):i % len(data) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
        i += 1
    return None


def paced(c, data, chunk=65536, interval=0.1):
    """Send data in chunks every interval seconds (a client on a link of
    chunk/interval bytes a second); the seconds it took."""
    start = time.monotonic()
    for off in range(0, len(data), chunk):
        c.sock.sendall(data[off:off + chunk])
        time.sleep(interval)
    return time.monotonic() - start


class _DeadlineCase(SMTPHostCase):
    host_users = {"alice": "pw"}
    host_extra = {"smtp_command_timeout": "%ds" % T_CMD,
                  "smtp_data_timeout": "%ds" % T_DATA,
                  "message_size_limit": "20m"}

    def assertDropped(self, c, took, t, what):
        """A 421 4.4.2 timeout after about t seconds, then EOF."""
        self.assertIsNotNone(took, "%s: still open after %.0f s" %
                             (what, 4 * max(T_CMD, T_DATA)))
        self.assertGreaterEqual(took, 0.8 * t, "%s: dropped too soon" % what)
        self.assertLess(took, 3 * t, "%s: dropped too late" % what)
        c.sock.settimeout(10)
        r = c.reply()
        self.assertReply(r, 421, "4.4.2")
        self.assertIn("timeout exceeded", r.text)
        self.assertTrue(c.closed(5))


class CommandDeadlineTest(_DeadlineCase):
    def test_trickled_command(self):
        c = self.client()
        c.ehlo()
        took = trickle(c, b"MAIL FROM:<s@remote.test> ")
        self.assertDropped(c, took, T_CMD, "trickled MAIL")

    def test_trickled_first_command(self):
        # from the greeting the client has T_CMD for its first command
        c = self.client()
        took = trickle(c, b"EHLO client.example.test ")
        self.assertDropped(c, took, T_CMD, "trickled EHLO")

    def test_trickle_after_pipelined_commands(self):
        # the last whole line starts the clock; a partial one never moves it
        c = self.client()
        c.send(b"EHLO a.test\r\nNOOP\r\nNOOP\r\nRSET\r\nNO")
        for code in (250, 250, 250, 250):
            self.assertReply(c.reply(), code)
        took = trickle(c, b"OP NOOP NOOP ")
        self.assertDropped(c, took, T_CMD, "trickle after pipelining")

    def test_trickled_auth_continuation(self):
        c = self.client()
        c.ehlo()
        self.assertReply(c.cmd("AUTH PLAIN"), 334)
        took = trickle(c, b"AGFsaWNlAHB3")
        self.assertDropped(c, took, T_CMD, "trickled AUTH response")

    def test_commands_keep_session(self):
        # each whole command restarts the clock: 3 T_CMD of NOOPs is fine
        c = self.client()
        c.ehlo()
        end = time.monotonic() + 3 * T_CMD
        while time.monotonic() < end:
            time.sleep(T_CMD / 2)
            self.assertReply(c.cmd("NOOP"), 250)

    def test_wait_for_auth_not_counted(self):
        # kurir-auth holds failures back 1 s, 2 s, 3 s: that wait is ours,
        # so the client's clock (T_CMD) stops meanwhile
        c = self.client(timeout=20)
        c.ehlo()
        t = time.monotonic()
        for _ in range(3):
            self.assertReply(c.cmd("AUTH PLAIN AGFsaWNlAHdyb25n"), 535)
        self.assertGreater(time.monotonic() - t, T_CMD)
        time.sleep(T_CMD / 2)
        self.assertReply(c.cmd("NOOP"), 250)


class DataDeadlineTest(_DeadlineCase):
    def test_trickled_line(self):
        c = self.client()
        c.ehlo()
        begin_data(c)
        took = trickle(c, b"x", interval=0.3)
        self.assertDropped(c, took, T_DATA, "one endless line")
        self.assertQueueEmpty()

    def test_trickled_short_lines(self):
        # every line is complete and no pause is long: the rate is too low
        c = self.client()
        c.ehlo()
        begin_data(c)
        c.send(b"Subject: drip\r\n\r\n")
        took = trickle(c, b"a\r\n", interval=0.3)
        self.assertDropped(c, took, T_DATA, "short lines")
        self.assertQueueEmpty()

    def test_trickled_bdat(self):
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        c.send(b"BDAT 100000 LAST\r\n")
        took = trickle(c, b"y\r\n", interval=0.3)
        self.assertDropped(c, took, T_DATA, "trickled BDAT")
        self.assertQueueEmpty()

    def test_tiny_bdat_chunks(self):
        # the chunks of one message share its deadline: a chunk of one
        # octet now and then does not make a message last for ever
        c = self.client()
        c.ehlo()
        c.expect("MAIL FROM:<s@remote.test>", 250)
        c.expect("RCPT TO:<alice@example.test>", 250)
        start = time.monotonic()
        r = None
        while time.monotonic() - start < 4 * T_DATA:
            c.send(b"BDAT 1\r\nz")
            r = c.reply()
            if r.code != 250:
                break
            time.sleep(0.3)
        took = time.monotonic() - start
        self.assertReply(r, 421, "4.4.2")
        self.assertGreaterEqual(took, 0.8 * T_DATA)
        self.assertLess(took, 3 * T_DATA)
        self.assertTrue(c.closed(5))
        self.assertQueueEmpty()

    def test_fast_big_body(self):
        # about 4 MB at 640 KB/s: more than twice T_DATA in DATA, never idle
        c = self.client(timeout=30)
        c.ehlo()
        begin_data(c)
        line = b"0123456789" * 9 + b"abcdefg\r\n"     # 99 octets
        body = b"Subject: big\r\n\r\n" + line * 42000
        took = paced(c, body)
        self.assertGreater(took, 2 * T_DATA)
        c.send(b".\r\n")
        self.assertReply(c.reply(), 250, "2.0.0 Ok: queued as")
        self.assertEqual(len(self.host.queue()), 1)

    def test_fast_long_line(self):
        # one 2 MB line, sent at a good rate for longer than T_DATA: the
        # line's length may refuse it (550 5.6.0) but time never does
        c = self.client(timeout=30)
        c.ehlo()
        begin_data(c)
        body = b"Subject: long\r\n\r\n" + b"L" * (2 << 20) + b"\r\n"
        took = paced(c, body, chunk=32768)
        self.assertGreater(took, T_DATA)
        c.send(b".\r\n")
        r = c.reply()
        self.assertIn(r.code, (250, 550), r)
        self.assertReply(c.cmd("NOOP"), 250)

    def test_pause_within_timeout(self):
        # a pause shorter than T_DATA in the middle of the text is fine
        c = self.client()
        c.ehlo()
        begin_data(c)
        c.send(b"Subject: pause\r\n\r\nfirst\r\n")
        time.sleep(T_DATA / 2)
        c.send(b"second\r\n")
        time.sleep(T_DATA / 3)
        c.send(b".\r\n")
        self.assertReply(c.reply(), 250)


class MinDataRateTest(_DeadlineCase):
    # 1 KB/s is a good rate by default (500) but a trickle at 100 KB/s
    host_extra = dict(_DeadlineCase.host_extra,
                      smtp_min_data_rate="100000")

    def test_rate_obeyed(self):
        c = self.client(timeout=20)
        c.ehlo()
        begin_data(c)
        start = time.monotonic()
        took = None
        line = b"x" * 98 + b"\r\n"
        try:
            while time.monotonic() - start < 4 * T_DATA:
                if c.pending(0.1):
                    took = time.monotonic() - start
                    break
                c.sock.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            took = time.monotonic() - start
        self.assertDropped(c, took, T_DATA, "1 KB/s under a 100 KB/s rule")


class RefusedTextTest(_DeadlineCase):
    """Text that is already refused (past message_size_limit, a refused
    BDAT's octets) earns no time by the minimum rate: it must end within
    smtp_data_timeout, or the session does, however steadily it comes
    (found in review: 600 B/s held such a session for ever).  A message a
    little too big, sent fast, still gets its 552 and the session goes
    on."""
    host_extra = dict(_DeadlineCase.host_extra, message_size_limit="64k",
                      smtp_min_data_rate="500")
    LIMIT = 64 * 1024

    def steady(self, c, chunk=b"y" * 98 + b"\r\n", rate=2000):
        """Send at rate octets a second (four times the minimum) until
        the server answers or closes; the seconds that took (None: it did
        not within 6 T)."""
        return trickle(c, chunk, interval=1.0 / rate, limit=6 * T_DATA)

    def assertTimedOut(self, c, took, what):
        self.assertIsNotNone(took, "%s: still open" % what)
        self.assertLess(took, 3 * T_DATA, "%s: dropped too late" % what)
        c.sock.settimeout(10)
        r = c.reply()
        self.assertReply(r, 421, "4.4.2")
        self.assertTrue(c.closed(5))

    def test_steady_text_past_the_limit_ends(self):
        c = self.client()
        c.ehlo()
        begin_data(c)
        c.sock.sendall((b"x" * 98 + b"\r\n") * (self.LIMIT // 100 + 10))
        self.assertTimedOut(c, self.steady(c), "DATA past the limit")
        self.assertEqual(self.host.queue(), [])

    def test_steady_refused_bdat_ends(self):
        c = self.client()
        c.ehlo()
        c.sock.sendall(b"BDAT %d\r\n" % (self.LIMIT // 2))
        r = c.reply()
        self.assertReply(r, 503)
        self.assertTimedOut(c, self.steady(c), "a refused BDAT")

    def test_steady_text_within_the_limit_goes_on(self):
        """The same rate before the limit is fine (the control)."""
        c = self.client()
        c.ehlo()
        begin_data(c)
        start = time.monotonic()
        end = start + 1.5 * T_DATA
        while time.monotonic() < end:
            r, _, _ = select.select([c.sock], [], [], 0.05)
            self.assertFalse(r, "the server spoke or closed")
            c.sock.sendall(b"y" * 98 + b"\r\n")
        c.sock.sendall(b".\r\n")
        self.assertReply(c.reply(), 250)

    def test_just_too_big_gets_552(self):
        c = self.client()
        c.ehlo()
        begin_data(c)
        c.sock.sendall((b"y" * 98 + b"\r\n") * (self.LIMIT // 100 + 50) +
                       b".\r\n")
        self.assertReply(c.reply(), 552, "5.3.4")
        c.expect("NOOP", 250)

    def test_huge_refused_bdat_closes(self):
        """A refused chunk bigger than any message: not read at all."""
        c = self.client()
        c.ehlo()
        c.sock.sendall(b"BDAT 1000000000000000\r\n")
        self.assertReply(c.reply(), 503)
        c.sock.settimeout(10)
        r = c.reply()
        self.assertReply(r, 421, "4.7.0")
        self.assertIn("larger than the message size", r.text)
        self.assertTrue(c.closed(10))

if __name__ == "__main__":
    unittest.main()
