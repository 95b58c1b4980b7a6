"""pier-router on its own, following pierd's table: `pier-router --api URL
--token-file FILE` next to a real pierd started with --no-router, apps
deployed with real git.  The router picks up changes as pierd publishes
them, keeps serving its last table while pierd is gone, reconnects when it
is back, and says so when its token is refused.

    PIER_BUILD=build /usr/bin/python3 -m unittest -v test_router_watch   (from tests/e2e)
"""

import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import BUILD, SANITIZER_ENV, free_port, sanitizer_report, tail
from test_deploy import REPO, DeployTestCase

ROUTER = os.path.join(BUILD, "pier-router")


def get(port, host, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def dyno_of(body):
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("dyno: "):
            return line[len("dyno: "):]
    return None


class Router:
    """A pier-router process following a pierd."""

    def __init__(self, root, api, token_file):
        self.port = free_port()
        self.log_path = os.path.join(root, "router-%d.log" % self.port)
        self.argv = [ROUTER, "--listen", "127.0.0.1:%d" % self.port, "--api", api,
                     "--token-file", token_file, "--workers", "1"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        env.update(SANITIZER_ENV)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("pier-router is not listening:\n" + self.log())
                time.sleep(0.02)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def get(self, host, path="/"):
        return get(self.port, "%s:%d" % (host, self.port), path)

    def stop(self):
        """SIGTERM: exit 0 within 10 s, no sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("pier-router did not exit within 10 s of SIGTERM:\n"
                                 + tail(self.log()))
        log = self.log()
        assert not sanitizer_report(log), "sanitizer report from pier-router:\n" + tail(log, 400)
        assert rc == 0, "pier-router exited %d:\n%s" % (rc, tail(log))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class FakePierd:
    """GET /router/table as pierd serves it (a long-poll on ?since), with
    the framing and the failures a real pierd does not produce at will:
    mode is "chunked", "close" (no Content-Length: the body ends at EOF),
    "503" or "bad" (a table the router cannot load)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.version = 1
        self.mode = "chunked"
        self.apps = []
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    self.answer()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the router went away while its poll was parked

            def answer(self):
                q = urllib.parse.urlparse(self.path)
                since = urllib.parse.parse_qs(q.query).get("since")
                with fake.cond:
                    fake.requests.append((self.path, self.headers.get("Authorization")))
                    if since and int(since[0]) >= fake.version:
                        fake.cond.wait(timeout=2)
                    mode = fake.mode
                    body = json.dumps({"version": fake.version, "apps": fake.apps}).encode()
                if mode == "bad":
                    body = b'{"version": 9, "apps": [{"name": 7}]}'
                self.send_response(503 if mode == "503" else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                if mode == "chunked":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 7):
                        piece = body[i:i + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if mode != "close":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, mode=None, apps=None):
        with self.cond:
            self.version += 1
            if mode is not None:
                self.mode = mode
            if apps is not None:
                self.apps = apps
            self.cond.notify_all()

    def close(self):
        with self.cond:
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


@unittest.skipUnless(os.access(ROUTER, os.X_OK), "pier-router is not built")
class RouterWatchTest(DeployTestCase):

    def setUp(self):
        super().setUp()
        # pierd without a router of its own: ours follows its API
        self.pierd.stop()
        self.start_pierd_no_router()

    def tearDown(self):
        # pierd aborts on SIGTERM while a long-poll of GET /router/table is
        # parked ("MHD_stop_daemon() called while we have suspended
        # connections"), and a parked poll whose client went away stays
        # parked until its 25 s are up.  Until pierd resumes parked polls
        # before stopping, end our routers and change the table, so that
        # pierd answers (and drops) what they left parked.
        for r in getattr(self, "routers", []):
            r.kill()  # the tests stopped (and checked) them already
        if self.pierd and self.pierd.running:
            self.api("POST", "/apps", {"name": "unpark-watches"})
            time.sleep(0.2)
        super().tearDown()

    def start_pierd_no_router(self):
        # buildpacks named: the build dir need not sit in the source tree
        self.pierd.start(argv=self.pierd.argv() + [
            "--no-router", "--buildpacks-dir", os.path.join(REPO, "buildpacks")])

    def start_router(self, token, api=None):
        path = os.path.join(self.tmp, "router-token-%d" % len(getattr(self, "routers", [])))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, token.encode() + b"\n")
        os.close(fd)
        r = Router(self.tmp, api or self.pierd.url, path)
        self.routers = getattr(self, "routers", []) + [r]
        self.addCleanup(r.kill)
        r.token_path = path
        return r

    def read_token(self):
        t = self.api_ok("POST", "/oauth/authorizations",
                        {"scope": ["read"], "description": "pier-router"}, status=201)
        return t["access_token"]["token"]

    def wait_for(self, fn, what, timeout=20, router=None, interval=0.02):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(interval)
        self.fail("%s: not within %s s (last: %r)%s" % (
            what, timeout, last, "\nrouter log:\n" + tail(router.log()) if router else ""))

    def web_up(self, app):
        return len([d for d in self.api_ok("GET", "/apps/%s/dynos" % app)
                    if d["type"] == "web" and d["state"] == "up"])

    def test_follows_pierd_through_a_crash(self):
        self.create_app("alpha")
        self.push_ok(self.make_repo("procfile", name="alpha"), "alpha")
        router = self.start_router(self.read_token())  # a read token is enough
        status, body = self.wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(router.get("alpha.localhost")),
            "alpha answers through the router", timeout=5, router=router)
        self.assertIn(b"pier sample app: procfile", body)
        self.assertIn("following pierd at %s" % self.pierd.url, router.log())
        status, body = router.get("nope.localhost")
        self.assertEqual(status, 404, body)

        # a change reaches the router as pierd publishes it: within 100 ms
        # (the median of 5 round trips, each from the PATCH on)
        lat = []
        for _ in range(5):
            t0 = time.monotonic()
            self.api_ok("PATCH", "/apps/alpha", {"maintenance": True})
            self.wait_for(lambda: router.get("alpha.localhost")[0] == 503,
                          "maintenance mode through the router", timeout=0.5, router=router,
                          interval=0.005)
            lat.append(time.monotonic() - t0)
            self.api_ok("PATCH", "/apps/alpha", {"maintenance": False})
            self.wait_for(lambda: router.get("alpha.localhost")[0] == 200,
                          "maintenance off through the router", timeout=0.5, router=router,
                          interval=0.005)
        latency = sorted(lat)[2]
        self.assertLess(latency, 0.1, lat)

        # scale web to 2: once pierd has both up, the router balances
        # over both within a second
        self.api_ok("PATCH", "/apps/alpha/formation",
                    {"updates": [{"type": "web", "quantity": 2}]})
        self.wait_for(lambda: self.web_up("alpha") == 2, "2 web dynos up")
        deadline = time.monotonic() + 1
        seen = set()
        while time.monotonic() < deadline and len(seen) < 2:
            status, body = router.get("alpha.localhost")
            self.assertEqual(status, 200, body)
            seen.add(dyno_of(body))
        self.assertEqual(seen, {"web.1", "web.2"}, "balanced within 1 s")

        # pierd killed: the router serves on from its last table, and says
        # so once however often it retries
        self.pierd.kill()
        for _ in range(10):
            status, body = router.get("alpha.localhost")
            self.assertEqual(status, 200, body)
        self.wait_for(lambda: "keeping the last table" in router.log(), "the outage logged",
                      timeout=5, router=router)
        time.sleep(1.5)  # 100, 200, 400, 800 ms: several retries
        self.assertEqual(router.log().count("keeping the last table"), 1, router.log())
        self.assertNotIn("reconnected", router.log())

        # pierd is back (same home): the router reconnects, and follows
        self.start_pierd_no_router()
        self.wait_for(lambda: "reconnected to pierd at %s" % self.pierd.url in router.log(),
                      "the router reconnects", timeout=8, router=router)
        self.wait_for(lambda: router.get("alpha.localhost")[0] == 200,
                      "alpha served after pierd's restart", timeout=10, router=router)
        self.create_app("beta")
        self.push_ok(self.make_repo("procfile", name="beta"), "beta")
        status, body = self.wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(router.get("beta.localhost")),
            "beta (deployed after the restart) served", timeout=3, router=router)
        self.assertIn(b"pier sample app: procfile", body)
        self.assertEqual(router.proc.poll(), None)
        router.stop()
        print("\n  router picked up a change in %.0f ms" % (latency * 1000), end=" ")

    def test_bad_token(self):
        self.create_app("gamma")  # known to pierd, nothing deployed: 503 H14
        router = self.start_router("not-a-token")
        self.wait_for(lambda: "refused the token in %s" % router.token_path in router.log(),
                      "the router logs the refused token", timeout=5, router=router)
        for host in ("gamma.localhost", "nope.localhost"):
            status, body = router.get(host)
            self.assertEqual(status, 404, body)
        self.assertIsNone(router.proc.poll(), "the router died:\n" + router.log())

        # a good token in the file and SIGHUP: it reconnects at once
        with open(router.token_path, "w") as f:
            f.write(self.read_token() + "\n")
        router.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: router.get("gamma.localhost")[0] == 503,
                      "gamma known after the token is fixed", timeout=3, router=router)
        self.wait_for(lambda: "reconnected to pierd" in router.log(), "reconnected logged",
                      timeout=2, router=router)
        self.assertEqual(router.log().count("refused the token"), 1, router.log())
        router.stop()

    def test_framing_and_failures(self):
        fake = FakePierd()
        self.addCleanup(fake.close)
        app = lambda name: {"name": name, "hosts": [], "dynos": []}  # known: 503 H14
        fake.apps = [app("one")]
        router = self.start_router("t0k3n", api=fake.url)
        self.wait_for(lambda: router.get("one.localhost")[0] == 503, "a chunked table",
                      timeout=3, router=router)
        self.assertEqual(fake.requests[0], ("/router/table", "Bearer t0k3n"))
        self.wait_for(lambda: ("/router/table?since=1", "Bearer t0k3n") in fake.requests,
                      "the long-poll", timeout=2, router=router)

        fake.publish(mode="close", apps=[app("one"), app("two")])
        self.wait_for(lambda: router.get("two.localhost")[0] == 503, "a close-delimited table",
                      timeout=1, router=router)

        # errors: the last table stays; each kind of trouble is logged once
        fake.publish(mode="503")
        self.wait_for(lambda: "HTTP 503" in router.log(), "a 503 logged", timeout=3,
                      router=router)
        time.sleep(1)
        fake.publish(mode="bad")
        self.wait_for(lambda: "cannot load" in router.log(), "a bad table logged", timeout=6,
                      router=router)
        time.sleep(1)
        self.assertEqual(router.get("two.localhost")[0], 503)
        log = router.log()
        self.assertEqual(log.count("HTTP 503"), 1, log)
        self.assertEqual(log.count("cannot load"), 1, log)
        self.assertIn("keeping the last table", log)

        fake.publish(mode="chunked", apps=[app("one")])
        self.wait_for(lambda: router.get("two.localhost")[0] == 404, "back, without two",
                      timeout=6, router=router)
        self.wait_for(lambda: "reconnected to pierd at %s" % fake.url in router.log(),
                      "reconnected logged", timeout=2, router=router)
        router.stop()

    def test_arguments(self):
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("x")
        listen = ["--listen", "127.0.0.1:%d" % free_port()]
        for args, code, want in (
                (["--api", self.pierd.url], 2, "--token-file"),
                (["--token-file", token], 2, "--table or --api"),
                (["--api", self.pierd.url, "--token-file", token, "--table", token], 2,
                 "not both"),
                (["--api", "https://example.com", "--token-file", token], 2, "https"),
                (["--api", "http://tok:en@127.0.0.1:1", "--token-file", token], 2,
                 "--token-file"),
                (["--api", self.pierd.url, "--token-file", token + ".missing"], 1,
                 "No such file")):
            p = subprocess.run([ROUTER] + listen + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10,
                               env=dict(SANITIZER_ENV, PATH=os.environ.get("PATH", "/usr/bin")))
            err = p.stderr.decode()
            self.assertEqual(p.returncode, code, "%r: %s" % (args, err))
            self.assertIn(want, err, args)
            self.assertFalse(sanitizer_report(err), err)


if __name__ == "__main__":
    unittest.main()
