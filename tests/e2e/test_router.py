"""Black-box tests of pier-router: real backend processes (a Python
http.server echo app and raw-socket misbehavers), a table file, a real
pier-router, raw sockets and http.client.

One router serves most tests (short timeouts so that every error code can be
provoked in about a second); graceful restart and drain get routers of their
own.  Log lines are found by request id.  Run alone with

    PIER_BUILD=build /usr/bin/python3 -m unittest -v test_router   (from tests/e2e)
"""

import base64
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, SANITIZER_ENV, closed_port, free_port, sanitizer_report  # noqa: E402

ROUTER = os.path.join(BUILD, "pier-router")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# SPEC.md 5 (message) after SPEC.md 6 (time stamp and source)
LOG_RE = re.compile(
    r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 heroku\[router\]: '
    r'at=(?P<at>info|warning|error)(?: code=(?P<code>H\d\d) desc="(?P<desc>[^"]+)")? '
    r'method=(?P<method>\S*) path="(?P<path>[^"]*)" host=(?P<host>\S*) '
    r'request_id=(?P<rid>\S*) fwd="(?P<fwd>[^"]*)" dyno=(?P<dyno>\S*) '
    r'connect=(?P<connect>\d+)ms service=(?P<service>\d+)ms status=(?P<status>\d+) '
    r'bytes=(?P<bytes>\d+) protocol=http$')

TIMEOUT_MS = 1200  # connect, response, idle and header timeouts of the test router

# ---------------------------------------------------------------------------
# backends

BACKEND = r'''
import hashlib, http.server, json, socket, socketserver, sys, threading, time, base64
port, name, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def raw_server(handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(128)
    print("ready", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()

def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        d = c.recv(65536)
        if not d: break
        data += d
    return data

def bad(c):      # not HTTP at all: H17
    read_head(c); c.sendall(b"HELLO THERE\r\n\r\n"); time.sleep(0.5); c.close()
def silent(c):   # never answers: H12
    read_head(c); time.sleep(30)
def close(c):    # closes without a response: H13
    read_head(c); c.close()
def stall(c):    # promises 100 bytes, sends 10, goes quiet: H15
    read_head(c); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"); time.sleep(30)
def cut(c):      # promises 100 bytes, sends 10, closes: H18
    read_head(c); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"); c.close()
def huge(c):     # a 40 KB response head: H25
    read_head(c); c.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"x" * 8000 + b"\r\n" * 1 +
                            b"".join(b"X-B%d: %s\r\n" % (i, b"y" * 8000) for i in range(5)) + b"Content-Length: 0\r\n\r\n")
    time.sleep(0.5); c.close()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            h, n = hashlib.sha256(), 0
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""): pass
                    return h.hexdigest(), n
                left = size
                while left:
                    d = self.rfile.read(min(left, 1 << 20)); h.update(d); left -= len(d); n += len(d)
                self.rfile.readline()
        left = int(self.headers.get("Content-Length") or 0)
        h, n = hashlib.sha256(), left
        while left:
            d = self.rfile.read(min(left, 1 << 20)); h.update(d); left -= len(d)
        return h.hexdigest(), n
    def send(self, status, body, extra=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        path = self.path
        if path.startswith("/ws"):
            key = self.headers["Sec-WebSocket-Key"]
            acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket"); self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", acc); self.end_headers(); self.wfile.flush()
            while True:   # echo text frames, unmasked
                hdr = self.rfile.read(2)
                if len(hdr) < 2: return
                n = hdr[1] & 0x7f; mask = self.rfile.read(4); data = bytearray(self.rfile.read(n))
                for i in range(n): data[i] ^= mask[i % 4]
                if hdr[0] & 0x0f == 8: return
                self.wfile.write(bytes([0x81, n]) + bytes(data)); self.wfile.flush()
        if path.startswith("/big"):
            n = int(path.split("=")[1]); self.rfile_drain = self.body()
            self.send_response(200); self.send_header("Content-Length", str(n)); self.end_headers()
            chunk = b"z" * 65536
            while n: k = min(n, len(chunk)); self.wfile.write(chunk[:k]); n -= k
            return
        if path.startswith("/chunked"):
            n = int(path.split("=")[1]); self.body()
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            chunk = b"c" * 50000
            while n:
                k = min(n, len(chunk)); self.wfile.write(b"%x\r\n" % k + chunk[:k] + b"\r\n"); n -= k
            self.wfile.write(b"0\r\n\r\n"); return
        if path.startswith("/sleep"):
            time.sleep(int(path.split("=")[1]) / 1000.0)
        digest, n = self.body()
        out = {"name": name, "method": self.command, "path": path, "headers": list(self.headers.items()),
               "peer_port": self.client_address[1], "body_sha256": digest, "body_len": n}
        self.send(200, json.dumps(out).encode(), [("Content-Type", "application/json")])
    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any

if mode == "echo":
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True; allow_reuse_address = True; request_queue_size = 512
    srv = S(("127.0.0.1", port), H)
    print("ready", flush=True)
    srv.serve_forever()
else:
    raw_server(globals()[mode])
'''


class Backend:
    def __init__(self, tmp, name, mode="echo"):
        self.port = free_port()
        self.name = name
        script = os.path.join(tmp, "backend.py")
        if not os.path.exists(script):
            with open(script, "w") as f:
                f.write(BACKEND)
        self.proc = subprocess.Popen([sys.executable, script, str(self.port), name, mode],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise AssertionError("backend %s (%s) did not start" % (name, mode))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class Router:
    def __init__(self, tmp, table, port=None, workers=2, extra=(), name="router"):
        self.tmp = tmp
        self.port = port or free_port()
        self.table = table
        self.log_path = os.path.join(tmp, name + "-access.log")
        self.err_path = os.path.join(tmp, name + "-stderr.log")
        env = dict(os.environ, **SANITIZER_ENV)
        argv = [ROUTER, "--listen", "127.0.0.1:%d" % self.port, "--table", table,
                "--workers", str(workers), "--access-log", self.log_path] + list(extra)
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("pier-router exited: %s" % self.stderr())
            if "listening on" in self.stderr():
                break
            time.sleep(0.02)
        else:
            raise AssertionError("pier-router did not start: %s" % self.stderr())

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        try:
            with open(self.log_path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], stdout=subprocess.PIPE, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "timeout"
        self.err.close()
        return code


def write_table(path, apps):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"apps": apps}, f)
    os.rename(tmp, path)  # atomic: the router never reads half a table


def dynos(*backends):
    return [{"name": "web.%d" % (i + 1), "port": b.port} for i, b in enumerate(backends)]


def recv_all(sock, timeout=5.0):
    """Reads until EOF (or timeout); returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            d = sock.recv(1 << 20)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def read_response(sock, timeout=5.0):
    """Reads one response with a Content-Length body from a raw socket."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        d = sock.recv(65536)
        if not d:
            raise AssertionError("EOF before a response head: %r" % data)
        data += d
    head, rest = data.split(b"\r\n\r\n", 1)
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            break
        rest += d
    return head.decode("latin-1"), rest[:n], rest[n:]


def give_up(port, host, path, wait):
    """Sends a request, waits, and closes without reading (H27); returns
    its request id."""
    i = rid()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nX-Request-Id: %s\r\n\r\n"
              % (path.encode(), host.encode(), i.encode()))
    time.sleep(wait)
    s.close()
    return i


def rid():
    return "test-" + uuid.uuid4().hex  # 37 chars of [A-Za-z0-9-]: kept by the router


class RouterCase(unittest.TestCase):
    """The shared router and its backends."""

    @classmethod
    def setUpClass(cls):
        if not os.access(ROUTER, os.X_OK):
            raise unittest.SkipTest("no pier-router in %s" % BUILD)
        cls.tmp = tempfile.mkdtemp(prefix="pier-router-test-")
        cls.backends = []

        def be(name, mode="echo"):
            b = Backend(cls.tmp, name, mode)
            cls.backends.append(b)
            return b

        cls.web = [be("web%d" % i) for i in range(1, 4)]
        cls.single = be("single")
        cls.bad = {m: be(m, m) for m in ("bad", "silent", "close", "stall", "cut", "huge")}
        # a dyno that never completes the TCP handshake: a full accept queue
        cls.blackhole = socket.socket()
        cls.blackhole.bind(("127.0.0.1", 0))
        cls.blackhole.listen(0)
        cls.blackhole_port = cls.blackhole.getsockname()[1]
        cls.fillers = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", cls.blackhole_port))
            except BlockingIOError:
                pass
            cls.fillers.append(s)
        time.sleep(0.1)
        cls.refused_port = closed_port()

        cls.apps = [
            {"name": "balance", "hosts": ["www.example.com"], "dynos": dynos(*cls.web)},
            {"name": "single", "dynos": dynos(cls.single)},
            {"name": "crashed", "crashed": True, "dynos": dynos(cls.single)},
            {"name": "maint", "maintenance": True, "dynos": dynos(cls.single)},
            {"name": "nodynos", "dynos": []},
            {"name": "refused", "dynos": [{"name": "web.1", "port": cls.refused_port}]},
            {"name": "halfdown", "dynos": [{"name": "web.1", "port": cls.refused_port},
                                           {"name": "web.2", "port": cls.single.port}]},
            {"name": "blackhole", "dynos": [{"name": "web.1", "port": cls.blackhole_port}]},
            {"name": "blank", "deployed": False, "dynos": []},
            {"name": "booting", "starting": True, "dynos": []},
            {"name": "wild", "hosts": ["*.example.net"], "dynos": dynos(cls.web[0])},
            {"name": "exactnet", "hosts": ["www.example.net"], "dynos": dynos(cls.single)},
        ] + [{"name": m, "dynos": dynos(b)} for m, b in cls.bad.items()]
        cls.table = os.path.join(cls.tmp, "table.json")
        write_table(cls.table, cls.apps)
        t = str(TIMEOUT_MS)
        cls.router = Router(cls.tmp, cls.table, extra=[
            "--connect-timeout-ms", t, "--response-timeout-ms", t, "--idle-timeout-ms", t,
            "--header-timeout-ms", t, "--keepalive-timeout-ms", "5000", "--boot-timeout-ms", t])

    @classmethod
    def tearDownClass(cls):
        code = cls.router.stop()
        for b in cls.backends:
            b.stop()
        for s in cls.fillers:
            s.close()
        cls.blackhole.close()
        err = cls.router.stderr()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0 or sanitizer_report(err):
            raise AssertionError("pier-router exited %s; stderr:\n%s" % (code, err[-5000:]))

    # -- helpers ------------------------------------------------------------

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.router.port, timeout=timeout)

    def get(self, host, path="/", method="GET", body=None, headers=None, timeout=10):
        c = self.conn(timeout)
        try:
            h = {"Host": host}
            h.update(headers or {})
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    def raw(self, data, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        try:
            s.sendall(data)
            return recv_all(s, timeout)
        finally:
            s.close()

    def log_for(self, request_id, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.router.log_lines():
                if "request_id=%s " % request_id in line:
                    m = LOG_RE.match(line)
                    self.assertIsNotNone(m, "log line not in the SPEC format: %r" % line)
                    return m
            time.sleep(0.05)
        self.fail("no access log line for %s" % request_id)

    def assert_error(self, host, code, status, page_text, at="error", path="/", headers=None):
        i = rid()
        h = {"X-Request-Id": i}
        h.update(headers or {})
        st, hdrs, body = self.get(host, path, headers=h)
        self.assertEqual(st, status, body[:300])
        self.assertIn(page_text.encode(), body)
        self.assertIn(("Content-Type", "text/html; charset=utf-8"), hdrs)
        m = self.log_for(i)
        self.assertEqual((m["at"], m["code"], m["status"]), (at, code, str(status)), m.group(0))
        return m


class RoutingTest(RouterCase):
    def test_routes_by_host_and_logs(self):
        i = rid()
        st, hdrs, body = self.get("Single.LOCALHOST:%d" % self.router.port, "/a?b=c",
                                  headers={"X-Request-Id": i})
        self.assertEqual(st, 200)
        echo = json.loads(body)
        self.assertEqual((echo["name"], echo["path"]), ("single", "/a?b=c"))
        m = self.log_for(i)
        self.assertEqual(m["at"], "info")
        self.assertIsNone(m["code"])
        self.assertEqual((m["method"], m["path"], m["dyno"], m["status"]), ("GET", "/a?b=c", "web.1", "200"))
        self.assertEqual(m["host"], "Single.LOCALHOST:%d" % self.router.port)
        self.assertEqual(m["bytes"], str(len(body)))
        self.assertEqual(m["fwd"], "127.0.0.1")
        # custom domain of another app
        st, _, body = self.get("www.example.com")
        self.assertEqual(st, 200)
        self.assertIn(json.loads(body)["name"], ("web1", "web2", "web3"))

    def test_unknown_host_404(self):
        i = rid()
        st, hdrs, body = self.get("nope.localhost", headers={"X-Request-Id": i})
        self.assertEqual(st, 404)
        self.assertIn(b"No such app", body)
        self.assertEqual(self.log_for(i)["status"], "404")
        # no Host at all (HTTP/1.0)
        out = self.raw(b"GET / HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out[:100])

    def test_balancing_across_three(self):
        seen = {}
        for _ in range(45):
            st, _, body = self.get("balance.localhost")
            self.assertEqual(st, 200)
            n = json.loads(body)["name"]
            seen[n] = seen.get(n, 0) + 1
        self.assertEqual(set(seen), {"web1", "web2", "web3"}, seen)
        self.assertTrue(min(seen.values()) >= 5, seen)

    def test_wildcard_domain(self):
        # one label in place of the "*", any case, any port
        for host in ("a.example.net", "Shop-2.EXAMPLE.net:%d" % self.router.port, "x.example.net."):
            i = rid()
            st, _, body = self.get(host, headers={"X-Request-Id": i})
            self.assertEqual(st, 200, (host, body[:200]))
            self.assertEqual(json.loads(body)["name"], "web1", host)
            self.assertEqual(self.log_for(i)["status"], "200")
        # an exact name wins over the wildcard
        st, _, body = self.get("www.example.net")
        self.assertEqual((st, json.loads(body)["name"]), (200, "single"))
        # not two labels, not the bare domain, not the "*" itself
        for host in ("a.b.example.net", "example.net", "*.example.net", ".example.net"):
            st, _, body = self.get(host)
            self.assertEqual(st, 404, host)

    def test_refused_dyno_is_retried_on_another(self):
        for _ in range(6):
            i = rid()
            st, _, body = self.get("halfdown.localhost", headers={"X-Request-Id": i})
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(body)["name"], "single")
            self.assertEqual(self.log_for(i)["dyno"], "web.2")


class HeadersTest(RouterCase):
    def echo_headers(self, headers, host="single.localhost"):
        st, _, body = self.get(host, headers=headers)
        self.assertEqual(st, 200)
        hs = json.loads(body)["headers"]
        return {k.lower(): v for k, v in hs}, hs

    def test_forwarding_headers(self):
        before = int(time.time() * 1000)
        h, raw = self.echo_headers({"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Proto": "https",
                                    "X-Forwarded-Port": "1", "X-Request-Start": "5",
                                    "Via": "1.0 corp-proxy"})
        after = int(time.time() * 1000)
        self.assertEqual(h["x-forwarded-for"], "10.1.2.3, 127.0.0.1")
        self.assertEqual(h["x-forwarded-proto"], "http")
        self.assertEqual(h["x-forwarded-port"], str(self.router.port))
        self.assertTrue(before - 50 <= int(h["x-request-start"]) <= after + 50, h["x-request-start"])
        self.assertEqual(h["via"], "1.0 corp-proxy, 1.1 pier-router")
        for name in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "via",
                     "x-request-start", "x-request-id"):
            self.assertEqual([k for k, _ in raw if k.lower() == name], [k for k, _ in raw if k.lower() == name][:1])
        # without any: just ours
        h, _ = self.echo_headers({})
        self.assertEqual(h["x-forwarded-for"], "127.0.0.1")
        self.assertEqual(h["via"], "1.1 pier-router")

    def test_xff_several_headers_appended_in_order(self):
        out = self.raw(b"GET / HTTP/1.1\r\nHost: single.localhost\r\nX-Forwarded-For: 1.1.1.1\r\n"
                       b"x-forwarded-for: 2.2.2.2, 3.3.3.3\r\nConnection: close\r\n\r\n")
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        xff = [v for k, v in body["headers"] if k.lower() == "x-forwarded-for"]
        self.assertEqual(xff, ["1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1"])

    def test_hop_by_hop_removed(self):
        h, _ = self.echo_headers({"Connection": "keep-alive, X-Secret", "X-Secret": "1",
                                  "Keep-Alive": "timeout=5", "TE": "trailers",
                                  "Proxy-Connection": "keep-alive", "Trailer": "X-T",
                                  "Upgrade": "h2c", "X-Kept": "yes"})
        for gone in ("x-secret", "keep-alive", "te", "proxy-connection", "trailer", "upgrade",
                     "connection"):
            self.assertNotIn(gone, h)
        self.assertEqual(h["x-kept"], "yes")
        # Connection cannot take away the Host an HTTP/1.1 request must have
        h, _ = self.echo_headers({"Connection": "keep-alive, Host, Content-Length"})
        self.assertEqual(h["host"], "single.localhost")

    def test_request_id_rules(self):
        ok = ["a" * 20, "A-z0+9/=" * 25, "abcDEF0123456789-+/=xyz"]
        bad = ["a" * 19, "a" * 201, "abc!" + "a" * 20, "a b" + "c" * 20, ""]
        for v in ok:
            h, _ = self.echo_headers({"X-Request-Id": v})
            self.assertEqual(h["x-request-id"], v)
            self.assertEqual(self.log_for(v)["rid"], v)
        for v in bad:
            h, _ = self.echo_headers({"X-Request-Id": v})
            self.assertRegex(h["x-request-id"], UUID_RE)
        ids = {self.echo_headers({})[0]["x-request-id"] for _ in range(5)}
        self.assertEqual(len(ids), 5)


class ErrorsTest(RouterCase):
    def test_h10_crashed(self):
        self.assert_error("crashed.localhost", "H10", 503, "Application Error")

    def test_h14_no_dynos(self):
        m = self.assert_error("nodynos.localhost", "H14", 503, "Application Error")
        self.assertEqual(m["desc"], "No web dynos running")

    def test_h81_blank_app(self):
        m = self.assert_error("blank.localhost", "H81", 503, "Nothing deployed yet")
        self.assertEqual(m["desc"], "Blank app")
        self.assertEqual(m["dyno"], "")

    def assert_after_timeout(self, host, code, desc):
        """The error comes after TIMEOUT_MS (and service= says so)."""
        t = time.monotonic()
        m = self.assert_error(host, code, 503, code)
        self.assertEqual(m["desc"], desc)
        took = time.monotonic() - t
        self.assertTrue(TIMEOUT_MS / 1000.0 - 0.1 <= took < TIMEOUT_MS / 1000.0 + 2, took)
        self.assertGreaterEqual(int(m["service"]), TIMEOUT_MS - 100)

    def test_h20_boot_timeout(self):
        self.assert_after_timeout("booting.localhost", "H20", "App boot timeout")

    def test_h80_maintenance(self):
        m = self.assert_error("maint.localhost", "H80", 503, "Maintenance", at="info")
        self.assertEqual(m["desc"], "Maintenance mode")

    def test_h21_refused(self):
        m = self.assert_error("refused.localhost", "H21", 503, "H21")
        self.assertEqual(m["dyno"], "web.1")

    def test_h19_connect_timeout(self):
        t = time.monotonic()
        self.assert_error("blackhole.localhost", "H19", 503, "H19")
        self.assertGreaterEqual(time.monotonic() - t, TIMEOUT_MS / 1000.0 - 0.1)

    def test_h12_response_timeout(self):
        self.assert_after_timeout("silent.localhost", "H12", "Request timeout")

    def test_h13_closed_without_response(self):
        self.assert_error("close.localhost", "H13", 503, "H13")

    def test_h17_bad_response(self):
        self.assert_error("bad.localhost", "H17", 503, "H17")

    def test_h25_response_head_too_large(self):
        self.assert_error("huge.localhost", "H25", 502, "H25")

    def test_h15_idle_dyno(self):
        # the head and 10 bytes arrive, then nothing: the client gets a cut
        # response, the log says H15
        i = rid()
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: stall.localhost\r\nX-Request-Id: %s\r\n\r\n" % i.encode())
        out = recv_all(s, 10)
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out)
        self.assertTrue(out.endswith(b"0123456789"), out)
        m = self.log_for(i)
        self.assertEqual((m["code"], m["at"]), ("H15", "error"))

    def test_h18_cut_response(self):
        i = rid()
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: cut.localhost\r\nX-Request-Id: %s\r\n\r\n" % i.encode())
        out = recv_all(s, 5)
        s.close()
        self.assertTrue(out.endswith(b"0123456789"), out)
        self.assertEqual(self.log_for(i)["code"], "H18")

    def test_h27_client_gone(self):
        m = self.log_for(give_up(self.router.port, "single.localhost", "/sleep=800", 0.2))
        self.assertEqual((m["code"], m["at"], m["status"]), ("H27", "warning", "499"))

    def test_h28_client_idle(self):
        i = rid()
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: single.localhost\r\nContent-Length: 100\r\n"
                  b"X-Request-Id: %s\r\n\r\n0123456789" % i.encode())
        m = self.log_for(i, timeout=TIMEOUT_MS / 1000.0 + 4)
        s.close()
        self.assertEqual((m["code"], m["at"], m["status"]), ("H28", "warning", "499"))


class BadRequestsTest(RouterCase):
    BAD = [
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"GET / HTTP/1.1\nHost: single.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: single.localhost\r\nX: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : single.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: single.localhost\r\nX: a\x00b\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: single.localhost\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: single.localhost\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: single.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.localhost\r\nHost: single.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: single.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: single.localhost\r\n" + b"n" * 1001 + b": v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: single.localhost\r\nX: " + b"v" * 8200 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: single.localhost\r\n" + b"a: b\r\n" * 1001 + b"\r\n",
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
        b"POST / HTTP/1.1\r\nHost: single.localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
    ]

    def test_malformed_and_smuggling_are_400(self):
        before = sum(1 for l in self.router.log_lines() if "code=H26" in l)
        for i, req in enumerate(self.BAD):
            out = self.raw(req)
            self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), "case %d: %r" % (i, out[:200]))
            self.assertIn(b"Connection: close", out)
            self.assertIn(b"Bad Request", out.split(b"\r\n\r\n", 1)[1])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = sum(1 for l in self.router.log_lines() if "code=H26" in l)
            if after - before >= len(self.BAD):
                break
            time.sleep(0.05)
        self.assertEqual(after - before, len(self.BAD))

    def test_limits_are_inclusive(self):
        # exactly 8192 bytes of request line, a 1000-byte name, 1000 headers: fine
        line = b"GET /" + b"a" * (8192 - 14) + b" HTTP/1.1"
        self.assertEqual(len(line), 8192)
        out = self.raw(line + b"\r\nHost: single.localhost\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])
        out = self.raw(b"GET / HTTP/1.1\r\nHost: single.localhost\r\nConnection: close\r\n" +
                       b"n" * 1000 + b": v\r\n" + b"a: b\r\n" * 997 + b"\r\n")
        # passed on: the dyno (Python's http.server, which stops at 100
        # headers) answers, not the router
        self.assertTrue(out.startswith(b"HTTP/1.1 431 Too many headers"), out[:100])
        self.assertIn(b"Server: BaseHTTP", out)


class BodiesTest(RouterCase):
    def test_large_upload_and_download(self):
        size = 24 << 20
        data = os.urandom(1 << 20) * 24
        c = self.conn(60)
        c.request("POST", "/", body=data, headers={"Host": "single.localhost"})
        r = c.getresponse()
        echo = json.loads(r.read())
        self.assertEqual(echo["body_len"], size)
        self.assertEqual(echo["body_sha256"], hashlib.sha256(data).hexdigest())
        # chunked upload
        c.request("PUT", "/", body=iter([data[i:i + 300000] for i in range(0, size, 300000)]),
                  headers={"Host": "single.localhost"}, encode_chunked=True)
        r = c.getresponse()
        echo = json.loads(r.read())
        self.assertEqual(echo["body_sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual([v for k, v in echo["headers"] if k.lower() == "transfer-encoding"], ["chunked"])
        # downloads, Content-Length and chunked, on the same connection
        i = rid()
        c.request("GET", "/big=%d" % size, headers={"Host": "single.localhost", "X-Request-Id": i})
        r = c.getresponse()
        n = 0
        while True:
            d = r.read(1 << 20)
            if not d:
                break
            n += len(d)
        self.assertEqual(n, size)
        self.assertEqual(self.log_for(i)["bytes"], str(size))
        c.request("GET", "/chunked=%d" % (size + 7), headers={"Host": "single.localhost"})
        r = c.getresponse()
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(len(r.read()), size + 7)
        c.close()
        # memory stayed bounded: no worker grew by the body size
        for pid in self.router.worker_pids():
            with open("/proc/%d/status" % pid) as f:
                hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
            self.assertLess(hwm, 200 * 1024, "worker %d peaked at %d kB" % (pid, hwm))

    def test_expect_100_continue_answered_by_router(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: single.localhost\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        s.settimeout(3)
        got = s.recv(100)
        self.assertEqual(got, b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        head, body, _ = read_response(s)
        s.close()
        self.assertTrue(head.startswith("HTTP/1.1 200"))
        echo = json.loads(body)
        self.assertEqual(echo["body_len"], 5)
        self.assertNotIn("expect", [k.lower() for k, _ in echo["headers"]])

    def test_head_request_has_no_body(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: single.localhost\r\n\r\n"
                  b"GET /after HTTP/1.1\r\nHost: single.localhost\r\n\r\n")
        s.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
        first, second = data.split(b"HTTP/1.1 200", 2)[1:]
        self.assertTrue(first.endswith(b"\r\n\r\n"), first)  # no body after HEAD's head
        self.assertIn(b'"/after"', second)


class ConnectionsTest(RouterCase):
    def test_keepalive_reused_both_sides(self):
        c = self.conn()
        ports, local = set(), set()
        for _ in range(6):
            c.request("GET", "/", headers={"Host": "single.localhost"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertIsNone(r.getheader("Connection"))
            ports.add(json.loads(r.read())["peer_port"])
            local.add(c.sock.getsockname()[1])
        c.close()
        self.assertEqual(len(local), 1, "the client connection was not kept")
        self.assertEqual(len(ports), 1, "the upstream connection was not reused: %s" % ports)

    def test_http10(self):
        out = self.raw(b"GET /x HTTP/1.0\r\nHost: single.localhost\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])
        self.assertIn(b"Connection: close", out)
        self.assertIn(b'"/x"', out)  # and the router closed (recv_all returned)
        # keep-alive for a 1.0 client that asks for it; a chunked body is
        # decoded for it (it cannot read chunked)
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"GET /a HTTP/1.0\r\nHost: single.localhost\r\nConnection: keep-alive\r\n\r\n")
        head, body, _ = read_response(s)
        self.assertIn("Connection: keep-alive", head)
        s.sendall(b"GET /chunked=70000 HTTP/1.0\r\nHost: single.localhost\r\nConnection: keep-alive\r\n\r\n")
        out = recv_all(s)
        s.close()
        head, body = out.split(b"\r\n\r\n", 1)
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertEqual(body, b"c" * 50000 + b"c" * 20000)

    def test_pipelined_in_order(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: balance.localhost\r\n\r\n" % i for i in range(5)))
        rest = b""
        for i in range(5):
            s2 = _Prefixed(s, rest)
            head, body, rest = read_response(s2)
            self.assertTrue(head.startswith("HTTP/1.1 200"), head)
            self.assertEqual(json.loads(body)["path"], "/p%d" % i)
        s.close()

    def test_websocket_tunnel(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        key = base64.b64encode(os.urandom(16))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: single.localhost\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
                  b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            data += s.recv(4096)
        head, rest = data.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        self.assertIn(b"Upgrade: websocket", head)
        self.assertIn(b"Connection: upgrade", head)
        for text in (b"hello", b"second frame"):
            mask = os.urandom(4)
            s.sendall(bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text)))
            want = bytes([0x81, len(text)]) + text
            while len(rest) < len(want):
                rest += s.recv(4096)
            self.assertEqual(rest[:len(want)], want)
            rest = rest[len(want):]
        s.close()

    def test_slowloris_timed_out_others_served(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        start = time.monotonic()
        closed = None
        s.settimeout(0.15)
        req = b"GET / HTTP/1.1\r\nHost: single.localhost\r\nX-Slow: " + b"a" * 100
        i = 0
        while time.monotonic() - start < 5:
            try:
                s.send(req[i % len(req):i % len(req) + 1])
            except OSError:
                closed = time.monotonic() - start
                break
            i += 1
            try:
                if s.recv(100) == b"":
                    closed = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            if i == 3:
                t = time.monotonic()
                st, _, _ = self.get("single.localhost")
                self.assertEqual(st, 200)
                self.assertLess(time.monotonic() - t, 0.5)
        s.close()
        self.assertIsNotNone(closed, "a byte-by-byte client was never cut off")
        self.assertLess(closed, TIMEOUT_MS / 1000.0 + 1.0)

    def test_idle_connection_closed_after_header_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.router.port))
        t = time.monotonic()
        self.assertEqual(recv_all(s, 5), b"")
        self.assertLess(time.monotonic() - t, TIMEOUT_MS / 1000.0 + 1)
        s.close()

    def test_many_idle_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        n = min(10000, hard - 200)
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        socks = []
        try:
            for _ in range(n):
                socks.append(socket.create_connection(("127.0.0.1", self.router.port)))
            st, _, _ = self.get("single.localhost")
            self.assertEqual(st, 200)
            # the first and the last are both still served
            for s in (socks[0], socks[-1]):
                s.sendall(b"GET / HTTP/1.1\r\nHost: single.localhost\r\n\r\n")
                head, _, _ = read_response(s)
                self.assertTrue(head.startswith("HTTP/1.1 200"))
        finally:
            for s in socks:
                s.close()
        self.assertEqual(len(socks), n)


class _Prefixed:
    """A socket whose first recv() returns already-read bytes."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            p, self.prefix = self.prefix, b""
            return p
        return self.sock.recv(n)


class ReloadTest(RouterCase):
    def test_sighup_and_file_change_reload(self):
        extra = {"name": "fresh", "dynos": dynos(self.single)}
        try:
            self.assertEqual(self.get("fresh.localhost")[0], 404)
            # written in place (no rename) while... then SIGHUP: both paths work
            write_table(self.table, self.apps + [extra])
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and self.get("fresh.localhost")[0] != 200:
                time.sleep(0.05)
            self.assertEqual(self.get("fresh.localhost")[0], 200)  # inotify
            # an invalid table is refused; the old one stays
            with open(self.table, "w") as f:
                f.write('{"apps": [{"name": "x", "dynos": [{"port": 70000}]}]}')
            self.router.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            self.assertEqual(self.get("fresh.localhost")[0], 200)
            self.assertIn("keeping the previous table", self.router.stderr())
            # SIGHUP alone (the file's inotify event is not what triggers)
            with open(self.table + ".x", "w") as f:
                json.dump({"apps": self.apps}, f)
            os.rename(self.table + ".x", self.table)
            self.router.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and self.get("fresh.localhost")[0] != 404:
                time.sleep(0.05)
            self.assertEqual(self.get("fresh.localhost")[0], 404)
        finally:
            write_table(self.table, self.apps)


class QueueTest(unittest.TestCase):
    """The app queue: a router of its own with one worker, at most one request
    in flight per dyno and a backlog of one per dyno (H11, H20 wait, H22)."""

    @classmethod
    def setUpClass(cls):
        if not os.access(ROUTER, os.X_OK):
            raise unittest.SkipTest("no pier-router in %s" % BUILD)
        cls.tmp = tempfile.mkdtemp(prefix="pier-router-queue-")
        cls.backend = Backend(cls.tmp, "q")
        cls.table = os.path.join(cls.tmp, "table.json")
        cls.apps = [{"name": "q", "dynos": dynos(cls.backend)},
                    {"name": "boot", "starting": True, "dynos": []}]
        write_table(cls.table, cls.apps)
        t = str(TIMEOUT_MS)
        cls.router = Router(cls.tmp, cls.table, workers=1, name="queue", extra=[
            "--dyno-conn-limit", "1", "--backlog", "1", "--connect-timeout-ms", t,
            "--boot-timeout-ms", "3000"])

    @classmethod
    def tearDownClass(cls):
        code = cls.router.stop()
        cls.backend.stop()
        err = cls.router.stderr()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0 or sanitizer_report(err):
            raise AssertionError("pier-router exited %s; stderr:\n%s" % (code, err[-5000:]))

    def setUp(self):
        write_table(self.table, self.apps)

    def request(self, path, host="q.localhost", results=None, key=None):
        i = rid()
        t = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", self.router.port, timeout=15)
        try:
            c.request("GET", path, headers={"Host": host, "X-Request-Id": i})
            r = c.getresponse()
            out = (r.status, r.read(), time.monotonic() - t, i)
        finally:
            c.close()
        if results is not None:
            results[key] = out
        return out

    def background(self, path, results, key, host="q.localhost"):
        th = threading.Thread(target=self.request, args=(path, host, results, key))
        th.start()
        return th

    def log_for(self, request_id):
        return RouterCase.log_for(self, request_id)

    def test_queued_request_goes_when_the_slot_frees(self):
        res = {}
        a = self.background("/sleep=600", res, "a")
        time.sleep(0.2)
        st, body, took, i = self.request("/second")
        a.join(10)
        self.assertEqual(res["a"][0], 200)
        self.assertEqual(st, 200, body)
        self.assertGreater(took, 0.25)  # it waited for the first one
        self.assertEqual(self.log_for(i)["status"], "200")

    def test_h22_connection_limit(self):
        res = {}
        a = self.background("/sleep=%d" % (TIMEOUT_MS + 1500), res, "a")
        time.sleep(0.2)
        st, body, took, i = self.request("/waits")
        self.assertEqual(st, 503, body)
        self.assertIn(b"Application Error", body)
        self.assertIn(b"H22", body)
        self.assertTrue(TIMEOUT_MS / 1000.0 - 0.1 <= took < TIMEOUT_MS / 1000.0 + 1.5, took)
        m = self.log_for(i)
        self.assertEqual((m["at"], m["code"], m["desc"], m["status"], m["dyno"]),
                         ("error", "H22", "Connection limit reached", "503", ""))
        a.join(10)
        self.assertEqual(res["a"][0], 200)

    def test_h11_backlog_too_deep(self):
        res = {}
        a = self.background("/sleep=800", res, "a")
        time.sleep(0.2)
        b = self.background("/queued", res, "b")  # takes the one place in the queue
        time.sleep(0.2)
        st, body, took, i = self.request("/turned-away")
        self.assertEqual(st, 503, body)
        self.assertIn(b"H11", body)
        self.assertLess(took, 0.5)  # at once, not after a wait
        m = self.log_for(i)
        self.assertEqual((m["at"], m["code"], m["desc"], m["status"]),
                         ("error", "H11", "Backlog too deep", "503"))
        a.join(10)
        b.join(10)
        self.assertEqual((res["a"][0], res["b"][0]), (200, 200))  # the queued one was served

    def test_booting_app_holds_the_request_until_a_dyno_is_up(self):
        res = {}
        a = self.background("/booted", res, "a", host="boot.localhost")
        time.sleep(0.5)
        self.assertNotIn("a", res)  # held, not answered
        write_table(self.table, [self.apps[0], {"name": "boot", "dynos": dynos(self.backend)}])
        a.join(10)
        st, body, took, i = res["a"]
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["path"], "/booted")
        self.assertGreater(took, 0.4)
        self.assertEqual(self.log_for(i)["dyno"], "web.1")

    def test_client_gone_while_waiting_is_h27(self):
        m = self.log_for(give_up(self.router.port, "boot.localhost", "/gone", 0.3))
        self.assertEqual((m["at"], m["code"], m["status"]), ("warning", "H27", "499"))


class LifecycleTest(unittest.TestCase):
    """Routers of their own: drain on SIGTERM, graceful restart."""

    def setUp(self):
        if not os.access(ROUTER, os.X_OK):
            self.skipTest("no pier-router in %s" % BUILD)
        self.tmp = tempfile.mkdtemp(prefix="pier-router-life-")
        self.backend = Backend(self.tmp, "b")
        self.table = os.path.join(self.tmp, "table.json")
        write_table(self.table, [{"name": "app", "dynos": dynos(self.backend)}])
        self.routers = []

    def tearDown(self):
        for r in self.routers:
            r.stop()
        self.backend.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **kw):
        r = Router(self.tmp, self.table, name="r%d" % len(self.routers), **kw)
        self.routers.append(r)
        return r

    def test_sigterm_finishes_in_flight_then_exits(self):
        r = self.start()
        result = {}

        def slow():
            c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=10)
            c.request("GET", "/sleep=700", headers={"Host": "app.localhost"})
            resp = c.getresponse()
            result["status"] = resp.status
            result["conn"] = resp.getheader("Connection")
            resp.read()

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.25)
        r.proc.send_signal(signal.SIGTERM)
        t.join(10)
        self.assertEqual(result.get("status"), 200)
        self.assertEqual(result.get("conn"), "close")
        self.assertEqual(r.proc.wait(10), 0)
        self.assertFalse(sanitizer_report(r.stderr()), r.stderr())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", r.port), timeout=2)

    def test_graceful_restart_refuses_nothing(self):
        old = self.start()
        port = old.port
        stop = threading.Event()
        stats = {"ok": 0, "errors": []}

        def hammer():
            while not stop.is_set():
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("GET", "/", headers={"Host": "app.localhost"})
                    resp = c.getresponse()
                    resp.read()
                    c.close()
                    if resp.status == 200:
                        stats["ok"] += 1
                    else:
                        stats["errors"].append(resp.status)
                except OSError as e:
                    stats["errors"].append(repr(e))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        new = self.start(port=port)
        time.sleep(0.3)
        old.proc.send_signal(signal.SIGTERM)
        self.assertEqual(old.proc.wait(10), 0)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(stats["ok"], 50)
        self.assertEqual(stats["errors"], [])
        self.assertTrue(new.proc.poll() is None)
        served_new = [l for l in new.log_lines() if "status=200" in l]
        self.assertGreater(len(served_new), 10)


if __name__ == "__main__":
    unittest.main()
