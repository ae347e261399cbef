"""Crash safety of the queue: SIGKILL kurir-queue at random moments.

Round after round, several kurir-sendmail processes inject uniquely
marked messages while kurir-queue is killed with SIGKILL after a random
delay and started again.  Afterwards: every injection that reported
success (exit 0) is in the queue exactly once and intact; every entry in
msg/ parses (no partial entry is ever listed); tmp/ is empty once
kurir-queue has started again.  Bounded: ROUNDS rounds, each bounded in
time.  Also checks that kurird restarts a killed kurir-queue.
"""
import json
import os
import pwd
import random
import signal
import subprocess
import time
import unittest

from kurirtest import HostCase, prog, wait_for

ROUNDS = int(os.environ.get("KURIR_CRASH_ROUNDS", "200"))
SENDERS = 4


def body_for(tag, size):
    line = ("%s " % tag) * 8 + "\n"
    return ("Subject: %s\nX-Tag: %s\n\n" % (tag, tag) +
            line * max(1, size // len(line)))


class CrashTest(HostCase):
    def start_queue(self):
        p = self.host.start_logged([prog("kurir-queue"), "-d", "-f",
                                    self.host.conf], "kurir-queue")
        wait_for(self.host.queue_ready, 10, "kurir-queue to listen")
        return p

    def test_sigkill_queue_while_injecting(self):
        rng = random.Random(int(os.environ.get("KURIR_SEED", "0")) or None)
        self.host.setup()
        ok_tags, failed = {}, 0
        q = self.start_queue()
        deadline = time.monotonic() + 600
        for rnd in range(ROUNDS):
            self.assertLess(time.monotonic(), deadline, "crash test too slow")
            procs = []
            for i in range(SENDERS):
                tag = "r%03ds%d" % (rnd, i)
                size = rng.choice((200, 5000, 70000, 300000))
                data = body_for(tag, size).encode()
                p = subprocess.Popen([prog("kurir-sendmail"), "-i",
                                      "bob@example.test"],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     env=self.host.env())
                procs.append((tag, data, p))
            for tag, data, p in procs:
                try:
                    p.stdin.write(data)
                    p.stdin.close()
                except BrokenPipeError:
                    pass
            time.sleep(rng.uniform(0, 0.03))
            q.send_signal(signal.SIGKILL)
            q.wait()
            q = self.start_queue()
            for tag, data, p in procs:
                p.wait(timeout=60)
                if p.returncode == 0:
                    ok_tags[tag] = data
                else:
                    failed += 1
        # final state: a fresh start has cleaned tmp/
        tmp = os.path.join(self.host.state, "queue", "tmp")
        self.assertEqual(os.listdir(tmp), [])
        r = self.host.ctl("queue", "--json")
        self.assertEqual(r.stderr, "", "unparsable entries listed")
        entries = json.loads(r.stdout)
        msgdir = os.path.join(self.host.state, "queue", "msg")
        self.assertEqual(len(entries), len(os.listdir(msgdir)))
        seen = {}
        for e in entries:
            msg = self.host.message(e["id"])
            self.assertEqual(len(msg), e["size"])
            tag = msg.split(b"X-Tag: ")[1].split(b"\n")[0].decode()
            self.assertNotIn(tag, seen, "message queued twice")
            seen[tag] = msg
        for tag, data in ok_tags.items():
            self.assertIn(tag, seen, "acknowledged message lost: " + tag)
            # the queued message ends with exactly what was submitted
            self.assertTrue(seen[tag].endswith(data.split(b"\n\n", 1)[1]),
                            "message damaged: " + tag)
        print("\ncrash: %d rounds, %d injections acknowledged, %d refused "
              "(temporary), %d entries queued" %
              (ROUNDS, len(ok_tags), failed, len(entries)))
        self.assertGreater(len(ok_tags), 0)

    def test_kurird_restarts_queue(self):
        self.host.setup()
        self.host.start()
        for i in range(3):
            wait_for(lambda: len(self.host.pids_of("kurir-queue")) == 1, 15,
                     "kurir-queue to run")
            pids = self.host.pids_of("kurir-queue")
            if os.geteuid() == 0:
                # the separation is in force: kurir-queue is not root
                with open("/proc/%d/status" % pids[0]) as f:
                    ids = dict(l.split(":", 1) for l in f.read().splitlines())
                quid = pwd.getpwnam("kurir-tqueue").pw_uid
                self.assertEqual(ids["Uid"].split(), [str(quid)] * 4)
                self.assertNotIn("0", ids["Gid"].split())
                self.assertEqual(ids["Groups"].split(),
                                 [ids["Gid"].split()[0]])
            os.kill(pids[0], signal.SIGKILL)
            wait_for(lambda: self.host.pids_of("kurir-queue") not in ([], pids),
                     15, "kurird to restart kurir-queue")
            wait_for(self.host.queue_ready, 15, "queue socket")
            r = self.host.sendmail(["bob@example.test"], "x %d\n" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(self.host.queue()), 3)
        self.assertIn("kurir-queue killed by signal 9", self.host.log())


if __name__ == "__main__":
    unittest.main()
