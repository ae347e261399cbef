"""kurirtest - helpers for kurir's end-to-end tests.

Each test gets a temporary directory with its own config, state_dir and
mail_dir, starts the real programs from the build directory, and cleans
up.  Only loopback addresses are used; every wait is bounded.
"""
import atexit
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import tools

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


def non_loopback_address():
    """An IPv4 address of this host that is not loopback and can be bound,
    or None.  Read from the kernel's table of local addresses, so no
    program is needed for it."""
    ips, last = [], None
    try:
        with open("/proc/net/fib_trie") as f:
            for line in f:
                t = line.split()
                if len(t) == 2 and t[0] == "|--":
                    last = t[1]
                elif t[:3] == ["/32", "host", "LOCAL"] and last:
                    if not last.startswith("127.") and last not in ips:
                        ips.append(last)
    except OSError:
        return None
    for ip in ips:
        try:
            with socket.socket() as s:
                s.bind((ip, 0))
            return ip
        except OSError:
            continue
    return None


_tls_dir = None


def tls_cert():
    """(cert, key): a self-signed certificate for mail.example.test, made
    once per test run with the openssl command and removed at exit."""
    global _tls_dir
    if _tls_dir is None:
        d = tempfile.mkdtemp(prefix="kurir-tls-")
        os.chmod(d, 0o755)
        subprocess.run([tools.need("openssl"), "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-subj", "/CN=mail.example.test",
                        "-days", "2", "-keyout", os.path.join(d, "key.pem"),
                        "-out", os.path.join(d, "cert.pem")],
                       check=True, capture_output=True, timeout=60)
        atexit.register(shutil.rmtree, d, True)
        _tls_dir = d
    return os.path.join(_tls_dir, "cert.pem"), os.path.join(_tls_dir, "key.pem")


def tls_client_context():
    """An ssl context that accepts the test certificate (no verification)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Reply:
    """One SMTP reply: code (int), lines (text after the code), text."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        self.text = "\n".join(lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class SMTPClient:
    """A raw SMTP client for scripted (and malformed) dialogues.

    Every read is bounded by timeout.  send() writes bytes exactly as
    given; cmd() sends one line with CRLF and returns the Reply.
    """

    def __init__(self, port, host="127.0.0.1", timeout=10.0, greet=True,
                 source=None):
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError("connection closed; unread: %r" % self.buf)
        self.buf += chunk

    def readline(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("reply line too long")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            if len(line) < 3 or not line[:3].isdigit() or \
                    line[3:4] not in ("", " ", "-"):
                raise AssertionError("bad reply line %r" % line)
            lines.append(line[4:])
            if line[3:4] != "-":
                return Reply(int(line[:3]), lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def pending(self, wait=0.3):
        """True if a reply (or EOF) arrives within wait seconds."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], wait)
        return bool(r)

    def closed(self, timeout=None):
        """True if the server closes the connection (after any data)."""
        self.sock.settimeout(timeout or self.timeout)
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    return True
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def ehlo(self, name="client.example.test"):
        r = self.cmd("EHLO " + name)
        if r.code != 250:
            raise AssertionError("EHLO: %r" % r)
        return r

    def starttls(self, ctx=None):
        r = self.cmd("STARTTLS")
        if r.code != 220:
            raise AssertionError("STARTTLS: %r" % r)
        if self.buf:
            raise AssertionError("data after the 220 to STARTTLS: %r" % self.buf)
        self.sock = (ctx or tls_client_context()).wrap_socket(
            self.sock, server_hostname="mail.example.test")
        return r

    def expect(self, line, code, prefix=None):
        """Send line, check the reply code (and text prefix); the Reply."""
        r = self.cmd(line)
        if r.code != code or (prefix and not r.lines[0].startswith(prefix)):
            raise AssertionError("%r -> %r, expected %d %s" %
                                 (line, r, code, prefix or ""))
        return r

    def mail_transaction(self, sender, rcpts, data):
        """MAIL, RCPT..., DATA with data (bytes, already CRLF and stuffed,
        without the final dot); returns the queue id."""
        self.expect("MAIL FROM:<%s>" % sender, 250)
        for r in rcpts:
            self.expect("RCPT TO:<%s>" % r, 250)
        self.expect("DATA", 354)
        self.send(data + b".\r\n")
        r = self.reply()
        m = re.fullmatch(r"2\.0\.0 Ok: queued as ([0-9a-f]{16})", r.lines[0])
        if r.code != 250 or not m:
            raise AssertionError("end of DATA: %r" % r)
        return m.group(1)


class POP3Client:
    """A raw POP3 client for scripted (and malformed) dialogues.

    Every read is bounded by timeout.  send() writes bytes exactly as
    given; cmd() sends one line with CRLF and returns the status line
    (str); multi() reads a multi-line body after a +OK and returns its
    lines (bytes, dot-unstuffed, without the final ".").
    """

    def __init__(self, port, host="127.0.0.1", timeout=10.0, greet=True,
                 source=None):
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = self.readline() if greet else None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(262144)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError("connection closed; unread: %r" % self.buf[:300])
        self.buf += chunk

    def readline_bytes(self):
        """One line (bytes) without its CRLF."""
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > 10000000:
                raise AssertionError("reply line too long")
            self._fill()

    def readline(self):
        return self.readline_bytes().decode("utf-8", "replace")

    def cmd(self, line):
        """Send one command line; its status line (str)."""
        self.send((line.encode() if isinstance(line, str) else line) +
                  b"\r\n")
        return self.readline()

    def multi(self):
        """The body of a multi-line reply: lines (bytes), dot-unstuffed."""
        body = self.raw_multi()
        if body == b".\r\n":
            return []
        return [line[1:] if line.startswith(b".") else line
                for line in body[:-5].split(b"\r\n")]

    def raw_multi(self):
        """The body of a multi-line reply exactly as sent, up to and
        including the terminating ".\r\n"."""
        at = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                body, self.buf = self.buf[:3], self.buf[3:]
                return body
            i = self.buf.find(b"\r\n.\r\n", at)
            if i >= 0:
                body, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return body
            at = max(0, len(self.buf) - 4)
            self._fill()

    def ok(self, line):
        """Send line, require +OK; the status line."""
        r = self.cmd(line)
        if not r.startswith("+OK"):
            raise AssertionError("%r -> %r" % (line, r))
        return r

    def ok_multi(self, line):
        """Send line, require +OK; (status line, body lines)."""
        r = self.ok(line)
        return r, self.multi()

    def login(self, user, password):
        """USER + PASS; the reply to PASS (must be +OK)."""
        self.ok("USER " + user)
        return self.ok("PASS " + password)

    def pending(self, wait=0.3):
        """True if a reply (or EOF) arrives within wait seconds (kept in
        buf).  Reads rather than select()s: on a TLS socket records that
        carry no data (TLS 1.3 session tickets) make it readable."""
        if self.buf:
            return True
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            return True
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass
        self.buf += chunk
        return True

    def closed(self, timeout=None):
        """True if the server closes the connection (after any data,
        which is kept in buf)."""
        self.sock.settimeout(timeout or self.timeout)
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, ssl.SSLError):
                    return True
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        finally:
            try:
                self.sock.settimeout(self.timeout)
            except OSError:
                pass

    def stls(self, ctx=None):
        r = self.cmd("STLS")
        if not r.startswith("+OK"):
            raise AssertionError("STLS: %r" % r)
        if self.buf:
            raise AssertionError("data after the +OK to STLS: %r" % self.buf)
        self.sock = (ctx or tls_client_context()).wrap_socket(
            self.sock, server_hostname="mail.example.test")
        return r


def to_wire(text):
    """Message text with LF (bytes or str) -> CRLF lines, dot-stuffed."""
    if isinstance(text, str):
        text = text.encode()
    out = []
    for line in text.split(b"\n")[:-1] if text.endswith(b"\n") else \
            text.split(b"\n"):
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out)


def split_received(msg):
    """(the first Received field, the rest) of a stored message (bytes)."""
    if not msg.startswith(b"Received: "):
        raise AssertionError("no Received field first: %r" % msg[:200])
    lines = msg.split(b"\n")
    n = 1
    while n < len(lines) and lines[n][:1] in (b" ", b"\t"):
        n += 1
    return b"\n".join(lines[:n]) + b"\n", b"\n".join(lines[n:])


class Host:
    """A kurir instance in a temporary directory.

    extra: config keys (override the defaults below); users: {name:
    password} added with kurirctl user add; aliases: the aliases file's
    text; submission: also listen for submission (host.submission_port);
    tls: use the test certificate (tls_cert_file / tls_key_file);
    deliver: run the delivery side (kurir-send, kurir-local); without it
    kurird runs with -n and accepted mail stays in the queue, where the
    tests of the receiving side look at it.  pop3: also listen for POP3
    (host.pop3_port; host.wait_pop3(), host.pop3(), host.put_mail()).
    """

    def __init__(self, extra=None, users=None, aliases=None,
                 submission=False, tls=False, deliver=False, routes=None,
                 pop3=False):
        self.dir = tempfile.mkdtemp(prefix="kurir-e2e-")
        # other users (the non-root test) must reach the socket
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.mail = os.path.join(self.dir, "mail")
        self.conf = os.path.join(self.dir, "kurir.conf")
        self.procs = []
        self.logs = []
        self.deliver = deliver
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
            # never the real DNS: a loopback port where nothing listens
            # answers every lookup with "refused" (a temporary failure)
            "dns_server": "127.0.0.1:%d" % free_port(),
        }
        self.submission_port = None
        if submission:
            self.submission_port = free_port()
            keys["submission_listen"] = "127.0.0.1:%d" % self.submission_port
        self.pop3_port = None
        if pop3:
            self.pop3_port = free_port()
            keys["pop3_listen"] = "127.0.0.1:%d" % self.pop3_port
        if tls:
            keys["tls_cert_file"], keys["tls_key_file"] = tls_cert()
        if os.geteuid() == 0:
            # as root the separation is in force; use throwaway accounts
            for role in ("smtpd", "queue", "mail", "remote", "pop3", "auth"):
                keys[role + "_user"] = "kurir-t" + role
        keys.update(extra or {})
        self.keys = keys
        with open(self.conf, "w") as f:
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
        for name in ("users", "aliases", "routes"):
            open(os.path.join(self.dir, name), "a").close()
        if aliases:
            with open(os.path.join(self.dir, "aliases"), "w") as f:
                f.write(aliases)
        if routes:
            with open(os.path.join(self.dir, "routes"), "w") as f:
                f.write(routes)
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
        argv = [prog("kurird"), "-d", "-f", self.conf]
        if not self.deliver:
            argv.append("-n")
        self.kurird = self.start_logged(argv, "kurird")
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
            argv = [tools.need("setpriv"), "--reuid=%d" % pw.pw_uid,
                    "--regid=%d" % pw.pw_gid, "--clear-groups", "--"] + argv
        if isinstance(data, str):
            data = data.encode()
        return subprocess.run(argv, input=data, capture_output=True,
                              env=self.env(), timeout=timeout)

    def queue(self):
        return json.loads(self.ctl("queue", "--json").stdout)

    def smtp(self, port=None, **kw):
        """An SMTPClient connected to the SMTP (or given) port."""
        return SMTPClient(port or self.smtp_port, **kw)

    def wait_smtp(self, port=None, timeout=15):
        """Wait until kurir-smtpd greets on the port (it may still be
        starting); greets at once only for relay clients."""
        end = time.monotonic() + timeout
        while True:
            try:
                with SMTPClient(port or self.smtp_port, timeout=5) as c:
                    if c.greeting.code == 220:
                        c.cmd("QUIT")
                        return
            except (OSError, EOFError, AssertionError):
                pass
            if time.monotonic() > end:
                raise AssertionError("kurir-smtpd does not greet")
            time.sleep(0.1)

    def entry(self, qid):
        """The queue entry (kurirctl queue --json) with this id."""
        for e in self.queue():
            if e["id"] == qid:
                return e
        raise AssertionError("%s not in the queue" % qid)

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
        # a helper a program forks for itself (kurir-auth's crypt workers)
        # is not another instance of it
        return [p for p in out if self._ppid(p) not in out]

    @staticmethod
    def _ppid(pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("PPid:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    # -- POP3 -------------------------------------------------------------
    def pop3(self, port=None, **kw):
        """A POP3Client connected to the POP3 (or given) port."""
        return POP3Client(port or self.pop3_port, **kw)

    def wait_pop3(self, port=None, timeout=15, host="127.0.0.1",
                  source=None):
        """Wait until kurir-pop3d greets (+OK) on the port."""
        end = time.monotonic() + timeout
        last = None
        while True:
            try:
                with POP3Client(port or self.pop3_port, host=host,
                                source=source, timeout=3) as c:
                    if c.greeting.startswith("+OK"):
                        c.cmd("QUIT")
                        return
                    last = c.greeting
            except (OSError, EOFError, AssertionError) as e:
                last = e
            if time.monotonic() > end:
                raise AssertionError("kurir-pop3d does not greet: %r" % last)
            time.sleep(0.1)

    def maildir(self, user):
        return os.path.join(self.mail, user)

    def _mail_owner(self):
        """(uid, gid) for files in the mail tree: the mail account when
        root, else None (ours)."""
        if os.geteuid() != 0:
            return None
        name = self.keys.get("mail_user")
        if not name:
            return None
        if ":" in name or name.isdigit():
            uid, _, gid = name.partition(":")
            return int(uid), int(gid or uid)
        pw = pwd.getpwnam(name)
        return pw.pw_uid, pw.pw_gid

    def ensure_maildir(self, user):
        """<mail_dir>/<user>/{tmp,new,cur}, mode 0700, owned by the mail
        account when root (run after setup(), which makes the account)."""
        owner = self._mail_owner()
        box = self.maildir(user)
        for d in (self.mail, box, os.path.join(box, "tmp"),
                  os.path.join(box, "new"), os.path.join(box, "cur")):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700 if d != self.mail else 0o750)
                if owner:
                    os.chown(d, *owner)
        return box

    _put_seq = 0

    def put_mail(self, user, messages, sub="new", names=None):
        """Write messages (a list of bytes, or an int: that many small
        numbered messages) straight into the user's Maildir, in order, as
        a delivery would (tmp/ then rename); Maildir unique names that
        sort in the order given (same leading seconds, then a counter).
        names: explicit file names instead.  Returns the file names."""
        if isinstance(messages, int):
            messages = [b"From: <sender@remote.test>\n"
                        b"To: <%s@example.test>\n"
                        b"Subject: message %d\n\nbody of message %d\n" %
                        (user.encode(), i + 1, i + 1)
                        for i in range(messages)]
        box = self.ensure_maildir(user)
        owner = self._mail_owner()
        if not hasattr(self, "_put_base"):
            self._put_base = int(time.time()) - 100000
        out = []
        for i, data in enumerate(messages):
            if names:
                name = names[i]
            else:
                Host._put_seq += 1
                name = "%d.M%07dP%d.kurirtest" % (self._put_base,
                                                   Host._put_seq, os.getpid())
            tmp = os.path.join(box, "tmp", name.split(":")[0])
            with open(tmp, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o600)
            if owner:
                os.chown(tmp, *owner)
            os.rename(tmp, os.path.join(box, sub, name))
            out.append(name)
        return out

    def mail_files(self, user, sub="new"):
        """Sorted file names in the user's Maildir new/ (or sub)."""
        try:
            return sorted(os.listdir(os.path.join(self.maildir(user), sub)))
        except FileNotFoundError:
            return []

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
    host_aliases = None
    host_submission = False
    host_tls = False
    host_deliver = False
    host_routes = None

    def setUp(self):
        self.host = Host(self.host_extra, self.host_users,
                         aliases=self.host_aliases,
                         submission=self.host_submission, tls=self.host_tls,
                         deliver=self.host_deliver, routes=self.host_routes)
        self.addCleanup(self.host.cleanup)


class SMTPHostCase(HostCase):
    """A HostCase whose host is set up, started and greeting on SMTP.

    After each test the kurird log must show no child that died (crash,
    sandbox kill, abort); a test that kills one on purpose sets
    self.allow_child_deaths = True.
    """
    allow_child_deaths = False

    def setUp(self):
        super().setUp()
        self.addCleanup(self.assertNoChildDied)
        self.host.setup()
        self.host.start()
        self.host.wait_smtp()
        if self.host.submission_port:
            self.host.wait_smtp(self.host.submission_port)

    def client(self, port=None, **kw):
        c = self.host.smtp(port, **kw)
        self.addCleanup(c.close)
        return c

    def assertNoChildDied(self):
        if self.allow_child_deaths:
            return
        try:
            lines = self.host.log().splitlines()
        except OSError:
            return
        for i, line in enumerate(lines):
            if re.search(r"kurird\[\d+\]: \S+ (killed by signal|exited with "
                         r"status)", line):
                self.allow_child_deaths = True      # report it once
                self.fail("a child of kurird died during the test:\n" +
                          "\n".join(lines[max(0, i - 8):i + 1]))

    def assertReply(self, r, code, prefix=None):
        self.assertEqual(r.code, code, r)
        if prefix is not None:
            self.assertTrue(r.lines[0].startswith(prefix), r)

    def assertQueueEmpty(self, settle=0.3):
        time.sleep(settle)
        self.assertEqual(self.host.queue(), [])
        msgdir = os.path.join(self.host.state, "queue", "msg")
        if os.path.isdir(msgdir):
            self.assertEqual(os.listdir(msgdir), [])

    def stored(self, qid):
        """(Received field, the client's message) of a queued message."""
        return split_received(self.host.message(qid))
