"""Never an open relay, by any address form.

SPEC 1: the SMTP receiver "accepts mail for local domains from anyone,
and for any domain from relay clients or authenticated users only (never
an open relay)"; SPEC 8: "source routes ignored ... the percent hack
(user%host@gateway) is off by default and, when on, never makes the host
an open relay".

The hosts here deliver (kurir-send runs) and route remote.test, and every
other remote domain ("*"), to a recording destination server
(smtpdest.Destination), so mail that got out would be seen there.  The
SMTP client connects from 127.0.0.1, which relay_clients (192.0.2.0/24, a
documentation network: no traffic goes there) does not contain.  For
every classic relay trick - the plain remote address, quoted local parts
holding an '@', the percent hack, source routes, address literals, case,
a trailing dot, postmaster at the remote domain, a bang path - RCPT must
be refused with a 5xx; a form taken as a local address (a local part
that happens to contain '%' or '@') must never reach the destination.
After a wait and a flush the destination has recorded nothing and
kurir-send has routed nothing to kurir-remote (no "relay=remote" line).

The positive controls show that the same host does relay for a relay
client (default relay_clients: loopback): those RCPTs are accepted and
kurir-send hands them to kurir-remote; once kurir-remote is built
(build/kurir-remote) the destination must receive them too.
"""
import os
import re
import time
import unittest

from kurirtest import HostCase, SMTPHostCase, prog, wait_for
from smtpdest import Destination

REMOTE_BUILT = os.path.exists(prog("kurir-remote"))

# (why, the address inside RCPT TO:<...>)
FORMS = [
    ("plain remote address", "bob@remote.test"),
    ("quoted local part holding the remote address",
     '"bob@remote.test"@example.test'),
    ("percent hack", "bob%remote.test@example.test"),
    ("percent hack through localhost", "bob%remote.test@localhost"),
    ("double percent hack", "bob%remote.test%example.test@example.test"),
    ("quoted percent hack", '"bob%remote.test"@example.test'),
    ("source route", "@example.test:bob@remote.test"),
    ("source route list", "@example.test,@remote.test:bob@remote.test"),
    ("address literal", "bob@[127.0.0.1]"),
    ("IPv6 address literal", "bob@[IPv6:::1]"),
    ("upper case", "BOB@REMOTE.TEST"),
    ("trailing dot", "bob@remote.test."),
    ("postmaster of the remote domain", "postmaster@remote.test"),
    ("bang path", "remote.test!bob@example.test"),
    ("two at signs", "bob@remote.test@example.test"),
]

# senders a relay abuser would try: a local one (spoofed), a foreign
# one, the null sender
SENDERS = ["alice@example.test", "spammer@elsewhere.test", ""]

MESSAGE = (b"From: spammer@elsewhere.test\r\n"
           b"Subject: relay probe\r\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
           b"Message-ID: <probe@elsewhere.test>\r\n"
           b"\r\n"
           b"if you read this at remote.test, kurir is an open relay\r\n")


class RelayCase(SMTPHostCase):
    """A delivering host whose routes send remote.test and every other
    remote domain to a recording destination."""
    host_deliver = True
    host_users = {"alice": "alice-pw", "bob": "bob-pw"}
    relay_clients = None            # None: the default (loopback)
    percent_hack = "no"

    def setUp(self):
        self.dest = Destination().start()
        self.addCleanup(self.dest.stop)
        extra = {"percent_hack": self.percent_hack,
                 "retry_min": "1s", "retry_max": "2s"}
        if self.relay_clients is not None:
            extra["relay_clients"] = self.relay_clients
        self.host_extra = extra
        # SMTPHostCase.setUp, with the routes written before the start
        HostCase.setUp(self)
        with open(os.path.join(self.host.dir, "routes"), "w") as f:
            f.write("remote.test [127.0.0.1]:%d tls=none\n"
                    "* [127.0.0.1]:%d tls=none\n" %
                    (self.dest.port, self.dest.port))
        self.addCleanup(self.assertNoChildDied)
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()

    def send_lines(self, to=None):
        """kurir-send's per-recipient lines (optionally for to=<to>)."""
        out = []
        for line in self.host.log().splitlines():
            m = re.search(r"kurir-send\[\d+\]: [0-9a-f]{16}: to=<([^>]*)>"
                          r".*, relay=(\w+)", line)
            if m and (to is None or m.group(1) == to):
                out.append((m.group(1), m.group(2), line))
        return out

    def transaction(self, c, sender, rcpt):
        """MAIL, RCPT; if RCPT is accepted, DATA too.  (RCPT reply, queue
        id or None); the session is reset afterwards."""
        c.expect("MAIL FROM:<%s>" % sender, 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        qid = None
        if r.code == 250:
            c.expect("DATA", 354)
            c.send(MESSAGE + b".\r\n")
            d = c.reply()
            self.assertEqual(d.code, 250, (rcpt, d))
            m = re.search(r"queued as ([0-9a-f]{16})", d.text)
            qid = m.group(1) if m else None
        else:
            c.expect("RSET", 250)
        return r, qid


class NoOpenRelayTest(RelayCase):
    """A client outside relay_clients, percent hack off (the default)."""
    relay_clients = "192.0.2.0/24"
    percent_hack = "no"

    def test_no_form_is_relayed(self):
        # Why: the issue: "an unauthenticated client outside
        # relay_clients cannot get mail sent to a remote domain, by any
        # address form".  Each RCPT is refused (5xx, so the abuser's
        # software gives up), or taken as a local address that then
        # never leaves the host.
        accepted = []
        for sender in SENDERS:
            # one session per sender: fewer refusals than
            # smtp_max_errors in each
            with self.client(timeout=15) as c:
                self.assertEqual(c.greeting.code, 220, c.greeting)
                c.ehlo("abuser.elsewhere.test")
                for why, rcpt in FORMS:
                    r, qid = self.transaction(c, sender, rcpt)
                    if r.code == 250:
                        accepted.append((why, rcpt, sender, qid))
                        continue
                    self.assertTrue(500 <= r.code < 600,
                                    "%s <%s> from <%s>: %r (a refusal must "
                                    "be permanent)" % (why, rcpt, sender, r))
                    # the reply says why: relay denied, no such user, or
                    # bad syntax
                    self.assertRegex(r.lines[0], r"^5\.(7\.1|1\.\d+|5\.\d+) ",
                                     "%s <%s>: %r" % (why, rcpt, r))
                    if r.lines[0].startswith("5.7.1"):
                        self.assertIn("relay", r.text.lower(), r)
                c.cmd("QUIT")
        # the plain remote address is the one that must be refused as a
        # relay attempt, whatever else happens (shows the check is on)
        self.assertNotIn("bob@remote.test", [a[1] for a in accepted])
        # whatever was taken is local: give kurir-send time, then a
        # flush (the retries of anything deferred), then time again
        time.sleep(1.5)
        self.host.ctl("flush")
        time.sleep(1.5)
        relayed = [e for e in self.dest.messages()
                   if not (e.mail_from == "" and
                           all(r in SENDERS for r in e.rcpt_tos))]
        self.assertEqual(relayed, [],
                         "mail got out to the destination; accepted: %r" %
                         accepted)
        # not even handed to kurir-remote (a bounce of a local form to
        # the foreign sender would be: that is not relaying)
        out = [(to, how) for to, how, _ in self.send_lines()
               if how == "remote" and to not in SENDERS]
        self.assertEqual(out, [], "recipients routed to kurir-remote; "
                         "accepted: %r; log:\n%s" % (accepted,
                                                     self.host.log()))
        for e in self.host.queue():
            for r in e["recipients"]:
                self.assertNotIn("remote.test", r["address"].lower(),
                                 (e, accepted))
        # and the refusals were logged for the admin
        self.assertIn("relay denied", self.host.log())

    def test_failed_auth_gives_no_relay(self):
        # Why: an unauthenticated session that tries AUTH with a bad
        # password is still no relay client: the RCPT after it is
        # refused.
        with self.client(timeout=15) as c:
            c.ehlo("abuser.elsewhere.test")
            c.cmd("AUTH PLAIN AGJvYgB3cm9uZw==")      # \0bob\0wrong
            r, qid = self.transaction(c, "alice@example.test",
                                      "bob@remote.test")
            self.assertTrue(500 <= r.code < 600, r)
            self.assertIsNone(qid)


class NoOpenRelayPercentHackTest(NoOpenRelayTest):
    """The same, with the percent hack on: it rewrites user%host@us to
    user@host, which must then meet the relay rules like any remote
    address (SPEC 8)."""
    percent_hack = "yes"

    def test_percent_rewrite_is_refused_as_relay(self):
        # Why: with the hack on, bob%remote.test@example.test means
        # bob@remote.test: the refusal is a relay denial naming the
        # rewritten address, not "no such user bob%remote.test".
        with self.client(timeout=15) as c:
            c.ehlo("abuser.elsewhere.test")
            r, qid = self.transaction(c, "alice@example.test",
                                      "bob%remote.test@example.test")
            self.assertIsNone(qid)
            self.assertEqual(r.code // 100, 5, r)
            self.assertTrue(r.lines[0].startswith("5.7.1"), r)


# ---------------------------------------------------------------------------
# Positive controls: a relay client does get these forms relayed, so the
# tests above could fail.

RELAYED_FORMS = [
    ("plain remote address", "bob@remote.test", "bob@remote.test"),
    ("upper case", "BOB@REMOTE.TEST", "bob@remote.test"),
    ("source route", "@example.test:bob@remote.test", "bob@remote.test"),
    ("postmaster of the remote domain", "postmaster@remote.test",
     "postmaster@remote.test"),
]


class RelayClientControlTest(RelayCase):
    """A relay client (127.0.0.1, in the default relay_clients); percent
    hack on."""
    percent_hack = "yes"
    forms = RELAYED_FORMS + [
        ("percent hack", "bob%remote.test@example.test", "bob@remote.test")]

    def test_relay_client_is_relayed(self):
        # Why: the positive control: the same forms from a relay client
        # are accepted and handed to kurir-remote (and, once it is built,
        # reach the destination), so "nothing relayed" above means
        # something.
        qids = []
        with self.client(timeout=15) as c:
            c.ehlo("client.example.test")
            for why, rcpt, _ in self.forms:
                r, qid = self.transaction(c, "alice@example.test", rcpt)
                self.assertEqual(r.code, 250, "%s <%s>: %r" % (why, rcpt, r))
                self.assertIsNotNone(qid, rcpt)
                qids.append(qid)
            c.cmd("QUIT")
        # every one is routed to kurir-remote as an address at remote.test
        def routed():
            got = [to.lower() for to, how, _ in self.send_lines()
                   if how == "remote"]
            return len(got) >= len(self.forms)
        try:
            wait_for(routed, 10, "kurir-send routing to kurir-remote")
        except AssertionError as e:
            raise AssertionError("%s; log:\n%s" % (e, self.host.log()))
        got = sorted(to.lower() for to, how, _ in self.send_lines()
                     if how == "remote")
        want = sorted(w for _, _, w in self.forms)
        self.assertEqual(sorted(set(got)), sorted(set(want)), got)
        if not REMOTE_BUILT:
            return      # the rest needs kurir-remote
        msgs = self.dest.wait_for_messages(len(self.forms), timeout=20)
        self.assertEqual(sorted(r.lower() for e in msgs for r in e.rcpt_tos),
                         want)
        for e in msgs:
            self.assertEqual(e.mail_from, "alice@example.test")
            self.assertTrue(e.data.endswith(
                b"kurir is an open relay\r\n"), e.data[-200:])

    @unittest.skipUnless(REMOTE_BUILT, "kurir-remote is not built yet")
    def test_relay_client_mail_reaches_destination_once(self):
        # Why: the delivery half of the control on its own: one message,
        # one envelope at the destination, the queue empties.
        with self.client(timeout=15) as c:
            c.ehlo("client.example.test")
            r, qid = self.transaction(c, "alice@example.test",
                                      "bob@remote.test")
            self.assertEqual(r.code, 250, r)
        e, = self.dest.wait_for_messages(1, timeout=20)
        self.assertEqual(e.rcpt_tos, ["bob@remote.test"])
        wait_for(lambda: self.host.queue() == [], 10, "an empty queue")
        time.sleep(1.0)
        self.assertEqual(len(self.dest.messages()), 1)


class RelayClientPercentOffTest(RelayCase):
    """A relay client, percent hack off (the default): user%host@us is a
    local part like any other - an unknown mailbox - not a route."""
    percent_hack = "no"

    def test_percent_form_is_a_local_part(self):
        # Why: SPEC 8: the hack is off by default; even a relay client's
        # bob%remote.test@example.test is then the local mailbox
        # "bob%remote.test", which does not exist (550 5.1.1).
        with self.client(timeout=15) as c:
            c.ehlo("client.example.test")
            r, qid = self.transaction(c, "alice@example.test",
                                      "bob%remote.test@example.test")
            self.assertEqual(r.code, 550, r)
            self.assertTrue(r.lines[0].startswith("5.1.1"), r)
            # and the plain form is relayed (the control of the control)
            r, qid = self.transaction(c, "alice@example.test",
                                      "bob@remote.test")
            self.assertEqual(r.code, 250, r)
        wait_for(lambda: any(how == "remote" for _, how, _ in
                             self.send_lines("bob@remote.test")), 10,
                 "bob@remote.test routed to kurir-remote")


if __name__ == "__main__":
    unittest.main()
