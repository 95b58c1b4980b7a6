"""Maintenance mode and custom domains, end to end: the API, the CLI, and
pier-router answering H80 for an app in maintenance and routing a custom
domain to the app (docs/api.md "Maintenance mode", "Domains")."""

import http.client
import os
import time
import unittest

from harness import BUILD, PierTestCase, UUID_RE, ISO_RE
from test_deploy import DeployTestCase

ROUTER = os.path.join(BUILD, "pier-router")
PIER_BUILD_BIN = os.path.join(BUILD, "pier-build")

# docs/api.md: the rule a 422 for a bad hostname states
RULE_WORDS = ("labels", "63", "253")
TOO_LONG = ".".join(["a" * 50] * 5)  # 254 characters, each label fine
assert len(TOO_LONG) == 254


def get(port, host, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def wait_for(test, fn, what, timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.02)
    test.fail("%s: not within %d s (last: %r)" % (what, timeout, last))


def first_time(fn, timeout=10):
    """Seconds until fn() is true (polling every 10 ms), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if fn():
            return time.monotonic() - start
        time.sleep(0.01)
    return None


class DomainsApiTest(PierTestCase):
    """The API alone: no deploy needed."""

    def add(self, app, hostname):
        return self.api("POST", "/apps/%s/domains" % app, {"hostname": hostname})

    def test_list_has_the_apps_own_domain(self):
        app = self.create_app("shop")
        doms = self.api_ok("GET", "/apps/shop/domains")
        self.assertEqual(len(doms), 1, doms)
        self.assertEqual(doms[0]["hostname"], "shop.localhost")
        self.assertEqual(doms[0]["kind"], "heroku")
        self.assertEqual(doms[0]["id"], app["id"])
        self.assertRegex(doms[0]["created_at"], ISO_RE)

    def test_add_list_remove(self):
        self.create_app("shop")
        r = self.add("shop", "WWW.Example.COM")
        self.assertEqual(r.status, 201, r)
        d = r.json()
        self.assertEqual(list(d), ["id", "hostname", "kind", "created_at"])
        self.assertEqual(d["hostname"], "www.example.com")  # lower-cased
        self.assertEqual(d["kind"], "custom")
        self.assertRegex(d["id"], UUID_RE)
        self.assertRegex(d["created_at"], ISO_RE)
        self.assertEqual(self.add("shop", "api.example.com").status, 201)
        self.assertEqual(self.add("shop", "*.apps.example.com").status, 201)
        doms = self.api_ok("GET", "/apps/shop/domains")
        self.assertEqual([(x["hostname"], x["kind"]) for x in doms],
                         [("shop.localhost", "heroku"), ("*.apps.example.com", "custom"),
                          ("api.example.com", "custom"), ("www.example.com", "custom")])
        # by hostname (any case) or by id
        gone = self.api_ok("DELETE", "/apps/shop/domains/WWW.EXAMPLE.COM")
        self.assertEqual(gone, d)
        api_id = [x["id"] for x in doms if x["hostname"] == "api.example.com"][0]
        self.assertEqual(self.api_ok("DELETE", "/apps/shop/domains/" + api_id)["hostname"],
                         "api.example.com")
        self.assertEqual(self.api_ok("DELETE", "/apps/shop/domains/%2A.apps.example.com")
                         ["hostname"], "*.apps.example.com")
        self.assertEqual([x["hostname"] for x in self.api_ok("GET", "/apps/shop/domains")],
                         ["shop.localhost"])
        r = self.api("DELETE", "/apps/shop/domains/www.example.com")
        self.assertIn("www.example.com", self.assertError(r, 404, "not_found")["message"])

    def test_invalid_hostnames_422(self):
        self.create_app("shop")
        bad = ["", "example", "com", ".example.com", "example.com.", "www..example.com",
               "-www.example.com", "www-.example.com", "www.-example.com", "ww_w.example.com",
               "www.exa mple.com", "www.example.com:80", "http://www.example.com",
               "www.example.com/", "*.com", "*", "*.", "w*.example.com", "www.*.example.com",
               "**.example.com", "a" * 64 + ".example.com", "caf\u00e9.example.com",
               TOO_LONG]
        for h in bad:
            r = self.add("shop", h)
            body = self.assertError(r, 422, "invalid_params", repr(h))
            for w in RULE_WORDS:
                self.assertIn(w, body["message"], repr(h))
        # a NUL inside is not even JSON to pierd
        self.assertError(self.add("shop", "www.example.com\u0000.evil.com"), 400, "bad_request")
        # the longest valid: 253 characters, labels of 63
        longest = ".".join(["a" * 63] * 3 + ["b" * 61])
        self.assertEqual(len(longest), 253)
        self.assertEqual(self.add("shop", longest).status, 201)
        for h in ["a.b", "xn--caf-dma.example.com", "1.2.3.4", "a-b.c-d.example",
                  "*.example.net", "9gag.com"]:
            r = self.add("shop", h)
            self.assertEqual(r.status, 201, (h, r))
        self.assertEqual(len(self.api_ok("GET", "/apps/shop/domains")), 8)

    def test_bad_bodies_400(self):
        self.create_app("shop")
        for body in [{}, {"hostname": 7}, {"hostname": None}, {"name": "x.example.com"}]:
            self.assertError(self.api("POST", "/apps/shop/domains", body), 400, "bad_request",
                             repr(body))
        self.assertError(self.api("POST", "/apps/shop/domains"), 400, "bad_request")
        self.assertError(self.api("POST", "/apps/nope/domains", {"hostname": "a.example.com"}),
                         404, "not_found")
        self.assertError(self.api("GET", "/apps/nope/domains"), 404, "not_found")
        r = self.api("PUT", "/apps/shop/domains", {"hostname": "a.example.com"})
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.header("Allow"))

    def test_taken_hostnames_409(self):
        self.create_app("shop")
        self.create_app("other")
        self.assertEqual(self.add("shop", "www.example.com").status, 201)
        m = self.assertError(self.add("shop", "www.example.com"), 409, "conflict")["message"]
        self.assertIn("shop", m)
        m = self.assertError(self.add("other", "WWW.example.com"), 409, "conflict")["message"]
        self.assertIn("www.example.com", m)
        self.assertIn("shop", m)
        self.assertEqual([x["hostname"] for x in self.api_ok("GET", "/apps/other/domains")],
                         ["other.localhost"])

    def test_platform_domain_422(self):
        """APP.localhost is the app's own; no app may take another's."""
        self.create_app("shop")
        self.create_app("other")
        for h in ["shop.localhost", "SHOP.localhost", "other.localhost", "future.localhost",
                  "www.shop.localhost"]:
            m = self.assertError(self.add("shop", h), 422, "invalid_params", h)["message"]
            self.assertIn("localhost", m)
        m = self.assertError(self.api("DELETE", "/apps/shop/domains/shop.localhost"), 422,
                             "invalid_params")["message"]
        self.assertIn("shop.localhost", m)
        app_id = self.api_ok("GET", "/apps/shop")["id"]
        self.assertError(self.api("DELETE", "/apps/shop/domains/" + app_id), 422,
                         "invalid_params")

    def test_destroy_frees_the_hostnames(self):
        self.create_app("shop")
        self.assertEqual(self.add("shop", "www.example.com").status, 201)
        self.api_ok("DELETE", "/apps/shop")
        self.create_app("other")
        self.assertEqual(self.add("other", "www.example.com").status, 201)
        # and a new app of the old name starts without domains
        self.create_app("shop")
        self.assertEqual(len(self.api_ok("GET", "/apps/shop/domains")), 1)

    def test_read_token_may_look_not_change(self):
        self.create_app("shop")
        self.assertEqual(self.add("shop", "www.example.com").status, 201)
        tok = self.api_ok("POST", "/oauth/authorizations", {"scope": ["read"]},
                          status=201)["access_token"]["token"]
        self.assertEqual(len(self.api_ok("GET", "/apps/shop/domains", token=tok)), 2)
        self.assertError(self.api("POST", "/apps/shop/domains", {"hostname": "a.example.com"},
                                  token=tok), 403, "forbidden")
        self.assertError(self.api("DELETE", "/apps/shop/domains/www.example.com", token=tok),
                         403, "forbidden")
        self.assertError(self.api("PATCH", "/apps/shop", {"maintenance": True}, token=tok),
                         403, "forbidden")

    def test_routing_table_hosts(self):
        """The table lists APP.DOMAIN and the custom domains, wildcards
        included (the router matches them); a new app is not deployed
        (H81) and boots nothing."""
        app = self.create_app("shop")
        v0 = self.api_ok("GET", "/router/table")["version"]
        self.assertEqual(self.add("shop", "www.example.com").status, 201)
        self.assertEqual(self.add("shop", "*.example.org").status, 201)
        t = self.api_ok("GET", "/router/table")
        self.assertGreater(t["version"], v0)
        shop = [a for a in t["apps"] if a["name"] == "shop"][0]
        self.assertEqual(shop["hosts"], ["shop.localhost", "*.example.org", "www.example.com"])
        self.assertEqual((shop["id"], shop["deployed"], shop["starting"], shop["dynos"]),
                         (app["id"], False, False, []))
        self.api_ok("DELETE", "/apps/shop/domains/*.example.org")
        v1 = t["version"]
        self.api_ok("DELETE", "/apps/shop/domains/www.example.com")
        t = self.api_ok("GET", "/router/table")
        self.assertGreater(t["version"], v1)
        shop = [a for a in t["apps"] if a["name"] == "shop"][0]
        self.assertEqual(shop["hosts"], ["shop.localhost"])
        # a restarted pierd publishes them again
        self.assertEqual(self.add("shop", "www.example.com").status, 201)
        self.pierd.restart()
        shop = [a for a in self.api_ok("GET", "/router/table")["apps"] if a["name"] == "shop"][0]
        self.assertEqual(shop["hosts"], ["shop.localhost", "www.example.com"])

    def test_maintenance_api(self):
        self.create_app("shop")
        app = self.api_ok("PATCH", "/apps/shop", {"maintenance": True})
        self.assertIs(app["maintenance"], True)
        self.assertIs(self.api_ok("GET", "/apps/shop")["maintenance"], True)
        t = self.api_ok("GET", "/router/table")
        self.assertIs([a for a in t["apps"] if a["name"] == "shop"][0]["maintenance"], True)
        # survives a restart
        self.pierd.restart()
        self.assertIs(self.api_ok("GET", "/apps/shop")["maintenance"], True)
        # both at once: a rename and maintenance off
        app = self.api_ok("PATCH", "/apps/shop", {"name": "store", "maintenance": False})
        self.assertEqual((app["name"], app["maintenance"]), ("store", False))
        t = self.api_ok("GET", "/router/table")
        store = [a for a in t["apps"] if a["name"] == "store"][0]
        self.assertIs(store["maintenance"], False)
        self.assertEqual(store["hosts"], ["store.localhost"])
        for body in [{"maintenance": "on"}, {"maintenance": 1}, {"maintenance": None}]:
            self.assertError(self.api("PATCH", "/apps/store", body), 400, "bad_request",
                             repr(body))
        m = self.assertError(self.api("PATCH", "/apps/store", {}), 422,
                             "invalid_params")["message"]
        self.assertIn("maintenance", m)
        # a bad name with maintenance changes neither
        self.assertError(self.api("PATCH", "/apps/store", {"name": "Bad!", "maintenance": True}),
                         422, "invalid_params")
        self.assertIs(self.api_ok("GET", "/apps/store")["maintenance"], False)


class DomainsCliTest(PierTestCase):

    def test_maintenance_commands(self):
        self.create_app("shop")
        self.assertEqual(self.pier_ok("maintenance", "-a", "shop"), "off\n")
        self.assertEqual(self.pier_ok("maintenance:on", "-a", "shop"),
                         "Enabling maintenance mode for shop... done\n")
        self.assertEqual(self.pier_ok("maintenance", "-a", "shop"), "on\n")
        # again: still on, same words
        self.assertEqual(self.pier_ok("maintenance:on", "-a", "shop"),
                         "Enabling maintenance mode for shop... done\n")
        self.assertIs(self.pier_json("maintenance", "-a", "shop", "--json")["maintenance"], True)
        self.assertEqual(self.pier_ok("maintenance:off", "-a", "shop"),
                         "Disabling maintenance mode for shop... done\n")
        self.assertEqual(self.pier_ok("maintenance", "-a", "shop"), "off\n")
        j = self.pier_json("maintenance:on", "-a", "shop", "--json")
        self.assertEqual((j["name"], j["maintenance"]), ("shop", True))
        self.pier_fails("maintenance", "-a", "nope", contains="nope")
        self.pier_fails("maintenance:on", "extra", "-a", "shop", contains="too many arguments")
        self.pier_fails("maintenance:off", message="no app specified. Run this command from an "
                        "app folder or specify which app to use with --app APP.")
        self.assertIn("maintenance:on", self.pier_ok("help"))

    def test_domains_commands(self):
        self.create_app("shop")
        self.assertEqual(self.pier_ok("domains", "-a", "shop"),
                         "=== shop Heroku Domain\nshop.localhost\n")
        self.assertEqual(self.pier_ok("domains:add", "www.example.com", "-a", "shop"),
                         "Adding www.example.com to shop... done\n")
        self.assertEqual(self.pier_ok("domains:add", "API.Example.com", "-a", "shop"),
                         "Adding api.example.com to shop... done\n")
        self.assertEqual(self.pier_ok("domains", "-a", "shop"),
                         "=== shop Heroku Domain\nshop.localhost\n\n"
                         "=== shop Custom Domains\nDomain Name\napi.example.com\n"
                         "www.example.com\n")
        j = self.pier_json("domains", "-a", "shop", "--json")
        self.assertEqual([(d["hostname"], d["kind"]) for d in j],
                         [("shop.localhost", "heroku"), ("api.example.com", "custom"),
                          ("www.example.com", "custom")])
        self.assertEqual(j, self.api_ok("GET", "/apps/shop/domains"))
        j = self.pier_json("domains:add", "*.example.org", "-a", "shop", "--json")
        self.assertEqual((j["hostname"], j["kind"]), ("*.example.org", "custom"))
        self.assertEqual(self.pier_ok("domains:remove", "*.example.org", "-a", "shop"),
                         "Removing *.example.org from shop... done\n")
        self.assertEqual(self.pier_ok("domains:remove", "WWW.EXAMPLE.COM", "-a", "shop"),
                         "Removing www.example.com from shop... done\n")
        # errors: the API's message
        self.pier_fails("domains:add", "api.example.com", "-a", "shop",
                        contains="already a domain of shop")
        err = self.pier_fails("domains:add", "bad_name.example.com", "-a", "shop")
        self.assertIn("labels", err)
        self.pier_fails("domains:add", "shop.localhost", "-a", "shop", contains="localhost")
        self.pier_fails("domains:remove", "www.example.com", "-a", "shop",
                        contains="couldn't find domain www.example.com")
        self.pier_fails("domains:remove", "shop.localhost", "-a", "shop",
                        contains="cannot be removed")
        self.pier_fails("domains:add", "-a", "shop", contains="which hostname")
        self.pier_fails("domains:add", "a.example.com", "b.example.com", "-a", "shop",
                        contains="too many arguments")
        for h in ("..", ".", ""):
            self.pier_fails("domains:remove", h, "-a", "shop", contains="not a hostname")
        self.assertEqual(len(self.api_ok("GET", "/apps/shop/domains")), 2)  # nothing else gone
        self.api_ok("GET", "/apps/shop")

        self.pier_ok("domains:add", "b.example.com", "-a", "shop")
        j = self.pier_json("domains:clear", "-a", "shop", "--json")
        self.assertEqual(sorted(d["hostname"] for d in j), ["api.example.com", "b.example.com"])
        self.assertEqual(self.pier_ok("domains:clear", "-a", "shop"),
                         "Removing all domains from shop... done\n")
        self.pier_ok("domains:add", "c.example.com", "-a", "shop")
        self.assertEqual(self.pier_ok("domains:clear", "-a", "shop"),
                         "Removing all domains from shop... done\n")
        self.assertEqual(self.pier_ok("domains", "-a", "shop"),
                         "=== shop Heroku Domain\nshop.localhost\n")
        for cmd in ("domains", "domains:add", "domains:remove", "domains:clear"):
            self.assertIn(cmd, self.pier_ok("help"))


@unittest.skipUnless(os.access(ROUTER, os.X_OK) and os.access(PIER_BUILD_BIN, os.X_OK),
                     "pier-router or pier-build is not built")
class ThroughTheRouterTest(DeployTestCase):

    def deploy(self, app):
        self.create_app(app)
        self.push_ok(self.make_repo("procfile"), app)
        port = self.pierd.router_port
        wait_for(self, lambda: get(port, "%s.localhost:%d" % (app, port))[0] == 200,
                 "the app answers through the router")
        return port

    def router_lines(self, app, pattern):
        return [l for l in self.api_ok("GET", "/apps/%s/log-lines?lines=1500" % app)
                if "heroku[router]:" in l and pattern in l]

    def test_maintenance_h80(self):
        port = self.deploy("shop")
        host = "shop.localhost:%d" % port
        self.pier_ok("maintenance:on", "-a", "shop")
        took = first_time(lambda: get(port, host)[0] == 503)
        self.assertIsNotNone(took, "no 503 after maintenance:on")
        self.assertLess(took, 1.0, "the router learned of maintenance mode after %.3f s" % took)
        status, body = get(port, host, "/during")
        self.assertEqual(status, 503, body)
        self.assertIn(b"Offline for Maintenance", body)
        self.assertIn(b"H80", body)
        lines = wait_for(self, lambda: self.router_lines("shop", 'path="/during"'),
                         "the H80 access line in the app's log")
        self.assertIn("at=info code=H80", lines[-1])
        self.assertIn('desc="Maintenance mode"', lines[-1])
        self.assertIn("status=503", lines[-1])
        # the dynos kept running
        self.assertTrue(any(d["state"] == "up" for d in self.api_ok("GET", "/apps/shop/dynos")))
        self.pier_ok("maintenance:off", "-a", "shop")
        took = first_time(lambda: get(port, host)[0] == 200)
        self.assertIsNotNone(took, "no 200 after maintenance:off")
        self.assertLess(took, 1.0)
        status, body = get(port, host)
        self.assertIn(b"pier sample app: procfile", body)

    def test_blank_app_h81(self):
        """An app with nothing deployed: H81, its page, and the line in the
        app's log."""
        port = self.pierd.router_port
        self.create_app("blank")

        def answer():
            # pier-router starts next to pierd: it may not listen yet, nor
            # know the new app (404) for a moment
            try:
                return get(port, "blank.localhost:%d" % port, "/nothing-here")
            except ConnectionRefusedError:
                return None
        status, body = wait_for(self, lambda: (lambda a: a if a and a[0] != 404 else None)(
            answer()), "an answer from the router for the blank app")
        self.assertEqual(status, 503, body)
        self.assertIn(b"Nothing deployed yet", body)
        self.assertIn(b"H81", body)
        lines = wait_for(self, lambda: self.router_lines("blank", 'path="/nothing-here"'),
                         "the H81 access line in the app's log")
        self.assertIn('at=error code=H81 desc="Blank app" method=GET path="/nothing-here" '
                      'host=blank.localhost:%d ' % port, lines[-1])
        self.assertIn(" dyno= ", lines[-1])
        self.assertIn("status=503", lines[-1])

    def test_custom_domain_routes_to_the_app(self):
        port = self.deploy("shop")
        self.create_app("other")
        status, body = get(port, "www.example.com")
        self.assertEqual(status, 404, body)
        self.pier_ok("domains:add", "www.example.com", "-a", "shop")
        took = first_time(lambda: get(port, "www.example.com")[0] == 200)
        self.assertIsNotNone(took, "www.example.com never reached the app")
        self.assertLess(took, 1.0, "the router learned of the domain after %.3f s" % took)
        for host in ("www.example.com", "WWW.EXAMPLE.COM:%d" % port, "Www.Example.Com"):
            status, body = get(port, host, "/via-domain")
            self.assertEqual(status, 200, (host, body))
            self.assertIn(b"pier sample app: procfile", body)
        # its access lines land in the app's log
        lines = wait_for(self, lambda: (lambda ls: ls if len(ls) == 3 else None)(
            self.router_lines("shop", 'path="/via-domain"')),
            "the custom domain's access lines in the app's log")
        self.assertRegex(lines[0], r"at=info .*host=www\.example\.com .*status=200")
        self.assertIn("host=WWW.EXAMPLE.COM:%d " % port, lines[1])
        # the app's own name still works
        self.assertEqual(get(port, "shop.localhost:%d" % port)[0], 200)
        # maintenance covers the custom domain too
        self.pier_ok("maintenance:on", "-a", "shop")
        wait_for(self, lambda: get(port, "www.example.com")[0] == 503, "H80 on the domain")
        self.pier_ok("maintenance:off", "-a", "shop")
        wait_for(self, lambda: get(port, "www.example.com")[0] == 200, "back")
        # a wildcard: one label in place of the "*"; its access lines land
        # in the app's log too (the router names the app by its id)
        self.pier_ok("domains:add", "*.example.net", "-a", "shop")
        wait_for(self, lambda: get(port, "a.example.net")[0] == 200, "*.example.net routed")
        status, body = get(port, "Shop-7.example.net", "/via-wildcard")
        self.assertEqual(status, 200, body)
        self.assertIn(b"pier sample app: procfile", body)
        self.assertEqual(get(port, "www.example.com")[0], 200)  # exact names still
        self.assertEqual(get(port, "a.b.example.net")[0], 404)
        self.assertEqual(get(port, "example.net")[0], 404)
        lines = wait_for(self, lambda: self.router_lines("shop", 'path="/via-wildcard"'),
                         "the wildcard's access line in the app's log")
        self.assertRegex(lines[-1], r"at=info .*host=Shop-7\.example\.net .*status=200")
        self.assertFalse(self.router_lines("other", 'path="/via-wildcard"'))
        # removed: the router forgets it
        self.pier_ok("domains:remove", "www.example.com", "-a", "shop")
        took = first_time(lambda: get(port, "www.example.com")[0] == 404)
        self.assertIsNotNone(took, "www.example.com still routed after domains:remove")
        self.assertLess(took, 1.0)
        # and the name moves to another app
        self.pier_ok("domains:add", "www.example.com", "-a", "other")
        wait_for(self, lambda: get(port, "www.example.com")[0] == 503,
                 "www.example.com now the other app's (nothing deployed: H81)")
        self.assertIn(b"H81", get(port, "www.example.com")[1])
        # destroying an app takes its domains along
        self.pier_ok("domains:add", "api.example.com", "-a", "shop")
        wait_for(self, lambda: get(port, "api.example.com")[0] == 200, "api.example.com routed")
        self.pier_ok("apps:destroy", "shop", "--confirm", "shop")
        wait_for(self, lambda: get(port, "api.example.com")[0] == 404, "gone with the app")
        self.assertEqual(self.api("POST", "/apps/other/domains",
                                  {"hostname": "api.example.com"}).status, 201)


if __name__ == "__main__":
    unittest.main()
