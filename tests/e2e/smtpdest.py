"""smtpdest - destination servers for kurir-remote's end-to-end tests.

Two kinds, both on loopback, both in a thread, both bounded in time:

  Destination     a well-behaved SMTP server (aiosmtpd) that records
                  every envelope it accepts: sender, recipients, the
                  message bytes as received (CRLF, dot-stuffing undone),
                  whether the session was TLS and the EHLO/HELO name.
                  Replies can be scripted per recipient (550 for one,
                  450 for another), for MAIL and for DATA; it can offer
                  STARTTLS with the test certificate, or speak HELO only.

  ScriptedServer  a raw socket server that plays a script byte by byte
                  (send exactly these bytes, expect a line, sleep, stream
                  for a while, close) for hostile or broken servers, and
                  records what the client sent and who closed first.

Neither needs root, except to listen on port 25 (the MX tests).
Set SMTPDEST_DEBUG=1 in the environment to see aiosmtpd's log.
"""
import logging
import os
import select
import socket
import ssl
import threading
import time

import tools
from kurirtest import free_port, tls_cert

tools.need_module("aiosmtpd")               # python3-aiosmtpd
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP              # noqa: E402

if not os.environ.get("SMTPDEST_DEBUG"):
    # TLS handshakes the client aborts on purpose (tls=verify) are logged
    # by aiosmtpd as errors; they are expected here
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def port_bindable(host, port):
    """True if a TCP listener on host:port can be made now."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            return True
    except OSError:
        return False


def server_tls_context(broken=False):
    """An ssl context serving the test certificate (kurirtest.tls_cert).
    broken: one that no current client can agree with (TLS 1.0 at most),
    so every handshake fails."""
    cert, key = tls_cert()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if broken:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


# ---------------------------------------------------------------------------
class Envelope:
    """One transaction the Destination saw through DATA."""

    def __init__(self, **kw):
        self.mail_from = kw["mail_from"]        # "" for <>
        self.mail_options = kw["mail_options"]  # ["BODY=8BITMIME", ...]
        self.rcpt_tos = kw["rcpt_tos"]          # accepted RCPTs, in order
        self.data = kw["data"]                  # bytes as on the wire, unstuffed
        self.tls = kw["tls"]                    # STARTTLS was done
        self.helo = kw["helo"]                  # the EHLO/HELO argument
        self.esmtp = kw["esmtp"]                # EHLO (True) or HELO
        self.peer = kw["peer"]
        self.connection = kw["connection"]      # 1, 2, ...: which connection
        self.reply = kw["reply"]                # our reply to the final dot
        self.time = time.monotonic()

    def __repr__(self):
        return ("Envelope(from=%r, to=%r, %d bytes, tls=%r, helo=%r, "
                "reply=%r)" % (self.mail_from, self.rcpt_tos, len(self.data),
                               self.tls, self.helo, self.reply))


class _Handler:
    """aiosmtpd hooks; all state lives in the Destination, under its lock."""

    def __init__(self, dest):
        self.dest = dest

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        # the 5-argument hook replaces aiosmtpd's reply lines; it must
        # note the name itself
        session.host_name = hostname
        if self.dest.pipelining:
            # aiosmtpd reads commands in order from a stream, so it
            # handles a pipelined client; it just does not say so
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        d = self.dest
        with d._lock:
            d.commands.append(("MAIL", address, list(mail_options)))
            reply = d.mail_reply
        if reply and not reply.startswith("2"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return reply or "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        d = self.dest
        with d._lock:
            reply = d.replies.get(address.lower())
            d.rcpt_attempts.append((address, reply or "250 2.1.5 Ok"))
            d.commands.append(("RCPT", address, list(rcpt_options)))
        if reply and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply or "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        d = self.dest
        with d._lock:
            reply = d.data_reply or "250 2.0.0 Ok: recorded"
            mail_from = envelope.mail_from
            if mail_from == "<>":
                mail_from = ""
            env = Envelope(mail_from=mail_from,
                           mail_options=list(envelope.mail_options),
                           rcpt_tos=list(envelope.rcpt_tos),
                           data=bytes(envelope.original_content),
                           tls=session.ssl is not None,
                           helo=session.host_name,
                           esmtp=bool(session.extended_smtp),
                           peer=session.peer,
                           connection=getattr(server, "_kd_conn", 0),
                           reply=reply)
            d.transactions.append(env)
            if reply.startswith("2"):
                d.envelopes.append(env)
            d.commands.append(("DATA", reply))
            d._cond.notify_all()
        return reply


class _SMTP(SMTP):
    """aiosmtpd's server, counting connections and, in HELO-only mode,
    refusing EHLO as an RFC 821 server would."""

    def __init__(self, handler, dest, **kw):
        super().__init__(handler, **kw)
        self._kd_dest = dest
        self._kd_conn = 0

    def connection_made(self, transport):
        upgrade = self._original_transport is not None and \
            self.transport is not None
        super().connection_made(transport)
        if not upgrade:
            self._kd_conn = self._kd_dest._connected(self.session.peer)
        else:
            with self._kd_dest._lock:
                self._kd_dest.tls_sessions += 1

    async def smtp_EHLO(self, hostname):
        if not self._kd_dest.ehlo:
            with self._kd_dest._lock:
                self._kd_dest.commands.append(("EHLO", hostname))
            await self.push("502 5.5.1 Error: command not recognized")
            return
        with self._kd_dest._lock:
            self._kd_dest.commands.append(("EHLO", hostname))
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname):
        with self._kd_dest._lock:
            self._kd_dest.commands.append(("HELO", hostname))
        await super().smtp_HELO(hostname)

    async def smtp_STARTTLS(self, arg):
        with self._kd_dest._lock:
            self._kd_dest.commands.append(("STARTTLS",))
        await super().smtp_STARTTLS(arg)


class _Controller(Controller):
    def __init__(self, dest, **kw):
        self._kd_dest = dest
        super().__init__(_Handler(dest), **kw)

    def factory(self):
        return _SMTP(self.handler, self._kd_dest, **self.SMTP_kwargs)


class Destination:
    """A recording SMTP server on host:port (a free port when None).

    replies: {address: "550 5.1.1 no such user"} answers RCPT for that
    address (case-insensitive) with the reply; a 2xx or a missing entry
    accepts.  mail_reply / data_reply: the reply to every MAIL / to the
    final dot instead of 250.  tls: offer STARTTLS with the test
    certificate (never required); tls="broken": offer it, but fail
    every handshake.  ehlo=False: answer EHLO with 502, so the client
    must fall back to HELO.  pipelining: announce PIPELINING (RFC 2920).
    size_limit: announced by SIZE and enforced (552).  name: the
    greeting's host name.
    """

    def __init__(self, host="127.0.0.1", port=None, replies=None, tls=False,
                 ehlo=True, mail_reply=None, data_reply=None,
                 name="mx.remote.test", pipelining=True,
                 size_limit=10 * 1024 * 1024):
        self.host = host
        self.fixed_port = port
        self.port = port
        self.replies = {k.lower(): v for k, v in (replies or {}).items()}
        self.tls = tls
        self.ehlo = ehlo
        self.mail_reply = mail_reply
        self.data_reply = data_reply
        self.name = name
        self.pipelining = pipelining
        self.size_limit = size_limit
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._controller = None
        self._reset()

    def _reset(self):
        self.envelopes = []       # accepted transactions
        self.transactions = []    # every DATA, accepted or not
        self.rcpt_attempts = []   # (address, reply) for every RCPT
        self.commands = []        # a rough transcript
        self.peers = []           # one per connection
        self.tls_sessions = 0     # STARTTLS handshakes begun

    def _connected(self, peer):
        with self._lock:
            self.peers.append(peer)
            return len(self.peers)

    # -- life -----------------------------------------------------------
    def start(self):
        kw = dict(hostname=self.host, server_hostname=self.name,
                  ready_timeout=10.0, enable_SMTPUTF8=True,
                  data_size_limit=self.size_limit)
        if self.tls:
            kw["tls_context"] = server_tls_context(self.tls == "broken")
            kw["require_starttls"] = False
        tries = 1 if self.fixed_port else 5
        for n in range(tries):
            port = self.fixed_port or free_port()
            c = _Controller(self, port=port, **kw)
            try:
                c.start()
            except (OSError, RuntimeError, TimeoutError):
                try:
                    c.stop(no_assert=True)
                except Exception:
                    pass
                if n == tries - 1:
                    raise
                continue
            self._controller = c
            self.port = port
            break
        # forget the controller's own start-up probe
        time.sleep(0.05)
        with self._lock:
            self._reset()
        return self

    def stop(self):
        c, self._controller = self._controller, None
        if c is not None:
            try:
                c.stop()
            except Exception:
                pass

    @property
    def running(self):
        return self._controller is not None

    # -- script ---------------------------------------------------------
    def set_reply(self, address, reply):
        """Script RCPT for address (None: accept from now on)."""
        with self._lock:
            if reply is None:
                self.replies.pop(address.lower(), None)
            else:
                self.replies[address.lower()] = reply

    def set_data_reply(self, reply):
        with self._lock:
            self.data_reply = reply

    # -- what was seen --------------------------------------------------
    def messages(self):
        """The accepted transactions (Envelope), oldest first."""
        with self._lock:
            return list(self.envelopes)

    def all_transactions(self):
        with self._lock:
            return list(self.transactions)

    def rcpts_tried(self):
        with self._lock:
            return list(self.rcpt_attempts)

    def transcript(self):
        with self._lock:
            return list(self.commands)

    def connections(self):
        with self._lock:
            return len(self.peers)

    def wait_for_messages(self, n, timeout=10.0):
        """Wait until at least n transactions are accepted; all of them."""
        end = time.monotonic() + timeout
        with self._cond:
            while len(self.envelopes) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "destination %s:%s: %d message(s) after %.0fs, "
                        "expected %d; seen: %r" % (
                            self.host, self.port, len(self.envelopes),
                            timeout, n, self.commands[-40:]))
                self._cond.wait(min(left, 0.2))
            return list(self.envelopes)


# ---------------------------------------------------------------------------
class Connection:
    """What a ScriptedServer saw on one connection."""

    def __init__(self, peer):
        self.peer = peer
        self.started = time.monotonic()
        self.ended = None
        self.received = b""        # every byte the client sent
        self.lines = []            # lines read by "expect"/"line" steps
        self.sent = 0              # bytes we sent
        self.client_closed = False  # the client hung up (EOF/RST) first
        self.client_stalled = False  # it stopped reading what we sent
        self.mismatch = None       # (expected, got) of a failed "expect"
        self.finished = False      # the script ran to its end

    @property
    def duration(self):
        return (self.ended or time.monotonic()) - self.started

    def __repr__(self):
        return ("Connection(%r, %d bytes in, %d out, client_closed=%r, "
                "client_stalled=%r, mismatch=%r, finished=%r, %.1fs)" % (
                    self.peer, len(self.received), self.sent,
                    self.client_closed, self.client_stalled, self.mismatch,
                    self.finished, self.duration))


class _ClientGone(Exception):
    pass


class ScriptedServer:
    """A raw TCP server that plays script on each of up to `connections`
    connections, one after another, then closes its listener (later
    connects are refused).  Everything ends by time_limit seconds after
    start(), whatever the client does.

    Steps (tuples):
      ("send", bytes)              send exactly these bytes
      ("expect", prefix)           read one line (ended by LF); if it does
                                   not start with prefix (bytes, any
                                   case), record the mismatch and close
      ("line",)                    read one line, whatever it is
      ("sleep", secs)              wait, reading (and recording) input
      ("hold", secs)               the same, but ends early if the client
                                   closes: how long does the client wait?
      ("stream", bytes, secs)      send bytes again and again for secs
                                   (or until the client stops reading and
                                   closes)
      ("trickle", bytes, interval, secs)
                                   send the bytes one at a time, one every
                                   interval, for at most secs
      ("data",)                    read a DATA body up to the final dot
      ("close",)                   close now (also the end of the script)
    """

    def __init__(self, script, host="127.0.0.1", port=None, connections=1,
                 time_limit=60.0, line_max=100000):
        self.script = list(script)
        self.host = host
        self.port = port
        self.max_conns = connections
        self.time_limit = time_limit
        self.line_max = line_max
        self.conns = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._listener = None
        self._deadline = None

    def start(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tries = 1 if self.port else 5
        for n in range(tries):
            port = self.port or free_port()
            try:
                ls.bind((self.host, port))
                break
            except OSError:
                if n == tries - 1:
                    ls.close()
                    raise
        ls.listen(8)
        ls.settimeout(0.2)
        self._listener = ls
        self.port = ls.getsockname()[1]
        self._deadline = time.monotonic() + self.time_limit
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_listener()

    def _close_listener(self):
        ls, self._listener = self._listener, None
        if ls is not None:
            try:
                ls.close()
            except OSError:
                pass

    def done(self):
        return self._thread is not None and not self._thread.is_alive()

    def wait_done(self, timeout):
        """Wait until every connection is played (or the time limit)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("scripted server still busy after %.0fs: %r"
                                 % (timeout, self.connections()))

    def connections(self):
        with self._lock:
            return list(self.conns)

    def wait_connections(self, n, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.connections()) >= n:
                return self.connections()
            time.sleep(0.02)
        raise AssertionError("%d connection(s) to the scripted server after "
                             "%.0fs, expected %d" % (len(self.connections()),
                                                     timeout, n))

    # -- the thread -----------------------------------------------------
    def _left(self):
        return self._deadline - time.monotonic()

    def _run(self):
        try:
            served = 0
            while served < self.max_conns and not self._stop.is_set() and \
                    self._left() > 0:
                try:
                    s, peer = self._listener.accept()
                except socket.timeout:
                    continue
                except OSError:
                    break
                served += 1
                c = Connection(peer)
                with self._lock:
                    self.conns.append(c)
                try:
                    self._play(s, c)
                except _ClientGone:
                    c.client_closed = True
                except TimeoutError:
                    pass
                except OSError:
                    c.client_closed = True
                finally:
                    c.ended = time.monotonic()
                    try:
                        s.close()
                    except OSError:
                        pass
        finally:
            self._close_listener()

    def _recv_some(self, s, c, wait):
        """Read what is there within wait seconds; raise _ClientGone on
        EOF or reset.  Returns the bytes (maybe b"")."""
        wait = max(0.0, min(wait, self._left()))
        r, _, _ = select.select([s], [], [], wait)
        if not r:
            return b""
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            raise _ClientGone()
        if not chunk:
            raise _ClientGone()
        c.received += chunk
        return chunk

    def _over(self):
        return self._stop.is_set() or self._left() <= 0

    def _send(self, s, c, data):
        s.settimeout(max(0.1, min(5.0, self._left())))
        try:
            s.sendall(data)
        except socket.timeout:
            # the client stopped reading but keeps the connection open
            c.client_stalled = True
            raise TimeoutError()
        except (BrokenPipeError, ConnectionResetError,
                ConnectionAbortedError):
            raise _ClientGone()
        finally:
            s.setblocking(True)
        c.sent += len(data)

    def _readline(self, s, c, buf):
        while b"\n" not in buf[0]:
            # out of time, or a line without end: give up on the script
            if self._over() or len(buf[0]) > self.line_max:
                raise TimeoutError()
            chunk = self._recv_some(s, c, 0.2)
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\n", 1)
        line = line.rstrip(b"\r")
        c.lines.append(line)
        return line

    def _wait(self, s, c, secs, buf, stop_on_close):
        end = time.monotonic() + secs
        while time.monotonic() < end and not self._over():
            try:
                buf[0] += self._recv_some(s, c, min(0.2, end -
                                                   time.monotonic()))
            except _ClientGone:
                if stop_on_close:
                    raise
                return

    def _play(self, s, c):
        buf = [b""]
        try:
            for step in self.script:
                if self._over():
                    return
                op = step[0]
                if op == "send":
                    self._send(s, c, step[1])
                elif op in ("expect", "line"):
                    line = self._readline(s, c, buf)
                    if op == "expect" and not line.lower().startswith(
                            step[1].lower()):
                        c.mismatch = (step[1], line)
                        return
                elif op == "sleep":
                    self._wait(s, c, step[1], buf, stop_on_close=False)
                elif op == "hold":
                    self._wait(s, c, step[1], buf, stop_on_close=True)
                elif op == "stream":
                    end = time.monotonic() + step[2]
                    while time.monotonic() < end and not self._over():
                        self._send(s, c, step[1])
                        # notice a client that has hung up
                        buf[0] += self._recv_some(s, c, 0)
                elif op == "trickle":
                    _, data, interval, secs = step
                    end = time.monotonic() + secs
                    i = 0
                    while time.monotonic() < end and not self._over():
                        self._send(s, c, data[i:i + 1])
                        i = (i + 1) % len(data)
                        self._wait(s, c, interval, buf, stop_on_close=True)
                elif op == "data":
                    while True:
                        line = self._readline(s, c, buf)
                        if line == b".":
                            break
                elif op == "close":
                    c.finished = True
                    return
                else:
                    raise ValueError("unknown step %r" % (step,))
            c.finished = True
        except TimeoutError:
            return
