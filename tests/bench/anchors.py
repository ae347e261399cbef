"""anchors.py - private Postfix and Dovecot instances for the comparison
benchmark (tests/bench/compare.py).

Neither touches the system's /etc/postfix or /etc/dovecot services: each
instance lives in its own temporary directory, with its own config,
queue, data, run and log directories, listens only on 127.0.0.1 on a
free port, and is stopped (and, if it will not stop, its processes
killed by pid) and removed by cleanup().  Needs root (both daemons drop
to their own accounts) and the Debian packages postfix and dovecot-pop3d
(sh tools/bootstrap.sh bench).

Postfix: mail for the test domain is a virtual(8) mailbox domain, each
user's mailbox a Maildir (virtual_mailbox_maps entry ending in '/')
under <dir>/mail, owned by a given uid/gid.  Durability is Postfix's
default: cleanup(8) fsyncs the queue file before smtpd says 250, and
virtual(8) fsyncs each Maildir file before it links it into new/.
Throughput settings, each from Postfix's own documentation
(TUNING_README, postconf(5)), are listed in POSTFIX_TUNING and printed
by the benchmark.

Dovecot: POP3 only, passwd-file passdb ({PLAIN} passwords), static
userdb with the same uid/gid, mail_location maildir:<dir>/mail/%u;
login processes in Dovecot's documented "high-performance mode"
(service_count = 0, process_min_avail = number of CPUs).
"""
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
POSTFIX_DAEMONS = "/usr/lib/postfix/sbin"
DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_children():
    """{ppid: [pid, ...]} for every process now."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(b")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def process_tree(root):
    """root and all its descendants (pids), root first."""
    if root is None:
        return []
    kids = _proc_children()
    out, todo = [], [root]
    while todo and len(out) < 100000:
        p = todo.pop()
        if not os.path.exists("/proc/%d" % p):
            continue
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            st = f.read()
        return st[st.rindex(b")") + 2:st.rindex(b")") + 3] != b"Z"
    except OSError:
        return False


def kill_tree(root, timeout=10.0):
    """SIGTERM root and its descendants (by pid), then SIGKILL what is
    left after timeout seconds."""
    pids = process_tree(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and any(_alive(p) for p in pids):
            time.sleep(0.05)
        if not any(_alive(p) for p in pids):
            return


def wait_banner(port, prefix, timeout=20.0):
    """Wait until something on 127.0.0.1:port sends a line starting with
    prefix (b"220" or b"+OK")."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                data = b""
                while b"\n" not in data and len(data) < 1000:
                    chunk = s.recv(1000)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(prefix):
                    s.sendall(b"QUIT\r\n")
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("no %r greeting on port %d: %r" % (prefix, port, last))


def make_maildir(path, uid, gid):
    for d in (path, os.path.join(path, "tmp"), os.path.join(path, "new"),
              os.path.join(path, "cur")):
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
        os.chown(d, uid, gid)
    return path


# What "configured as the documentation recommends for throughput" means
# for Postfix here; (parameter, value, why) - printed by compare.py.
POSTFIX_TUNING = [
    ("in_flow_delay", "0",
     "TUNING_README/postconf(5): the inflow delay throttles clients once "
     "the queue manager lags; off so smtp-source measures smtpd, not the "
     "feedback loop"),
    ("smtpd_client_connection_count_limit", "0",
     "postconf(5): anvil(8) per-client limit (default 50) would cap one "
     "loopback client; off"),
    ("smtpd_client_connection_rate_limit", "0", "off (the default)"),
    ("smtpd_client_message_rate_limit", "0", "off (the default)"),
    ("default_process_limit", "200",
     "TUNING_README: raise the process limit for more simultaneous "
     "SMTP sessions (default 100; 50 sessions need 50 smtpd + 50 cleanup)"),
    ("smtp inet maxproc (master.cf)", "1100",
     "one smtpd process per session: 1000 idle sessions need 1000 smtpd "
     "processes (the default limit is 100)"),
    ("chroot (master.cf)", "n",
     "no chroot for any service (the upstream default in master.cf; "
     "Debian's y needs copies of /etc files in the queue directory)"),
    ("virtual_mailbox_maps", "texthash:",
     "in-memory table, no postmap(1) step (postconf(5), DATABASE_README)"),
]


class Postfix:
    """A private Postfix instance: postfix -c <dir>/etc start/stop."""

    def __init__(self, uid, gid, users, domain="example.test",
                 smtp_maxproc=1100, message_size_limit=10 * 1024 * 1024):
        self.dir = tempfile.mkdtemp(prefix="kurir-bench-postfix-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.maillog = os.path.join(self.dir, "maillog")
        self.uid, self.gid = uid, gid
        self.users = list(users)
        self.domain = domain
        self.smtp_port = free_port()
        self.started = False
        self.master_pid = None
        for d in (self.etc, self.queue, self.data):
            os.mkdir(d, 0o755)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.mkdir(self.mail, 0o755)
        os.chown(self.mail, uid, gid)
        for u in self.users:
            make_maildir(self.maildir(u), uid, gid)
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for u in self.users:
                f.write("%s@%s %s/\n" % (u, domain, u))
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": "postfix-bench",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.dir,
            "myhostname": "anchor.%s" % domain,
            "mydomain": domain,
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "alias_maps": "",
            "alias_database": "",
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": domain,
            "virtual_mailbox_base": self.mail,
            "virtual_mailbox_maps":
                "texthash:" + os.path.join(self.etc, "vmailbox"),
            "virtual_uid_maps": "static:%d" % uid,
            "virtual_gid_maps": "static:%d" % gid,
            "virtual_minimum_uid": str(min(uid, 100)),
            "message_size_limit": str(message_size_limit),
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "smtpd_tls_security_level": "",
            "smtp_tls_security_level": "",
            # throughput, per the docs (see POSTFIX_TUNING)
            "in_flow_delay": "0",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "default_process_limit": "200",
        }
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write("# private Postfix instance for kurir's benchmark\n")
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        services = [
            ("127.0.0.1:%d" % self.smtp_port, "inet", "n", "-", "n", "-",
             str(smtp_maxproc), "smtpd"),
            ("pickup", "unix", "n", "-", "n", "60", "1", "pickup"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
            ("smtp", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("relay", "unix", "-", "-", "n", "-", "-", "smtp"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("local", "unix", "-", "n", "n", "-", "-", "local"),
            ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
            ("lmtp", "unix", "-", "-", "n", "-", "-", "lmtp"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write("# service type private unpriv chroot wakeup maxproc "
                    "command\n")
            for s in services:
                f.write("%-28s %-10s %s %s %s %-5s %-5s %s\n" % s)

    def maildir(self, user):
        return os.path.join(self.mail, user)

    def postfix(self, *args, timeout=60):
        """Run postfix -c <etc> ARGS; (exit status, output).  The output
        goes through a file: the master daemon must not inherit pipes."""
        out = os.path.join(self.dir, "postfix.out")
        with open(out, "wb") as f:
            r = subprocess.run([POSTFIX, "-c", self.etc] + list(args),
                               stdout=f, stderr=f, stdin=subprocess.DEVNULL,
                               timeout=timeout)
        with open(out, "rb") as f:
            return r.returncode, f.read().decode("utf-8", "replace")

    def read_master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            return pid if _alive(pid) else None
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        self.started = True
        rc, out = self.postfix("start", timeout=120)
        if rc != 0:
            raise RuntimeError("postfix start: %s\n%s" % (out,
                                                          self.log_tail()))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            self.master_pid = self.read_master_pid()
            if self.master_pid:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("postfix: no master.pid\n" + self.log_tail())
        wait_banner(self.smtp_port, b"220")

    def pids(self):
        return process_tree(self.master_pid)

    def queue_count(self):
        """Files in the queue (maildrop, incoming, active, deferred,
        hold)."""
        n = 0
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(self.queue, sub)):
                n += len(files)
        return n

    def log_tail(self, n=30):
        try:
            with open(self.maillog, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no maillog)"

    def stop(self):
        if not self.started:
            return
        try:
            self.postfix("stop", timeout=60)
        except (OSError, subprocess.SubprocessError):
            pass
        pid = self.master_pid or self.read_master_pid()
        if pid:
            end = time.monotonic() + 20
            while time.monotonic() < end and _alive(pid):
                time.sleep(0.05)
            # processes that linger (or a master that would not stop)
            kill_tree(pid, timeout=5)
        self.started = False

    def cleanup(self):
        try:
            self.stop()
        finally:
            if os.environ.get("KURIR_KEEP"):
                print("kept", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


DOVECOT_TUNING = [
    ("service pop3-login service_count", "0",
     "Dovecot docs (Login processes): high-performance mode, one login "
     "process serves many clients"),
    ("service pop3-login process_min_avail", "CPUs",
     "same page: one login process per CPU core"),
    ("mail_fsync", "optimized", "the default"),
    ("pop3_uidl_format", "%08Xu%08Xv", "the default"),
]


class Dovecot:
    """A private Dovecot POP3 instance: dovecot -c <dir>/dovecot.conf."""

    def __init__(self, uid, gid, users):
        self.dir = tempfile.mkdtemp(prefix="kurir-bench-dovecot-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.base = os.path.join(self.dir, "run")
        self.state = os.path.join(self.dir, "state")
        self.mail = os.path.join(self.dir, "mail")
        self.logfile = os.path.join(self.dir, "dovecot.log")
        self.uid, self.gid = uid, gid
        self.users = dict(users)
        self.pop3_port = free_port()
        self.started = False
        self.master_pid = None
        for d in (self.base, self.state):
            os.mkdir(d, 0o755)
        os.mkdir(self.mail, 0o755)
        os.chown(self.mail, uid, gid)
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            for u, pw in self.users.items():
                f.write("%s:{PLAIN}%s\n" % (u, pw))
        os.chmod(passwd, 0o644)
        for u in self.users:
            make_maildir(self.maildir(u), uid, gid)
        ncpu = os.cpu_count() or 1
        with open(self.conf, "w") as f:
            f.write("""# private Dovecot instance for kurir's benchmark
instance_name = kurir-bench-%(port)d
protocols = pop3
listen = 127.0.0.1
base_dir = %(base)s
state_dir = %(state)s
log_path = %(log)s
info_log_path = %(log)s
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = %(uid)d
last_valid_uid = %(uid)d
first_valid_gid = %(gid)d
last_valid_gid = %(gid)d
mail_location = maildir:%(mail)s/%%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %(passwd)s
}
userdb {
  driver = static
  args = uid=%(uid)d gid=%(gid)d home=%(mail)s/%%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = %(ncpu)d
}
""" % {"port": self.pop3_port, "base": self.base, "state": self.state,
       "log": self.logfile, "uid": uid, "gid": gid, "mail": self.mail,
       "passwd": passwd, "ncpu": ncpu})

    def maildir(self, user):
        return os.path.join(self.mail, user)

    def start(self):
        # the daemon keeps the descriptors it was given: a file, not pipes
        self.started = True
        out = os.path.join(self.dir, "dovecot.out")
        with open(out, "wb") as f:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=f,
                               stderr=f, stdin=subprocess.DEVNULL,
                               timeout=60)
        if r.returncode != 0:
            with open(out, "rb") as f:
                msg = f.read().decode("utf-8", "replace")
            raise RuntimeError("dovecot: %s\n%s" % (msg, self.log_tail()))
        end = time.monotonic() + 20
        while time.monotonic() < end:
            self.master_pid = self.read_master_pid()
            if self.master_pid:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("dovecot: no master.pid\n" + self.log_tail())
        wait_banner(self.pop3_port, b"+OK")

    def read_master_pid(self):
        try:
            with open(os.path.join(self.base, "master.pid")) as f:
                pid = int(f.read().split()[0])
            return pid if _alive(pid) else None
        except (OSError, ValueError, IndexError):
            return None

    def pids(self):
        return process_tree(self.master_pid)

    def log_tail(self, n=30):
        try:
            with open(self.logfile, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def stop(self):
        if not self.started:
            return
        try:
            subprocess.run([DOVEADM, "-c", self.conf, "stop"],
                           capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            pass
        pid = self.master_pid or self.read_master_pid()
        if pid:
            end = time.monotonic() + 20
            while time.monotonic() < end and _alive(pid):
                time.sleep(0.05)
            kill_tree(pid, timeout=5)
        self.started = False

    def cleanup(self):
        try:
            self.stop()
        finally:
            if os.environ.get("KURIR_KEEP"):
                print("kept", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


def account(name):
    """(uid, gid) of an account name."""
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def have_tools():
    """Names of the missing programs the comparison needs."""
    missing = []
    for p in (POSTFIX, os.path.join(POSTFIX_DAEMONS, "master"),
              "/usr/sbin/smtp-source", DOVECOT, DOVEADM):
        if not os.access(p, os.X_OK):
            missing.append(p)
    try:
        pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        missing.append("account postfix / group postdrop")
    return missing
