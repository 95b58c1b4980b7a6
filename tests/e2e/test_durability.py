"""State survives kill -9 and restarts; a clean SIGTERM exits 0 (DESIGN.md
"Data on disk": writes are transactions, a crash leaves old or new state)."""

import threading
import time
import unittest

from harness import PierTestCase, b64


class DurabilityTest(PierTestCase):
    def populate(self):
        self.create_app("alpha")
        self.create_app("bravo")
        self.create_app("charlie")
        self.create_app("doomed")
        self.set_config("alpha", {"A": "1", "B": "two words"})
        self.set_config("alpha", {"BIN": {"base64": b64(b"\xff\xfe")}, "U": "héllo 🌍"})
        self.set_config("alpha", {"A": None})
        self.set_config("bravo", {"X": "x"})
        self.api_ok("PATCH", "/apps/charlie", {"name": "charlie-2"})
        self.api_ok("DELETE", "/apps/doomed")
        r = self.api("POST", "/oauth/authorizations", {"scope": ["read"], "description": "ro"})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def snapshot(self):
        snap = {"apps": self.api_ok("GET", "/apps"),
                "auths": self.api_ok("GET", "/oauth/authorizations"),
                "account": self.api_ok("GET", "/account")}
        for app in snap["apps"]:
            name = app["name"]
            rels = self.releases(name)
            snap[name] = {
                "info": self.api_ok("GET", "/apps/%s" % name),
                "config": self.api_ok("GET", "/apps/%s/config-vars" % name),
                "releases": rels,
                "release_config": {r["version"]: self.api_ok(
                    "GET", "/apps/%s/releases/%d/config-vars" % (name, r["version"]))
                    for r in rels}}
        return snap

    def check_after_restart(self, before, auth, admin_token):
        self.assertEqual(self.pierd.admin_token, admin_token, "admin token was regenerated")
        after = self.snapshot()
        self.assertEqual(after, before)
        self.assertEqual([a["name"] for a in after["apps"]], ["alpha", "bravo", "charlie-2"])
        self.assertError(self.api("GET", "/apps/doomed"), 404, "not_found", "destroyed app")
        self.assertError(self.api("GET", "/apps/charlie"), 404, "not_found", "old name")
        # the read token still works, and is still only a read token
        tok = auth["access_token"]["token"]
        self.assertEqual(self.api("GET", "/apps/alpha", token=tok).status, 200)
        self.assertError(self.api("GET", "/apps/alpha/config-vars", token=tok), 403, "forbidden",
                         "read token after restart")
        self.assertError(self.api("GET", "/apps", token="bogus"), 401, "unauthorized", "bogus")
        # numbering continues, never reuses
        r = self.set_config("alpha", {"AFTER": "restart"})
        self.assertEqual(r.header("Pier-Release-Version"), "5")
        # and the CLI agrees
        self.assertEqual(self.pier_ok("config:get", "U", "-a", "alpha"), "héllo 🌍\n")
        self.assertEqual(self.pier("config:get", "BIN", "-a", "alpha").out, b"\xff\xfe\n")

    def test_kill_9_keeps_everything(self):
        auth = self.populate()
        before = self.snapshot()
        admin = self.pierd.admin_token
        self.pierd.kill()
        self.assertEqual(self.pierd.last_exit, -9)
        self.pierd.start()
        self.check_after_restart(before, auth, admin)

    def test_sigterm_exits_0_and_keeps_everything(self):
        auth = self.populate()
        before = self.snapshot()
        admin = self.pierd.admin_token
        self.assertEqual(self.pierd.stop(), 0)
        self.pierd.start()
        self.check_after_restart(before, auth, admin)

    def test_sigterm_with_idle_keepalive_connection(self):
        # An open client connection must not keep pierd from exiting.
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.pierd.port, timeout=10)
        conn.request("GET", "/health")
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        r.read()
        try:
            self.assertEqual(self.pierd.stop(), 0)
        finally:
            conn.close()

    def test_many_restarts(self):
        self.create_app("cycle")
        for i in range(5):
            self.set_config("cycle", {"K%d" % i: str(i)})
            if i % 2:
                self.pierd.kill()
                self.pierd.start()
            else:
                self.pierd.restart()
        self.assertEqual(self.api_ok("GET", "/apps/cycle/config-vars"),
                         {"K%d" % i: str(i) for i in range(5)})
        self.assertEqual([r["version"] for r in self.releases("cycle")], [6, 5, 4, 3, 2, 1])

    def test_kill_9_during_writes(self):
        """Acknowledged writes survive; unacknowledged ones are all or
        nothing; versions stay gapless."""
        self.create_app("busy")
        acked = {}  # key -> version
        lock = threading.Lock()
        stop = threading.Event()

        def writer(w):
            i = 0
            while not stop.is_set():
                key = "W%d_%d" % (w, i)
                try:
                    r = self.api("PATCH", "/apps/busy/config-vars", {key: "x" * 100}, timeout=5)
                except OSError:
                    return  # pierd is gone
                if r.status == 200:
                    with lock:
                        acked[key] = int(r.header("Pier-Release-Version"))
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pierd.kill()
        stop.set()
        for t in threads:
            t.join(30)
        self.assertGreater(len(acked), 0, "no write got through before the kill")
        self.pierd.start()
        config = self.api_ok("GET", "/apps/busy/config-vars")
        missing = sorted(set(acked) - set(config))
        self.assertEqual(missing, [], "acknowledged writes lost after kill -9")
        rels = self.releases("busy")
        versions = [r["version"] for r in rels]
        self.assertEqual(versions, list(range(len(rels), 0, -1)), "gaps or duplicates")
        self.assertEqual(len(config), len(rels) - 1, "one var per release after v1")
        self.assertEqual(self.api_ok("GET", "/apps/busy/releases/%d/config-vars" % versions[0]),
                         config, "current config differs from the current release's")
        for key, v in acked.items():
            snap = self.api_ok("GET", "/apps/busy/releases/%d/config-vars" % v)
            self.assertIn(key, snap)
            if v > 1:
                prev = self.api_ok("GET", "/apps/busy/releases/%d/config-vars" % (v - 1))
                self.assertNotIn(key, prev)


if __name__ == "__main__":
    unittest.main()
