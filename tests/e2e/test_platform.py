"""The whole platform: git push, dynos and pier-router started by pierd --
a request to http://APP.localhost:ROUTERPORT/ reaches the app's dynos."""

import http.client
import os
import signal
import subprocess
import time
import unittest

from harness import BUILD
from test_deploy import DeployTestCase

ROUTER = os.path.join(BUILD, "pier-router")


def get(port, host, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body, r


@unittest.skipUnless(os.access(ROUTER, os.X_OK), "pier-router is not built")
class PlatformTest(DeployTestCase):

    def wait_for(self, fn, what, timeout=20):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.05)
        self.fail("%s: not within %d s (last: %r)" % (what, timeout, last))

    def setUp(self):
        super().setUp()
        # pierd answers /health before its router has bound its port
        import socket

        def accepts():
            try:
                socket.create_connection(("127.0.0.1", self.pierd.router_port), 0.5).close()
                return True
            except OSError:
                return False
        self.wait_for(accepts, "pier-router listening")

    def test_push_then_browse(self):
        self.create_app("hello")
        port = self.pierd.router_port
        # nothing deployed yet: the router says so
        status, body, _ = get(port, "hello.localhost:%d" % port)
        self.assertEqual(status, 503, body)
        repo = self.make_repo("procfile")
        self.pier_ok("config:set", "GREETING=hi there", "-a", "hello")
        self.push_ok(repo, "hello")
        # the push ended with the web dyno up; the router learns within ms
        status, body, resp = self.wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(get(port, "hello.localhost:%d" % port)),
            "the app answers through the router")
        self.assertIn(b"pier sample app: procfile", body)
        self.assertIn(b"greeting: hi there", body)
        # an unknown app
        status, body, _ = get(port, "nope.localhost")
        self.assertEqual(status, 404, body)
        # the access line lands in the app's log as heroku[router]
        logs = self.wait_for(
            lambda: [l for l in self.api_ok("GET", "/apps/hello/log-lines?lines=200")
                     if "heroku[router]: at=info method=GET path=\"/\"" in l],
            "the router's access line in the app's log")
        self.assertRegex(logs[-1], r"host=hello\.localhost:\d+ .*dyno=web\.1 .*status=200")

    def test_balancing_and_zero_downtime_deploys(self):
        self.create_app("busy")
        port = self.pierd.router_port
        host = "busy.localhost:%d" % port
        repo = self.make_repo("procfile")
        self.push_ok(repo, "busy")
        self.pier_ok("ps:scale", "web=3", "-a", "busy")
        self.wait_for(lambda: len([d for d in self.api_ok("GET", "/apps/busy/dynos")
                                   if d["state"] == "up" and d["type"] == "web"]) == 3,
                      "3 web dynos up")
        seen = set()
        for _ in range(60):
            status, body, _ = get(port, host)
            self.assertEqual(status, 200, body)
            for line in body.decode().splitlines():
                if line.startswith("dyno: "):
                    seen.add(line)
        self.assertEqual(seen, {"dyno: web.1", "dyno: web.2", "dyno: web.3"})

        # a client polling through ten deploys sees no error
        errors, ok = [], 0
        for i in range(10):
            self.commit(repo, "deploy %d" % i)
            env = self.cli_env(token=None, api=None, env={"GIT_TERMINAL_PROMPT": "0"})
            p = subprocess.Popen(["git", "push", self.push_url("busy"), "main"], cwd=repo,
                                 env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT)
            while p.poll() is None:
                status, body, _ = get(port, host)
                if status == 200:
                    ok += 1
                else:
                    errors.append((status, body[:200]))
            self.assertEqual(p.returncode, 0, p.stdout.read())
        # and after the last one settles
        for _ in range(20):
            status, body, _ = get(port, host)
            if status != 200:
                errors.append((status, body[:200]))
        self.assertEqual(errors, [], "requests failed during deploys")
        self.assertGreater(ok, 10)

    def test_router_survives_pierd_kill(self):
        self.create_app("sturdy")
        port = self.pierd.router_port
        host = "sturdy.localhost:%d" % port
        self.push_ok(self.make_repo("procfile"), "sturdy")
        self.wait_for(lambda: get(port, host)[0] == 200, "served")
        router_pid = int(open(os.path.join(self.pierd.home, "router.pid")).read())
        self.pierd.kill()  # kill -9: the router and the dynos go on
        for _ in range(10):
            status, body, _ = get(port, host)
            self.assertEqual(status, 200, body)
        # a new pierd takes over: replaces the dynos, starts its router,
        # and the old router takes its leave
        self.pierd.start()
        self.wait_for(lambda: get(port, host)[0] == 200, "served after restart")
        self.wait_for(lambda: not os.path.exists("/proc/%d" % router_pid)
                      or open("/proc/%d/stat" % router_pid).read().split()[2] == "Z",
                      "the old router gone")


if __name__ == "__main__":
    unittest.main()
