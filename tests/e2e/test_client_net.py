"""Per-client limits count an IPv6 client by its /64 (client_ipv6_prefix).

One IPv6 host commonly holds a whole /64; counted by exact address it
could open smtp_max_sessions_per_ip sessions from each of 2^64 addresses.
The test needs several IPv6 addresses of one /64 and of another: it makes
a network namespace of its own (root only) with those addresses on its
loopback interface, runs kurird inside it, and connects from each
address in turn from inside it too.  No traffic leaves the namespace.
"""
import json
import os
import subprocess
import sys
import unittest

import tools
from kurirtest import Host, free_port, prog, wait_for

NET_A = "2001:db8:1:2::"        # documentation prefix, inside our namespace
NET_B = "2001:db8:1:3::"

# run inside the namespace: connect from each source address, keep every
# connection open, report each greeting's code (0: no connection)
CLIENT = r"""
import json, socket, sys, time
port, sources = int(sys.argv[1]), sys.argv[2:]
socks, codes = [], []
for src in sources:
    code = 0
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("%s1", port), timeout=10,
                                         source_address=(src, 0))
        except OSError:
            time.sleep(0.1)
            continue
        line = s.makefile("rb").readline()
        code = int(line[:3]) if line[:3].isdigit() else -1
        socks.append(s)
        break
    codes.append(code)
print(json.dumps(codes))
""" % NET_A


@unittest.skipUnless(os.geteuid() == 0, "a network namespace needs root")
class IPv6PrefixTest(unittest.TestCase):
    def setUp(self):
        self.ip = tools.need("ip")
        self.ns = "kurir-t%d" % os.getpid()
        self.run_ip("netns", "add", self.ns)
        self.addCleanup(subprocess.run, [self.ip, "netns", "del", self.ns],
                        capture_output=True, timeout=30)
        self.run_ip("-n", self.ns, "link", "set", "lo", "up")
        for a in ("1", "2", "3", "4"):
            self.run_ip("-n", self.ns, "addr", "add", NET_A + a + "/64",
                        "dev", "lo", "nodad")
        self.run_ip("-n", self.ns, "addr", "add", NET_B + "1/64",
                    "dev", "lo", "nodad")

    def run_ip(self, *args):
        r = subprocess.run([self.ip] + list(args), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, "ip %s: %s" % (args, r.stderr))

    def start_host(self, prefix=None):
        port = free_port()
        extra = {"smtp_listen": "[%s1]:%d" % (NET_A, port),
                 "smtp_max_sessions_per_ip": "2", "smtp_greet_pause": "0"}
        if prefix is not None:
            extra["client_ipv6_prefix"] = str(prefix)
        host = Host(extra)
        self.addCleanup(host.cleanup)
        host.setup()
        host.kurird = host.start_logged(
            [self.ip, "netns", "exec", self.ns, prog("kurird"), "-d", "-n",
             "-f", host.conf], "kurird")
        wait_for(host.queue_ready, 15, "the queue socket")
        return host, port

    def greetings(self, port, sources):
        r = subprocess.run(
            [self.ip, "netns", "exec", self.ns, sys.executable, "-c",
             CLIENT, str(port)] + sources,
            capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_one_slash64_is_one_client(self):
        host, port = self.start_host()
        codes = self.greetings(port, [NET_A + "2", NET_A + "3",
                                      NET_A + "4", NET_B + "1"])
        # two from the /64, the third refused; another /64 is another client
        self.assertEqual(codes[:2], [220, 220], codes)
        self.assertEqual(codes[2], 421, codes)
        self.assertEqual(codes[3], 220, codes)
        self.assertIn("too many sessions from it", host.log())

    def test_prefix_128_counts_each_address(self):
        host, port = self.start_host(prefix=128)
        codes = self.greetings(port, [NET_A + "2", NET_A + "3",
                                      NET_A + "4"])
        self.assertEqual(codes, [220, 220, 220])


if __name__ == "__main__":
    unittest.main()
