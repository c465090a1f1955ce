#!/usr/bin/env python3
"""RSS per idle connection of `referkit target` (docs/ARCHITECTURE.md, runtime: connection limits).

For each kind — tcp, tls-pending (TCP connected to the TLS listener, no ClientHello), tls (handshake
done), ws (upgrade done) — starts a fresh `referkit target` listening on loopback, reads VmRSS from
/proc/PID/status, opens N connections of that kind and leaves them idle, waits until the target
holds them all (its open descriptors), reads VmRSS again and prints (after - before) / N.
A fresh target per kind, so that memory freed by one kind is not reused by the next.

    python3 bench/conn_rss.py [--referkit build/dev/referkit] [-n 1000] [--kinds tcp,tls-pending,tls,ws]

Needs `openssl` (a throwaway certificate) and a descriptor limit above N for both processes.
No timing is asserted: it prints figures, it does not judge them.
"""
import argparse
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def make_cert(d):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"{d}/cert.pem", f"{d}/key.pem"


def start_target(referkit, listen, cert, key, extra):
    cmd = [referkit, "target", "--listen", listen, "--quiet", "--tls-cert", cert, "--tls-key", key] + extra
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening \w+ ([\d.]+):(\d+)", line)
    if not m:
        p.kill()
        raise RuntimeError(f"target did not start: {line!r}")
    return p, (m.group(1), int(m.group(2)))


def wait_for(pred, bound=30.0):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def open_conn(kind, addr, ctx):
    s = socket.create_connection(addr)
    if kind in ("tcp", "tls-pending"):
        return s
    if kind == "tls":
        return ctx.wrap_socket(s, server_hostname="127.0.0.1")
    if kind == "ws":
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: sip\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("ws upgrade: closed")
            got += chunk
        if not got.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"ws upgrade refused: {got[:40]!r}")
        return s
    raise ValueError(kind)


def measure(referkit, kind, n, cert, key, extra):
    listen = {"tcp": "tcp", "tls-pending": "tls", "tls": "tls", "ws": "ws"}[kind] + ":127.0.0.1:0"
    p, addr = start_target(referkit, listen, cert, key, extra)
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        # Warm up: one connection of the kind, opened and closed, so one-time costs (TLS context
        # tables, first-use allocations) are outside the figure.
        open_conn(kind, addr, ctx).close()
        time.sleep(0.3)
        base_fds = fd_count(p.pid)
        before = rss_kb(p.pid)
        conns = [open_conn(kind, addr, ctx) for _ in range(n)]
        if not wait_for(lambda: fd_count(p.pid) >= base_fds + n):
            raise RuntimeError(f"{kind}: the target holds {fd_count(p.pid) - base_fds} of {n} connections")
        time.sleep(0.5)  # let the last accepted ones reach their idle state
        after = rss_kb(p.pid)
        for c in conns:
            c.close()
        return before, after
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--referkit", default="build/dev/referkit")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--kinds", default="tcp,tls-pending,tls,ws")
    ap.add_argument("extra", nargs="*", help="more `referkit target` options (after --); by default the "
                    "connection caps are lifted (--max-connections 0 --max-connections-per-source 0)")
    a = ap.parse_args()
    extra = list(a.extra)
    # All N from one address: lift the connection caps when this build has them.
    helptext = subprocess.run([a.referkit, "target", "--help"], capture_output=True, text=True).stdout
    if "--max-connections-per-source" in helptext and not any(x.startswith("--max-conn") for x in extra):
        extra += ["--max-connections", "0", "--max-connections-per-source", "0"]
    with tempfile.TemporaryDirectory() as d:
        cert, key = make_cert(d)
        print(f"{'kind':<12} {'N':>5} {'RSS before':>11} {'RSS after':>10} {'per conn':>10}")
        for kind in a.kinds.split(","):
            before, after = measure(a.referkit, kind, a.n, cert, key, extra)
            print(f"{kind:<12} {a.n:>5} {before:>8} KB {after:>7} KB {(after - before) * 1024 / a.n / 1024:>7.1f} KB",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
