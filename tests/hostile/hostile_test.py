#!/usr/bin/env python3
"""Attack suite: the real `referkit` binary on loopback, attacked where a hostile network strikes.

Usage: hostile_test.py REFERKIT

Each attack prints `ok   NAME`, `FAIL NAME: why` or `skip NAME: why`; the exit status is 1 when any
attack failed. Every wait is a poll with a bound; floods are bounded in rate and time and stay on
loopback (127.0.0.1, and 127.0.0.2-127.0.0.7 as other source addresses: all of 127.0.0.0/8 is
local on Linux). Every process started here is killed on exit, and dies with this script if it is
killed (PR_SET_PDEATHSIG).

The rules the attacks check: docs/transfer-rules.md R35-R39, docs/ARCHITECTURE.md (connection
limits) and README.md's `referkit target` options. Each comment says what an earlier version did.
"""
import ctypes
import hashlib
import json
import os
import random
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = None
RESULTS = []  # (name, status, why)
PROCS = []    # every Popen started here
TMP = tempfile.mkdtemp(prefix="referkit-hostile-")
_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------------------------------------
# Bookkeeping, processes, bounded waits
# ---------------------------------------------------------------------------------------------

def report(name, ok, why=""):
    RESULTS.append((name, "ok" if ok else "FAIL", why))
    print(("ok   %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def skip(name, why):
    RESULTS.append((name, "skip", why))
    print("skip %s: %s" % (name, why), flush=True)


def wait_for(cond, timeout, interval=0.01):
    """Polls cond() until it is true or `timeout` seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def _child_setup(nofile=None):
    def setup():
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # dies with us, even if we are SIGKILLed
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return setup


def spawn(args, nofile=None, **kw):
    p = subprocess.Popen(args, preexec_fn=_child_setup(nofile), **kw)
    PROCS.append(p)
    return p


def stop(p, timeout=3.0):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout)


def stop_all():
    for p in PROCS:
        try:
            stop(p)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class Target:
    """`referkit target --json`; its stdout is read by a thread so the pipe never fills."""

    def __init__(self, name, listen=("udp:127.0.0.1:0",), extra=(), nofile=None):
        args = [BIN, "target", "--from", "sip:%s@127.0.0.1" % name, "--json"]
        for spec in listen:
            args += ["--listen", spec]
        args += list(extra)
        self.name = name
        self.lines = []
        self.err = open(os.path.join(TMP, name + ".err"), "wb")
        self.proc = spawn(args, nofile=nofile, stdout=subprocess.PIPE, stderr=self.err)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        n = len(listen)
        if not wait_for(lambda: len(self.listening()) >= n or self.proc.poll() is not None, 10):
            raise RuntimeError("target %s printed no listening line" % name)
        if len(self.listening()) < n:
            raise RuntimeError("target %s exited %s before listening" % (name, self.proc.poll()))

    def _read(self):
        for raw in self.proc.stdout:
            try:
                self.lines.append(json.loads(raw))
            except ValueError:
                self.lines.append({"raw": raw.decode("latin-1")})

    def listening(self):
        return [l for l in list(self.lines) if l.get("event") == "listening"]

    def addr(self, transport="udp"):
        for l in self.listening():
            if l["transport"] == transport:
                host, port = l["address"].rsplit(":", 1)
                return host, int(port)
        raise KeyError(transport)

    def uri(self, transport="udp"):
        for l in self.listening():
            if l["transport"] == transport:
                return l["uri"]
        raise KeyError(transport)

    def close(self):
        stop(self.proc)
        self.err.close()


def run_cmd(args, timeout):
    """Runs a referkit command to its end (bounded); returns (exit code, stdout lines)."""
    p = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return None, out.decode("latin-1").splitlines()
    return p.returncode, out.decode("latin-1").splitlines()


def free_udp_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------------
# SIP messages (RFC 3261 §7, §20): just enough to build requests and answers and read replies
# ---------------------------------------------------------------------------------------------

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "e": "content-encoding", "k": "supported", "s": "subject", "r": "refer-to",
           "o": "event", "b": "referred-by", "u": "allow-events"}


class Msg:
    def __init__(self, data):
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.first = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:  # §7.3.1 folding
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            n, _, v = line.partition(":")
            n = n.strip().lower()
            self.headers.append((COMPACT.get(n, n), v.strip()))
        self.body = body
        parts = self.first.split(" ", 2)
        self.is_response = parts[0].startswith("SIP/")
        self.status = int(parts[1]) if self.is_response else None
        self.method = None if self.is_response else parts[0]
        self.ruri = None if self.is_response else parts[1]

    def get(self, name):
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def all(self, name):
        return [v for n, v in self.headers if n == name]

    def cseq(self):
        num, method = self.get("cseq").split()
        return int(num), method

    def tag(self, name):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get(name) or "")
        return m.group(1) if m else None

    def uri(self, name):
        v = self.get(name) or ""
        m = re.search(r"<([^>]*)>", v)
        return m.group(1) if m else v.split(";")[0].strip()

    def branch(self):
        m = re.search(r"branch=([^;,\s]+)", self.all("via")[0])
        return m.group(1) if m else None


def rnd(prefix):
    return "%s%08x" % (prefix, random.getrandbits(32))


SDP = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       b"m=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n")


def request(method, ruri, via, from_, to, call_id, cseq, headers=(), body=b"", branch=None,
            transport="UDP", cseq_method=None):
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/%s %s;branch=%s;rport" % (transport, via, branch or rnd("z9hG4bK")),
             "Max-Forwards: 70", "From: " + from_, "To: " + to, "Call-ID: " + call_id,
             "CSeq: %d %s" % (cseq, cseq_method or method)]
    lines += list(headers)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def reply(req, status, reason, to_tag=None, headers=(), body=b""):
    lines = ["SIP/2.0 %d %s" % (status, reason)]
    lines += ["Via: " + v for v in req.all("via")]
    to = req.get("to")
    if to_tag and req.tag("to") is None:
        to += ";tag=" + to_tag
    lines += ["From: " + req.get("from"), "To: " + to, "Call-ID: " + req.get("call-id"), "CSeq: " + req.get("cseq")]
    lines += list(headers)
    lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Udp:
    """One UDP socket of ours; keeps what arrives so an expectation can look at it later."""

    def __init__(self, host="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((host, 0))
        self.host, self.port = self.s.getsockname()
        self.hostport = "%s:%d" % (self.host, self.port)
        self.inbox = []  # (Msg, source address)

    def send(self, data, dst):
        self.s.sendto(data, dst)

    def pump(self, timeout):
        r, _, _ = select.select([self.s], [], [], max(0.0, timeout))
        if r:
            data, src = self.s.recvfrom(65535)
            try:
                self.inbox.append((Msg(data), src))
            except (ValueError, IndexError, AttributeError):
                pass

    def expect(self, pred, timeout):
        """The first message that satisfies pred (taken out of the inbox), or None after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (m, src) in enumerate(self.inbox):
                if pred(m):
                    del self.inbox[i]
                    self.last_src = src
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.pump(min(left, 0.05))

    def response_to(self, branch, timeout=2.0, final=True):
        return self.expect(lambda m: m.is_response and m.branch() == branch and (m.status >= 200 or not final), timeout)

    def close(self):
        self.s.close()


def transact(sock, dst, method, ruri, from_, to, call_id, cseq, headers=(), body=b"", timeout=2.0):
    """Sends one request (re-sent on T1 back-off, §17.1.2.2) and returns its final response and the time it took."""
    branch = rnd("z9hG4bK")
    data = request(method, ruri, sock.hostport, from_, to, call_id, cseq, headers, body, branch=branch)
    t0 = time.monotonic()
    deadline = t0 + timeout
    interval = 0.5
    while time.monotonic() < deadline:
        sock.send(data, dst)
        r = sock.response_to(branch, min(interval, deadline - time.monotonic()))
        if r is not None:
            return r, time.monotonic() - t0
        interval = min(interval * 2, 4.0)
    return None, time.monotonic() - t0


def tcp_options(src_host, dst, timeout=2.0):
    """Opens a TCP connection from src_host, sends OPTIONS, returns the status (or None)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src_host, 0))
        s.connect(dst)
        me = "%s:%d" % s.getsockname()
        uri = "sip:x@%s:%d" % dst
        s.sendall(request("OPTIONS", uri, me, "<sip:probe@%s>;tag=%s" % (src_host, rnd("p")), "<%s>" % uri,
                          rnd("tcp-"), 1, transport="TCP"))
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
        return Msg(data).status if data.startswith(b"SIP/2.0") else None
    except OSError:
        return None
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# Python peers: a transfer target that answers only when told, and a transferee that floods NOTIFY
# ---------------------------------------------------------------------------------------------

class HeldUas(threading.Thread):
    """A UAS that answers an INVITE 100 at once and 200 only once `release` is set (RFC 3261 §13.3.1)."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.sock = Udp()
        self.uri = "sip:%s@%s" % (name, self.sock.hostport)
        self.release = threading.Event()
        self.halt = threading.Event()
        self.invited = threading.Event()
        self.acked = threading.Event()
        self.tag = rnd("h")

    def run(self):
        pending = None  # the INVITE to answer 200
        last_200 = 0.0
        while not self.halt.is_set():
            self.sock.pump(0.02)
            while self.sock.inbox:
                m, src = self.sock.inbox.pop(0)
                if m.is_response:
                    continue
                if m.method == "INVITE":
                    self.invited.set()
                    pending = (m, src)
                    self.sock.send(reply(m, 100, "Trying"), src)
                elif m.method == "ACK":
                    self.acked.set()
                elif m.method != "ACK":
                    self.sock.send(reply(m, 200, "OK", self.tag), src)
            if pending and self.release.is_set() and not self.acked.is_set() and time.monotonic() - last_200 > 0.5:
                m, src = pending
                self.sock.send(reply(m, 200, "OK", self.tag, ["Contact: <%s>" % self.uri, "Content-Type: application/sdp"],
                                     SDP), src)
                last_200 = time.monotonic()

    def close(self):
        self.halt.set()
        self.join(2)
        self.sock.close()


class Flooder(threading.Thread):
    """Sends distinct out-of-dialog requests (each its own server transaction) at `rate` per second to `dst`,
    round robin from one socket per source address, until stopped or `duration` passes; counts the answers."""

    def __init__(self, dst, sources, rate, duration, method="OPTIONS"):
        super().__init__(daemon=True)
        self.dst, self.rate, self.duration, self.method = dst, rate, duration, method
        self.socks = []
        for host in sources:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((host, 0))
            s.setblocking(False)
            self.socks.append(s)
        self.halt = threading.Event()
        self.sent = 0
        self.answers = {}  # status -> count

    def count(self, status):
        return self.answers.get(status, 0)

    def run(self):
        t0 = time.monotonic()
        uri = "sip:victim@%s:%d" % self.dst
        n = 0
        vias = ["%s:%d" % s.getsockname() for s in self.socks]
        while not self.halt.is_set():
            elapsed = time.monotonic() - t0
            if elapsed >= self.duration:
                break
            due = int(elapsed * self.rate) - n
            for _ in range(min(due, 500)):
                i = n % len(self.socks)
                host = vias[i].split(":")[0]
                data = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKfl%d\r\nMax-Forwards: 70\r\n"
                        "From: <sip:flood@%s>;tag=f%d\r\nTo: <%s>\r\nCall-ID: flood-%d-%f\r\nCSeq: 1 %s\r\n"
                        "Content-Length: 0\r\n\r\n" % (self.method, uri, vias[i], n, host, n, uri, n, t0, self.method))
                try:
                    self.socks[i].sendto(data.encode(), self.dst)
                except OSError:
                    pass
                n += 1
            self.sent = n
            self._drain()
            time.sleep(0.002)  # pacing between bursts (the rate is set by `due`, not by this)
        self._drain()

    def _drain(self):
        for s in self.socks:
            for _ in range(2000):
                try:
                    data = s.recv(65535)
                except (BlockingIOError, OSError):
                    break
                m = re.match(rb"SIP/2.0 (\d+)", data)
                if m:
                    st = int(m.group(1))
                    self.answers[st] = self.answers.get(st, 0) + 1

    def stop(self):
        self.halt.set()
        if self.ident is not None:
            self.join(5)
        for s in self.socks:
            s.close()  # closing twice is harmless


# ---------------------------------------------------------------------------------------------
# The attacks
# ---------------------------------------------------------------------------------------------

def outcome_of(lines):
    for l in reversed(lines):
        try:
            j = json.loads(l)
        except ValueError:
            continue
        if j.get("event") == "outcome":
            return j
    return None


def flood_during_transfer(label, name, sources, victim, rate, need_503_within=10.0):
    """A `referkit transfer` from bob to a held carol; a flood fills the transaction table of `victim`
    ("transferor" or "bob") from `sources`; once the flood is answered 503, carol answers and the transfer's final
    NOTIFY must still be processed: exit 0, outcome accepted (R37)."""
    bob = Target("bob" + label)
    carol = HeldUas("carol")
    carol.start()
    port = free_udp_port()
    flood = None
    transfer = None
    try:
        if victim == "bob":
            dst = bob.addr()
        else:
            dst = ("127.0.0.1", port)
        flood = Flooder(dst, sources, rate, duration=need_503_within + 6)  # a hard bound on the flood's length
        if victim == "bob":
            # The transferee is flooded first; the transferor's INVITE (from 127.0.0.1) comes afterwards.
            flood.start()
            if not wait_for(lambda: flood.count(503) > 0, need_503_within):
                return report(name, False,
                              "the flood was never answered 503 (sent %d, answers %s)" % (flood.sent, flood.answers))
        transfer = spawn([BIN, "transfer", bob.uri(), "--to", carol.uri, "--bind", "127.0.0.1:%d" % port, "--json",
                          "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not wait_for(lambda: carol.invited.is_set() or transfer.poll() is not None, 10):
            return report(name, False, "bob never called carol")
        if victim != "bob":
            flood.start()  # now the REFER is accepted and the final NOTIFY is to come
            if not wait_for(lambda: flood.count(503) > 0 or transfer.poll() is not None, need_503_within):
                return report(name, False,
                              "the flood was never answered 503 (sent %d, answers %s)" % (flood.sent, flood.answers))
        carol.release.set()  # the target answers: bob's final NOTIFY goes to the transferor, under the flood
        wait_for(lambda: transfer.poll() is not None, 5.0)  # the flood goes on at most 5 s more
        flood.stop()
        try:
            out, _ = transfer.communicate(timeout=25)
        except subprocess.TimeoutExpired:
            transfer.kill()
            out, _ = transfer.communicate()
        lines = out.decode("latin-1").splitlines()
        o = outcome_of(lines)
        ok = transfer.returncode == 0 and o is not None and o.get("outcome") == "accepted"
        why = "" if ok else "exit %s, outcome %s" % (transfer.returncode, o)
        report(name, ok, why + (" (flood: sent %d, answers %s)" % (flood.sent, flood.answers) if not ok else ""))
        print("     flood to %s: %d requests sent, answers %s"
              % ("the transferor" if victim == "transferor" else victim, flood.sent, dict(sorted(flood.answers.items()))))
    finally:
        if flood is not None:
            flood.stop()
        if transfer is not None:
            stop(transfer)
        bob.close()  # before carol: bob hangs up its call with carol, who answers the BYE
        carol.close()


def attack_floods():
    # Earlier: one sender filled the transaction table and the live transfer's final NOTIFY got 503 (exit 3).
    flood_during_transfer("1", "flood from the transferee's address (one source) to the transferor: transfer exits 0",
                          ["127.0.0.1"], "transferor", rate=4000)
    flood_during_transfer("6", "flood from six sources filling the table (global limit) to the transferor: transfer exits 0",
                          ["127.0.0.%d" % i for i in range(2, 8)], "transferor", rate=5000)
    flood_during_transfer("b", "flood from 127.0.0.2 to the transferee: its call and transfer still succeed (exit 0)",
                          ["127.0.0.2"], "bob", rate=4000)


def attack_stranger_refer():
    # R38 (earlier: an out-of-dialog REFER from anyone made `target` call any URI).
    strict = Target("strict")
    allowing = None
    victim = Udp()
    me = Udp()
    try:
        def refer(t, call_id):
            uri = t.uri()
            return transact(me, t.addr(), "REFER", uri, "<sip:mallory@127.0.0.1>;tag=%s" % rnd("m"), "<%s>" % uri,
                            call_id, 1, ["Refer-To: <sip:victim@%s>" % victim.hostport, "Contact: <sip:mallory@%s>" % me.hostport])
        statuses = []
        for i in range(50):
            r, _ = refer(strict, rnd("ref-"))
            statuses.append(r.status if r else None)
        invite = victim.expect(lambda m: m.method == "INVITE", 1.5)  # a negative: nothing may arrive in the bound
        report("stranger's out-of-dialog REFER x50: 403 each, no INVITE toward the Refer-To",
               statuses == [403] * 50 and invite is None,
               "answers %s, INVITE at the victim: %s" % (sorted(set(map(str, statuses))), invite is not None))
        # Control: the same REFER allowed by --allow-refer-from reaches the Refer-To (the check above can see it).
        allowing = Target("allowing", extra=["--allow-refer-from", "127.0.0.1"])
        r, _ = refer(allowing, rnd("ref-"))
        invite = victim.expect(lambda m: m.method == "INVITE", 3.0)
        report("control: REFER allowed by --allow-refer-from 127.0.0.1: 202 and the INVITE arrives",
               r is not None and r.status == 202 and invite is not None,
               "answer %s, INVITE %s" % (r.status if r else None, invite is not None))
        if invite is not None:
            victim.send(reply(invite, 486, "Busy Here", rnd("v")), victim.last_src)
    finally:
        victim.close()
        me.close()
        strict.close()
        if allowing is not None:
            allowing.close()


def digest_answer(challenge, user, password, method, uri, nc, cnonce):
    """The Authorization value answering one WWW-Authenticate value (RFC 7616 §3.4, qop=auth)."""
    params = dict((k.lower(), v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge))
    alg = params.get("algorithm", "MD5").upper()
    h = (lambda x: hashlib.sha256(x.encode()).hexdigest()) if alg == "SHA-256" else (lambda x: hashlib.md5(x.encode()).hexdigest())
    ha1 = h("%s:%s:%s" % (user, params["realm"], password))
    ha2 = h("%s:%s" % (method, uri))
    ncs = "%08x" % nc
    response = h("%s:%s:%s:%s:auth:%s" % (ha1, params["nonce"], ncs, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=%s, '
            'cnonce="%s", qop=auth, nc=%s' % (user, params["realm"], params["nonce"], uri, response, alg, cnonce, ncs))


def attack_unauthenticated_refer():
    # R40: --require-auth makes a REFER from outside a call authenticate (digest, UAS side); a stranger,
    # a wrong password and a replayed authenticated REFER call nobody.
    accounts = os.path.join(TMP, "accounts")
    with open(accounts, "w") as f:
        f.write("# referrers\nalice:s3cret\n")
    t = Target("guarded", extra=["--require-auth", accounts])
    victim = Udp()
    me = Udp()
    try:
        uri = t.uri()
        headers = ["Refer-To: <sip:victim@%s>" % victim.hostport, "Contact: <sip:alice@%s>" % me.hostport]
        frm = "<sip:alice@127.0.0.1>;tag=%s" % rnd("a")
        r, _ = transact(me, t.addr(), "REFER", uri, frm, "<%s>" % uri, rnd("ref-"), 1, headers)
        challenges = r.all("www-authenticate") if r is not None else []
        invite = victim.expect(lambda m: m.method == "INVITE", 1.0)
        report("REFER without credentials: 401 with SHA-256 and MD5 challenges, no INVITE",
               r is not None and r.status == 401 and len(challenges) == 2 and "SHA-256" in challenges[0]
               and "MD5" in challenges[1] and invite is None,
               "answer %s, challenges %s, INVITE %s" % (r.status if r else None, challenges, invite is not None))
        if r is None or not challenges:
            return
        md5 = challenges[1]
        # Wrong password: challenged again.
        bad = digest_answer(md5, "alice", "guess", "REFER", uri, 1, "c0ffee01")
        r2, _ = transact(me, t.addr(), "REFER", uri, frm, "<%s>" % uri, rnd("ref-"), 2, headers + ["Authorization: " + bad])
        invite = victim.expect(lambda m: m.method == "INVITE", 1.0)
        report("REFER with a wrong password: 401 again, no INVITE",
               r2 is not None and r2.status == 401 and invite is None,
               "answer %s, INVITE %s" % (r2.status if r2 else None, invite is not None))
        # Right password: accepted, the Refer-To is called.
        good = "Authorization: " + digest_answer(md5, "alice", "s3cret", "REFER", uri, 1, "c0ffee02")
        r3, _ = transact(me, t.addr(), "REFER", uri, frm, "<%s>" % uri, rnd("ref-"), 3, headers + [good])
        invite = victim.expect(lambda m: m.method == "INVITE", 3.0)
        report("control: the same REFER answering the challenge: 202 and the INVITE arrives",
               r3 is not None and r3.status == 202 and invite is not None,
               "answer %s, INVITE %s" % (r3.status if r3 else None, invite is not None))
        if invite is not None:
            victim.send(reply(invite, 486, "Busy Here", rnd("v")), victim.last_src)
        # The captured authenticated REFER replayed (new branch and Call-ID): stale, nobody called.
        r4, _ = transact(me, t.addr(), "REFER", uri, "<sip:alice@127.0.0.1>;tag=%s" % rnd("m"), "<%s>" % uri,
                         rnd("ref-"), 3, headers + [good])
        stale = r4 is not None and any("stale=true" in c for c in r4.all("www-authenticate"))
        invite = victim.expect(lambda m: m.method == "INVITE", 1.0)
        report("replayed authenticated REFER: 401 stale=true, no second INVITE",
               r4 is not None and r4.status == 401 and stale and invite is None,
               "answer %s, stale %s, INVITE %s" % (r4.status if r4 else None, stale, invite is not None))
        # The command answers the challenge itself (password from the environment, not argv).
        env = dict(os.environ, REFERKIT_PASSWORD="s3cret")
        p = spawn([BIN, "refer", uri, "--refer-to", "sip:victim@%s" % victim.hostport, "--user", "alice",
                   "--json", "--timeout", "10"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        invite = victim.expect(lambda m: m.method == "INVITE", 5.0)
        if invite is not None:
            victim.send(reply(invite, 486, "Busy Here", rnd("v")), victim.last_src)
        try:
            out, _ = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        report("referkit refer --user alice (REFERKIT_PASSWORD) through --require-auth: the INVITE arrives, "
               "the 486 is reported (exit 1)", invite is not None and p.returncode == 1,
               "INVITE %s, exit %s" % (invite is not None, p.returncode))
    finally:
        victim.close()
        me.close()
        t.close()


def call_target(sock, t, from_user):
    """INVITE (with an SDP offer), 200, ACK (§13.2.2.4): a confirmed call with `target`. Returns the dialog or None."""
    uri = t.uri()
    call_id, tag = rnd("call-"), rnd("a")
    from_ = "<sip:%s@127.0.0.1>;tag=%s" % (from_user, tag)
    r, _ = transact(sock, t.addr(), "INVITE", uri, from_, "<%s>" % uri, call_id, 1,
                    ["Contact: <sip:%s@%s>" % (from_user, sock.hostport), "Supported: replaces",
                     "Content-Type: application/sdp"], SDP, timeout=3.0)
    if r is None or r.status != 200:
        return None
    d = {"call_id": call_id, "from": from_, "local_tag": tag, "to": r.get("to"), "remote_tag": r.tag("to"),
         "contact": r.uri("contact"), "cseq": 1}
    sock.send(request("ACK", d["contact"], sock.hostport, from_, d["to"], call_id, 1), t.addr())
    return d


def in_dialog(sock, t, d, method):
    d["cseq"] += 1
    r, _ = transact(sock, t.addr(), method, d["contact"], d["from"], d["to"], d["call_id"], d["cseq"])
    return r.status if r else None


def attack_replaces():
    # R39 (RFC 3891 §3; earlier: a third party that knows a dialog's identifiers hung up the call).
    t = Target("replaced")
    alice = Udp()
    mallory = Udp()
    try:
        d = call_target(alice, t, "alice")
        if d is None:
            return report("Replaces from a third party: 403, the call stays", False, "no call with the target")
        replaces = "Replaces: %s;to-tag=%s;from-tag=%s" % (d["call_id"], d["remote_tag"], d["local_tag"])
        uri = t.uri()
        r, _ = transact(mallory, t.addr(), "INVITE", uri, "<sip:mallory@127.0.0.1>;tag=%s" % rnd("m"), "<%s>" % uri,
                        rnd("call-"), 1, [replaces, "Contact: <sip:mallory@%s>" % mallory.hostport,
                                          "Content-Type: application/sdp"], SDP, timeout=3.0)
        status = r.status if r else None
        if r is not None and r.status >= 300:
            mallory.send(request("ACK", uri, mallory.hostport, r.get("from"), r.get("to"), r.get("call-id"), 1,
                                 branch=r.branch()), t.addr())  # §17.1.1.3: the ACK of a non-2xx shares its branch
        bye = alice.expect(lambda m: m.method == "BYE", 0.5)
        still = in_dialog(alice, t, d, "OPTIONS")
        report("Replaces from a third party: 403, the call stays (in-dialog OPTIONS 200)",
               status == 403 and bye is None and still == 200,
               "Replaces answered %s, BYE to alice %s, in-dialog OPTIONS %s" % (status, bye is not None, still))
        # Control: the replaced call's own party may replace it (R39 same party): 200, and the old call gets BYE.
        r, _ = transact(mallory, t.addr(), "INVITE", uri, "<sip:alice@127.0.0.1>;tag=%s" % rnd("a"), "<%s>" % uri,
                        rnd("call-"), 1, [replaces, "Contact: <sip:alice@%s>" % mallory.hostport,
                                          "Content-Type: application/sdp"], SDP, timeout=3.0)
        ok200 = r is not None and r.status == 200
        if ok200:
            mallory.send(request("ACK", r.uri("contact"), mallory.hostport, r.get("from"), r.get("to"), r.get("call-id"), 1),
                         t.addr())
        bye = alice.expect(lambda m: m.method == "BYE", 2.0)
        if bye is not None:
            alice.send(reply(bye, 200, "OK"), alice.last_src)
        report("control: Replaces from the replaced call's party: 200, the old call ends with BYE", ok200 and bye is not None,
               "answered %s, BYE %s" % (r.status if r else None, bye is not None))
        if ok200:  # hang up the new call, so that the target stops at once
            transact(mallory, t.addr(), "BYE", r.uri("contact"), r.get("from"), r.get("to"), r.get("call-id"), 2, timeout=1.0)
    finally:
        alice.close()
        mallory.close()
        t.close()


def attack_answers():
    # Earlier: 32 s of silence then 408 for MESSAGE, INFO, out-of-dialog NOTIFY; 200 to merged
    # requests; 400 for an announced 10 MB body.
    t = Target("answers")
    s = Udp()
    uri = t.uri()
    try:
        def ood(method, headers=(), body=b"", cseq=1):
            return transact(s, t.addr(), method, uri, "<sip:x@127.0.0.1>;tag=%s" % rnd("x"), "<%s>" % uri, rnd("c-"), cseq,
                            headers, body, timeout=1.0)
        for method, want, headers, body in (
                ("MESSAGE", 405, ["Content-Type: text/plain"], b"hi"),
                ("INFO", 405, ["Content-Type: text/plain"], b"hi"),
                ("NOTIFY", 481, ["Event: refer", "Subscription-State: active;expires=60",
                                 "Content-Type: message/sipfrag", "Contact: <sip:x@%s>" % s.hostport], b"SIP/2.0 200 OK\r\n")):
            r, took = ood(method, headers, body)
            report("%s out of dialog: %d within 1 s" % (method, want), r is not None and r.status == want and took < 1.0,
                   "answer %s after %.2f s" % (r.status if r else None, took))
        # RFC 3261 §8.2.2.2: the same request (From tag, Call-ID, CSeq) on a second branch -> 482.
        call_id, tag = rnd("merge-"), rnd("x")
        r1, _ = transact(s, t.addr(), "OPTIONS", uri, "<sip:x@127.0.0.1>;tag=" + tag, "<%s>" % uri, call_id, 7, timeout=1.0)
        r2, _ = transact(s, t.addr(), "OPTIONS", uri, "<sip:x@127.0.0.1>;tag=" + tag, "<%s>" % uri, call_id, 7, timeout=1.0)
        report("merged request (same Call-ID, From tag, CSeq; second branch): 482",
               r1 is not None and r1.status == 200 and r2 is not None and r2.status == 482,
               "first %s, second %s" % (r1.status if r1 else None, r2.status if r2 else None))
        # §20.14 / §21.5.14: a body announced beyond the size we accept is 513, not 400.
        big = request("OPTIONS", uri, s.hostport, "<sip:x@127.0.0.1>;tag=b", "<%s>" % uri, rnd("big-"), 1,
                      ["Content-Type: text/plain"], b"x", branch="z9hG4bKbig1")
        big = big.replace(b"Content-Length: 1\r\n", b"Content-Length: 10000000\r\n")
        s.send(big, t.addr())
        r = s.response_to("z9hG4bKbig1", 1.0)
        report("Content-Length 10,000,000 announced on UDP: 513", r is not None and r.status == 513,
               "answer %s" % (r.status if r else None))
        # R37: a request that may create a dialog with more than 4 KB of Record-Route: 400.
        rr = ["Record-Route: <sip:proxy%d-%s@127.0.0.1:5060;lr>" % (i, "p" * 250) for i in range(24)]  # about 6.5 KB
        branch = rnd("z9hG4bK")
        from_ = "<sip:x@127.0.0.1>;tag=%s" % rnd("x")
        call_id = rnd("rr-")
        s.send(request("INVITE", uri, s.hostport, from_, "<%s>" % uri, call_id, 1,
                       rr + ["Contact: <sip:x@%s>" % s.hostport, "Content-Type: application/sdp"], SDP, branch=branch), t.addr())
        r = s.response_to(branch, 2.0)
        if r is not None and r.status >= 300:
            s.send(request("ACK", uri, s.hostport, from_, r.get("to"), call_id, 1, branch=branch), t.addr())
        report("INVITE with %d bytes of Record-Route: 400" % sum(len(h) for h in rr), r is not None and r.status == 400,
               "answer %s" % (r.status if r else None))
    finally:
        s.close()
        t.close()


def attack_connection_caps():
    # Earlier: no cap on connections (67 KB each, 5,000 took 345 MB).
    t = Target("capped", listen=("tcp:127.0.0.1:0",), extra=["--max-connections-per-source", "16"])
    conns = []
    try:
        dst = t.addr("tcp")
        for _ in range(40):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(2)
            c.bind(("127.0.0.1", 0))
            c.connect(dst)
            c.setblocking(False)
            conns.append(c)
        closed = set()

        def count_closed():
            r, _, _ = select.select([c for c in conns if c not in closed], [], [], 0.05)
            for c in r:
                try:
                    if c.recv(1) == b"":
                        closed.add(c)
                except ConnectionResetError:
                    closed.add(c)
                except BlockingIOError:
                    pass
            return len(closed) >= 24
        wait_for(count_closed, 3.0, interval=0)
        n_closed = len(closed)
        other = tcp_options("127.0.0.2", dst)
        kept = [c for c in conns if c not in closed]
        report("--max-connections-per-source 16: of 40 connections from one address, >= 24 closed at once",
               n_closed >= 24, "%d closed" % n_closed)
        report("  ... and a connection from 127.0.0.2 still gets 200 to OPTIONS", other == 200, "answer %s" % other)
        status = None
        if kept:
            c = kept[0]
            c.setblocking(True)
            c.settimeout(2)
            me = "%s:%d" % c.getsockname()
            uri = "sip:x@%s:%d" % dst
            c.sendall(request("OPTIONS", uri, me, "<sip:k@127.0.0.1>;tag=k", "<%s>" % uri, rnd("k-"), 1, transport="TCP"))
            try:
                data = c.recv(65535)
                status = Msg(data).status if data.startswith(b"SIP/2.0") else None
            except OSError:
                pass
        report("  ... and a kept connection (within the cap) gets 200 to OPTIONS", status == 200, "answer %s" % status)
    finally:
        for c in conns:
            c.close()
        t.close()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5) fields 14, 15)


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def attack_descriptor_exhaustion():
    # Earlier: at the descriptor limit the accept loop spun at 100 % CPU and stopped answering.
    limit = 64
    t = Target("nofile", listen=("tcp:127.0.0.1:0",), nofile=limit)
    conns = []
    try:
        dst = t.addr("tcp")
        pid = t.proc.pid
        for _ in range(limit + 16):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(1)
            try:
                c.connect(dst)  # completes from the listen backlog even when the target cannot accept
            except OSError:
                c.close()
                break
            conns.append(c)
        full = wait_for(lambda: open_fds(pid) >= limit - 2, 5.0)
        # A measuring window, not a synchronisation: CPU used over 1 s of wall time while out of descriptors.
        c0, w0 = cpu_seconds(pid), time.monotonic()
        wait_for(lambda: time.monotonic() - w0 >= 1.0, 2.0, interval=0.05)
        cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        report("out of descriptors (RLIMIT_NOFILE %d, %d connections): CPU %.0f %% over 1 s, well under 50 %% (no spin)"
               % (limit, len(conns), cpu * 100), bool(full) and cpu < 0.5,
               "descriptors open %d, CPU %.2f" % (open_fds(pid), cpu))
        for c in conns:
            c.close()
        conns = []
        ok = wait_for(lambda: tcp_options("127.0.0.1", dst, timeout=1.0) == 200, 10.0, interval=0.2)
        report("  ... after the connections close, a new TCP OPTIONS gets 200 (accepting resumed)", bool(ok),
               "no 200 within 10 s")
    finally:
        for c in conns:
            c.close()
        t.close()


def attack_ws_upgrade_body():
    # Earlier: a WebSocket upgrade request carrying a 1 MB body was read whole and answered 101.
    t = Target("wsup", listen=("ws:127.0.0.1:0/",))
    try:
        host, port = t.addr("ws")

        def upgrade(extra, body):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((host, port))
                try:
                    s.sendall(("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                               "Sec-WebSocket-Protocol: sip\r\n%s\r\n" % (host, port, extra)).encode() + body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused while the body was still being sent: read what was answered
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(65535)
                    if not chunk:
                        break
                    data += chunk
                m = re.match(rb"HTTP/1.1 (\d+)", data)
                return int(m.group(1)) if m else "closed"
            except socket.timeout:
                return "no answer within 2 s"
            except OSError as e:
                return "closed (%s)" % e.__class__.__name__
            finally:
                s.close()
        control = upgrade("", b"")
        refused = upgrade("Content-Length: 1048576\r\n", b"x" * 1048576)
        report("WebSocket upgrade with a 1 MB body: refused at once, not 101 (control without body: 101)",
               control == 101 and refused != 101 and refused != "no answer within 2 s",
               "with body: %s, without: %s" % (refused, control))
        print("     with a body: %s" % refused)
    finally:
        t.close()


def attack_keepalive_idle():
    # CRLF keep-alives alone (RFC 5626 §4.4.1) do not hold a connection past the idle timeout;
    # earlier they held it forever. A connection that carries SIP meanwhile is kept.
    t = Target("idle", listen=("tcp:127.0.0.1:0",), extra=["--idle-timeout", "1"])
    pinger = sipper = None
    try:
        dst = t.addr("tcp")
        pinger = socket.create_connection(dst, timeout=2)
        sipper = socket.create_connection(dst, timeout=2)
        me = "%s:%d" % sipper.getsockname()
        uri = "sip:x@%s:%d" % dst
        state = {"closed": False, "answers": 0, "cseq": 0, "last": 0.0}

        def step():
            now = time.monotonic()
            try:
                pinger.sendall(b"\r\n\r\n")
            except OSError:
                state["closed"] = True
            if now - state["last"] >= 0.3:  # the other connection carries an OPTIONS every 300 ms
                state["last"] = now
                state["cseq"] += 1
                sipper.sendall(request("OPTIONS", uri, me, "<sip:k@127.0.0.1>;tag=i", "<%s>" % uri, "idle-keep",
                                       state["cseq"], transport="TCP"))
                data = sipper.recv(65535)
                if data.startswith(b"SIP/2.0 200"):
                    state["answers"] += 1
            r, _, _ = select.select([pinger], [], [], 0.05)
            if r:
                try:
                    if pinger.recv(64) == b"":
                        state["closed"] = True
                except OSError:
                    state["closed"] = True
            return state["closed"]

        closed = wait_for(step, 6.0, interval=0)
        report("keep-alive-only connection closed after --idle-timeout 1 (pings every ~50 ms)", closed,
               "still open after 6 s")
        report("  ... while a connection carrying OPTIONS stays open and answered", state["answers"] >= 3,
               "%d answers" % state["answers"])
    finally:
        for c in (pinger, sipper):
            if c is not None:
                c.close()
        t.close()


def per_source_share(name, option, share, total, method, headers_of, body=b""):
    """`total` requests of `method` from 127.0.0.1 against a target run with `option share`: `share`
    answered 200 and the rest 503 with Retry-After, to that address alone; one from 127.0.0.2 gets 200."""
    t = Target(name, extra=[option, str(share)])
    one, other = Udp("127.0.0.1"), Udp("127.0.0.2")
    try:
        dst = t.addr("udp")
        uri = "sip:x@%s:%d" % dst
        statuses = []
        for i in range(total):
            r, _ = transact(one, dst, method, uri, "<sip:s@127.0.0.1>;tag=s%d" % i, "<%s>" % uri, rnd(name), 1,
                            headers_of(one), body, timeout=1.0)
            statuses.append(r.status if r is not None else None)
            if r is not None and r.status == 503 and r.get("retry-after") is None:
                statuses.append("503 without Retry-After")
        report("%s %d: %d %s from one address, %d answered 200, %d get 503" % (option, share, total, method, share,
                                                                               total - share),
               statuses.count(200) == share and statuses.count(503) == total - share, "statuses %s" % statuses)
        r, _ = transact(other, dst, method, uri, "<sip:o@127.0.0.2>;tag=o", "<%s>" % uri, rnd(name), 1,
                        headers_of(other), body)
        report("  ... and one %s from 127.0.0.2 gets 200" % method, r is not None and r.status == 200,
               "answer %s" % (r.status if r is not None else None))
    finally:
        one.close()
        other.close()
        t.close()


def attack_transactions_per_source():
    # R37: one source address holds at most --max-transactions-per-source open server
    # transactions (each OPTIONS one lives 64*T1 after its answer on UDP); beyond, 503 with
    # Retry-After to it alone, while another address is served.
    per_source_share("txshare", "--max-transactions-per-source", 8, 20, "OPTIONS", lambda sock: [])


def attack_invites_never_acked():
    # Calls from one source are bounded (--max-calls-per-source): INVITEs answered 200 and never
    # ACKed (each holds a call for 64*T1) cannot take every call from others.
    per_source_share("callshare", "--max-calls-per-source", 16, 24, "INVITE",
                     lambda sock: ["Contact: <sip:s@%s>" % sock.hostport, "Content-Type: application/sdp"], SDP)


def attack_tls_abrupt_close():
    # Clients that go away right after their TLS handshake (before the server's session tickets are
    # written), or in the middle of a request: the target must stay up (a write to a closed socket
    # raised SIGPIPE and killed it) and keep serving TLS.
    import ssl
    key, cert = os.path.join(TMP, "tls-key.pem"), os.path.join(TMP, "tls-cert.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=IP:127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if made.returncode != 0:
        skip("TLS clients closing abruptly", "openssl could not make a test certificate")
        return
    t = Target("tlsabrupt", listen=("tls:127.0.0.1:0",), extra=["--tls-cert", cert, "--tls-key", key])
    try:
        dst = t.addr("tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            for i in range(20):
                s = ctx.wrap_socket(socket.create_connection(dst), server_hostname="127.0.0.1")
                if i % 2:
                    s.sendall(request("OPTIONS", "sip:x@%s:%d" % dst, "127.0.0.1:5", "<sip:a@127.0.0.1>;tag=a%d" % i,
                                      "<sip:x@127.0.0.1>", rnd("tls-"), 1, transport="TLS"))
                s.close()
        except OSError:
            pass  # the target went away: seen below
        time.sleep(0.5)
        alive = t.proc.poll() is None
        answer = None
        if alive:
            s = ctx.wrap_socket(socket.create_connection(dst, timeout=3), server_hostname="127.0.0.1")
            s.sendall(request("OPTIONS", "sip:x@%s:%d" % dst, "127.0.0.1:5", "<sip:a@127.0.0.1>;tag=b", "<sip:x@127.0.0.1>",
                              rnd("tls-"), 1, transport="TLS"))
            got = b""
            try:
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
            s.close()
            answer = got.split(b"\r\n", 1)[0].decode("latin-1")
        report("20 TLS clients closing right after the handshake or mid-request: the target stays up and answers "
               "the next OPTIONS over TLS", alive and answer is not None and answer.startswith("SIP/2.0 200"),
               "alive %s (exit %s), answer %r" % (alive, t.proc.poll(), answer))
    finally:
        t.close()


def attack_linphone_final_notify():
    # R35: linphone 5.1's final NOTIFY says `terminated;reason=reason=noresource`.
    peer = Udp()
    try:
        uri = "sip:linphone@%s" % peer.hostport
        p = spawn([BIN, "refer", uri, "--refer-to", "sip:carol@127.0.0.1:9", "--json", "--timeout", "15"],
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        refer = peer.expect(lambda m: m.method == "REFER", 5.0)
        if refer is None:
            stop(p)
            return report("linphone-style final NOTIFY (reason=reason=noresource): refer exits 0", False, "no REFER")
        src = peer.last_src
        tag = rnd("l")
        peer.send(reply(refer, 202, "Accepted", tag, ["Contact: <%s>" % uri]), src)
        num = refer.cseq()[0]
        answers = []
        for cseq, state, frag in ((1, "active;expires=60", b"SIP/2.0 100 Trying\r\n"),
                                  (2, "terminated;reason=reason=noresource", b"SIP/2.0 200 Ok\r\n")):
            r, _ = transact(peer, src, "NOTIFY", refer.uri("contact"), "%s;tag=%s" % (refer.get("to"), tag), refer.get("from"),
                            refer.get("call-id"), cseq, ["Event: refer;id=%d" % num, "Subscription-State: " + state,
                                                         "Contact: <%s>" % uri, "Content-Type: message/sipfrag"], frag,
                            timeout=4.0)
            answers.append(r.status if r else None)
        try:
            out, _ = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            stop(p)
            out, _ = p.communicate()
        o = outcome_of(out.decode("latin-1").splitlines())
        report("linphone-style final NOTIFY (reason=reason=noresource, sipfrag `200 Ok`): NOTIFY 200, refer exits 0",
               p.returncode == 0 and answers == [200, 200],
               "NOTIFY answers %s, exit %s, outcome %s" % (answers, p.returncode, o))
    finally:
        peer.close()


def attack_notify_flood_json():
    # Earlier: `transfer --json` printed two lines per NOTIFY of a flood (22,863 lines in 20 s).
    peer = Udp()
    peer.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    name = "transfer --json under 2,000 NOTIFY 100 then a final 200: exit 0, fewer than 50 lines"
    try:
        uri = "sip:bob@%s" % peer.hostport
        p = spawn([BIN, "transfer", uri, "--to", "sip:carol@127.0.0.1:9", "--json", "--timeout", "30"],
                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        inv = peer.expect(lambda m: m.method == "INVITE", 5.0)
        if inv is None:
            stop(p)
            return report(name, False, "no INVITE")
        src = peer.last_src
        tag = rnd("b")
        peer.send(reply(inv, 200, "OK", tag, ["Contact: <%s>" % uri, "Content-Type: application/sdp"], SDP), src)
        refer = peer.expect(lambda m: m.method == "REFER", 5.0)
        if refer is None:
            stop(p)
            return report(name, False, "no REFER after the 200 (ACK %s)" % bool(peer.expect(lambda m: m.method == "ACK", 0)))
        peer.send(reply(refer, 202, "Accepted"), src)
        d_from, d_to = refer.get("to"), refer.get("from")
        ruri, call_id, num = inv.uri("contact"), inv.get("call-id"), refer.cseq()[0]
        hdr = ["Event: refer;id=%d" % num, "Contact: <%s>" % uri, "Content-Type: message/sipfrag"]
        flood = 2000
        answered = [0]

        def drain():  # counts the transferor's 200s to the flood; keeps anything else for later
            while select.select([peer.s], [], [], 0)[0]:
                data, frm = peer.s.recvfrom(65535)
                if data.startswith(b"SIP/2.0 200"):
                    answered[0] += 1
                else:
                    peer.inbox.append((Msg(data), frm))
            return answered[0]
        for cseq in range(1, flood + 1):
            peer.send(request("NOTIFY", ruri, peer.hostport, d_from, d_to, call_id, cseq,
                              hdr + ["Subscription-State: active;expires=60"], b"SIP/2.0 100 Trying\r\n"), src)
            if cseq % 100 == 0:
                # A burst of a hundred, then (bounded) until the transferor has answered most of them, so that
                # the flood is processed rather than dropped by the kernel.
                wait_for(lambda: drain() >= cseq - 150, 0.3, interval=0.001)
        drain()
        answered = answered[0]
        r, _ = transact(peer, src, "NOTIFY", ruri, d_from, d_to, call_id, flood + 1,
                        hdr + ["Subscription-State: terminated;reason=noresource"], b"SIP/2.0 200 OK\r\n", timeout=8.0)
        # The transferor hangs up: answer its BYE (bounded).
        bye = peer.expect(lambda m: m.method == "BYE", 5.0)
        if bye is not None:
            peer.send(reply(bye, 200, "OK"), peer.last_src)
        try:
            out, _ = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            stop(p)
            out, _ = p.communicate()
        lines = out.decode("latin-1").splitlines()
        o = outcome_of(lines)
        report(name, p.returncode == 0 and len(lines) < 50 and r is not None and r.status == 200,
               "exit %s, %d lines, final NOTIFY %s, outcome %s" % (p.returncode, len(lines), r.status if r else None, o))
        print("     %d NOTIFY 100 sent, >= %d answered 200 (UDP); %d output lines" % (flood, answered, len(lines)))
    finally:
        peer.close()


def main():
    global BIN
    if len(sys.argv) != 2:
        print("usage: hostile_test.py REFERKIT", file=sys.stderr)
        return 2
    BIN = os.path.abspath(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # CTest's timeout: still run the finally blocks
    t0 = time.monotonic()
    attacks = [attack_answers, attack_stranger_refer, attack_unauthenticated_refer, attack_replaces,
               attack_linphone_final_notify, attack_notify_flood_json, attack_ws_upgrade_body, attack_keepalive_idle,
               attack_transactions_per_source, attack_invites_never_acked, attack_tls_abrupt_close,
               attack_connection_caps,
               attack_descriptor_exhaustion, attack_floods]
    only = os.environ.get("HOSTILE_ONLY")  # e.g. HOSTILE_ONLY=floods: run the attacks whose name contains it
    try:
        for attack in attacks:
            if only and only not in attack.__name__:
                continue
            try:
                attack()
            except Exception as e:  # noqa: BLE001 - one attack's crash is its failure, not the suite's end
                report(attack.__name__, False, "%s: %s" % (e.__class__.__name__, e))
    finally:
        stop_all()
        shutil.rmtree(TMP, ignore_errors=True)
    failed = [r for r in RESULTS if r[1] == "FAIL"]
    print("%d ok, %d failed, %d skipped in %.1f s" % (sum(1 for r in RESULTS if r[1] == "ok"), len(failed),
                                                     sum(1 for r in RESULTS if r[1] == "skip"), time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
