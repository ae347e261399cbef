"""compare.py - kurir against Postfix (SMTP) and Dovecot (POP3), the same
workloads in one run, printed as one table: kurir, anchor, ratio.

usage (as root, after `make` and `sh tools/bootstrap.sh bench`):
    BENCH_RUNS=3 /usr/bin/python3 tests/bench/compare.py [BUILD]

BUILD is kurir's build directory (default: build).  Environment:
  BENCH_RUNS     runs per workload and side; medians, min and max (3)
  BENCH_TIMEOUT  seconds before the whole bench gives up (300 + 700 per run)
  BENCH_FSYNC    1: also count fsyncs per delivered message with strace,
                 one run per side (default 1; 0 skips it)
  BENCH_ONLY     comma list of workload groups to run: smtp,big,pop3,idle,
                 auth,
                 fsync (default: all)
  BENCH_IDLE_SESSIONS, BENCH_POP3_MESSAGES  the 1000 and 5000 below
  KURIR_KEEP     keep the temporary directories (for a look at the logs)

Workloads (each run on a fresh instance: a new kurir host, a new private
Postfix or Dovecot, in its own temporary directory; everything on
127.0.0.1; kurir and the anchor alternate which goes first):
  * 2000 messages of 1 KiB over 1, 10 and 50 concurrent SMTP sessions and
    200 of 100 KiB over 10 sessions, sent by Postfix's smtp-source (one
    message per session, its default) to one local Maildir user.
    accepted msg/s = count / smtp-source's wall time (every 250 given);
    end-to-end msg/s = count / time until all are files in new/.
  * CPU seconds per 1000 messages: utime+stime (+ the cutime/cstime of
    reaped children) of all the server's processes (kurird and its tree;
    Postfix's master and its tree) from before the 1 KiB x 10 sessions
    run until it is delivered and the queue is empty.
  * POP3: USER/PASS, UIDL, RETR of each of 5000 messages of about 1 KiB
    (written straight into the Maildir's new/, as delivered), QUIT;
    msg/s = 5000 / session time.  Without pipelining (one command, wait
    for its reply) and with it (all commands sent by a writer thread
    while the replies are read).
  * 1000 idle SMTP sessions (connected, greeting read, held open): the
    PSS (/proc/PID/smaps_rollup) of all the server's processes, minus
    the same with no session, divided by 1000.  PSS splits shared pages
    between the processes sharing them, so the sum is what the server
    really uses; RSS sums are printed too.
  * RCPT latency (median, p99; goal p99 under 50 ms) of a clean SMTP
    session while 300 connections do EHLO, AUTH PLAIN with a wrong
    password and close, as fast as they can (authflood.py; kurir only,
    the anchors would need a SASL setup of their own).
  * fsyncs (fsync, fdatasync, syncfs, sync_file_range) per delivered
    message: strace -f attached to every process of the server during
    one 2000 x 1 KiB x 10 sessions run (slow; a count, not a rate).

Durability is the same on both sides: kurir fsyncs the queue entry before
250 and the Maildir file before it counts as delivered; Postfix's
cleanup(8) fsyncs the queue file before 250 and virtual(8) fsyncs the
Maildir file (both defaults).  The anchors' settings are printed.
"""
import atexit
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD_ARG = sys.argv[1] if len(sys.argv) > 1 else "build"
os.environ["KURIR_BUILD"] = os.path.abspath(BUILD_ARG)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import kurirtest  # noqa: E402
import anchors  # noqa: E402
import authflood  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
STRACE = "/usr/bin/strace"
DOMAIN = "example.test"
USER = "bench"
PASSWORD = "bench-pw-7"
SENDER = "a@" + DOMAIN
RCPT = USER + "@" + DOMAIN
CLK_TCK = os.sysconf("SC_CLK_TCK")

RUNS = max(1, int(os.environ.get("BENCH_RUNS", "3")))
TOTAL_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", str(300 + 700 * RUNS)))
DO_FSYNC = os.environ.get("BENCH_FSYNC", "1") != "0"
ONLY = set(x.strip() for x in os.environ.get(
    "BENCH_ONLY", "smtp,big,pop3,idle,fsync,auth").split(",") if x.strip())

STEP_TIMEOUT = 300          # any one sending, delivery or POP3 session
IDLE_SESSIONS = int(os.environ.get("BENCH_IDLE_SESSIONS", "1000"))
POP3_MESSAGES = int(os.environ.get("BENCH_POP3_MESSAGES", "5000"))
POP3_SIZE = 1024

SMTP_WORKLOADS = [          # (group, messages, payload bytes, sessions)
    ("smtp", 2000, 1024, 1),
    ("smtp", 2000, 1024, 10),
    ("smtp", 2000, 1024, 50),
    ("big", 200, 100 * 1024, 10),
]
CPU_WORKLOAD = (2000, 1024, 10)


class BenchTimeout(Exception):
    pass


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr,
          flush=True)


# -- resources: everything started is cleaned up, even on failure ---------
_live = []


def track(obj):
    _live.append(obj)
    return obj


def release(obj):
    """Clean obj up; it stays on the list (for cleanup_all) until that
    has finished, so an interrupted cleanup is tried again."""
    obj.cleanup()
    if obj in _live:
        _live.remove(obj)


def cleanup_all():
    """Clean up everything still live, newest first; an error (or the
    global timeout firing meanwhile) does not stop the rest."""
    pending = None
    for obj in list(reversed(_live)):
        try:
            obj.cleanup()
        except Exception as e:      # noqa: BLE001 - keep cleaning
            log("cleanup of %r failed: %r" % (obj, e))
        except BaseException as e:  # timeout, signal: finish, then raise
            log("cleanup of %r interrupted: %r; again" % (obj, e))
            pending = pending or e
            try:
                obj.cleanup()
            except BaseException as e2:     # noqa: BLE001
                log("cleanup of %r failed: %r" % (obj, e2))
        if obj in _live:
            _live.remove(obj)
    if pending is not None:
        raise pending


atexit.register(cleanup_all)


class Proc:
    """A helper process we started (strace), killed by pid at cleanup."""

    def __init__(self, popen):
        self.p = popen

    def cleanup(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=15)


class Sockets:
    def __init__(self):
        self.socks = []

    def cleanup(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []


# -- /proc ------------------------------------------------------------------
def proc_cpu(pids):
    """Sum of utime+stime+cutime+cstime (seconds) over pids."""
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p, "rb") as f:
                st = f.read()
        except OSError:
            continue
        rest = st[st.rindex(b")") + 2:].split()
        total += sum(int(x) for x in rest[11:15])
    return total / CLK_TCK


def proc_mem(pids):
    """(PSS kB, RSS kB) summed over pids."""
    pss = rss = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return pss, rss


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def count_files(d):
    try:
        return len(os.listdir(d))
    except OSError:
        return 0


def wait_until(pred, timeout, step=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


# -- the servers, behind one interface ----------------------------------------
class KurirSide:
    name = "kurir"

    def __init__(self, pop3=False, idle=False):
        extra = {"message_size_limit": "10m",
                 "smtp_max_sessions": "2000",
                 "smtp_max_sessions_per_ip": "2000"}
        self.pop3_port = None
        if pop3:
            self.pop3_port = kurirtest.free_port()
            extra["pop3_listen"] = "127.0.0.1:%d" % self.pop3_port
        self.host = track(kurirtest.Host(extra, users={USER: PASSWORD},
                                         deliver=True))

    def start(self):
        h = self.host
        h.setup()
        owner = mail_owner(h)
        os.makedirs(h.mail, exist_ok=True)
        anchors.make_maildir(self.maildir(), *owner)
        h.start()
        h.wait_smtp()
        if self.pop3_port:
            anchors.wait_banner(self.pop3_port, b"+OK")

    @property
    def smtp_port(self):
        return self.host.smtp_port

    def owner(self):
        return mail_owner(self.host)

    def maildir(self):
        return os.path.join(self.host.mail, USER)

    def workdir(self):
        return self.host.dir

    def pids(self):
        return anchors.process_tree(self.host.kurird.pid)

    def queue_count(self):
        return count_files(os.path.join(self.host.state, "queue", "msg"))

    def log_tail(self):
        try:
            return "\n".join(self.host.log().splitlines()[-20:])
        except OSError:
            return ""

    def cleanup(self):
        release(self.host)


def mail_owner(host):
    """(uid, gid) owning kurir's Maildirs."""
    name = host.keys.get("mail_user")
    if os.geteuid() != 0 or not name:
        return os.getuid(), os.getgid()
    if name.split(":")[0].isdigit():
        uid, _, gid = name.partition(":")
        return int(uid), int(gid or uid)
    return anchors.account(name)


class PostfixSide:
    name = "postfix"

    def __init__(self, owner):
        self.pf = track(anchors.Postfix(owner[0], owner[1], [USER],
                                        domain=DOMAIN))

    def start(self):
        self.pf.start()

    @property
    def smtp_port(self):
        return self.pf.smtp_port

    def maildir(self):
        return self.pf.maildir(USER)

    def workdir(self):
        return self.pf.dir

    def pids(self):
        return self.pf.pids()

    def queue_count(self):
        return self.pf.queue_count()

    def log_tail(self):
        return self.pf.log_tail(20)

    def cleanup(self):
        release(self.pf)


class DovecotSide:
    name = "dovecot"

    def __init__(self, owner):
        self.dc = track(anchors.Dovecot(owner[0], owner[1], {USER: PASSWORD}))
        self.owner_ids = owner

    def start(self):
        self.dc.start()

    @property
    def pop3_port(self):
        return self.dc.pop3_port

    def owner(self):
        return self.owner_ids

    def maildir(self):
        return self.dc.maildir(USER)

    def log_tail(self):
        return self.dc.log_tail(20)

    def cleanup(self):
        release(self.dc)


# -- SMTP -------------------------------------------------------------------
def smtp_source_argv(port, n, size, sessions):
    return [SMTP_SOURCE, "-s", str(sessions), "-m", str(n), "-l", str(size),
            "-M", "client.example.test", "-f", SENDER, "-t", RCPT,
            "127.0.0.1:%d" % port]


def smtp_run(side, n, size, sessions, cpu=False, fsync=False):
    """Send n messages; returns a dict: accepted, e2e (msg/s), cpu
    (seconds per 1000 messages), fsync (per message) as asked."""
    side.start()
    new = os.path.join(side.maildir(), "new")
    out = {}
    strace = None
    if fsync:
        strace, trace_file = attach_strace(side)
    cpu0 = proc_cpu(side.pids()) if cpu else None
    argv = smtp_source_argv(side.smtp_port, n, size, sessions)
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=STEP_TIMEOUT * (4 if fsync else 1))
    t1 = time.monotonic()
    if r.returncode != 0:
        raise RuntimeError("%s: smtp-source exit %d: %s\n%s" % (
            side.name, r.returncode, (r.stdout + r.stderr)[-500:],
            side.log_tail()))
    wait_until(lambda: count_files(new) >= n,
               STEP_TIMEOUT * (4 if fsync else 1))
    t2 = time.monotonic()
    got = count_files(new)
    if got != n:
        raise RuntimeError("%s: %d of %d messages in the Maildir after %ds\n%s"
                           % (side.name, got, n, t2 - t0, side.log_tail()))
    out["accepted"] = n / (t1 - t0)
    out["e2e"] = n / (t2 - t0)
    if cpu or fsync:
        # the work after the last file (queue file removal) counts too
        if not wait_until(lambda: side.queue_count() == 0, 60, 0.05):
            log("%s: queue not empty 60s after delivery" % side.name)
        time.sleep(0.2)
    if cpu:
        out["cpu"] = (proc_cpu(side.pids()) - cpu0) / n * 1000
    if fsync:
        comms = {p: proc_comm(p) for p in side.pids()}
        release(strace)
        out["fsync"], out["fsync_detail"] = count_fsyncs(trace_file, comms, n)
    return out


FSYNC_CALLS = ("fsync", "fdatasync", "syncfs", "sync_file_range")


def attach_strace(side):
    pids = side.pids()
    trace_file = os.path.join(side.workdir(), "fsync.strace")
    argv = [STRACE, "-f", "-qq", "-Y", "-e", "trace=" + ",".join(FSYNC_CALLS),
            "-o", trace_file]
    for p in pids:
        argv += ["-p", str(p)]
    p = track(Proc(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)))

    def attached():
        for pid in pids:
            try:
                with open("/proc/%d/status" % pid) as f:
                    st = f.read()
            except OSError:
                continue
            m = re.search(r"TracerPid:\s+(\d+)", st)
            if not m or int(m.group(1)) == 0:
                return False
        return True
    if not wait_until(attached, 20, 0.05):
        raise RuntimeError("strace did not attach to %s" % side.name)
    return p, trace_file


def count_fsyncs(trace_file, comms, n):
    calls = {}
    by_prog = {}
    # "PID<comm> fsync(3<path>) = 0" (-Y names the command)
    pat = re.compile(r"^(\d+)(?:<([^>]*)>)?\s+(%s)\(" % "|".join(FSYNC_CALLS))
    with open(trace_file, errors="replace") as f:
        for line in f:
            m = pat.match(line)
            if not m:
                continue
            calls[m.group(3)] = calls.get(m.group(3), 0) + 1
            prog = m.group(2) or comms.get(int(m.group(1)), "exited")
            by_prog[prog] = by_prog.get(prog, 0) + 1
    total = sum(calls.values())
    detail = ", ".join("%s %.2f" % (k, v / n) for k, v in sorted(
        by_prog.items(), key=lambda kv: -kv[1]))
    detail += " | " + ", ".join("%s %d" % kv for kv in sorted(calls.items()))
    return total / n, detail


# -- POP3 ---------------------------------------------------------------------
def pop3_messages(n, size):
    out = []
    for i in range(n):
        head = ("Return-Path: <%s>\nDelivered-To: %s\nFrom: <%s>\nTo: <%s>\n"
                "Subject: pop3 bench message %d\nMessage-ID: <%d.bench@%s>\n\n"
                % (SENDER, RCPT, SENDER, RCPT, i + 1, i + 1, DOMAIN)).encode()
        line = b"x" * 70 + b"\n"
        body = b""
        while len(head) + len(body) + len(line) <= size:
            body += line
        out.append(head + body)
    return out


def fill_maildir(maildir, owner, messages):
    """Write messages into new/ as a delivery would (tmp, rename)."""
    base = int(time.time()) - 100000
    for i, data in enumerate(messages):
        name = "%d.M%07dP%d.bench.example.test" % (base, i, os.getpid())
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.chown(tmp, *owner)
        os.rename(tmp, os.path.join(maildir, "new", name))


class POP3Reader:
    """Replies from a socket: status lines and multi-line bodies, counted
    without copying the whole stream around."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.bytes = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise EOFError("connection closed")
        self.bytes += len(chunk)
        self.buf += chunk

    def line(self):
        start = self.pos
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                line = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return line
            start = max(self.pos, len(self.buf) - 1)
            self._fill()

    def multi(self):
        """Skip a multi-line body; returns its number of lines."""
        # the status line's CRLF is at pos-2: an empty body is ".\r\n"
        start = self.pos - 2
        while True:
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                lines = self.buf.count(b"\r\n", self.pos, i + 2)
                self.pos = i + 5
                return lines
            start = max(self.pos - 2, len(self.buf) - 4)
            self._fill()

    def reply(self, multi):
        if self.pos > 1 << 20:      # between replies: offsets stay valid
            del self.buf[:self.pos]
            self.pos = 0
        st = self.line()
        if not st.startswith(b"+OK"):
            raise RuntimeError("POP3 error reply: %r" % st[:200])
        return self.multi() if multi else 0


def pop3_session(port, n, pipelined):
    """One timed session: login, UIDL, RETR 1..n, QUIT.  Returns seconds;
    checks the counts."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        r = POP3Reader(s)
        if not r.line().startswith(b"+OK"):
            raise RuntimeError("no POP3 greeting")
        s.sendall(b"USER %s\r\n" % USER.encode())
        r.reply(False)
        s.sendall(b"PASS %s\r\n" % PASSWORD.encode())
        r.reply(False)
        retrs = [b"RETR %d\r\n" % (i + 1) for i in range(n)]
        if pipelined:
            def writer():
                try:
                    s.sendall(b"UIDL\r\n")
                    for k in range(0, n, 200):
                        s.sendall(b"".join(retrs[k:k + 200]))
                    s.sendall(b"QUIT\r\n")
                except OSError:
                    pass
            w = threading.Thread(target=writer, daemon=True)
            w.start()
            done = 0
            try:
                uidls = r.reply(True)
                for done in range(1, n + 1):
                    r.reply(True)
                r.reply(False)
            except (OSError, EOFError) as e:
                raise RuntimeError(
                    "pipelined session stuck after %d of %d RETR replies, "
                    "%d bytes read; writer %s: %r" % (
                        done - 1, n, r.bytes,
                        "still sending" if w.is_alive() else "done", e))
            w.join(30)
        else:
            s.sendall(b"UIDL\r\n")
            uidls = r.reply(True)
            for cmd in retrs:
                s.sendall(cmd)
                r.reply(True)
            s.sendall(b"QUIT\r\n")
            r.reply(False)
        t1 = time.monotonic()
    finally:
        s.close()
    if uidls != n:
        raise RuntimeError("UIDL listed %d of %d messages" % (uidls, n))
    if r.bytes < n * POP3_SIZE * 0.9:
        raise RuntimeError("only %d bytes for %d messages" % (r.bytes, n))
    return t1 - t0


def pop3_run(side, messages, pipelined):
    side.start()
    fill_maildir(side.maildir(), side.owner(), messages)
    took = pop3_session(side.pop3_port, len(messages), pipelined)
    seen = count_files(os.path.join(side.maildir(), "cur"))
    if seen != len(messages):
        log("%s: %d of %d messages in cur/ after QUIT" % (
            side.name, seen, len(messages)))
    return {"pop3": len(messages) / took}


# -- idle sessions -----------------------------------------------------------
def idle_run(side, count):
    side.start()
    time.sleep(1.0)
    base_pss, base_rss = proc_mem(side.pids())
    base_procs = len(side.pids())
    socks = track(Sockets())
    try:
        for k in range(0, count, 50):
            batch = []
            for _ in range(min(50, count - k)):
                s = socket.create_connection(("127.0.0.1", side.smtp_port),
                                             timeout=60)
                socks.socks.append(s)
                batch.append(s)
            for s in batch:
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise RuntimeError("%s closed session %d" % (
                            side.name, len(socks.socks)))
                    data += chunk
                if not data.startswith(b"220"):
                    raise RuntimeError("%s: greeting %r for session %d" % (
                        side.name, data[:100], len(socks.socks)))
            # a session that said EHLO and then waits, as a client
            # between messages does (buffers are in use by then)
            for s in batch:
                s.sendall(b"EHLO idle.example.test\r\n")
            for s in batch:
                data = b""
                while not re.search(rb"(^|\n)250 [^\n]*\n", data):
                    chunk = s.recv(4096)
                    if not chunk:
                        raise RuntimeError("%s closed session %d after "
                                           "EHLO" % (side.name,
                                                     len(socks.socks)))
                    data += chunk
        time.sleep(1.0)
        pids = side.pids()
        pss, rss = proc_mem(pids)
        # every session still open?
        for s in socks.socks[::max(1, count // 20)]:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    raise RuntimeError("%s closed an idle session" % side.name)
            except BlockingIOError:
                pass
            s.setblocking(True)
    finally:
        release(socks)
    log("  %s: %d processes without sessions, %d with %d; PSS %d -> %d kB, "
        "RSS %d -> %d kB" % (side.name, base_procs, len(pids), count,
                             base_pss, pss, base_rss, rss))
    return {"idle_pss": (pss - base_pss) / count,
            "idle_rss": (rss - base_rss) / count,
            "idle_total": pss / 1024.0}


# -- the runs ---------------------------------------------------------------
class Results:
    def __init__(self):
        self.rows = {}          # key -> {"kurir": [..], "anchor": [..]}
        self.order = []
        self.meta = {}          # key -> (label, unit, anchor name, better)
        self.failures = []
        self.notes = []

    def add(self, key, label, unit, anchor, better, who, value):
        if key not in self.rows:
            self.rows[key] = {"kurir": [], "anchor": []}
            self.order.append(key)
            self.meta[key] = (label, unit, anchor, better)
        self.rows[key][who].append(value)


def fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cell(vals):
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt(vals[0])
    return "%s (%s-%s)" % (fmt(statistics.median(vals)), fmt(min(vals)),
                           fmt(max(vals)))


def print_table(res):
    head = ["workload", "unit", "kurir median (min-max)",
            "anchor median (min-max)", "ratio kurir/anchor"]
    lines = []
    for key in res.order:
        label, unit, anchor, better = res.meta[key]
        k, a = res.rows[key]["kurir"], res.rows[key]["anchor"]
        ratio = "-"
        if k and a and statistics.median(a) > 0:
            q = statistics.median(k) / statistics.median(a)
            ratio = "%.2f" % q if q >= 0.1 else "%.2g" % q
        lines.append([label, "%s (%s better)" % (unit, better), cell(k),
                      "%s: %s" % (anchor, cell(a)), ratio])
    widths = [max(len(r[i]) for r in lines + [head]) for i in range(5)]

    def row(r):
        return "| " + " | ".join(c.ljust(widths[i]) for i, c in
                                 enumerate(r)) + " |"
    print(row(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in lines:
        print(row(r))


def sides_in_order(run):
    return ("kurir", "anchor") if run % 2 == 0 else ("anchor", "kurir")


def do(res, key, who, fn):
    """Run one measurement; a failure is recorded, not fatal."""
    try:
        return fn()
    except (BenchTimeout, KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:      # noqa: BLE001 - reported in the summary
        msg = "%s %s: %s" % (key, who, str(e).strip()[:1500])
        log("FAILED " + msg)
        res.failures.append(msg)
        return None
    finally:
        cleanup_all()


def bench(res, owner):
    pop3_msgs = pop3_messages(POP3_MESSAGES, POP3_SIZE) \
        if "pop3" in ONLY else None
    for run in range(RUNS):
        log("run %d of %d" % (run + 1, RUNS))
        for group, n, size, sessions in SMTP_WORKLOADS:
            if group not in ONLY:
                continue
            cpu = (n, size, sessions) == CPU_WORKLOAD
            key = "%dx%d/%d" % (n, size, sessions)
            desc = "SMTP %d x %s, %d session%s" % (
                n, "%d KiB" % (size // 1024), sessions,
                "" if sessions == 1 else "s")
            for who in sides_in_order(run):
                def one():
                    side = KurirSide() if who == "kurir" else \
                        PostfixSide(owner)
                    return smtp_run(side, n, size, sessions, cpu=cpu)
                out = do(res, key, who, one)
                if out is None:
                    continue
                log("  %s %s: accepted %.0f msg/s, end to end %.0f msg/s%s"
                    % (desc, who, out["accepted"], out["e2e"],
                       ", %.2f CPU s per 1000" % out["cpu"] if cpu else ""))
                res.add(key + "/acc", desc + ": accepted", "msg/s",
                        "postfix", "higher", who, out["accepted"])
                res.add(key + "/e2e", desc + ": end to end (in Maildir)",
                        "msg/s", "postfix", "higher", who, out["e2e"])
                if cpu:
                    res.add("cpu", "CPU s per 1000 msgs (%s, end to end)" %
                            desc[5:], "CPU s", "postfix", "lower", who,
                            out["cpu"])
        if "pop3" in ONLY:
            for pipelined in (False, True):
                key = "pop3/%d" % pipelined
                desc = "POP3 UIDL + RETR of %d msgs, %s pipelining" % (
                    POP3_MESSAGES, "with" if pipelined else "without")
                for who in sides_in_order(run):
                    def one():
                        side = KurirSide(pop3=True) if who == "kurir" else \
                            DovecotSide(owner)
                        return pop3_run(side, pop3_msgs, pipelined)
                    out = do(res, key, who, one)
                    if out is None:
                        continue
                    log("  %s %s: %.0f msg/s" % (desc, who, out["pop3"]))
                    res.add(key, desc, "msg/s", "dovecot", "higher", who,
                            out["pop3"])
        if "idle" in ONLY:
            desc = "%d idle SMTP sessions (after EHLO): memory per session (PSS)" % \
                IDLE_SESSIONS
            for who in sides_in_order(run):
                def one():
                    side = KurirSide(idle=True) if who == "kurir" else \
                        PostfixSide(owner)
                    return idle_run(side, IDLE_SESSIONS)
                out = do(res, "idle", who, one)
                if out is None:
                    continue
                res.add("idle", desc, "KiB", "postfix", "lower", who,
                        out["idle_pss"])
                res.add("idle_rss", "  the same as RSS (shared pages counted "
                        "in every process)", "KiB", "postfix", "lower", who,
                        out["idle_rss"])
                res.add("idle_total", "  all the server's processes together, "
                        "with the sessions (PSS)", "MiB", "postfix", "lower",
                        who, out["idle_total"])
    if "auth" in ONLY:
        desc = "RCPT latency during %d wrong-password AUTHs" % \
            authflood.FLOOD
        for run in range(RUNS):
            def one():
                side = KurirSide()
                side.start()
                return authflood.summary(authflood.run(
                    side.smtp_port, USER, RCPT)[0])
            out = do(res, "auth", "kurir", one)
            if out is None:
                continue
            log("  %s: median %.2f ms, p99 %.2f ms" % (
                desc, out["median_ms"], out["p99_ms"]))
            res.add("auth/median", desc + ": median", "ms", "none",
                    "lower", "kurir", out["median_ms"])
            res.add("auth/p99", desc + ": p99 (goal < 50)", "ms", "none",
                    "lower", "kurir", out["p99_ms"])
    if "fsync" in ONLY and DO_FSYNC:
        n, size, sessions = CPU_WORKLOAD
        if not os.access(STRACE, os.X_OK):
            res.notes.append("fsync count skipped: no %s" % STRACE)
            return
        log("fsync count (strace attached, one run per side)")
        for who in ("kurir", "anchor"):
            def one():
                side = KurirSide() if who == "kurir" else PostfixSide(owner)
                return smtp_run(side, n, size, sessions, fsync=True)
            out = do(res, "fsync", who, one)
            if out is None:
                continue
            log("  %s: %.2f fsyncs per message: %s" % (who, out["fsync"],
                                                        out["fsync_detail"]))
            res.add("fsync", "fsyncs per delivered msg (%d x 1 KiB, %d "
                    "sessions, 1 run, strace)" % (n, sessions), "calls",
                    "postfix", "lower", who, out["fsync"])
            res.notes.append("fsyncs per message by program, %s: %s" % (
                who, out["fsync_detail"]))


def preflight():
    """Make the role accounts (kurirctl setup as root) and check that a
    kurir host starts; returns the mail account's (uid, gid)."""
    side = KurirSide(pop3=True)
    try:
        side.start()
        return side.owner()
    finally:
        release(side)


def describe_env():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True,
                                  text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    return [
        "date: " + time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "kurir: %s%s, build %s" % (
            sh("git -C %s rev-parse --short HEAD" % ROOT),
            " (+ uncommitted changes)" if sh(
                "git -C %s status --porcelain --untracked-files=no" % ROOT)
            else "", kurirtest.BUILD),
        "anchors: Postfix %s, Dovecot %s; client: smtp-source (Postfix %s)"
        % (sh("postconf -d -h mail_version"), sh("dovecot --version"),
           sh("postconf -d -h mail_version")),
        "machine: %d CPUs (%s), %s; temp dirs in %s (%s)" % (
            os.cpu_count() or 0,
            sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
            sh("uname -sr"), tempfile.gettempdir(),
            sh("findmnt -n -o FSTYPE -T " + tempfile.gettempdir())),
        "load average at the start: " + sh("cut -d' ' -f1-3 /proc/loadavg"),
    ]


def main():
    if os.geteuid() != 0:
        sys.exit("compare.py: run as root (Postfix and Dovecot start as "
                 "root; kurir's privilege separation is measured as root)")
    if not os.access(os.path.join(kurirtest.BUILD, "kurird"), os.X_OK):
        sys.exit("compare.py: no %s/kurird; run make" % kurirtest.BUILD)
    # the auth flood measures kurir alone: no anchor to install for it
    missing = anchors.have_tools() if ONLY - {"auth"} else []
    if missing:
        sys.exit("compare.py: missing %s (sh tools/bootstrap.sh bench)" %
                 ", ".join(missing))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < IDLE_SESSIONS + 200:
        sys.exit("compare.py: RLIMIT_NOFILE hard limit %d is too low" % hard)

    def on_alarm(signum, frame):
        raise BenchTimeout("the whole bench took over %ds" % TOTAL_TIMEOUT)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.alarm(TOTAL_TIMEOUT)

    started = time.monotonic()
    res = Results()
    env = describe_env()
    log("kurir vs Postfix/Dovecot: %d run(s) per workload, bench gives up "
        "after %ds" % (RUNS, TOTAL_TIMEOUT))
    status = 0
    try:
        owner = preflight()
        bench(res, owner)
    except BenchTimeout as e:
        res.failures.append("ABORTED: %s (results so far below)" % e)
        status = 2
    finally:
        signal.alarm(0)
        cleanup_all()
    took = time.monotonic() - started
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    env.append("load average at the end: %s  (other work on the machine "
               "skews both sides)" % load)

    print()
    print("kurir compared with Postfix (SMTP) and Dovecot (POP3), "
          "%d run(s) each, medians (min-max)" % RUNS)
    for line in env:
        print("  " + line)
    print()
    print_table(res)
    print()
    print("Notes:")
    print("  - accepted = messages / smtp-source wall time (each 250 means "
          "fsync'd in the queue on both sides); end to end = messages / time "
          "until all are files in the user's Maildir new/ (fsync'd).  One "
          "message per SMTP session (smtp-source's default); each run on a "
          "fresh instance; kurir and the anchor alternate going first.")
    print("  - POP3: USER/PASS, UIDL, RETR 1..%d, QUIT (commits seen flags: "
          "new/ -> cur/) of a Maildir freshly filled (page cache warm, no "
          "Dovecot index yet); msg/s over the whole session." %
          POP3_MESSAGES)
    print("  - idle: %d SMTP connections, each greeted and past EHLO, held; memory of all "
          "the server's processes minus the same before, per session.  "
          "Postfix runs one smtpd process per session (smtp maxproc 1100 in "
          "master.cf); kurir-smtpd is event-driven.  kurir: "
          "smtp_max_sessions = smtp_max_sessions_per_ip = 2000." %
          IDLE_SESSIONS)
    print("  - CPU: utime+stime (and reaped children's) of every server "
          "process, from before sending until delivered and the queue is "
          "empty; the client (smtp-source) is not counted.")
    print("  - Postfix settings (main.cf/master.cf written by "
          "tests/bench/anchors.py):")
    for k, v, why in anchors.POSTFIX_TUNING:
        print("      %s = %s: %s" % (k, v, why))
    print("    the rest Postfix 3.7 defaults (compatibility_level 3.6): "
          "virtual(8) Maildir delivery for %s, virtual_destination_"
          "concurrency_limit 20, cleanup fsyncs the queue file before 250, "
          "virtual fsyncs each Maildir file (it does not fsync new/; kurir "
          "does)." % RCPT)
    print("  - Dovecot settings:")
    for k, v, why in anchors.DOVECOT_TUNING:
        print("      %s = %s: %s" % (k, v, why))
    print("    passwd-file passdb ({PLAIN}), static userdb, ssl = no, "
          "disable_plaintext_auth = no (kurir allows passwords from "
          "loopback).")
    for n in res.notes:
        print("  - " + n)
    if res.failures:
        status = status or 1
        print()
        print("FAILURES:")
        for f in res.failures:
            print("  - " + f.replace("\n", "\n    "))
    print()
    print("took %.0f s.  Reproduce (as root, after `make` and `sh "
          "tools/bootstrap.sh bench`):" % took)
    print("  BENCH_RUNS=%d /usr/bin/python3 tests/bench/compare.py %s" % (
        RUNS, BUILD_ARG))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
