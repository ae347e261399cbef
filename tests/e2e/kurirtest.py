"""kurirtest - helpers for kurir's end-to-end tests.

Each test gets a temporary directory with its own config, state_dir and
mail_dir, starts the real programs from the build directory, and cleans
up.  Only loopback addresses are used; every wait is bounded.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.path.abspath(os.environ.get("KURIR_BUILD", "build"))


def prog(name):
    return os.path.join(BUILD, name)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Host:
    """A kurir instance in a temporary directory."""

    def __init__(self, extra=None, users=None):
        self.dir = tempfile.mkdtemp(prefix="kurir-e2e-")
        # other users (the non-root test) must reach the socket
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "kurir.conf")
        self.procs = []
        self.logs = []
        self.smtp_port = free_port()
        keys = {
            "hostname": "mail.example.test",
            "local_domains": "example.test localhost",
            "state_dir": self.state,
            "mail_dir": self.mail,
            "users_file": os.path.join(self.dir, "users"),
            "aliases_file": os.path.join(self.dir, "aliases"),
            "routes_file": os.path.join(self.dir, "routes"),
            "smtp_listen": "127.0.0.1:%d" % self.smtp_port,
            "message_size_limit": "1m",
        }
        if os.geteuid() == 0:
            # as root the separation is in force; use throwaway accounts
            for role in ("smtpd", "queue", "mail", "remote", "pop3"):
                keys[role + "_user"] = "kurir-t" + role
        keys.update(extra or {})
        self.keys = keys
        with open(self.conf, "w") as f:
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
        for name in ("users", "aliases", "routes"):
            open(os.path.join(self.dir, name), "a").close()
        for u, pw in (users or {}).items():
            self.ctl("user", "add", u, input=pw + "\n")

    # -- programs -------------------------------------------------------
    def env(self):
        e = dict(os.environ)
        e["KURIR_CONF"] = self.conf
        return e

    def ctl(self, *args, input=None, check=True):
        r = subprocess.run([prog("kurirctl"), "-f", self.conf] + list(args),
                           input=input, capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("kurirctl %s: %s" % (args, r.stderr))
        return r

    def setup(self):
        self.ctl("setup")

    def start_logged(self, argv, name):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL, env=self.env())
        self.procs.append(p)
        self.logs.append(log)
        return p

    def start(self):
        """kurird in the foreground; wait until the queue takes mail."""
        self.kurird = self.start_logged([prog("kurird"), "-d", "-f", self.conf],
                                        "kurird")
        wait_for(self.queue_ready, 15, "the queue socket")
        return self.kurird

    def queue_sock(self):
        return os.path.join(self.state, "sock", "queue")

    def queue_ready(self):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(self.queue_sock())
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self, name="kurird"):
        with open(os.path.join(self.dir, name + ".log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sendmail(self, args, data, user=None, timeout=60):
        argv = [prog("kurir-sendmail")] + list(args)
        if user is not None:
            pw = pwd.getpwnam(user)
            argv = ["setpriv", "--reuid=%d" % pw.pw_uid,
                    "--regid=%d" % pw.pw_gid, "--clear-groups", "--"] + argv
        if isinstance(data, str):
            data = data.encode()
        return subprocess.run(argv, input=data, capture_output=True,
                              env=self.env(), timeout=timeout)

    def queue(self):
        return json.loads(self.ctl("queue", "--json").stdout)

    def msg_path(self, qid):
        return os.path.join(self.state, "queue", "msg", qid)

    def message(self, qid):
        """The message part of a queue entry (after the envelope)."""
        with open(self.msg_path(qid), "rb") as f:
            data = f.read()
        return data[data.index(b"\nend\n") + 5:]

    def pids_of(self, name):
        """Pids of program name running with this host's config."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if os.path.basename(argv[0].decode()) == name and \
                    self.conf.encode() in argv:
                out.append(int(pid))
        return out

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()
        self.procs = []

    def cleanup(self):
        self.stop()
        if os.environ.get("KURIR_KEEP"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class HostCase(unittest.TestCase):
    """A test case with a fresh Host per test."""
    host_extra = None
    host_users = None

    def setUp(self):
        self.host = Host(self.host_extra, self.host_users)
        self.addCleanup(self.host.cleanup)
