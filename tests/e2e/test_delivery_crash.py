"""Crash safety of delivery: SIGKILL kurir-send and kurir-local at random.

500 uniquely marked messages are submitted (kurir-sendmail from a few
threads, SMTP with smtplib from others) to alice, bob, both of them, and
the alias "both" (alice, bob), so that alias targets keep their own
state across rounds.  Meanwhile a killer thread SIGKILLs kurir-send or
kurir-local (a random choice) after random pauses, a bounded number of
times within a bounded time; kurird restarts what it killed.  Then the
killing stops and the test waits (bounded; kurirctl flush now and then)
until the queue is empty and every accepted message is in the Maildir
of each of its final recipients.

A message counts as accepted only if kurir-sendmail exited 0 or the SMTP
server answered 250 to its data.  Asserted: none lost (each accepted
message is in every Maildir it was meant for), no copy in a Maildir it
was not meant for, and duplicates (a second copy in the same Maildir)
at most 1% of the deliveries.  Each copy carries a delivery tag and after
a crash kurir-local looks for it before it makes the copy again, so the
measured figure is 0 (10 runs); the margin is for what is left of the
window (a copy that a reader removed before the retry).  Reported on stderr: the
duplicates, the kills, and the files left in tmp/ (a kurir-local killed
mid-write leaves one there; Maildir readers ignore tmp/, so they are
counted, not failed on).

Knobs: KURIR_SEED (the random seed), KURIR_DC_MESSAGES (default 500),
KURIR_DC_KILLS (the most kills, default 60).
"""
import os
import random
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import unittest

from kurirtest import HostCase, prog, wait_for

MESSAGES = int(os.environ.get("KURIR_DC_MESSAGES", "500"))
MAX_KILLS = int(os.environ.get("KURIR_DC_KILLS", "60"))
SUBMIT_TIME = float(os.environ.get("KURIR_DC_SUBMIT_TIME", "25"))
# the first part of each submitter's messages goes at once, the way a
# backlog forms (a burst, or mail waiting while delivery was down); the
# rest is spread over SUBMIT_TIME
BURST = float(os.environ.get("KURIR_DC_BURST", "0.3"))
KILL_WINDOW = 60.0       # seconds the killer may run at most
DRAIN_TIMEOUT = 120.0    # seconds to wait for the queue to empty after it
SENDMAIL_THREADS = 3
SMTP_THREADS = 2

# recipients of a message -> the Maildirs that must get one copy each
RCPT_SETS = [
    (["alice@example.test"], {"alice"}),
    (["bob@example.test"], {"bob"}),
    (["alice@example.test", "bob@example.test"], {"alice", "bob"}),
    (["both@example.test"], {"alice", "bob"}),
    (["both@example.test", "alice@example.test"], {"alice", "bob"}),
]

TOKEN_RE = re.compile(rb"^Subject: dc (t\d{4}-[0-9a-f]{8})$", re.M)


def orphan_copies(text):
    """Diagnostic, from the kurird log: how many copies kurir-local wrote
    while no kurir-send was running (their answers cannot arrive, so each
    is a duplicate once the next kurir-send delivers again).  The lines
    of different processes are only roughly in order: an estimate."""
    alive, n = False, 0
    for line in text.splitlines():
        if re.search(r"kurird\[\d+\]: started kurir-send ", line):
            alive = True
        elif re.search(r"kurird\[\d+\]: kurir-send (killed by signal|"
                       r"exited with status)", line):
            alive = False
        elif not alive and re.search(r"kurir-local\[\d+\]: delivered to "
                                     r"maildir ", line):
            n += 1
    return n


def log(msg):
    print("\ndelivery-crash: " + msg, file=sys.stderr, flush=True)


def message_text(token, rng):
    size = rng.choice((1, 1, 1, 20, 200))   # in lines of 64 bytes
    line = ("%s " % token) * 4
    line = (line * 2)[:63] + "\n"
    return ("From: <sender@remote.test>\nSubject: dc %s\n"
            "X-Token: %s\n\n%s\n%s" % (token, token, token, line * size))


class DeliveryCrashTest(HostCase):
    host_users = {"alice": "alice-pw", "bob": "bob-pw"}
    host_aliases = "both: alice, bob\n"
    host_deliver = True
    host_extra = {"retry_min": "1s", "retry_max": "2s"}

    def setUp(self):
        super().setUp()
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()
        wait_for(lambda: self.host.pids_of("kurir-send") and
                 self.host.pids_of("kurir-local"), 15,
                 "kurir-send and kurir-local to run")

    # -- submission -------------------------------------------------------
    def pace(self, rng, i, n):
        """Before the i-th of n submissions: none for the burst, then
        spread over about SUBMIT_TIME seconds, so that mail flows all the
        while the killer works."""
        burst = int(n * BURST)
        if i >= burst:
            time.sleep(rng.uniform(0, 2 * SUBMIT_TIME / max(1, n - burst)))

    def submit_sendmail(self, jobs, accepted, lock, rng):
        for i, (token, rcpts, text) in enumerate(jobs):
            self.pace(rng, i, len(jobs))
            try:
                r = subprocess.run([prog("kurir-sendmail"), "-i", "-f",
                                    "sender@remote.test", "--"] + rcpts,
                                   input=text.encode(), capture_output=True,
                                   env=self.host.env(), timeout=60)
                ok = r.returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            with lock:
                if ok:
                    accepted.append(token)
                else:
                    self.refused += 1

    def submit_smtp(self, jobs, accepted, lock, rng):
        s = None
        for i, (token, rcpts, text) in enumerate(jobs):
            self.pace(rng, i, len(jobs))
            ok = False
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", self.host.smtp_port,
                                     timeout=30)
                    s.ehlo("client.example.test")
                refused = s.sendmail("sender@remote.test", rcpts,
                                     text.replace("\n", "\r\n"))
                # a recipient refused at RCPT is not an accepted copy
                ok = not refused
            except (smtplib.SMTPException, OSError):
                try:
                    if s is not None:
                        s.close()
                except OSError:
                    pass
                s = None
            with lock:
                if ok:
                    accepted.append(token)
                else:
                    self.refused += 1
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

    # -- the killer -------------------------------------------------------
    def killer(self, rng, stop, kills):
        end = time.monotonic() + KILL_WINDOW
        while not stop.is_set() and time.monotonic() < end and \
                sum(kills.values()) < MAX_KILLS:
            if stop.wait(rng.uniform(0.05, 0.4)):
                break
            name = rng.choice(("kurir-send", "kurir-local"))
            for pid in self.host.pids_of(name):
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills[name] += 1
                except ProcessLookupError:
                    pass

    # -- the Maildirs -----------------------------------------------------
    def maildir_copies(self, bodies=None):
        """{(user, token): copies} over new/ and cur/, the tmp/ file
        count; with bodies ({token: body}), also the names of files whose
        body is not the one submitted."""
        copies, tmp_left, damaged = {}, 0, []
        for user in ("alice", "bob"):
            base = os.path.join(self.host.mail, user)
            for sub in ("new", "cur"):
                d = os.path.join(base, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    try:
                        with open(os.path.join(d, name), "rb") as f:
                            data = f.read()
                    except FileNotFoundError:
                        continue
                    m = TOKEN_RE.search(data)
                    key = (user, m.group(1).decode() if m else None)
                    copies[key] = copies.get(key, 0) + 1
                    if bodies is not None and (
                            key[1] not in bodies or
                            data.split(b"\n\n", 1)[-1] != bodies[key[1]]):
                        damaged.append(os.path.join(user, sub, name))
            t = os.path.join(base, "tmp")
            if os.path.isdir(t):
                tmp_left += len(os.listdir(t))
        if bodies is not None:
            return copies, tmp_left, damaged
        return copies, tmp_left

    def test_kill_send_and_local_while_mail_flows(self):
        seed = int(os.environ.get("KURIR_SEED", "0")) or \
            random.randrange(1, 1 << 30)
        rng = random.Random(seed)
        t0 = time.monotonic()
        want = {}                       # token -> set of mailboxes
        jobs = []
        for i in range(MESSAGES):
            token = "t%04d-%08x" % (i, rng.getrandbits(32))
            rcpts, boxes = rng.choice(RCPT_SETS)
            want[token] = boxes
            jobs.append((token, list(rcpts), message_text(token, rng)))
        nthreads = SENDMAIL_THREADS + SMTP_THREADS
        slices = [jobs[k::nthreads] for k in range(nthreads)]

        accepted, lock = [], threading.Lock()
        self.refused = 0
        kills = {"kurir-send": 0, "kurir-local": 0}
        stop = threading.Event()
        ktr = threading.Thread(target=self.killer,
                               args=(random.Random(rng.random()), stop,
                                     kills))
        ktr.start()
        submitters = []
        for k, part in enumerate(slices):
            fn = self.submit_sendmail if k < SENDMAIL_THREADS else \
                self.submit_smtp
            th = threading.Thread(target=fn, args=(part, accepted, lock,
                                                   random.Random(rng.random())))
            th.start()
            submitters.append(th)
        try:
            for th in submitters:
                th.join(timeout=150)
                self.assertFalse(th.is_alive(), "submission hangs")
            t_sub = time.monotonic() - t0
            # keep killing a little while the queue drains
            stop.wait(min(5.0, max(0.0, KILL_WINDOW - t_sub)))
        finally:
            stop.set()
            ktr.join(timeout=10)
        t_kill = time.monotonic() - t0
        nkills = sum(kills.values())
        log("seed %d: %d messages accepted, %d refused, in %.1fs; %d kills "
            "(kurir-send %d, kurir-local %d) in %.1fs" %
            (seed, len(accepted), self.refused, t_sub, nkills,
             kills["kurir-send"], kills["kurir-local"], t_kill))
        self.assertGreater(len(accepted), MESSAGES * 0.9,
                           "most submissions should be accepted")

        # -- drain --------------------------------------------------------
        end = time.monotonic() + DRAIN_TIMEOUT
        last_flush = 0.0
        missing = None
        queue = None
        while time.monotonic() < end:
            queue = self.host.queue()
            copies, _ = self.maildir_copies()
            missing = [(t, b) for t in accepted for b in want[t]
                       if copies.get((b, t), 0) == 0]
            if not queue and not missing:
                break
            if time.monotonic() - last_flush > 2.0:
                self.host.ctl("flush", check=False)
                last_flush = time.monotonic()
            time.sleep(0.5)
        t_drain = time.monotonic() - t0 - t_kill

        bodies = {token: text.split("\n\n", 1)[1].encode()
                  for token, _, text in jobs}
        copies, tmp_left, damaged = self.maildir_copies(bodies)
        deliveries = sum(len(want[t]) for t in accepted)
        dups = sum(n - 1 for n in copies.values() if n > 1)
        dup_list = sorted(k for k, n in copies.items() if n > 1)
        accepted_set = set(accepted)
        unexpected = sorted(k for k in copies
                            if k[1] is None or k[1] not in want or
                            k[0] not in want[k[1]])
        extra = sorted(k for k in copies
                       if k[1] in want and k[1] not in accepted_set)
        sig = self.host.log()
        logged = {n: len(re.findall(r"%s killed by signal 9" % n, sig))
                  for n in kills}
        log("drained in %.1fs (total %.1fs); %d deliveries expected, "
            "%d files in new/cur; duplicates %d (%.2f%%)%s; kills logged by "
            "kurird: %s; files left in tmp/: %d; copies of messages not "
            "counted as accepted: %d; copies kurir-local wrote while no "
            "kurir-send ran: %d" %
            (t_drain, time.monotonic() - t0, deliveries,
             sum(copies.values()), dups, 100.0 * dups / max(1, deliveries),
             (" " + str(dup_list[:10])) if dups else "", logged, tmp_left,
             len(extra), orphan_copies(sig)))

        if missing or queue:
            self.fail("%d accepted deliveries missing after %.0fs (%s); "
                      "queue: %d entries, first %s; the end of the kurird "
                      "log (KURIR_KEEP=1 keeps %s):\n%s" %
                      (len(missing or []), DRAIN_TIMEOUT,
                       (missing or [])[:10], len(queue or []),
                       (queue or [None])[0], self.host.dir,
                       "\n".join(sig.splitlines()[-40:])))
        self.assertEqual(unexpected, [],
                         "copies in a Maildir they were not meant for")
        self.assertEqual(damaged, [], "messages whose body is not the one "
                         "submitted (in %s)" % self.host.mail)
        self.assertGreater(nkills, 0, "nothing was killed")
        # nothing died but what we killed (kurir-local leaves with status 0
        # when its kurir-send is gone)
        for line in sig.splitlines():
            m = re.search(r"kurird\[\d+\]: (\S+) (killed by signal (\d+)|"
                          r"exited with status (\d+))", line)
            if not m:
                continue
            self.assertIn(m.group(1), kills, line)
            if m.group(3) is not None:
                self.assertEqual(m.group(3), "9", line)
            else:
                self.assertEqual((m.group(1), m.group(4)),
                                 ("kurir-local", "0"), line)
        # the one window for a duplicate is a kill between kurir-local's
        # fsync and kurir-send's record of the result: it should be rare
        self.assertLessEqual(dups, deliveries * 0.01,
                             "too many duplicates (%d copies written while "
                             "no kurir-send ran): %s" %
                             (orphan_copies(sig), dup_list[:20]))


if __name__ == "__main__":
    unittest.main()
