"""kurir-pop3d end to end (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH).

Covers: the greeting (no APOP timestamp; APOP refused); CAPA before and
after login, with and without TLS; USER/PASS and AUTH PLAIN (initial
response, "+ " continuation, "*" cancel), bad passwords delayed with
-ERR [AUTH]; "+OK maildrop has N messages (M octets)"; the maildrop lock
(-ERR [IN-USE], also for another spelling of the name); unsafe user
names; STAT/LIST/UIDL/RETR/TOP/DELE/NOOP/RSET/QUIT with sizes as sent,
byte-exact dot-stuffed RETR, stable UIDLs (across sessions and a restart
of kurird), DELE only at QUIT, RETR (not TOP) marking seen in cur/ with
:2,S, mail arriving during a session shown only in the next; numbers out
of range; commands in the wrong state; pipelining (also across the login);
STLS (pipelined plaintext discarded, once only, a failed handshake);
limits: the 255-octet line, NUL bytes, pop3_max_errors,
pop3_idle_timeout in both states (also a line trickled a byte at a time:
the deadline counts from the previous reply, not the last read, plain
and over STLS), pop3_max_sessions(_per_ip); plaintext
passwords from a non-loopback address; symlinks in the Maildir; real
clients: poplib, curl and mpop (1000 messages).

The messages are written straight into the Maildir (Host.put_mail),
except in the delivery tests, where kurir-local delivers them.
"""
import base64
import os
import poplib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import tools
from kurirtest import (Host, POP3Client, SMTPHostCase, non_loopback_address,
                       prog, tls_client_context, to_wire, wait_for)

USERS = {"alice": "alice-secret", "bob": "b0b p@ss:word"}
# poplib refuses lines over 2048 octets; MSGS[2] has a longer one
poplib._MAXLINE = 100000
MAILDROP_RE = re.compile(r"\+OK maildrop has (\d+) messages \((\d+) octets\)$")
HUGE = "99999999999999999999"

# messages with the awkward parts: dot lines, 8-bit bytes, a long line,
# empty lines, no final LF
MSGS = [
    b"Return-Path: <s@remote.test>\nDelivered-To: alice@example.test\n"
    b"Received: from x by mail.example.test; Mon, 1 Jan 2024 00:00:00 +0000\n"
    b"Subject: one\nFrom: <s@remote.test>\n\nfirst body line\nsecond\n",
    b"Subject: dots\n\n.\n..\n.x\n...\nmiddle\n. \n.\n",
    b"Subject: =?utf-8?q?8bit?=\nX-Long: " + b"L" * 3000 + b"\n\n"
    b"\xc3\xa9t\xc3\xa9 \xff\xfe\n\n\n  spaces  \n\tTAB\nlast\n",
    b"Subject: no final newline\n\nthe end",
]


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def plain(user, pw, authz=""):
    return b64("%s\0%s\0%s" % (authz, user, pw))


def wire_size(data):
    """Octets of a stored message as sent: LF -> CRLF, and a CRLF added
    to a last line without LF (dot-stuffing not counted, RFC 1939)."""
    if not data:
        return 0
    return len(data) + data.count(b"\n") + (0 if data.endswith(b"\n") else 2)


def wire(data):
    """A stored message as RETR sends it, with the final ".\\r\\n"."""
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return to_wire(data) + b".\r\n"


def top_of(data, n):
    """The stored message cut as TOP msg n sends it (bytes with LF)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    head, sep, body = data.partition(b"\n\n")
    lines = body.split(b"\n")[:-1] if body else []
    out = head + b"\n" + (b"\n" if sep else b"")
    return out + b"".join(line + b"\n" for line in lines[:n])


def unique(name):
    return name.split(":")[0]


class POP3HostCase(SMTPHostCase):
    """A fresh host with POP3 on 127.0.0.1 (self.host.pop3_port), set up,
    started and greeting.  After each test: no child of kurird, and no
    POP3 session process, died abnormally (unless allowed)."""
    host_users = USERS
    pop3_listen = None          # "ip:port" instead of 127.0.0.1:free
    pop3_wait = ("127.0.0.1", None)

    def setUp(self):
        extra = dict(self.host_extra or {})
        if self.pop3_listen:
            extra["pop3_listen"] = self.pop3_listen
        self.host = Host(extra, self.host_users, aliases=self.host_aliases,
                         submission=self.host_submission, tls=self.host_tls,
                         deliver=self.host_deliver, routes=self.host_routes,
                         pop3=True)
        self.addCleanup(self.host.cleanup)
        self.addCleanup(self.assertNoSessionDied)
        self.addCleanup(self.assertNoChildDied)
        self.host.setup()
        self.host.start()
        self.wait_ready()

    def wait_ready(self):
        self.host.wait_pop3()

    def assertNoSessionDied(self):
        if self.allow_child_deaths:
            return
        try:
            lines = self.host.log().splitlines()
        except OSError:
            return
        for i, line in enumerate(lines):
            if re.search(r"POP3 session process \d+ (killed by signal|"
                         r"exited with status)|kurir-pop3d.*(killed by "
                         r"signal|exited with status)", line):
                self.allow_child_deaths = True
                self.fail("a POP3 process died during the test:\n" +
                          "\n".join(lines[max(0, i - 8):i + 1]))

    # -- helpers ------------------------------------------------------------
    def pop(self, **kw):
        c = self.host.pop3(**kw)
        self.addCleanup(c.close)
        return c

    def login(self, user="alice", pw=None, **kw):
        """A client logged in with USER/PASS; (client, the PASS reply)."""
        c = self.pop(**kw)
        self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
        r = c.login(user, USERS[user] if pw is None else pw)
        self.assertRegex(r, MAILDROP_RE)
        return c

    def login_retry(self, user="alice", timeout=10):
        """Log in, retrying while an ending session still holds the lock
        ([IN-USE]) for a moment."""
        end = time.monotonic() + timeout
        while True:
            c = self.pop()
            c.ok("USER " + user)
            r = c.cmd("PASS " + USERS[user])
            if MAILDROP_RE.match(r):
                return c, r
            self.assertTrue(r.startswith("-ERR [IN-USE]"), r)
            c.close()
            self.assertLess(time.monotonic(), end, "maildrop stays locked")
            time.sleep(0.1)

    def assertOK(self, r, what=None):
        self.assertTrue(r.startswith("+OK"), (what, r))

    def assertERR(self, r, code=None, what=None):
        self.assertTrue(r.startswith("-ERR"), (what, r))
        if code:
            self.assertTrue(r.startswith("-ERR [%s]" % code), (what, r))

    def put(self, msgs, user="alice", **kw):
        return self.host.put_mail(user, msgs, **kw)

    def capa(self, c):
        _, lines = c.ok_multi("CAPA")
        return [x.decode() for x in lines]

    def session_over(self, user="alice", timeout=10):
        """Wait until no session holds user's maildrop (a new login
        works), then QUIT that login without changes."""
        c, _ = self.login_retry(user, timeout)
        c.ok("QUIT")
        c.close()


# -----------------------------------------------------------------------
class GreetingCapaTest(POP3HostCase):

    def test_greeting_no_apop(self):
        c = self.pop()
        self.assertOK(c.greeting)
        # no RFC 1939 APOP timestamp: APOP is not offered
        self.assertNotRegex(c.greeting, r"<[^>]*@[^>]*>")
        self.assertERR(c.cmd("APOP alice " + "0" * 32))
        self.assertERR(c.cmd("APOP alice c4c9334bac560ecc979e58001b3e22fb"))
        # nothing changed: a normal login still works
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_capa_authorization(self):
        c = self.pop()
        caps = self.capa(c)
        for k in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING", "USER"):
            self.assertIn(k, caps)
        self.assertTrue([x for x in caps if x.startswith("IMPLEMENTATION") and
                         "kurir" in x.split()], caps)
        sasl = [x.split() for x in caps if x.split()[:1] == ["SASL"]]
        self.assertEqual(len(sasl), 1, caps)
        self.assertIn("PLAIN", sasl[0])
        self.assertNotIn("STLS", caps)          # no certificate configured
        self.assertNotIn("APOP", " ".join(caps))
        self.assertEqual(len(caps), len(set(caps)), caps)

    def test_capa_transaction(self):
        self.put(2)
        c = self.login()
        caps = self.capa(c)
        # RFC 2449 5: what AUTHORIZATION offered is announced in both
        for k in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                  "PIPELINING", "USER", "SASL PLAIN"):
            self.assertIn(k, caps)
        self.assertTrue([x for x in caps if x.startswith("IMPLEMENTATION")],
                        caps)
        self.assertNotIn("STLS", caps)
        # and the session goes on
        self.assertEqual(c.ok("STAT").split()[:2], ["+OK", "2"])

    def test_stls_without_tls(self):
        c = self.pop()
        self.assertERR(c.cmd("STLS"))
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_quit_in_authorization(self):
        c = self.pop()
        self.assertOK(c.cmd("QUIT"))
        self.assertTrue(c.closed(5))
        self.assertEqual(c.buf, b"")

    def test_bad_lines_in_authorization(self):
        c = self.pop()
        # 8 errors in all: under the default pop3_max_errors (10)
        for line in (b"USER", b"USER ", b"PASS", b"AUTH", b"",
                     b"USER " + b"a" * 300, b"USER alice\0"):
            self.assertERR(c.cmd(line), what=line)
        self.assertFalse(c.pending(0.3), c.buf)
        # the tail of an overlong line is not a command
        c.send(b"CAPA" + b" " * 251 + b"QUIT\r\n")
        self.assertERR(c.readline())
        self.assertFalse(c.pending(0.5), c.buf)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_default_max_errors(self):
        # pop3_max_errors defaults to 10
        c = self.pop()
        for i in range(9):
            self.assertERR(c.cmd("XYZZY"), what=i)
        self.assertIn("TOP", self.capa(c))
        self.assertERR(c.cmd("XYZZY"))
        self.assertTrue(c.closed(5), "open after 10 errors")

    def test_connect_flood(self):
        # connections that leave at once, or after the greeting, or
        # half way through a line, harm nothing
        for i in range(60):
            s = socket.create_connection(("127.0.0.1", self.host.pop3_port),
                                         timeout=10)
            if i % 3 == 1:
                s.recv(100)
            elif i % 3 == 2:
                s.sendall(b"USER al")
            s.close()
        self.put(1)
        end = time.monotonic() + 10
        while True:
            try:
                c = self.pop()
                break
            except (OSError, EOFError):
                self.assertLess(time.monotonic(), end)
                time.sleep(0.1)
        self.assertOK(c.greeting)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_command_case_insensitive(self):
        self.put(1)
        c = self.pop()
        c.ok("user alice")
        self.assertRegex(c.cmd("pass " + USERS["alice"]), MAILDROP_RE)
        self.assertEqual(c.ok("stat").split()[1], "1")
        self.assertEqual(c.ok("LiSt 1").split()[1], "1")


# -----------------------------------------------------------------------
class LoginTest(POP3HostCase):

    def test_user_pass(self):
        self.put(MSGS)
        c = self.pop()
        self.assertOK(c.cmd("USER alice"))
        r = c.cmd("PASS " + USERS["alice"])
        m = MAILDROP_RE.match(r)
        self.assertTrue(m, r)
        self.assertEqual(int(m.group(1)), len(MSGS))
        self.assertEqual(int(m.group(2)), sum(wire_size(x) for x in MSGS))

    def test_password_with_spaces(self):
        # PASS takes the rest of the line verbatim
        self.put([MSGS[1]], user="bob")
        c = self.pop()
        c.ok("USER bob")
        self.assertEqual(c.cmd("PASS " + USERS["bob"]),
                         "+OK maildrop has 1 messages (%d octets)" %
                         wire_size(MSGS[1]))

    def test_empty_maildrop_of_new_user(self):
        # bob never got mail: no Maildir yet
        self.assertFalse(os.path.exists(self.host.maildir("bob")))
        c = self.pop()
        c.ok("USER bob")
        self.assertEqual(c.cmd("PASS " + USERS["bob"]),
                         "+OK maildrop has 0 messages (0 octets)")
        self.assertEqual(c.ok("STAT").split()[:3], ["+OK", "0", "0"])
        _, lines = c.ok_multi("LIST")
        self.assertEqual(lines, [])
        _, lines = c.ok_multi("UIDL")
        self.assertEqual(lines, [])
        self.assertERR(c.cmd("RETR 1"))
        self.assertOK(c.cmd("QUIT"))

    def test_bad_password_delayed(self):
        # kurir-auth adds a second per recent failure from this address
        c = self.pop(timeout=20)
        for user, pw in (("alice", "wrong"), ("alice", USERS["bob"]),
                         ("nosuchuser", "whatever")):
            r = c.cmd("USER " + user)
            if user == "nosuchuser" and r.startswith("-ERR"):
                continue        # refusing an unknown name at once is fine
            self.assertOK(r, user)
            t = time.monotonic()
            r = c.cmd("PASS " + pw)
            took = time.monotonic() - t
            self.assertERR(r, "AUTH", (user, pw))
            self.assertGreaterEqual(took, 0.9, (user, pw))
        # still in AUTHORIZATION: no mail commands
        self.assertERR(c.cmd("STAT"))
        # a later good login works
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_pass_without_user(self):
        c = self.pop()
        self.assertERR(c.cmd("PASS " + USERS["alice"]))
        self.assertERR(c.cmd("STAT"))
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def test_auth_plain_initial_response(self):
        self.put(2)
        c = self.pop()
        r = c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        m = MAILDROP_RE.match(r)
        self.assertTrue(m, r)
        self.assertEqual(m.group(1), "2")
        self.assertEqual(c.ok("STAT").split()[1], "2")

    def test_auth_plain_continuation(self):
        c = self.pop()
        r = c.cmd("AUTH PLAIN")
        self.assertTrue(r.startswith("+") and not r.startswith("+OK"), r)
        self.assertEqual(r.rstrip(), "+", r)
        self.assertRegex(c.cmd(plain("bob", USERS["bob"])), MAILDROP_RE)

    def test_auth_plain_authzid(self):
        c = self.pop()
        self.assertRegex(c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"],
                                                     "alice")), MAILDROP_RE)
        c2 = self.pop()
        r = c2.cmd("AUTH PLAIN " + plain("alice", USERS["alice"], "bob"))
        self.assertERR(r)
        self.assertFalse(MAILDROP_RE.match(r))

    def test_auth_cancel(self):
        c = self.pop()
        self.assertEqual(c.cmd("AUTH PLAIN").rstrip(), "+")
        self.assertERR(c.cmd("*"))
        # still AUTHORIZATION, and usable
        self.assertERR(c.cmd("STAT"))
        self.assertIn("TOP", self.capa(c))
        self.assertRegex(c.cmd("AUTH PLAIN " + plain("alice",
                                                     USERS["alice"])),
                         MAILDROP_RE)

    def test_auth_bad_password_delayed(self):
        c = self.pop()
        t = time.monotonic()
        r = c.cmd("AUTH PLAIN " + plain("alice", "nope"))
        self.assertERR(r, "AUTH")
        self.assertGreaterEqual(time.monotonic() - t, 0.9)
        self.assertEqual(c.cmd("AUTH PLAIN").rstrip(), "+")
        t = time.monotonic()
        self.assertERR(c.cmd(plain("bob", "nope")), "AUTH")
        self.assertGreaterEqual(time.monotonic() - t, 0.9)
        self.assertRegex(c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"])),
                         MAILDROP_RE)

    def test_auth_bad_input(self):
        c = self.pop(timeout=20)
        for line in ("AUTH CRAM-MD5", "AUTH LOGIN", "AUTH PLAIN !!!notbase64",
                     "AUTH PLAIN " + b64("nonul"), "AUTH PLAIN " + b64("\0\0"),
                     "AUTH PLAIN =", "AUTH PLAIN " + b64("a\0b"),
                     "AUTH PLAIN " + plain("alice", "p" * 300)[:200]):
            r = c.cmd(line)
            self.assertERR(r, what=line)
            self.assertFalse(MAILDROP_RE.match(r), line)
        self.assertEqual(c.cmd("AUTH PLAIN").rstrip(), "+")
        self.assertERR(c.cmd("not base64 at all"))
        self.assertRegex(c.cmd("AUTH PLAIN " + plain("alice",
                                                     USERS["alice"])),
                         MAILDROP_RE)

    def test_wrong_state_before_login(self):
        self.put(1)
        c = self.pop()
        for line in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP",
                     "RSET", "UIDL", "TOP 1 0"):
            self.assertERR(c.cmd(line), what=line)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)
        # DELE before login did nothing
        self.assertEqual(c.ok("STAT").split()[1], "1")

    def test_wrong_state_after_login(self):
        self.put(1)
        c = self.login()
        for line in ("USER alice", "PASS " + USERS["alice"],
                     "AUTH PLAIN " + plain("bob", USERS["bob"]), "STLS",
                     "APOP alice " + "0" * 32):
            r = c.cmd(line)
            self.assertERR(r, what=line)
        # still alice's session
        self.assertEqual(c.ok("STAT").split()[1], "1")
        self.assertOK(c.cmd("QUIT"))

    def test_in_use(self):
        self.put(1)
        a = self.login()
        b = self.pop()
        b.ok("USER alice")
        t = time.monotonic()
        r = b.cmd("PASS " + USERS["alice"])
        self.assertERR(r, "IN-USE")
        self.assertLess(time.monotonic() - t, 5)
        self.assertTrue(b.closed(5), "not closed after [IN-USE]")
        # AUTH PLAIN too
        c = self.pop()
        self.assertERR(c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])),
                       "IN-USE")
        self.assertTrue(c.closed(5))
        # the first session is untouched; another user is not locked out
        self.assertEqual(a.ok("STAT").split()[1], "1")
        self.login("bob")
        a.ok("QUIT")
        self.session_over()

    def test_in_use_other_spelling(self):
        # a name that reaches the same maildrop must hit the same lock
        self.put(1)
        a = self.login()
        for name in ("ALICE", "Alice"):
            b = self.pop()
            r = b.cmd("USER " + name)
            if r.startswith("-ERR"):
                continue
            r = b.cmd("PASS " + USERS["alice"])
            self.assertFalse(r.startswith("+OK"), (name, r))
            b.close()
        self.assertEqual(a.ok("STAT").split()[1], "1")

    def test_unsafe_user_names(self):
        # a decoy Maildir just outside mail_dir
        self.host.put_mail("alice", 1)
        decoy = os.path.join(self.host.dir, "decoy")
        for d in ("", "new", "cur", "tmp"):
            os.makedirs(os.path.join(decoy, d), exist_ok=True)
        names = ["../alice", "alice/../alice", "a/b", "..", "/etc",
                 ".alice", "../decoy", "al\x01ice", "alice\x7f",
                 "alice\x1b[0m", "\xe9lise", "alice\x00x"]
        for name in names:
            c = self.pop()
            r = c.cmd(b"USER " + name.encode("utf-8"))
            if r.startswith("+OK"):
                r = c.cmd("PASS " + USERS["alice"])
            self.assertERR(r, what=name)
            self.assertFalse(MAILDROP_RE.match(r), name)
            c.close()
        # AUTH PLAIN: these may reach kurir-auth (a delay each)
        for name in ("../alice", "a/b", "al\x01ice"):
            c2 = self.pop(timeout=20)
            r = c2.cmd(b"AUTH PLAIN " +
                       base64.b64encode(b"\0" + name.encode("utf-8") +
                                        b"\0" + USERS["alice"].encode()))
            self.assertERR(r, what=name)
            self.assertFalse(MAILDROP_RE.match(r), name)
            c2.close()
        self.assertEqual(os.listdir(os.path.join(decoy, "new")), [])
        self.assertEqual(sorted(os.listdir(decoy)), ["cur", "new", "tmp"])

    def test_password_not_logged(self):
        c = self.login()
        c.ok("QUIT")
        c = self.pop()
        c.ok("USER bob")
        c.cmd("PASS secret-wrong-pw-123")
        c.close()
        time.sleep(0.2)
        log = self.host.log()
        for secret in (USERS["alice"], "secret-wrong-pw-123",
                       plain("alice", USERS["alice"])):
            self.assertNotIn(secret, log)


# -----------------------------------------------------------------------
class TransactionTest(POP3HostCase):
    host_extra = {"pop3_max_errors": "100"}

    def setUp(self):
        super().setUp()
        self.names = self.put(MSGS)

    def file(self, name, sub="new", user="alice"):
        with open(os.path.join(self.host.maildir(user), sub, name), "rb") as f:
            return f.read()

    def test_stat_list(self):
        c = self.login()
        sizes = [wire_size(x) for x in MSGS]
        self.assertEqual(c.ok("STAT"), "+OK %d %d" % (len(MSGS), sum(sizes)))
        _, lines = c.ok_multi("LIST")
        self.assertEqual(lines, [b"%d %d" % (i + 1, s)
                                 for i, s in enumerate(sizes)])
        for i, s in enumerate(sizes):
            self.assertEqual(c.ok("LIST %d" % (i + 1)),
                             "+OK %d %d" % (i + 1, s))

    def test_bare_cr_never_goes_out(self):
        """A stored message with CRs (kurir-sendmail keeps a lone CR as
        data; other MDAs store CRLF): every CR ends a line on the wire,
        so "line1<CR>.<CRLF>" cannot end the message early for a client
        that takes a bare CR for a line end, and what follows it cannot
        pass for our next replies."""
        names = self.put([b"Subject: cr\r\n\r\nline1\r.\r\n"
                          b"+OK fake\r\rend\r"])
        c = self.login()
        n = len(self.names) + 1
        want = (b"Subject: cr\r\n\r\nline1\r\n..\r\n+OK fake\r\n\r\n"
                b"end\r\n.\r\n")
        r = c.ok("LIST %d" % n)
        self.assertEqual(r, "+OK %d %d" % (n, len(want) - 4))  # no ".", stuffing
        c.ok("RETR %d" % n)
        got = c.raw_multi()
        self.assertEqual(got, want)
        self.assertIsNone(re.search(rb"\r(?!\n)|(?<!\r)\n", got), got)
        self.assertTrue(names)

    def test_retr_byte_exact(self):
        c = self.login()
        for i, data in enumerate(MSGS):
            r = c.ok("RETR %d" % (i + 1))
            self.assertEqual(c.raw_multi(), wire(data), i + 1)
            # the status line may give the size; if so, the right one
            m = re.match(r"\+OK (\d+) octets", r)
            if m:
                self.assertEqual(int(m.group(1)), wire_size(data))
        # again, the same bytes (RETR twice is fine)
        c.ok("RETR 2")
        self.assertEqual(c.raw_multi(), wire(MSGS[1]))

    def test_top(self):
        c = self.login()
        for i, data in enumerate(MSGS):
            for n in (0, 1, 2, 10000, 2147483647):
                c.ok("TOP %d %d" % (i + 1, n))
                self.assertEqual(c.raw_multi(), wire(top_of(data, n)),
                                 (i + 1, n))
        self.assertERR(c.cmd("TOP 1"))
        self.assertERR(c.cmd("TOP 1 -1"))
        self.assertERR(c.cmd("TOP 1 x"))
        self.assertERR(c.cmd("TOP 1 " + HUGE))

    def test_uidl(self):
        c = self.login()
        _, lines = c.ok_multi("UIDL")
        got = [x.decode().split() for x in lines]
        self.assertEqual([g[0] for g in got],
                         [str(i + 1) for i in range(len(MSGS))])
        uids = [g[1] for g in got]
        self.assertEqual(uids, [unique(n) for n in self.names])
        for i, u in enumerate(uids):
            self.assertEqual(c.ok("UIDL %d" % (i + 1)), "+OK %d %s" % (i + 1, u))
        c.ok("QUIT")
        # stable across sessions
        c2, _ = self.login_retry()
        _, lines2 = c2.ok_multi("UIDL")
        self.assertEqual(lines2, lines)

    def test_uidl_long_and_odd_names(self):
        # names whose unique part cannot be a UIDL (over 70 octets): still
        # a valid UIDL, unique, and stable once the message moves to cur/
        long1 = "%d.%s.kurirtest" % (time.time(), "A" * 90)
        long2 = "%d.%s.kurirtest" % (time.time(), "A" * 89 + "B")
        self.put([b"Subject: long1\n\nx\n", b"Subject: long2\n\ny\n"],
                 names=[long1, long2])
        c = self.login()
        _, lines = c.ok_multi("UIDL")
        uids = [x.decode().split()[1] for x in lines]
        self.assertEqual(len(uids), len(MSGS) + 2)
        self.assertEqual(len(set(uids)), len(uids), uids)
        for u in uids:
            self.assertTrue(1 <= len(u) <= 70, u)
            self.assertTrue(all(0x21 <= ord(ch) <= 0x7e for ch in u), u)
        c.ok("RETR %d" % (len(MSGS) + 1))
        c.raw_multi()
        c.ok("QUIT")
        self.assertIn(long1 + ":2,S", self.host.mail_files("alice", "cur"))
        c2, _ = self.login_retry()
        _, lines2 = c2.ok_multi("UIDL")
        self.assertEqual(lines2, lines)

    def test_out_of_range(self):
        c = self.login()
        n = len(MSGS)
        bad = ["0", str(n + 1), "-1", HUGE, "4294967297", "1x", "x", "", " 1",
               "1.0", "+1"]
        for cmd in ("RETR", "LIST", "UIDL", "DELE"):
            for arg in bad:
                if arg == "" and cmd in ("LIST", "UIDL"):
                    continue
                line = ("%s %s" % (cmd, arg)) if arg else cmd
                self.assertERR(c.cmd(line), what=line)
        for arg in bad:
            line = "TOP %s 1" % arg
            self.assertERR(c.cmd(line), what=line)
        for line in ("STAT 1", "NOOP 1", "RSET 1", "QUIT 1", "RETR 1 2",
                     "DELE 1 2", "LIST 1 2"):
            self.assertERR(c.cmd(line), what=line)
        # nothing was deleted by any of it
        self.assertEqual(c.ok("STAT").split()[1], str(n))
        c.ok("QUIT")
        self.assertEqual(self.host.mail_files("alice"), sorted(self.names))

    def test_dele_quit(self):
        c = self.login()
        self.assertOK(c.cmd("DELE 1"))
        self.assertOK(c.cmd("DELE 3"))
        sizes = [wire_size(x) for x in MSGS]
        self.assertEqual(c.ok("STAT"), "+OK 2 %d" % (sizes[1] + sizes[3]))
        _, lines = c.ok_multi("LIST")
        self.assertEqual(lines, [b"2 %d" % sizes[1], b"4 %d" % sizes[3]])
        _, lines = c.ok_multi("UIDL")
        self.assertEqual([x.split()[0] for x in lines], [b"2", b"4"])
        for line in ("DELE 1", "RETR 1", "LIST 1", "UIDL 1", "TOP 1 0",
                     "RETR 3"):
            self.assertERR(c.cmd(line), what=line)
        # not yet removed from disk
        self.assertEqual(self.host.mail_files("alice"), sorted(self.names))
        self.assertOK(c.cmd("QUIT"))
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice"),
                         sorted([self.names[1], self.names[3]]))
        self.assertEqual(self.host.mail_files("alice", "cur"), [])
        c2, r = self.login_retry()
        self.assertEqual(r, "+OK maildrop has 2 messages (%d octets)" %
                         (sizes[1] + sizes[3]))
        _, lines = c2.ok_multi("UIDL")
        self.assertEqual([x.decode() for x in lines],
                         ["1 " + unique(self.names[1]),
                          "2 " + unique(self.names[3])])
        c2.ok("RETR 2")
        self.assertEqual(c2.raw_multi(), wire(MSGS[3]))

    def test_dele_dropped_connection(self):
        c = self.login()
        c.ok("DELE 1")
        c.ok("DELE 2")
        c.ok("RETR 3")
        c.raw_multi()
        c.close()
        self.session_over()
        # nothing changed on disk: no deletion, no seen mark
        self.assertEqual(self.host.mail_files("alice"), sorted(self.names))
        self.assertEqual(self.host.mail_files("alice", "cur"), [])

    def test_rset(self):
        c = self.login()
        c.ok("DELE 1")
        c.ok("DELE 2")
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS) - 2))
        self.assertOK(c.cmd("RSET"))
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS)))
        c.ok("RETR 1")
        self.assertEqual(c.raw_multi(), wire(MSGS[0]))
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.assertEqual(len(self.host.mail_files("alice")) +
                         len(self.host.mail_files("alice", "cur")), len(MSGS))

    def test_retr_marks_seen_top_does_not(self):
        c = self.login()
        c.ok("RETR 1")
        c.raw_multi()
        c.ok("TOP 2 0")
        c.raw_multi()
        c.ok("RETR 4")
        c.raw_multi()
        c.ok("DELE 4")          # seen and deleted: deleted
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice"),
                         sorted([self.names[1], self.names[2]]))
        self.assertEqual(self.host.mail_files("alice", "cur"),
                         [self.names[0] + ":2,S"])
        self.assertEqual(self.file(self.names[0] + ":2,S", "cur"), MSGS[0])
        # same UIDL after the move, and still RETR-able
        c2, _ = self.login_retry()
        self.assertEqual(c2.ok("UIDL 1"), "+OK 1 " + unique(self.names[0]))
        c2.ok("RETR 1")
        self.assertEqual(c2.raw_multi(), wire(MSGS[0]))

    def test_cur_flags_kept(self):
        extra = self.put([b"Subject: flagged\n\nf\n", b"Subject: seen\n\ns\n"],
                         sub="cur", names=["%d.Mflag.kurirtest:2,F" %
                                           (time.time() - 50),
                                           "%d.Mseen.kurirtest:2,RS" %
                                           (time.time() - 40)])
        c = self.login()
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS) + 2))
        _, lines = c.ok_multi("UIDL")
        uids = [x.decode().split()[1] for x in lines]
        for name in extra:
            self.assertIn(unique(name), uids)
        for i, u in enumerate(uids):
            if u in (unique(extra[0]), unique(extra[1])):
                c.ok("RETR %d" % (i + 1))
                c.raw_multi()
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice", "cur"),
                         sorted([unique(extra[0]) + ":2,FS",
                                 unique(extra[1]) + ":2,RS"]))

    def test_new_mail_not_shown_in_session(self):
        c = self.login()
        n = len(MSGS)
        late = self.put([b"Subject: late\n\nlate\n"])
        self.assertEqual(c.ok("STAT").split()[1], str(n))
        self.assertERR(c.cmd("LIST %d" % (n + 1)))
        self.assertERR(c.cmd("RETR %d" % (n + 1)))
        _, lines = c.ok_multi("UIDL")
        self.assertNotIn(unique(late[0]), b" ".join(lines).decode())
        c.ok("DELE 1")
        c.ok("QUIT")
        self.assertIn(late[0], self.host.mail_files("alice"))
        c2, r = self.login_retry()
        self.assertTrue(r.startswith("+OK maildrop has %d messages" % n), r)
        self.assertEqual(c2.ok("UIDL %d" % n), "+OK %d %s" % (n, unique(late[0])))

    def test_noop_capa(self):
        c = self.login()
        for _ in range(3):
            self.assertOK(c.cmd("NOOP"))
        self.assertIn("UIDL", self.capa(c))
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS)))

    def test_pipelining(self):
        c = self.login()
        c.send(b"STAT\r\nLIST\r\nUIDL 2\r\nRETR 2\r\nTOP 1 0\r\nNOOP\r\n"
               b"RETR 99\r\nDELE 3\r\nLIST 3\r\nRSET\r\nLIST 3\r\n")
        self.assertTrue(c.readline().startswith("+OK %d " % len(MSGS)))
        self.assertOK(c.readline())
        self.assertEqual(len(c.multi()), len(MSGS))
        self.assertEqual(c.readline(), "+OK 2 " + unique(self.names[1]))
        self.assertOK(c.readline())
        self.assertEqual(c.raw_multi(), wire(MSGS[1]))
        self.assertOK(c.readline())
        self.assertEqual(c.raw_multi(), wire(top_of(MSGS[0], 0)))
        self.assertOK(c.readline())
        self.assertERR(c.readline())
        self.assertOK(c.readline())
        self.assertERR(c.readline())
        self.assertOK(c.readline())
        self.assertTrue(c.readline().startswith("+OK 3 "))
        self.assertFalse(c.pending(0.3), c.buf)

    def test_pipelined_login(self):
        # everything in one write: the commands after PASS must reach the
        # session process, in order
        c = self.pop()
        c.send(("USER alice\r\nPASS %s\r\nSTAT\r\nUIDL 1\r\nRETR 1\r\n"
                "QUIT\r\n" % USERS["alice"]).encode())
        self.assertOK(c.readline())
        self.assertRegex(c.readline(), MAILDROP_RE)
        self.assertTrue(c.readline().startswith("+OK %d " % len(MSGS)))
        self.assertEqual(c.readline(), "+OK 1 " + unique(self.names[0]))
        self.assertOK(c.readline())
        self.assertEqual(c.raw_multi(), wire(MSGS[0]))
        self.assertOK(c.readline())
        self.assertTrue(c.closed(5))
        self.assertEqual(c.buf, b"")

    def test_pipelined_auth_plain(self):
        c = self.pop()
        c.send(("AUTH PLAIN %s\r\nLIST 2\r\nQUIT\r\n" %
                plain("alice", USERS["alice"])).encode())
        self.assertRegex(c.readline(), MAILDROP_RE)
        self.assertEqual(c.readline(), "+OK 2 %d" % wire_size(MSGS[1]))
        self.assertOK(c.readline())
        self.assertTrue(c.closed(5))

    def test_many_pipelined_retr(self):
        # more replies than any socket buffer holds, the client reading
        # only after writing everything
        c = self.login()
        n = 300
        c.send(b"".join(b"RETR %d\r\n" % (i % len(MSGS) + 1)
                        for i in range(n)) + b"QUIT\r\n")
        for i in range(n):
            self.assertOK(c.readline(), i)
            self.assertEqual(c.raw_multi(), wire(MSGS[i % len(MSGS)]), i)
        self.assertOK(c.readline())
        self.assertTrue(c.closed(10))

    def test_big_message(self):
        line = b"0123456789" * 7 + b"\n"
        big = b"Subject: big\n\n" + line * 60000 + b".\n" + line * 100
        name = self.put([big])[0]
        c = self.login()
        n = len(MSGS) + 1
        self.assertEqual(c.ok("LIST %d" % n), "+OK %d %d" % (n, wire_size(big)))
        c.ok("RETR %d" % n)
        self.assertEqual(c.raw_multi(), wire(big))
        c.ok("TOP %d 3" % n)
        self.assertEqual(c.raw_multi(), wire(top_of(big, 3)))
        c.ok("DELE %d" % n)
        c.ok("QUIT")
        self.assertTrue(c.closed(10))
        self.assertNotIn(name, self.host.mail_files("alice"))

    def test_line_length(self):
        c = self.login()
        # 255 octets with CRLF is allowed (leading zeros are digits)
        line = "LIST " + "0" * 247 + "1"
        self.assertEqual(len(line) + 2, 255)
        self.assertEqual(c.cmd(line), "+OK 1 %d" % wire_size(MSGS[0]))
        # 256 is not: one -ERR, and the session goes on
        self.assertERR(c.cmd("LIST " + "0" * 248 + "1"))
        self.assertFalse(c.pending(0.3), c.buf)
        for size in (1000, 10000, 100000):
            c.send(b"NOOP " + b"x" * size + b"\r\n")
            self.assertERR(c.readline(), what=size)
            self.assertFalse(c.pending(0.3), (size, c.buf[:100]))
            self.assertOK(c.cmd("NOOP"))
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS)))

    def test_nul_and_junk(self):
        c = self.login()
        for line in (b"NOOP\0", b"LIST\x001", b"\0", b"RETR 1\0",
                     b"XYZZY", b"", b" ", b"LIST\t1", b"RETR  1x",
                     b"\xff\xfe"):
            self.assertERR(c.cmd(line), what=line)
        self.assertFalse(c.pending(0.3), c.buf)
        self.assertOK(c.cmd("NOOP"))
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS)))

    def test_overlong_line_tail_not_run(self):
        # the part of an overlong line past 255 octets is not a command
        c = self.login()
        c.send(b"NOOP" + b" " * 251 + b"DELE 1\r\n")
        self.assertERR(c.readline())
        self.assertFalse(c.pending(0.3), c.buf)
        c.send(b"X" * 1000 + b"\r\nDELE 2\r\n" + b"Y" * 300 + b"QUIT\r\n")
        self.assertERR(c.readline())
        self.assertOK(c.readline())             # DELE 2
        self.assertERR(c.readline())
        self.assertFalse(c.pending(0.3), c.buf)
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS) - 1))
        self.assertOK(c.cmd("LIST 1"))
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice"),
                         sorted(self.names[:1] + self.names[2:]))

    def test_file_vanished(self):
        # another program (a second MUA, an admin) removes a message
        # during the session: an error for it, the session goes on
        c = self.login()
        os.unlink(os.path.join(self.host.maildir("alice"), "new",
                               self.names[1]))
        r = c.cmd("RETR 2")
        if r.startswith("+OK"):
            self.fail("RETR of a vanished file: %r %r" % (r, c.buf[:200]))
        self.assertERR(r)
        c.ok("RETR 1")
        self.assertEqual(c.raw_multi(), wire(MSGS[0]))
        c.ok("DELE 2")
        c.ok("DELE 3")
        self.assertOK(c.cmd("QUIT"))
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice"), [self.names[3]])

    def test_lf_only_line_end(self):
        # a bare LF ends a command line too (poplib-like clients differ);
        # whatever is chosen, the session stays in step and usable
        c = self.login()
        c.send(b"NOOP\n")
        r = c.readline()
        self.assertTrue(r.startswith("+OK") or r.startswith("-ERR"), r)
        self.assertFalse(c.pending(0.3), c.buf)
        self.assertOK(c.cmd("NOOP"))

    def test_quit_closes(self):
        c = self.login()
        self.assertOK(c.cmd("QUIT"))
        self.assertTrue(c.closed(5))
        self.assertEqual(c.buf, b"")

    def test_uidl_stable_across_restart(self):
        c = self.login()
        _, lines = c.ok_multi("UIDL")
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.host.stop()
        self.host.start()
        self.host.wait_pop3()
        c2, _ = self.login_retry()
        _, lines2 = c2.ok_multi("UIDL")
        self.assertEqual(lines2, lines)

    def test_symlinks_in_maildir_skipped(self):
        secret = os.path.join(self.host.dir, "secret")
        with open(secret, "wb") as f:
            f.write(b"Subject: secret\n\nTOP SECRET\n")
        os.chmod(secret, 0o644)
        new = os.path.join(self.host.maildir("alice"), "new")
        os.symlink(secret, os.path.join(new, "%d.Mlink.kurirtest" %
                                        (time.time() - 10)))
        c = self.login()
        self.assertEqual(c.ok("STAT").split()[1], str(len(MSGS)))
        for i in range(len(MSGS)):
            c.ok("RETR %d" % (i + 1))
            self.assertNotIn(b"TOP SECRET", c.raw_multi())
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        with open(secret, "rb") as f:
            self.assertIn(b"TOP SECRET", f.read())


class SymlinkedMaildirTest(POP3HostCase):
    def test_symlinked_maildir_not_followed(self):
        # bob's Maildir is a symlink to alice's: logging in as bob must
        # never show or change alice's mail, and should get an answer
        names = self.put(2)
        os.symlink(self.host.maildir("alice"), self.host.maildir("bob"))
        # the session process may refuse to start (and exit non-zero)
        self.allow_child_deaths = True
        c = self.pop()
        c.ok("USER bob")
        try:
            r = c.cmd("PASS " + USERS["bob"])
        except EOFError:
            r = None
        if r and r.startswith("+OK"):
            self.assertEqual(r, "+OK maildrop has 0 messages (0 octets)")
            c.cmd("DELE 1")
            c.cmd("QUIT")
        c.close()
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names))
        self.assertIsNotNone(r, "connection closed without a reply to PASS "
                             "(expected -ERR [SYS/TEMP] or an empty maildrop)")
        self.assertTrue(r.startswith("+OK") or r.startswith("-ERR"), r)


# -----------------------------------------------------------------------
class TLSTest(POP3HostCase):
    host_tls = True

    def test_stls(self):
        names = self.put(MSGS)
        c = self.pop()
        caps = self.capa(c)
        self.assertIn("STLS", caps)
        self.assertIn("USER", caps)
        r = c.stls()
        self.assertOK(r)
        self.assertTrue(c.sock.version().startswith("TLSv1"), c.sock.version())
        caps = self.capa(c)
        self.assertNotIn("STLS", caps)
        self.assertIn("USER", caps)
        self.assertTrue([x for x in caps if x.startswith("SASL") and
                         "PLAIN" in x.split()], caps)
        self.assertERR(c.cmd("STLS"))
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)
        for i, data in enumerate(MSGS):
            c.ok("RETR %d" % (i + 1))
            self.assertEqual(c.raw_multi(), wire(data))
        _, lines = c.ok_multi("UIDL")
        self.assertEqual([x.split()[1].decode() for x in lines],
                         [unique(n) for n in names])
        c.ok("DELE 1")
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        self.assertEqual(self.host.mail_files("alice"), [])
        self.assertEqual(len(self.host.mail_files("alice", "cur")),
                         len(MSGS) - 1)

    def test_stls_pipelined_plaintext_discarded(self):
        c = self.pop()
        c.send(b"STLS\r\nCAPA\r\n")
        self.assertOK(c.readline())
        self.assertEqual(c.buf, b"", "data after +OK to STLS")
        c.sock = tls_client_context().wrap_socket(
            c.sock, server_hostname="mail.example.test")
        # nothing answers the CAPA sent in plaintext
        self.assertFalse(c.pending(0.5), c.buf)
        self.assertOK(c.cmd("USER alice"))
        self.assertRegex(c.cmd("PASS " + USERS["alice"]), MAILDROP_RE)
        self.assertFalse(c.pending(0.3), c.buf)

    def test_stls_pipelined_login_discarded(self):
        self.put(1)
        c = self.pop()
        c.send(("STLS\r\nUSER alice\r\nPASS %s\r\nDELE 1\r\nQUIT\r\n" %
                USERS["alice"]).encode())
        self.assertOK(c.readline())
        c.sock = tls_client_context().wrap_socket(
            c.sock, server_hostname="mail.example.test")
        # not logged in: the injected commands were dropped
        self.assertERR(c.cmd("STAT"))
        self.assertFalse(c.pending(0.3), c.buf)
        c.close()
        self.session_over()
        self.assertEqual(len(self.host.mail_files("alice")), 1)

    def test_bad_handshake_harms_nobody(self):
        self.put(1)
        other = self.login()
        c = self.pop()
        c.ok("STLS")
        c.send(b"this is not a TLS client hello\r\n" * 10)
        self.assertTrue(c.closed(10))
        half = self.pop()
        half.ok("STLS")
        half.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        good = self.pop()
        good.stls()
        self.assertRegex(good.login("bob", USERS["bob"]), MAILDROP_RE)
        self.assertEqual(other.ok("STAT").split()[1], "1")
        half.close()
        c2 = self.pop()
        c2.send(b"STLS\r\n" + b"G" * 100000)
        self.assertTrue(c2.closed(10))
        self.assertEqual(other.ok("STAT").split()[1], "1")
        self.assertOK(self.pop().greeting)

    def test_stls_after_login_refused(self):
        c = self.login()
        self.assertERR(c.cmd("STLS"))
        self.assertOK(c.cmd("NOOP"))

    def test_big_message_over_tls(self):
        line = b"abcdefghij" * 9 + b"\n"
        big = b"Subject: big tls\n\n" + (line * 20000 + b".\n") * 2
        self.put([big] * 2)
        c = self.pop()
        c.stls()
        c.login("alice", USERS["alice"])
        c.send(b"RETR 1\r\nRETR 2\r\nQUIT\r\n")
        for _ in range(2):
            self.assertOK(c.readline())
            self.assertEqual(c.raw_multi(), wire(big))
        self.assertOK(c.readline())
        self.assertTrue(c.closed(10))
        self.assertEqual(len(self.host.mail_files("alice", "cur")), 2)

    def test_poplib_stls(self):
        self.put(MSGS)
        p = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertIn("STLS", p.capa())
        p.stls(context=tls_client_context())
        self.assertNotIn("STLS", p.capa())
        p.user("alice")
        self.assertTrue(p.pass_(USERS["alice"]).startswith(b"+OK maildrop"))
        resp, lines, octets = p.retr(3)
        self.assertEqual(b"\n".join(lines) + b"\n", MSGS[2])
        self.assertEqual(octets, wire_size(MSGS[2]))
        p.dele(3)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.assertEqual(len(self.host.mail_files("alice")) +
                         len(self.host.mail_files("alice", "cur")),
                         len(MSGS) - 1)


# -----------------------------------------------------------------------
class MaxErrorsTest(POP3HostCase):
    host_extra = {"pop3_max_errors": "3"}

    def errors_until_closed(self, c, bad, limit=3):
        """Send bad commands one at a time; -ERR each; the connection
        closes after the limit-th (a final -ERR may follow it)."""
        for i in range(limit - 1):
            self.assertERR(c.cmd(bad), what=i)
            self.assertFalse(c.pending(0.2), "closed after %d errors" % (i + 1))
        self.assertERR(c.cmd(bad))
        self.assertTrue(c.closed(5), "open after %d errors" % limit)
        rest = c.buf.decode("utf-8", "replace").split("\r\n")
        self.assertTrue(all(x.startswith("-ERR") for x in rest if x), rest)

    def test_authorization(self):
        c = self.pop()
        self.errors_until_closed(c, "XYZZY")

    def test_good_commands_do_not_count(self):
        c = self.pop()
        for _ in range(2):
            self.assertERR(c.cmd("XYZZY"))
            for _ in range(3):
                self.assertIn("TOP", self.capa(c))
        # the count is not reset by good commands: one more is the last
        self.assertERR(c.cmd("XYZZY"))
        self.assertTrue(c.closed(5))

    def test_transaction_nothing_deleted(self):
        names = self.put(3)
        c = self.login()
        c.ok("DELE 1")
        self.errors_until_closed(c, "XYZZY")
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names))

    def test_transaction_wrong_state_counts(self):
        self.put(1)
        c = self.login()
        self.errors_until_closed(c, "USER bob")

    def test_transaction_bad_arguments_go_on(self):
        """RFC 1939's ordinary -ERR answers (messages that are not there
        or already deleted, bad numbers) are what real clients meet:
        ten rounds of them, three times pop3_max_errors, end nothing."""
        names = self.put(2)
        c = self.login()
        c.ok("DELE 1")
        bad = ["LIST 0", "RETR 99", "TOP 1 abc", "DELE 1", "UIDL 7",
               "RETR", "TOP 2", "LIST 1 2", "DELE 0", "RETR 1"]
        for _ in range(3):
            for cmd in bad:
                self.assertERR(c.cmd(cmd), what=cmd)
            self.assertFalse(c.pending(0.1), "closed after bad arguments")
        # an unknown word between them starts no run that lasts
        for _ in range(5):
            self.assertERR(c.cmd("XYZZY"))
            c.ok("NOOP")
        c.ok("QUIT")
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names[1:]))

    def test_poplib_client_errors_go_on(self):
        """The same through Python's poplib, as a client script would."""
        self.put(3)
        p = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
        p.user("alice")
        p.pass_(USERS["alice"])
        p.dele(2)
        for _ in range(12):
            for call in (lambda: p.retr(2), lambda: p.list(9),
                         lambda: p.dele(2), lambda: p.top(5, 0),
                         lambda: p.uidl(4)):
                with self.assertRaises(poplib.error_proto):
                    call()
        self.assertEqual(p.stat()[0], 2)
        p.quit()
        self.session_over()
        self.assertEqual(len(self.host.mail_files("alice")), 2)


class IdleTimeoutTest(POP3HostCase):
    host_extra = {"pop3_idle_timeout": "2s"}

    def assertClosedSilently(self, c, start):
        self.assertTrue(c.closed(8), "not closed after the idle timeout")
        took = time.monotonic() - start
        self.assertEqual(c.buf, b"", "a reply on idle close")
        self.assertGreaterEqual(took, 1.5)
        self.assertLess(took, 8)

    def test_authorization(self):
        c = self.pop()
        t = time.monotonic()
        self.assertFalse(c.pending(1.0), "closed before the idle timeout")
        self.assertClosedSilently(c, t)

    def test_partial_line(self):
        c = self.pop()
        c.send(b"USER ali")
        self.assertClosedSilently(c, time.monotonic())

    def test_after_user(self):
        c = self.pop()
        c.ok("USER alice")
        self.assertClosedSilently(c, time.monotonic())

    def test_transaction_nothing_changed(self):
        names = self.put(3)
        c = self.login()
        c.ok("DELE 1")
        c.ok("RETR 2")
        c.raw_multi()
        t = time.monotonic()
        self.assertFalse(c.pending(1.0), "closed before the idle timeout")
        self.assertClosedSilently(c, t)
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names))
        self.assertEqual(self.host.mail_files("alice", "cur"), [])

    def test_stalled_reader(self):
        # the client asks for a big message and stops reading: the server
        # gives up (no progress writing) instead of holding it forever
        line = b"z" * 99 + b"\n"
        big = b"Subject: stall\n\n" + line * 400000        # 40 MB
        names = self.put([big, b"Subject: small\n\nsmall\n"])
        c = self.login()
        c.ok("DELE 2")
        c.send(b"RETR 1\r\n")
        time.sleep(7)
        got = len(c.buf)
        c.sock.settimeout(15)
        end = time.monotonic() + 20
        eof = False
        tail = b""
        while time.monotonic() < end:
            try:
                chunk = c.sock.recv(1 << 20)
            except (ConnectionResetError, socket.timeout):
                eof = True
                break
            if not chunk:
                eof = True
                break
            got += len(chunk)
            tail = (tail + chunk)[-5:]
        self.assertTrue(eof, "still sending after 27 s")
        self.assertFalse(tail == b"\r\n.\r\n" and got >= wire_size(big),
                         "the whole message was sent to a stalled reader")
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names))

    # Deadlines per command, not per read (issue 12): a line trickled a
    # byte at a time never moves the clock, before or after login.
    def trickle(self, c, data, interval=0.4, limit=16):
        """Send data a byte every interval s (cycling, never a line end)
        until the server closes or limit s pass; the time it took."""
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < limit:
            if c.pending(interval):
                return time.monotonic() - start
            try:
                c.sock.sendall(data[i % len(data):i % len(data) + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - start
            i += 1
        self.fail("a trickling client still connected after %d s" % limit)

    def assertTrickleClosed(self, c, data):
        took = self.trickle(c, data)
        self.assertGreaterEqual(took, 1.6, "closed too soon")
        self.assertLess(took, 6, "closed too late")
        self.assertTrue(c.closed(5), "not closed")
        self.assertEqual(c.buf, b"", "a reply on timeout")

    def test_trickle_first_command(self):
        self.assertTrickleClosed(self.pop(), b"USER alice ")

    def test_trickle_after_user(self):
        c = self.pop()
        c.ok("USER alice")
        self.assertTrickleClosed(c, b"PASS " + USERS["alice"].encode())

    def test_trickle_auth_continuation(self):
        c = self.pop()
        c.send(b"AUTH PLAIN\r\n")
        self.assertEqual(c.readline(), "+ ")
        self.assertTrickleClosed(c, b"AGFsaWNl")

    def test_trickle_transaction(self):
        names = self.put(2)
        c = self.login()
        c.ok("DELE 1")
        self.assertTrickleClosed(c, b"STAT ")
        self.session_over()
        self.assertEqual(self.host.mail_files("alice"), sorted(names))

    def test_trickle_after_pipelined_commands(self):
        self.put(1)
        c = self.login()
        c.send(b"NOOP\r\nSTAT\r\nNOOP\r\nST")
        for _ in range(3):
            self.assertOK(c.readline())
        self.assertTrickleClosed(c, b"AT UIDL ")

    def test_activity_keeps_session(self):
        self.put(1)
        c = self.login()
        for _ in range(6):
            time.sleep(0.6)
            self.assertOK(c.cmd("NOOP"))
        self.assertEqual(c.ok("STAT").split()[1], "1")
        a = self.pop()
        for _ in range(6):
            time.sleep(0.6)
            self.assertIn("TOP", self.capa(a))

    def test_duration_suffixes(self):
        with open(self.host.conf) as f:
            conf = f.read()
        for value, ok in (("10m", True), ("600s", True), ("1h", True),
                          ("10x", False), ("-1s", False), ("", False)):
            path = os.path.join(self.host.dir, "check.conf")
            with open(path, "w") as f:
                f.write(re.sub(r"(?m)^pop3_idle_timeout = .*$",
                               "pop3_idle_timeout = " + value, conf))
            r = subprocess.run([prog("kurirctl"), "-f", path, "check"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode == 0, ok, (value, r.stderr))


class IdleTimeoutTLSTest(POP3HostCase):
    """The command deadline over STLS: before login, and after it, where
    the pre-auth process proxies the session (its backstop must not be
    what ends it: the session process's deadline comes first)."""
    host_tls = True
    host_extra = {"pop3_idle_timeout": "2s"}
    trickle = IdleTimeoutTest.trickle
    assertTrickleClosed = IdleTimeoutTest.assertTrickleClosed

    def test_trickle_authorization(self):
        c = self.pop()
        self.assertOK(c.stls())
        self.assertTrickleClosed(c, b"USER alice ")

    def test_trickle_transaction(self):
        self.put(1)
        c = self.pop()
        self.assertOK(c.stls())
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)
        self.assertTrickleClosed(c, b"STAT ")


class SessionLimitTest(POP3HostCase):
    host_extra = {"pop3_max_sessions": "2"}

    def test_max_sessions(self):
        self.put(1)
        a = self.login()
        b = self.pop()
        self.assertOK(b.greeting)
        extra = self.pop()
        self.assertERR(extra.greeting, "SYS/TEMP")
        self.assertTrue(extra.closed(5))
        self.assertEqual(a.ok("STAT").split()[1], "1")
        self.assertOK(b.cmd("USER bob"))
        # one leaves: a new session is taken again
        b.ok("QUIT")
        b.close()

        def fresh():
            with POP3Client(self.host.pop3_port) as c:
                return c.greeting.startswith("+OK")
        wait_for(fresh, 5, "a free session slot")
        a.ok("QUIT")


class PerIPLimitTest(POP3HostCase):
    host_extra = {"pop3_max_sessions_per_ip": "2"}

    def test_per_ip(self):
        cs = [self.pop() for _ in range(2)]
        extra = self.pop()
        self.assertERR(extra.greeting, "SYS/TEMP")
        self.assertTrue(extra.closed(5))
        try:
            other = self.pop(source="127.0.0.2")
        except OSError as e:
            self.skipTest("cannot bind 127.0.0.2: %s" % e)
        self.assertOK(other.greeting)
        for c in cs + [other]:
            self.assertIn("TOP", self.capa(c))
        self.assertRegex(cs[0].login("alice", USERS["alice"]), MAILDROP_RE)


class BackpressureTest(POP3HostCase):

    def rss_kb(self, pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def test_client_not_reading(self):
        line = b"q" * 99 + b"\n"
        big = b"Subject: big\n\n" + line * 20000               # 2 MB
        self.put([big])
        self.put(1, user="bob")
        a = self.login()
        # 400 MB of replies asked for, none read
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        a.send(b"RETR 1\r\n" * 200)
        time.sleep(3)
        pids = self.host.pids_of("kurir-pop3d")
        self.assertTrue(pids)
        for pid in pids:
            self.assertLess(self.rss_kb(pid), 64 * 1024,
                            "kurir-pop3d %d buffers a stalled client" % pid)
        # others are served meanwhile
        b = self.login("bob")
        self.assertEqual(b.ok("STAT").split()[1], "1")
        b.ok("RETR 1")
        b.raw_multi()
        b.ok("QUIT")
        # and the stalled one gets its replies, in order, once it reads
        a.sock.settimeout(30)
        for i in range(5):
            self.assertOK(a.readline(), i)
            self.assertEqual(a.raw_multi(), wire(big), i)
        a.close()
        self.session_over()


class ReloadTest(POP3HostCase):

    def test_sighup_keeps_sessions(self):
        self.put(MSGS)
        a = self.login()
        self.host.ctl("user", "add", "carol", input="carol-pw\n")
        self.host.put_mail("carol", [MSGS[2]])
        os.kill(self.host.kurird.pid, signal.SIGHUP)
        end = time.monotonic() + 15
        while True:
            c = self.pop()
            c.ok("USER carol")
            r = c.cmd("PASS carol-pw")
            if MAILDROP_RE.match(r):
                break
            self.assertERR(r)
            c.close()
            self.assertLess(time.monotonic(), end, "carol never known")
            time.sleep(0.3)
        self.assertEqual(r, "+OK maildrop has 1 messages (%d octets)" %
                         wire_size(MSGS[2]))
        # the session opened before the reload goes on
        self.assertEqual(a.ok("STAT").split()[1], str(len(MSGS)))
        a.ok("RETR 2")
        self.assertEqual(a.raw_multi(), wire(MSGS[1]))
        a.ok("DELE 1")
        a.ok("QUIT")
        self.assertTrue(a.closed(5))
        self.assertEqual(len(self.host.mail_files("alice")), len(MSGS) - 2)


class ParallelUsersTest(POP3HostCase):
    host_users = {"user%d" % i: "pw-%d" % i for i in range(8)}

    def test_parallel_sessions(self):
        per = 25
        for u in self.host_users:
            self.host.put_mail(u, per)
        results = {}

        def fetch(u):
            try:
                with POP3Client(self.host.pop3_port, timeout=30) as c:
                    c.login(u, self.host_users[u])
                    got = []
                    for i in range(per):
                        c.ok("RETR %d" % (i + 1))
                        got.append(c.multi())
                        c.ok("DELE %d" % (i + 1))
                    c.ok("QUIT")
                    results[u] = got
            except Exception as e:      # noqa: BLE001 - reported below
                results[u] = e
        ts = [threading.Thread(target=fetch, args=(u,), daemon=True)
              for u in self.host_users]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for u in self.host_users:
            got = results.get(u)
            self.assertIsInstance(got, list, (u, got))
            self.assertEqual(len(got), per, u)
            for i, lines in enumerate(got):
                self.assertIn(b"Subject: message %d" % (i + 1), lines, u)
                self.assertIn(b"To: <%s@example.test>" % u.encode(), lines)
            wait_for(lambda: self.host.mail_files(u) == [], 5,
                     "%s emptied" % u)


NONLO = non_loopback_address()


def free_port_on(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


class _NonLoopbackCase(POP3HostCase):
    """POP3 on a non-loopback address of this host, TLS configured."""
    host_tls = True
    plaintext_auth = "no"

    def setUp(self):
        self.port = free_port_on(NONLO)
        self.pop3_listen = "%s:%d" % (NONLO, self.port)
        self.host_extra = {"plaintext_auth": self.plaintext_auth}
        super().setUp()
        self.put(1)

    def wait_ready(self):
        self.host.wait_pop3(self.port, host=NONLO, source=NONLO)

    def connect(self):
        c = POP3Client(self.port, host=NONLO, source=NONLO)
        self.addCleanup(c.close)
        self.assertOK(c.greeting)
        return c

    def test_auth_plain_after_stls(self):
        c = self.connect()
        c.stls()
        self.assertRegex(c.cmd("AUTH PLAIN " + plain("alice",
                                                     USERS["alice"])),
                         MAILDROP_RE)


@unittest.skipUnless(NONLO, "no non-loopback address to test with")
class NonLoopbackTest(_NonLoopbackCase):
    """Without TLS from a non-loopback address no password is taken."""

    def test_plaintext_refused(self):
        c = self.connect()
        caps = self.capa(c)
        self.assertNotIn("USER", caps)
        self.assertFalse([x for x in caps if x.startswith("SASL")], caps)
        self.assertIn("STLS", caps)
        r = c.cmd("USER alice")
        if r.startswith("+OK"):
            r = c.cmd("PASS " + USERS["alice"])
        self.assertERR(r)
        self.assertFalse(MAILDROP_RE.match(r))
        r = c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        self.assertERR(r)
        self.assertFalse(MAILDROP_RE.match(r))
        r = c.cmd("AUTH PLAIN")
        if r.startswith("+ ") or r == "+":
            r = c.cmd(plain("alice", USERS["alice"]))
        self.assertERR(r)
        self.assertERR(c.cmd("STAT"))
        # with TLS it works
        c.stls()
        caps = self.capa(c)
        self.assertIn("USER", caps)
        self.assertTrue([x for x in caps if x.startswith("SASL") and
                         "PLAIN" in x.split()], caps)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)
        self.assertEqual(c.ok("STAT").split()[1], "1")


@unittest.skipUnless(NONLO, "no non-loopback address to test with")
class PlaintextAuthYesTest(_NonLoopbackCase):
    plaintext_auth = "yes"

    def test_plaintext_allowed(self):
        c = self.connect()
        caps = self.capa(c)
        self.assertIn("USER", caps)
        self.assertIn("STLS", caps)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)
        self.assertEqual(c.ok("STAT").split()[1], "1")


def non_loopback_v6():
    """A global IPv6 address of this host (not ::1, not link-local)."""
    try:
        with open("/proc/net/if_inet6") as f:
            rows = [line.split() for line in f]
    except OSError:
        return None
    for row in rows:
        h = row[0]
        if h == "0" * 31 + "1" or h.startswith("fe80"):
            continue
        ip = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(h))
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind((ip, 0))
            return ip
        except OSError:
            continue
    return None


def have_v6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


NONLO6 = non_loopback_v6()


def free_port_v6(ip):
    with socket.socket(socket.AF_INET6) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


class _AddressCase(POP3HostCase):
    """POP3 on another listen address (listen_ip, a v6 one in [])."""
    host_tls = True
    listen_ip = None
    connect_ip = None

    def setUp(self):
        fam_ip = self.listen_ip.strip("[]")
        self.port = free_port_v6(fam_ip) if ":" in fam_ip else \
            free_port_on(fam_ip)
        self.pop3_listen = "%s:%d" % (self.listen_ip, self.port)
        self.host_extra = {"plaintext_auth": "no"}
        super().setUp()
        self.put(1)

    def wait_ready(self):
        self.host.wait_pop3(self.port, host=self.connect_ip,
                            source=self.connect_ip)

    def connect(self, ip=None):
        ip = ip or self.connect_ip
        c = POP3Client(self.port, host=ip, source=ip)
        self.addCleanup(c.close)
        self.assertOK(c.greeting)
        return c

    def assertPlaintextAllowed(self, c):
        caps = self.capa(c)
        self.assertIn("USER", caps)
        self.assertRegex(c.login("alice", USERS["alice"]), MAILDROP_RE)

    def assertPlaintextRefused(self, c):
        caps = self.capa(c)
        self.assertNotIn("USER", caps)
        self.assertFalse([x for x in caps if x.startswith("SASL")], caps)
        r = c.cmd("USER alice")
        if r.startswith("+OK"):
            r = c.cmd("PASS " + USERS["alice"])
        self.assertERR(r)
        self.assertFalse(MAILDROP_RE.match(r))
        self.assertERR(c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])))
        c.stls()
        self.assertPlaintextAllowed(c)


@unittest.skipUnless(have_v6_loopback(), "no ::1")
class IPv6LoopbackTest(_AddressCase):
    listen_ip = "[::1]"
    connect_ip = "::1"

    def test_v6_loopback_is_loopback(self):
        self.assertPlaintextAllowed(self.connect())


@unittest.skipUnless(NONLO6, "no non-loopback IPv6 address to test with")
class IPv6NonLoopbackTest(_AddressCase):
    listen_ip = "[%s]" % NONLO6
    connect_ip = NONLO6

    def test_v6_plaintext_refused(self):
        self.assertPlaintextRefused(self.connect())


@unittest.skipUnless(have_v6_loopback() and NONLO,
                     "no IPv6 or no non-loopback IPv4 address")
class DualStackTest(_AddressCase):
    """Listening on [::]: IPv4 clients arrive as ::ffff:a.b.c.d; the
    loopback rule must see through that."""
    listen_ip = "[::]"
    connect_ip = "::1"

    def setUp(self):
        super().setUp()
        try:
            socket.create_connection(("127.0.0.1", self.port), 5).close()
        except OSError:
            self.skipTest("[::] does not take IPv4 here (v6only)")

    def test_mapped_loopback_allowed(self):
        self.assertPlaintextAllowed(self.connect("127.0.0.1"))

    def test_mapped_non_loopback_refused(self):
        self.assertPlaintextRefused(self.connect(NONLO))


class ShutdownTest(POP3HostCase):

    def test_sigterm_with_open_sessions(self):
        names = self.put(3)
        a = self.login()
        a.ok("DELE 1")
        b = self.pop()
        b.ok("USER bob")
        pids = self.host.pids_of("kurir-pop3d")
        self.assertEqual(len(pids), 2, pids)     # pre-auth + alice's
        self.host.kurird.send_signal(signal.SIGTERM)
        self.host.kurird.wait(20)
        # no POP3 process outlives kurird
        wait_for(lambda: self.host.pids_of("kurir-pop3d") == [], 10,
                 "the POP3 processes to exit with kurird")
        self.assertTrue(a.closed(10))
        self.assertTrue(b.closed(10))
        # the session never reached QUIT: nothing deleted
        self.assertEqual(self.host.mail_files("alice"), sorted(names))
        # and it all comes back
        self.host.start()
        self.host.wait_pop3()
        c, r = self.login_retry()
        self.assertTrue(r.startswith("+OK maildrop has 3 messages"), r)


# -----------------------------------------------------------------------
class PoplibCurlTest(POP3HostCase):

    def test_poplib_user_pass(self):
        names = self.put(MSGS)
        p = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertTrue(p.getwelcome().startswith(b"+OK"))
        caps = p.capa()
        self.assertIn("UIDL", caps)
        self.assertIn("TOP", caps)
        p.user("alice")
        self.assertRegex(p.pass_(USERS["alice"]).decode(), MAILDROP_RE)
        self.assertEqual(p.stat(), (len(MSGS),
                                    sum(wire_size(x) for x in MSGS)))
        _, listing, _ = p.list()
        self.assertEqual(listing, [b"%d %d" % (i + 1, wire_size(x))
                                   for i, x in enumerate(MSGS)])
        _, uidl, _ = p.uidl()
        self.assertEqual([x.split()[1].decode() for x in uidl],
                         [unique(n) for n in names])
        for i, data in enumerate(MSGS):
            _, lines, octets = p.retr(i + 1)
            self.assertEqual(b"\n".join(lines) + b"\n",
                             data if data.endswith(b"\n") else data + b"\n")
            self.assertEqual(octets, wire_size(data))
        _, lines, _ = p.top(2, 1)
        self.assertEqual(b"\n".join(lines) + b"\n", top_of(MSGS[1], 1))
        p.dele(1)
        p.dele(2)
        self.assertTrue(p.quit().startswith(b"+OK"))
        self.assertEqual(self.host.mail_files("alice"), [])
        self.assertEqual(self.host.mail_files("alice", "cur"),
                         sorted(n + ":2,S" for n in names[2:]))

    def test_poplib_auth_plain(self):
        self.put(2)
        p = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
        self.addCleanup(p.close)
        r = p._shortcmd("AUTH PLAIN " + plain("alice", USERS["alice"]))
        self.assertRegex(r.decode(), MAILDROP_RE)
        self.assertEqual(p.stat()[0], 2)
        with self.assertRaises(poplib.error_proto):
            p2 = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
            self.addCleanup(p2.close)
            p2._shortcmd("AUTH PLAIN " + plain("bob", "bad"))
        p.quit()

    def curl(self, *args, input=None):
        return subprocess.run([tools.need("curl"), "-sS",
                               "--max-time", "30"] +
                              list(args), capture_output=True, timeout=60,
                              input=input)

    def test_curl_list_retr_uidl(self):
        names = self.put(MSGS)
        url = "pop3://127.0.0.1:%d/" % self.host.pop3_port
        r = self.curl(url, "-u", "alice:" + USERS["alice"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"".join(b"%d %d\r\n" % (i + 1, wire_size(x))
                                            for i, x in enumerate(MSGS)))
        for i, data in enumerate(MSGS):
            r = self.curl(url + str(i + 1), "-u", "alice:" + USERS["alice"])
            self.assertEqual(r.returncode, 0, r.stderr)
            want = data if data.endswith(b"\n") else data + b"\n"
            self.assertEqual(r.stdout, want.replace(b"\n", b"\r\n"), i + 1)
        r = self.curl(url, "-u", "alice:" + USERS["alice"], "-X", "UIDL")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split("\r\n")[:-1],
                         ["%d %s" % (i + 1, unique(n))
                          for i, n in enumerate(names)])
        # curl RETRs: all were marked seen
        wait_for(lambda: len(self.host.mail_files("alice", "cur")) ==
                 len(MSGS), 5, "RETR'd messages in cur/")
        r = self.curl(url, "-u", "alice:wrong")
        self.assertNotEqual(r.returncode, 0)

    def test_curl_dele(self):
        self.put(3)
        url = "pop3://127.0.0.1:%d/2" % self.host.pop3_port
        r = self.curl(url, "-u", "bob:" + USERS["bob"], "-X", "DELE", "-I")
        # bob has nothing: DELE 2 fails
        self.assertNotEqual(r.returncode, 0)
        r = self.curl(url, "-u", "alice:" + USERS["alice"], "-X", "DELE",
                      "-I")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: len(self.host.mail_files("alice")) == 2, 5,
                 "the DELE applied")


class CurlTLSTest(POP3HostCase):
    host_tls = True

    def test_curl_ssl_reqd(self):
        self.put(MSGS)
        url = "pop3://127.0.0.1:%d/" % self.host.pop3_port
        r = subprocess.run([tools.need("curl"), "-sS", "--max-time", "30",
                            "--ssl-reqd",
                            "-k", url + "2", "-u", "bob:" + USERS["bob"]],
                           capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)       # bob has no message 2
        r = subprocess.run([tools.need("curl"), "-sS", "--max-time", "30",
                            "--ssl-reqd",
                            "-k", url + "2", "-u", "alice:" + USERS["alice"]],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, MSGS[1].replace(b"\n", b"\r\n"))


class MpopTest(POP3HostCase):
    N = 1000

    def mpop(self, local, *extra, timeout=300):
        uidls = os.path.join(self.host.dir, "mpop-uidls")
        argv = [tools.need("mpop"), "--host=127.0.0.1",
                "--port=%d" % self.host.pop3_port, "--auth=user",
                "--user=alice", "--passwordeval=echo '%s'" % USERS["alice"],
                "--tls=off", "--delivery=maildir,%s" % local,
                "--keep=off", "--only-new=off", "--uidls-file=%s" % uidls,
                "--received-header=off", "--timeout=60", "--quiet"]
        return subprocess.run(argv + list(extra), capture_output=True,
                              text=True, timeout=timeout)

    def test_mpop_fetches_1000(self):
        msgs = []
        for i in range(self.N):
            body = b"line %d\n" % i
            if i % 7 == 0:
                body += b".\n..dotted\n"
            if i % 11 == 0:
                body += b"x" * (i * 3) + b"\n"
            msgs.append(b"From: <s@remote.test>\nTo: <alice@example.test>\n"
                        b"Subject: mpop %d\nMessage-ID: <%d@remote.test>\n"
                        b"\n" % (i, i) + body)
        self.put(msgs)
        local = tempfile.mkdtemp(prefix="kurir-mpop-")
        self.addCleanup(shutil.rmtree, local, True)
        for d in ("tmp", "new", "cur"):
            os.mkdir(os.path.join(local, d))
        t = time.monotonic()
        r = self.mpop(local)
        took = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = []
        for d in ("new", "cur"):
            for name in os.listdir(os.path.join(local, d)):
                with open(os.path.join(local, d, name), "rb") as f:
                    got.append(f.read())
        self.assertEqual(len(got), self.N, took)
        self.assertEqual(sorted(got), sorted(msgs))
        # deleted on the server (--keep=off)
        self.assertEqual(self.host.mail_files("alice"), [])
        self.assertEqual(self.host.mail_files("alice", "cur"), [])
        # and a second run finds nothing
        r = self.mpop(local)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(len(os.listdir(os.path.join(local, "new"))) +
                         len(os.listdir(os.path.join(local, "cur"))), self.N)

    def test_mpop_wrong_password(self):
        self.put(2)
        local = tempfile.mkdtemp(prefix="kurir-mpop-")
        self.addCleanup(shutil.rmtree, local, True)
        for d in ("tmp", "new", "cur"):
            os.mkdir(os.path.join(local, d))
        r = self.mpop(local, "--passwordeval=echo wrong")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(os.listdir(os.path.join(local, "new")), [])
        self.assertEqual(len(self.host.mail_files("alice")), 2)


# -----------------------------------------------------------------------
class DeliveryTest(POP3HostCase):
    """kurir-local delivers while a POP3 session is open."""
    host_deliver = True
    host_extra = {"retry_min": "1s", "retry_max": "2s"}

    def deliver(self, tag, user="alice"):
        with self.host.smtp() as s:
            s.ehlo()
            s.mail_transaction("s@remote.test", ["%s@example.test" % user],
                               to_wire("Subject: %s\n\n%s\n.\n" % (tag, tag)))
        new = os.path.join(self.host.maildir(user), "new")
        needle = ("Subject: %s\n" % tag).encode()

        def arrived():
            for name in self.host.mail_files(user):
                with open(os.path.join(new, name), "rb") as f:
                    if needle in f.read():
                        return name
            return None
        wait_for(arrived, 30, "%s in the Maildir" % tag)
        name = arrived()
        with open(os.path.join(new, name), "rb") as f:
            return name, f.read()

    def test_delivery_during_session(self):
        self.host.wait_smtp()
        name1, data1 = self.deliver("first")
        c = self.login()
        self.assertEqual(c.ok("STAT"), "+OK 1 %d" % wire_size(data1))
        name2, data2 = self.deliver("second")
        self.assertEqual(c.ok("STAT"), "+OK 1 %d" % wire_size(data1))
        self.assertERR(c.cmd("LIST 2"))
        _, lines = c.ok_multi("UIDL")
        self.assertEqual(lines, [b"1 " + unique(name1).encode()])
        c.ok("RETR 1")
        self.assertEqual(c.raw_multi(), wire(data1))
        c.ok("QUIT")
        self.assertTrue(c.closed(5))
        c2, r = self.login_retry()
        self.assertEqual(r, "+OK maildrop has 2 messages (%d octets)" %
                         (wire_size(data1) + wire_size(data2)))
        self.assertEqual(c2.ok("UIDL 2"), "+OK 2 " + unique(name2))
        c2.ok("RETR 2")
        self.assertEqual(c2.raw_multi(), wire(data2))
        c2.ok("QUIT")

    def test_poplib_retr_delivered_byte_exact(self):
        self.host.wait_smtp()
        name, data = self.deliver("poplib")
        self.assertTrue(data.startswith(b"Return-Path: <s@remote.test>\n"
                                        b"Delivered-To: alice@example.test\n"
                                        b"Received: "), data[:200])
        p = poplib.POP3("127.0.0.1", self.host.pop3_port, timeout=10)
        self.addCleanup(p.close)
        p.user("alice")
        p.pass_(USERS["alice"])
        _, lines, octets = p.retr(1)
        self.assertEqual(b"\n".join(lines) + b"\n", data)
        self.assertEqual(octets, wire_size(data))
        p.dele(1)
        p.quit()
        self.assertEqual(self.host.mail_files("alice"), [])
        self.assertEqual(self.host.mail_files("alice", "cur"), [])
        # later mail lands in a Maildir the session process left usable
        self.deliver("after")


if __name__ == "__main__":
    unittest.main()
