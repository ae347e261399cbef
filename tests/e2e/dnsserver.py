#!/usr/bin/python3
"""dnsserver.py - a small DNS server for kurir's tests (dnslib, Debian's
python3-dnslib).

It answers like a recursive resolver that knows only its zone, so that
kurir-remote can be pointed at it with the dns_server config key:

  * names in the zone get their records; a name that exists with no
    record of the asked type gets NOERROR and no answer (NODATA), and so
    does a parent of a zone name (an empty non-terminal, as in real DNS);
  * every other name gets NXDOMAIN;
  * CNAMEs are followed inside the zone (the chain goes in the answer);
  * UDP replies that do not fit 512 bytes (or the EDNS size the client
    offered) are sent truncated (TC), so the client has to retry over TCP,
    which is served on the same port.

Zone: {name: {type: value}}, from a dict or a JSON file:

    {"example.test":     {"MX": [[10, "mx1.example.test"],
                                 [20, "mx2.example.test"]]},
     "mx1.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
     "nomail.test":      {"MX": [[0, "."]]},          # null MX (RFC 7505)
     "www.example.test": {"CNAME": "mx1.example.test"},
     "broken.test":      {"rcode": "SERVFAIL"},       # any RCODE name
     "silent.test":      {"drop": true},              # never answered
     "slow.test":        {"delay": 0.5, "A": ["127.0.0.1"]},
     "half.test":        {"A": ["127.0.0.1"], "AAAA": "SERVFAIL"}}

A type's value may also be a string: an RCODE name for that type alone,
or "DROP" (no answer to that type).  Some names work without a zone
entry: a first label "servfail", "refused" or "formerr" gets that RCODE,
"timeout" or "drop" gets no answer at all.  Names are case-insensitive,
the trailing dot optional.

As a module:

    srv = DNSServer(zone)            # address="127.0.0.1", port=0, tcp=True
    port = srv.start()               # serves in a daemon thread
    ...                              # srv.queries: [(name, type, "udp"|"tcp")]
    srv.set_zone(other_zone)         # takes effect at once
    srv.stop()

As a program:

    python3 dnsserver.py --port 0 --zone zone.json [--address 127.0.0.1]
                         [--no-tcp] [--stdin-eof] [--log]

prints the port on stdout (one line, flushed) once both sockets are bound,
then serves until SIGTERM or SIGINT (or, with --stdin-eof, until its
standard input closes: a parent that dies cannot leave it behind).  SIGHUP
reads the zone file again.  --log writes each query to stderr.
"""

import argparse
import heapq
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time

import tools

# python3-dnslib; a python3 other than Debian's finds it too
tools.need_module("dnslib")
from dnslib import (AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A,  # noqa: E402
                    DNSRecord)

TTL = 60
UDP_MIN = 512               # RFC 1035 4.2.1, the size without EDNS
UDP_MAX = 4096
CNAME_HOPS = 8
SPECIAL = {"servfail": "SERVFAIL", "refused": "REFUSED", "formerr": "FORMERR",
           "timeout": "DROP", "drop": "DROP"}
RDATA = {"A": A, "AAAA": AAAA, "TXT": TXT}


def _norm(name):
    name = str(name).lower()
    return name[:-1] if name.endswith(".") and name != "." else name


def _load_zone(zone):
    """The zone with normalised names; checks it enough to fail early."""
    out = {}
    for name, recs in zone.items():
        if not isinstance(recs, dict):
            raise ValueError("zone entry %r is not an object" % name)
        clean = {}
        for key, val in recs.items():
            ukey = key.upper() if key.lower() not in ("rcode", "drop",
                                                       "delay") else key.lower()
            if ukey == "rcode" or (isinstance(val, str) and ukey in
                                   ("MX", "A", "AAAA", "TXT")):
                if val.upper() != "DROP" and getattr(RCODE, val.upper(),
                                                     None) is None:
                    raise ValueError("%s: unknown rcode %r" % (name, val))
            elif ukey not in ("drop", "delay", "MX", "A", "AAAA", "TXT",
                              "CNAME"):
                raise ValueError("%s: unknown key %r" % (name, key))
            clean[ukey] = val
        out[_norm(name)] = clean
    return out


class DNSServer:
    """A UDP (and TCP) DNS server on one port, served by one thread."""

    def __init__(self, zone, address="127.0.0.1", port=0, tcp=True,
                 log=False):
        self.address = address
        self.port = port
        self.tcp = tcp
        self.log = log
        self.queries = []
        self._lock = threading.Lock()
        self._zone = _load_zone(zone)
        self._names = set()
        self._index()
        self._sel = None
        self._thread = None
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._later = []        # heap of (when, seq, send-function, bytes)
        self._seq = 0

    # -- zone -------------------------------------------------------------
    def set_zone(self, zone):
        z = _load_zone(zone)
        with self._lock:
            self._zone = z
            self._index()

    def _index(self):
        """Every zone name and all its parents exist (empty non-terminals
        answer NODATA, not NXDOMAIN, as real DNS does)."""
        names = set()
        for n in self._zone:
            labels = n.split(".")
            for i in range(len(labels)):
                names.add(".".join(labels[i:]))
        self._names = names

    def _rcode_reply(self, req, rc):
        r = req.reply()
        r.header.rcode = getattr(RCODE, rc)
        return r

    def resolve(self, req):
        """(reply record or None for no answer, delay in seconds)."""
        q = req.q
        qname = _norm(q.qname)
        qtype = QTYPE.get(q.qtype)
        with self._lock:
            zone, names = self._zone, self._names
        first = qname.split(".")[0]
        if qname not in zone and first in SPECIAL:
            rc = SPECIAL[first]
            return (None if rc == "DROP" else
                    self._rcode_reply(req, rc)), 0
        reply = req.reply()
        reply.header.ra = 1
        name, delay = qname, 0.0
        for _ in range(CNAME_HOPS):
            ent = zone.get(name)
            if ent is None:
                if name not in names:
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply, delay
            delay = max(delay, float(ent.get("delay", 0)))
            if ent.get("drop"):
                return None, delay
            if "rcode" in ent:
                return self._rcode_reply(req, ent["rcode"].upper()), delay
            if "CNAME" in ent and qtype != "CNAME":
                target = _norm(ent["CNAME"])
                reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target),
                                    ttl=TTL))
                name = target
                continue
            if qtype == "CNAME":
                if "CNAME" in ent:
                    reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(
                        _norm(ent["CNAME"])), ttl=TTL))
                return reply, delay
            val = ent.get(qtype)
            if isinstance(val, str):
                if val.upper() == "DROP":
                    return None, delay
                return self._rcode_reply(req, val.upper()), delay
            for v in val or []:
                if qtype == "MX":
                    pref, host = v
                    rd = MX(host if host == "." else _norm(host), int(pref))
                else:
                    rd = RDATA[qtype](v)
                reply.add_answer(RR(name, getattr(QTYPE, qtype), rdata=rd,
                                    ttl=TTL))
            return reply, delay
        reply.header.rcode = RCODE.SERVFAIL     # a CNAME loop
        return reply, delay

    # -- network ----------------------------------------------------------
    def _answer(self, data, proto):
        """Reply bytes for one query (None: stay silent), and the delay."""
        try:
            req = DNSRecord.parse(data)
        except Exception:   # garbage: a test server stays up
            return None, 0
        if req.header.qr or not req.questions:
            return None, 0
        name = _norm(req.q.qname)
        qtype = QTYPE.get(req.q.qtype)
        with self._lock:
            self.queries.append((name, qtype, proto))
        if self.log:
            print("dnsserver: %s %s %s" % (proto, name, qtype),
                  file=sys.stderr, flush=True)
        try:
            reply, delay = self.resolve(req)
        except Exception as e:      # a zone mistake: say so, keep serving
            print("dnsserver: %s %s: %r" % (name, qtype, e), file=sys.stderr,
                  flush=True)
            reply, delay = self._rcode_reply(req, "SERVFAIL"), 0
        if reply is None:
            return None, delay
        out = reply.pack()
        if proto == "udp":
            limit = UDP_MIN
            for ar in req.ar:
                if ar.rtype == QTYPE.OPT:
                    limit = min(max(ar.rclass, UDP_MIN), UDP_MAX)
            if len(out) > limit:
                trunc = req.reply()
                trunc.header.ra = 1
                trunc.header.tc = 1
                trunc.header.rcode = reply.header.rcode
                out = trunc.pack()
        return out, delay

    def _send_later(self, delay, fn, data):
        if delay <= 0:
            fn(data)
            return
        self._seq += 1
        heapq.heappush(self._later, (time.monotonic() + delay, self._seq,
                                     fn, data))

    def _udp_read(self, sock):
        try:
            data, peer = sock.recvfrom(UDP_MAX)
        except (BlockingIOError, InterruptedError):
            return
        out, delay = self._answer(data, "udp")
        if out is not None:
            def send(b, sock=sock, peer=peer):
                try:
                    sock.sendto(b, peer)
                except OSError:
                    pass
            self._send_later(delay, send, out)

    def _tcp_accept(self, sock):
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self._sel.register(conn, selectors.EVENT_READ, ("conn", bytearray()))

    def _tcp_read(self, conn, buf):
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._sel.unregister(conn)
            conn.close()
            return
        buf += data
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            msg = bytes(buf[2:2 + n])
            del buf[:2 + n]
            out, delay = self._answer(msg, "tcp")
            if out is not None:
                def send(b, conn=conn):
                    try:
                        conn.setblocking(True)
                        conn.sendall(struct.pack("!H", len(b)) + b)
                        conn.setblocking(False)
                    except OSError:
                        pass
                self._send_later(delay, send, out)

    def _bind(self):
        fam = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(fam, socket.SOCK_DGRAM)
            udp.bind((self.address, self.port))
            port = udp.getsockname()[1]
            if not self.tcp:
                return udp, None, port
            tcp = socket.socket(fam, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.address, port))
            except OSError:
                # the UDP port was free, its TCP twin is not: another port
                udp.close()
                tcp.close()
                if self.port != 0:
                    raise
                continue
            tcp.listen(16)
            return udp, tcp, port
        raise OSError("dnsserver: no free port for both UDP and TCP")

    def start(self):
        """Bind, serve in a daemon thread; returns the port."""
        udp, tcp, self.port = self._bind()
        self._sel = selectors.DefaultSelector()
        udp.setblocking(False)
        self._sel.register(udp, selectors.EVENT_READ, ("udp", None))
        if tcp is not None:
            tcp.setblocking(False)
            self._sel.register(tcp, selectors.EVENT_READ, ("listen", None))
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="dnsserver")
        self._thread.start()
        return self.port

    def _loop(self):
        while not self._stop:
            timeout = None
            if self._later:
                timeout = max(0.0, self._later[0][0] - time.monotonic())
            for key, _ in self._sel.select(timeout):
                kind, buf = key.data
                if kind == "udp":
                    self._udp_read(key.fileobj)
                elif kind == "listen":
                    self._tcp_accept(key.fileobj)
                elif kind == "conn":
                    self._tcp_read(key.fileobj, buf)
                else:
                    try:
                        self._wake_r.recv(64)
                    except OSError:
                        pass
            now = time.monotonic()
            while self._later and self._later[0][0] <= now:
                _, _, fn, data = heapq.heappop(self._later)
                fn(data)
        for key in list(self._sel.get_map().values()):
            if key.fileobj is not self._wake_r:
                key.fileobj.close()
        self._sel.close()

    def stop(self):
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)


def start_server(zone, address="127.0.0.1", port=0, tcp=True):
    """Start a server in a thread; returns it (its port in .port)."""
    srv = DNSServer(zone, address, port, tcp)
    srv.start()
    return srv


def main():
    ap = argparse.ArgumentParser(description="test DNS server for kurir")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--zone", required=True, help="JSON file")
    ap.add_argument("--no-tcp", action="store_true")
    ap.add_argument("--stdin-eof", action="store_true",
                    help="exit when standard input closes")
    ap.add_argument("--log", action="store_true")
    a = ap.parse_args()

    def read_zone():
        with open(a.zone, encoding="utf-8") as f:
            return json.load(f)

    srv = DNSServer(read_zone(), a.address, a.port, not a.no_tcp, a.log)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def reload(*_):
        try:
            srv.set_zone(read_zone())
        except (OSError, ValueError) as e:
            print("dnsserver: zone not reloaded: %s" % e, file=sys.stderr,
                  flush=True)
    signal.signal(signal.SIGHUP, reload)
    print(srv.start(), flush=True)
    if a.stdin_eof:
        def watch():
            while os.read(0, 4096):
                pass
            done.set()
        threading.Thread(target=watch, daemon=True).start()
    while not done.wait(0.5):
        pass
    srv.stop()


if __name__ == "__main__":
    main()
