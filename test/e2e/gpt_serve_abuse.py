#!/usr/bin/env python3
"""Attacks on a running `gpt serve` over raw loopback sockets.

Each case checks the server's answer, that it is still alive, and the
growth of its peak resident memory (VmHWM) over the resident size before
the attacks. Prints one line per case with the figures and exits 1 if any
check failed. Used by gpt_serve_abuse_test.sh.
"""
import argparse
import gzip
import json
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--max-body", type=int, required=True)
ap.add_argument("--max-connections", type=int, required=True)
args = ap.parse_args()
HOST = "127.0.0.1"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def status_kib(field):
    with open(f"/proc/{args.pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {args.pid}")


def alive():
    try:
        status_kib("VmRSS")
        return True
    except (OSError, RuntimeError):
        return False


def connect(timeout=10):
    s = socket.create_connection((HOST, args.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s, timeout=10):
    """(status, headers dict, body bytes) of one response, or None when the
    server closed without answering."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(rest) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return status, headers, rest[:n]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in rest:
                    rest += s.recv(65536)
                size_line, rest = rest.split(b"\r\n", 1)
                size = int(size_line, 16)
                while len(rest) < size + 2:
                    rest += s.recv(65536)
                body += rest[:size]
                rest = rest[size + 2:]
                if size == 0:
                    return status, headers, body
        return status, headers, rest
    except (socket.timeout, ConnectionError):
        return None


def exchange(raw, timeout=10):
    s = connect()
    try:
        s.sendall(raw)
        return read_response(s, timeout)
    except (BrokenPipeError, ConnectionResetError):
        return read_response(s, timeout)
    finally:
        s.close()


def expect_error(name, raw, status, timeout=10):
    r = exchange(raw, timeout)
    if r is None:
        fail(f"{name}: no answer (wanted {status})")
        return
    if r[0] != status:
        fail(f"{name}: status {r[0]}, wanted {status}: {r[2][:200]!r}")
        return
    try:
        err = json.loads(r[2].decode("utf-8"))["error"]
        for k in ("message", "type", "param", "code"):
            if k not in err:
                fail(f"{name}: error body lacks '{k}'")
    except (ValueError, KeyError) as e:
        fail(f"{name}: error body is not OpenAI JSON ({e}): {r[2][:200]!r}")


def post(path, body, extra=b""):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            f"\r\nContent-Length: {len(data)}\r\n").encode() + extra + \
        b"\r\n" + data


def greedy():
    body = {"model": args.model, "prompt": "Hello, my name is",
            "max_tokens": 8, "temperature": 0}
    t0 = time.monotonic()
    r = exchange(post("/v1/completions", body) + b"", timeout=30)
    dt = time.monotonic() - t0
    if r is None or r[0] != 200:
        fail(f"greedy completion failed: {r}")
        return None, dt
    return json.loads(r[2])["choices"][0]["text"], dt


def health_latency():
    t0 = time.monotonic()
    r = exchange(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    dt = time.monotonic() - t0
    if r is None or r[0] != 200:
        fail(f"/health failed: {r}")
    return dt


baseline_text, _ = greedy()
rss0 = status_kib("VmRSS")
print(f"baseline: RSS {rss0 / 1024:.1f} MiB, greedy text {baseline_text!r}",
      flush=True)
peak_growth = {}


def case(name):
    def wrap(fn):
        hwm_before = status_kib("VmHWM")
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # a case that throws is a failed case
            fail(f"{name}: {type(e).__name__}: {e}")
        if not alive():
            fail(f"{name}: the server died")
            print("\n".join(failures))
            sys.exit(1)
        growth = (status_kib("VmHWM") - rss0) / 1024
        peak_growth[name] = growth
        print(f"{name}: ok in {time.monotonic() - t0:.1f} s, peak RSS "
              f"{status_kib('VmHWM') / 1024:.1f} MiB (+{growth:.1f} over the "
              f"baseline; was +{(hwm_before - rss0) / 1024:.1f})", flush=True)
        return fn
    return wrap


@case("bad escapes and raw bytes in the target")
def _():
    for target in [b"/%ff", b"/%zz", b"/\xff\xfe", b"/v1/models/%00",
                   b"/v1/models/\xc3", b"/" + b"%" * 3000]:
        r = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        if r is None:
            fail(f"target {target[:20]!r}: no answer")
            continue
        if r[0] not in (400, 404):
            fail(f"target {target[:20]!r}: status {r[0]}")
        json.loads(r[2].decode("utf-8"))  # valid UTF-8 JSON


@case("64 MiB chunked body")
def _():
    s = connect()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    sent = 0
    try:
        while sent < 64 << 20:
            s.sendall(chunk)
            sent += 0x10000
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = read_response(s)
    s.close()
    if r is None or r[0] != 413:
        fail(f"chunked body: {r and r[0]} (wanted 413), sent {sent >> 20} MiB")
    if sent >= 64 << 20:
        fail("the server read the whole 64 MiB chunked body")


@case("oversized Content-Length")
def _():
    expect_error("Content-Length 10 GB",
                 b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 10000000000\r\n\r\n", 413)


@case("64 MiB after a request without length")
def _():
    s = connect()
    try:
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n")
        junk = b"x" * (1 << 20)
        for _ in range(64):
            s.sendall(junk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = read_response(s)
    s.close()
    if r is None or r[0] != 400:
        fail(f"no-length body: {r and r[0]} (wanted 400: empty body)")


@case("gzip bomb")
def _():
    bomb = gzip.compress(b"\0" * (64 << 20), 9)
    expect_error("gzip", (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                          f"Content-Encoding: gzip\r\nContent-Length: "
                          f"{len(bomb)}\r\n\r\n").encode() + bomb, 415)


@case("10,000 headers")
def _():
    expect_error("10k headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" +
                 b"X-A: b\r\n" * 10000 + b"\r\n", 431)
    expect_error("150 headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" +
                 b"X-A: b\r\n" * 150 + b"\r\n", 431)


@case("200 slowloris sockets")
def _():
    socks = []
    for _ in range(200):
        s = connect()
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-")
        socks.append(s)
    dt = health_latency()
    text, dt2 = greedy()
    print(f"  under 200 stalled sockets: /health {dt * 1e3:.0f} ms, greedy "
          f"completion {dt2 * 1e3:.0f} ms", flush=True)
    if dt > 2 or dt2 > 2:
        fail(f"slow answers under slowloris: health {dt:.2f} s, "
             f"completion {dt2:.2f} s")
    if text != baseline_text:
        fail(f"greedy text changed under slowloris: {text!r}")
    # The header deadline (3 s here) closes them.
    deadline = time.monotonic() + 10
    closed = 0
    for s in socks:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if s.recv(1) == b"":
                closed += 1
        except (socket.timeout, ConnectionError):
            pass
        s.close()
    if closed < 200:
        fail(f"only {closed} of 200 stalled sockets were closed by the "
             f"header deadline")


@case("1,000 short-lived connections")
def _():
    for i in range(1000):
        s = connect()
        if i % 5 == 0:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    health_latency()


@case("half-closed clients")
def _():
    for _ in range(20):
        s = connect()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        r = read_response(s)
        s.close()
        if r is None or r[0] != 200:
            fail(f"half-closed client got {r and r[0]}")


@case("connection cap")
def _():
    socks, refused = [], 0
    for _ in range(args.max_connections + 50):
        try:
            socks.append(connect(timeout=5))
        except OSError:
            refused += 1
    time.sleep(0.5)
    answered = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(4096)
            if data.startswith(b"HTTP/1.1 503"):
                answered += 1
        except (BlockingIOError, ConnectionError):
            pass
    for s in socks:
        s.close()
    print(f"  {answered} connections over the cap got 503 ({refused} refused "
          f"at connect)", flush=True)
    if answered + refused < 50:
        fail(f"only {answered + refused} of 50 connections over the cap were "
             f"turned away")
    time.sleep(0.5)
    health_latency()


@case("unsupported parameter and unknown model")
def _():
    expect_error("response_format", post("/v1/completions", {
        "model": args.model, "prompt": "x",
        "response_format": {"type": "json_object"}}), 400)
    expect_error("logit_bias outside the vocabulary", post("/v1/completions", {
        "model": args.model, "prompt": "x", "logit_bias": {"999999": 5}}), 400)
    expect_error("model", post("/v1/completions", {
        "model": "<img onerror=x>\u00e9", "prompt": "x"}), 404)
    raw = b'{"model":"\xff\xfe","prompt":"x"}'
    expect_error("invalid UTF-8 body",
                 b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: " + str(len(raw)).encode() +
                 b"\r\n\r\n" + raw, 400)


text, _ = greedy()
if text != baseline_text:
    fail(f"greedy text changed after the attacks: {text!r} vs "
         f"{baseline_text!r}")
worst = max(peak_growth.values())
print(f"largest peak RSS growth over the baseline: {worst:.1f} MiB")
if worst > 48:
    fail(f"peak RSS grew by {worst:.1f} MiB (bound 48 MiB)")
if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("all abuse cases passed")
