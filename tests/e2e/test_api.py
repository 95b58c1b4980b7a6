"""pierd's HTTP API over raw HTTP: status codes, error bodies, limits
(docs/api.md)."""

import json
import re
import socket
import threading
import time
import unittest

from harness import (APP_NAME_RE, EMAIL, ISO_RE, UUID_RE, VERSION, PierTestCase,
                     http_request, states_name_rule)

MiB = 1024 * 1024


class HealthTest(PierTestCase):
    def test_health_is_open(self):
        r = self.api("GET", "/health", token=None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"), r)
        self.assertEqual(r.json(), {"status": "ok", "version": VERSION})

    def test_health_ignores_a_bad_token(self):
        r = self.api("GET", "/health", token="not-a-token")
        self.assertEqual(r.status, 200, r)


class SlowClientTest(PierTestCase):
    HEAD_TIMEOUT = 10  # HEAD_TIMEOUT_S in src/pierd/api.c

    def test_slow_request_head_is_cut_off(self):
        # A slowloris: a head that never ends, a line every 2 s.  pierd
        # shuts it after the head deadline, and answers others meanwhile.
        host, port = self.pierd.url.split("://", 1)[1].rsplit(":", 1)
        slow = [socket.create_connection((host, int(port)), timeout=30) for _ in range(20)]
        for sk in slow:
            sk.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        closed = set()
        while len(closed) < len(slow) and time.monotonic() - t0 < self.HEAD_TIMEOUT + 10:
            self.assertEqual(self.api("GET", "/health", token=None).status, 200)
            for i, sk in enumerate(slow):
                if i in closed:
                    continue
                try:
                    sk.sendall(b"X-Slow: 1\r\n")
                    sk.setblocking(False)
                    if sk.recv(1) == b"":
                        closed.add(i)
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(i)
                finally:
                    sk.setblocking(True)
            time.sleep(2)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(closed), len(slow), "slow heads still open after %.0f s" % elapsed)
        self.assertGreaterEqual(elapsed, self.HEAD_TIMEOUT - 1)
        for sk in slow:
            sk.close()


class ConnectionLimitTest(PierTestCase):
    LIMIT = 4000  # API_CONNECTIONS_MAX in src/pierd/api.c

    def test_api_answers_again_after_the_connection_limit(self):
        # At its limit MHD stops listening until its next run; once every
        # connection had gone, nothing ran it again and the API was dead.
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = self.LIMIT + 300
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest("needs %d open files, the hard limit is %d" % (want, hard))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        host, port = self.pierd.url.split("://", 1)[1].rsplit(":", 1)
        socks = []
        try:
            for _ in range(self.LIMIT + 100):
                socks.append(socket.create_connection((host, int(port)), timeout=10))
            # idle past the head deadline: pierd shuts them all at once
            time.sleep(SlowClientTest.HEAD_TIMEOUT + 3)
        finally:
            for sk in socks:
                sk.close()
        deadline = time.monotonic() + 10
        status = None
        while status != 200 and time.monotonic() < deadline:
            try:
                status = self.api("GET", "/health", token=None, timeout=2).status
            except OSError as e:  # no answer (yet)
                status = repr(e)
                time.sleep(0.2)
        self.assertEqual(status, 200, "the API did not answer again within 10 s")


class AuthTest(PierTestCase):
    PROTECTED = [("GET", "/apps"), ("POST", "/apps"), ("GET", "/account"),
                 ("GET", "/oauth/authorizations")]

    def test_401_without_token(self):
        for method, path in self.PROTECTED:
            with self.subTest(method=method, path=path):
                body = {"name": "sneaky"} if method == "POST" else None
                self.assertError(self.api(method, path, body, token=None), 401, "unauthorized",
                                 "%s %s without a token" % (method, path))
        # nothing was created by the refused POST
        self.assertEqual(self.api_ok("GET", "/apps"), [])

    def test_401_with_bad_tokens(self):
        good = self.pierd.admin_token
        bad = ["nope", good[:-1], good + "x", good.upper() if good.upper() != good else good.lower(),
               "", good + "," + good]
        for tok in bad:
            with self.subTest(token=tok):
                r = http_request(self.pierd.port, "GET", "/apps",
                                 headers={"Authorization": "Bearer " + tok})
                self.assertError(r, 401, "unauthorized", "token %r" % tok)

    def test_401_with_other_schemes(self):
        good = self.pierd.admin_token
        for value in ["Basic " + good, good, "Token " + good, "Bearer"]:
            with self.subTest(authorization=value):
                r = http_request(self.pierd.port, "GET", "/apps",
                                 headers={"Authorization": value})
                self.assertError(r, 401, "unauthorized", "Authorization: %s" % value)

    def test_admin_token_works(self):
        r = self.api("GET", "/apps")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), [])

    def account(self, token=None):
        """GET /account: email and scope as documented (extra fields,
        like Heroku's id, are fine)."""
        kw = {} if token is None else {"token": token}
        acct = self.api_ok("GET", "/account", **kw)
        return {k: acct.get(k) for k in ("email", "scope")}

    def test_account(self):
        self.assertEqual(self.account(), {"email": EMAIL, "scope": ["global"]})


class ScopeTest(PierTestCase):
    def make_token(self, scope, description="ci"):
        r = self.api("POST", "/oauth/authorizations", {"scope": scope, "description": description})
        self.assertEqual(r.status, 201, r)
        auth = r.json()
        self.assertEqual(auth["scope"], scope)
        self.assertEqual(auth["description"], description)
        self.assertRegex(auth["id"], UUID_RE)
        self.assertRegex(auth["created_at"], ISO_RE)
        self.assertEqual(auth["user"], {"email": EMAIL})
        token = auth["access_token"]["token"]
        self.assertIsInstance(token, str)
        self.assertGreaterEqual(len(token), 20, "a token must be hard to guess")
        return auth, token

    def test_read_token_may_read(self):
        self.create_app("readable")
        self.set_config("readable", {"SECRET": "s3cret"})
        _, tok = self.make_token(["read"])
        acct = self.api_ok("GET", "/account", token=tok)
        self.assertEqual((acct.get("email"), acct.get("scope")), (EMAIL, ["read"]))
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps", token=tok)], ["readable"])
        self.assertEqual(self.api_ok("GET", "/apps/readable", token=tok)["name"], "readable")
        rels = self.api_ok("GET", "/apps/readable/releases", token=tok)
        self.assertEqual([r["version"] for r in rels], [2, 1])
        self.assertEqual(self.api_ok("GET", "/apps/readable/releases/2", token=tok)["version"], 2)
        # the secret is not in anything a read token got
        for path in ["/apps", "/apps/readable", "/apps/readable/releases",
                     "/apps/readable/releases/2"]:
            r = self.api("GET", path, token=tok)
            self.assertNotIn(b"s3cret", r.body, path)

    def test_read_token_forbidden(self):
        self.create_app("locked")
        self.set_config("locked", {"SECRET": "s3cret"})
        _, tok = self.make_token(["read"])
        other, other_tok = self.make_token(["read"], "other")
        n_auths = len(self.api_ok("GET", "/oauth/authorizations"))
        cases = [
            ("GET", "/apps/locked/config-vars", None),
            ("GET", "/apps/locked/releases/2/config-vars", None),
            ("PATCH", "/apps/locked/config-vars", {"SECRET": "changed"}),
            ("POST", "/apps", {"name": "newapp"}),
            ("PATCH", "/apps/locked", {"name": "renamed"}),
            ("DELETE", "/apps/locked", None),
            ("GET", "/oauth/authorizations", None),
            ("POST", "/oauth/authorizations", {"scope": ["global"], "description": "escalate"}),
            ("DELETE", "/oauth/authorizations/%s" % other["id"], None),
        ]
        for method, path, body in cases:
            with self.subTest(method=method, path=path):
                r = self.api(method, path, body, token=tok)
                self.assertError(r, 403, "forbidden", "%s %s with a read token" % (method, path))
                self.assertNotIn(b"s3cret", r.body)
        # and nothing changed
        self.assertEqual(self.api_ok("GET", "/apps/locked/config-vars"), {"SECRET": "s3cret"})
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["locked"])
        self.assertEqual(len(self.releases("locked")), 2)
        self.assertEqual(len(self.api_ok("GET", "/oauth/authorizations")), n_auths)
        self.assertEqual(self.api("GET", "/apps", token=other_tok).status, 200)

    def test_authorizations_list_create_delete(self):
        auth, tok = self.make_token(["read"], "dashboard")
        listed = self.api_ok("GET", "/oauth/authorizations")
        mine = [a for a in listed if a["id"] == auth["id"]]
        self.assertEqual(len(mine), 1, listed)
        self.assertEqual(mine[0]["scope"], ["read"])
        self.assertEqual(mine[0]["description"], "dashboard")
        # the token is shown once, on create only
        self.assertNotIn(tok.encode(), json.dumps(listed).encode())
        self.assertFalse((mine[0].get("access_token") or {}).get("token"), mine[0])
        # delete revokes it
        deleted = self.api_ok("DELETE", "/oauth/authorizations/%s" % auth["id"])
        self.assertEqual(deleted["id"], auth["id"])
        self.assertError(self.api("GET", "/apps", token=tok), 401, "unauthorized",
                         "revoked token")
        self.assertEqual([a for a in self.api_ok("GET", "/oauth/authorizations")
                          if a["id"] == auth["id"]], [])
        self.assertError(self.api("DELETE", "/oauth/authorizations/%s" % auth["id"]),
                         404, "not_found", "deleting it twice")

    def test_global_token_can_do_everything(self):
        _, tok = self.make_token(["global"], "admin 2")
        r = self.api("POST", "/apps", {"name": "by-second-admin"}, token=tok)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.api_ok("GET", "/apps/by-second-admin/config-vars", token=tok), {})
        self.assertEqual(self.api_ok("GET", "/account", token=tok)["scope"], ["global"])

    def test_unknown_scope_refused(self):
        for scope in [["root"], ["read", "bogus"]]:
            with self.subTest(scope=scope):
                r = self.api("POST", "/oauth/authorizations", {"scope": scope})
                self.assertIn(r.status, (400, 422), r)
                self.assertIn(r.json()["id"], ("bad_request", "invalid_params"), r)

    def test_tokens_are_distinct(self):
        toks = {self.make_token(["read"], "t%d" % i)[1] for i in range(5)}
        self.assertEqual(len(toks), 5)
        self.assertNotIn(self.pierd.admin_token, toks)


class NotFoundTest(PierTestCase):
    def test_404_unknown_path(self):
        for path in ["/", "/nope", "/apps/x/y/z/w", "/healthz", "/apps/myapp/nothing",
                     "/oauth", "/../etc/passwd"]:
            with self.subTest(path=path):
                if path == "/apps/myapp/nothing":
                    self.create_app("myapp")
                self.assertError(self.api("GET", path), 404, "not_found", path)

    def test_404_unknown_app(self):
        for method, path, body in [
                ("GET", "/apps/no-such-app", None),
                ("PATCH", "/apps/no-such-app", {"name": "other-name"}),
                ("DELETE", "/apps/no-such-app", None),
                ("GET", "/apps/no-such-app/config-vars", None),
                ("PATCH", "/apps/no-such-app/config-vars", {"A": "1"}),
                ("GET", "/apps/no-such-app/releases", None),
                ("GET", "/apps/no-such-app/releases/1", None),
                ("GET", "/apps/00000000-0000-4000-8000-000000000000", None)]:
            with self.subTest(method=method, path=path):
                self.assertError(self.api(method, path, body), 404, "not_found", path)
        self.assertEqual(self.api_ok("GET", "/apps"), [])

    def test_404_unknown_release(self):
        self.create_app("has-releases")
        for v in ["2", "v2", "0", "v0", "-1", "99999999999999999999", "abc",
                  "00000000-0000-4000-8000-000000000000"]:
            with self.subTest(release=v):
                self.assertError(self.api("GET", "/apps/has-releases/releases/%s" % v),
                                 404, "not_found", v)
                self.assertError(
                    self.api("GET", "/apps/has-releases/releases/%s/config-vars" % v),
                    404, "not_found", v)


class MethodNotAllowedTest(PierTestCase):
    CASES = [
        ("DELETE", "/apps", {"GET", "POST"}),
        ("PUT", "/apps", {"GET", "POST"}),
        ("PUT", "/apps/myapp", {"GET", "PATCH", "DELETE"}),
        ("POST", "/apps/myapp", {"GET", "PATCH", "DELETE"}),
        ("POST", "/apps/myapp/config-vars", {"GET", "PATCH"}),
        ("DELETE", "/apps/myapp/config-vars", {"GET", "PATCH"}),
        ("PUT", "/apps/myapp/releases", {"GET"}),
        ("DELETE", "/apps/myapp/releases/1", {"GET"}),
        ("POST", "/health", {"GET"}),
        ("DELETE", "/account", {"GET"}),
        ("PUT", "/oauth/authorizations", {"GET", "POST"}),
        ("PUT", "/oauth/authorizations/{auth}", {"DELETE"}),
        ("POST", "/oauth/authorizations/{auth}", {"DELETE"}),
    ]

    def test_405_with_allow(self):
        self.create_app("myapp")
        r = self.api("POST", "/oauth/authorizations", {"scope": ["read"], "description": "x"})
        self.assertEqual(r.status, 201, r)
        auth = r.json()["id"]
        for method, path, allowed in self.CASES:
            path = path.replace("{auth}", auth)
            with self.subTest(method=method, path=path):
                body = {} if method in ("POST", "PUT", "PATCH") else None
                r = self.api(method, path, body)
                self.assertError(r, 405, "method_not_allowed", "%s %s" % (method, path))
                allow = r.header("Allow")
                self.assertIsNotNone(allow, "no Allow header on %s %s" % (method, path))
                got = {m.strip() for m in allow.split(",") if m.strip()}
                self.assertTrue(allowed <= got, "Allow: %s, want %s" % (allow, sorted(allowed)))
                self.assertNotIn(method, got)
        # nothing happened to the app
        self.assertEqual(len(self.releases("myapp")), 1)


class ConflictTest(PierTestCase):
    def test_409_duplicate_name(self):
        first = self.create_app("taken")
        r = self.api("POST", "/apps", {"name": "taken"})
        self.assertError(r, 409, "conflict", "second POST /apps taken")
        other = self.create_app("other")
        r = self.api("PATCH", "/apps/other", {"name": "taken"})
        self.assertError(r, 409, "conflict", "rename onto a taken name")
        apps = self.api_ok("GET", "/apps")
        self.assertEqual([(a["name"], a["id"]) for a in apps],
                         [("other", other["id"]), ("taken", first["id"])])


class InvalidParamsTest(PierTestCase):
    BAD_NAMES = ["MyApp", "myApp", "ab", "a", "x" * 31, "a" + "b" * 30, "1app", "9-lives",
                 "app-", "-app", "my_app", "my.app", "my app", "héllo", "app\u00e9",
                 "caf\u00e9-app", "\U0001f30d-app", "app/x", ""]

    def test_422_invalid_app_names(self):
        for name in self.BAD_NAMES:
            with self.subTest(name=name):
                r = self.api("POST", "/apps", {"name": name})
                body = self.assertError(r, 422, "invalid_params", "POST /apps %r" % name)
                self.assertTrue(states_name_rule(body["message"]),
                                "the rule is not in the message: %r" % body["message"])
        self.create_app("renameme")
        for name in ["Bad", "x" * 31, "2x", "end-"]:
            with self.subTest(rename=name):
                self.assertError(self.api("PATCH", "/apps/renameme", {"name": name}),
                                 422, "invalid_params", "rename to %r" % name)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["renameme"])

    def test_valid_app_name_edges(self):
        for name in ["abc", "a" * 30, "a-b", "a1-2-3", "z9", "a--b"]:
            with self.subTest(name=name):
                if len(name) < 3:
                    self.assertError(self.api("POST", "/apps", {"name": name}), 422,
                                     "invalid_params", name)
                    continue
                self.assertRegex(name, APP_NAME_RE)
                self.assertEqual(self.create_app(name)["name"], name)

    def test_422_invalid_config_keys(self):
        self.create_app("cfg")
        for key in ["1A", "A-B", "A B", "", "A=B", "É", "KEY\u00e9", "A.B", "$A", "K" * 257]:
            with self.subTest(key=key):
                r = self.api("PATCH", "/apps/cfg/config-vars", {key: "v"})
                self.assertError(r, 422, "invalid_params", "key %r" % key)
        self.assertEqual(self.api_ok("GET", "/apps/cfg/config-vars"), {})
        self.assertEqual(len(self.releases("cfg")), 1, "a refused PATCH made a release")

    def test_valid_config_key_edges(self):
        self.create_app("cfg")
        keys = ["_", "a", "_A1", "lower_case", "K" * 256]
        self.set_config("cfg", {k: "v" for k in keys})
        self.assertEqual(self.api_ok("GET", "/apps/cfg/config-vars"), {k: "v" for k in keys})

    def test_config_total_limit(self):
        self.create_app("big")
        # keys plus values at most 32 KiB: exactly 32768 bytes is fine
        self.set_config("big", {"A": "x" * (32 * 1024 - 1)})
        r = self.api("PATCH", "/apps/big/config-vars", {"B": "y"})
        self.assertError(r, 422, "invalid_params", "one byte over 32 KiB")
        self.assertEqual(self.api_ok("GET", "/apps/big/config-vars"),
                         {"A": "x" * (32 * 1024 - 1)})
        # replacing a value counts the new total, not old + new
        self.set_config("big", {"A": "z" * (32 * 1024 - 1)})
        r = self.api("PATCH", "/apps/big/config-vars", {"A": None, "C": "c" * 40000})
        self.assertError(r, 422, "invalid_params", "one var over 32 KiB")
        self.assertEqual(len(self.releases("big")), 3)

    def test_config_total_limit_many_keys(self):
        self.create_app("many")
        vars = {"K%04d" % i: "v" * 100 for i in range(400)}  # ~41 KB in all
        r = self.api("PATCH", "/apps/many/config-vars", vars)
        self.assertError(r, 422, "invalid_params", "400 vars over 32 KiB")
        self.assertEqual(self.api_ok("GET", "/apps/many/config-vars"), {})

    def test_config_value_with_nul_refused(self):
        self.create_app("nul")
        r = self.api("PATCH", "/apps/nul/config-vars", {"A": "before\u0000after"})
        self.assertIn(r.status, (400, 422), r)
        r2 = self.api("PATCH", "/apps/nul/config-vars", {"A": {"base64": "YQBi"}})  # "a\0b"
        self.assertIn(r2.status, (400, 422), r2)
        self.assertEqual(self.api_ok("GET", "/apps/nul/config-vars"), {})


class BodyLimitTest(PierTestCase):
    def padded(self, obj, size):
        raw = json.dumps(obj).encode()
        self.assertLessEqual(len(raw), size)
        return raw + b" " * (size - len(raw))

    def test_413_body_over_1mib(self):
        body = self.padded({"name": "too-big"}, MiB + 1)
        r = self.api("POST", "/apps", body)
        self.assertError(r, 413, "request_entity_too_large", "POST /apps of 1 MiB + 1")
        self.create_app("cfg")
        r = self.api("PATCH", "/apps/cfg/config-vars", self.padded({"A": "1"}, 3 * MiB))
        self.assertError(r, 413, "request_entity_too_large", "PATCH config of 3 MiB")
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["cfg"])
        self.assertEqual(self.api("GET", "/health", token=None).status, 200)

    def test_413_chunked_body_over_1mib(self):
        body = self.padded({"name": "too-big"}, 2 * MiB)
        r = self.api("POST", "/apps", body, chunked=True)
        self.assertError(r, 413, "request_entity_too_large", "chunked POST /apps of 2 MiB")
        self.assertEqual(self.api_ok("GET", "/apps"), [])

    def test_413_declared_length_over_1mib(self):
        # The Content-Length alone is enough to refuse: pierd must not wait
        # for (or buffer) a body it will not accept.
        r = self.api("POST", "/apps", b'{"name":"x"}',
                     headers={"Content-Length": str(100 * MiB)}, timeout=10)
        self.assertError(r, 413, "request_entity_too_large", "Content-Length 100 MiB")

    def test_exactly_1mib_is_accepted(self):
        r = self.api("POST", "/apps", self.padded({"name": "just-fits"}, MiB))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["name"], "just-fits")

    def test_chunked_small_body_is_accepted(self):
        r = self.api("POST", "/apps", b'{"name": "chunky"}', chunked=True)
        self.assertEqual(r.status, 201, r)


class BadRequestTest(PierTestCase):
    def check_400(self, method, path, body, what):
        r = self.api(method, path, body)
        self.assertError(r, 400, "bad_request", what)
        self.assertEqual(self.api("GET", "/health", token=None).status, 200,
                         "pierd unhealthy after %s" % what)

    def test_malformed_json(self):
        self.create_app("cfg")
        for body in [b'{"name":', b"hello", b"{'name': 'x'}", b'{"name": "x",}',
                     b'{"name": "x"} trailing', b"\xff\xfe{}", b'{"name": "\xff\xfe"}',
                     b'{"name": "x"', b"nul\x00"]:
            with self.subTest(body=body):
                self.check_400("POST", "/apps", body, "POST /apps %r" % body)
                self.check_400("PATCH", "/apps/cfg/config-vars", body, "PATCH config %r" % body)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["cfg"])
        self.assertEqual(len(self.releases("cfg")), 1)

    def test_deep_json(self):
        self.create_app("cfg")
        deep_arrays = b"[" * 10000 + b"]" * 10000
        deep_objects = b'{"a":' * 10000 + b"1" + b"}" * 10000
        over_limit = b'{"A":' + b"[" * 33 + b"]" * 33 + b"}"
        for name, body in [("arrays 10000", deep_arrays), ("objects 10000", deep_objects),
                           ("arrays 33", over_limit),
                           ("name 10000", b'{"name":' + deep_arrays + b"}")]:
            with self.subTest(body=name):
                self.check_400("POST", "/apps", body, "POST /apps %s deep" % name)
                self.check_400("PATCH", "/apps/cfg/config-vars", body,
                               "PATCH config %s deep" % name)

    def test_wrong_types(self):
        self.create_app("cfg")
        n_auths = len(self.api_ok("GET", "/oauth/authorizations"))
        cases = [
            ("POST", "/apps", {"name": 5}),
            ("POST", "/apps", {"name": ["x"]}),
            ("POST", "/apps", {"name": {"x": 1}}),
            ("POST", "/apps", {"name": True}),
            ("POST", "/apps", []),
            ("POST", "/apps", "just-a-string"),
            ("POST", "/apps", 42),
            ("PATCH", "/apps/cfg", {"name": 7}),
            ("PATCH", "/apps/cfg", ["renamed"]),
            ("PATCH", "/apps/cfg/config-vars", {"A": 5}),
            ("PATCH", "/apps/cfg/config-vars", {"A": True}),
            ("PATCH", "/apps/cfg/config-vars", {"A": ["x"]}),
            ("PATCH", "/apps/cfg/config-vars", {"A": 1.5}),
            ("PATCH", "/apps/cfg/config-vars", {"A": {"base64": 5}}),
            ("PATCH", "/apps/cfg/config-vars", {"A": {"other": "x"}}),
            ("PATCH", "/apps/cfg/config-vars", []),
            ("PATCH", "/apps/cfg/config-vars", "A=1"),
            ("POST", "/oauth/authorizations", {"scope": "read"}),
            ("POST", "/oauth/authorizations", {"scope": [1]}),
            ("POST", "/oauth/authorizations", {"scope": ["read"], "description": 3}),
        ]
        for method, path, body in cases:
            with self.subTest(method=method, path=path, body=body):
                self.check_400(method, path, json.dumps(body).encode(),
                               "%s %s %r" % (method, path, body))
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["cfg"])
        self.assertEqual(self.api_ok("GET", "/apps/cfg/config-vars"), {})
        self.assertEqual(len(self.releases("cfg")), 1)
        self.assertEqual(len(self.api_ok("GET", "/oauth/authorizations")), n_auths)

    def test_invalid_base64_refused(self):
        # not a wrong type but a bad value: 400 or 422 both fit docs/api.md
        self.create_app("cfg")
        for bad in ["!!not base64!!", "abc", "YQ=x", "===="]:
            with self.subTest(value=bad):
                r = self.api("PATCH", "/apps/cfg/config-vars", {"A": {"base64": bad}})
                self.assertIn(r.status, (400, 422), r)
                self.assertIn(r.json().get("id"), ("bad_request", "invalid_params"), r)
        self.assertEqual(self.api_ok("GET", "/apps/cfg/config-vars"), {})
        self.assertEqual(len(self.releases("cfg")), 1)

    def test_mixed_valid_and_invalid_patch_is_all_or_nothing(self):
        self.create_app("cfg")
        r = self.api("PATCH", "/apps/cfg/config-vars", {"GOOD": "1", "BAD": 2})
        self.assertError(r, 400, "bad_request", "one bad type among good vars")
        r = self.api("PATCH", "/apps/cfg/config-vars", {"GOOD": "1", "1BAD": "2"})
        self.assertError(r, 422, "invalid_params", "one bad key among good vars")
        self.assertEqual(self.api_ok("GET", "/apps/cfg/config-vars"), {})
        self.assertEqual(len(self.releases("cfg")), 1)


class ResourceShapeTest(PierTestCase):
    APP_KEYS = ["id", "name", "created_at", "updated_at", "released_at", "owner", "stack",
                "web_url", "git_url", "maintenance"]
    RELEASE_KEYS = ["id", "version", "description", "status", "current", "created_at",
                    "updated_at", "user", "slug"]

    def check_app(self, app, name):
        self.assertEqual(set(app), set(self.APP_KEYS), app)
        self.assertRegex(app["id"], UUID_RE)
        self.assertEqual(app["name"], name)
        for k in ("created_at", "updated_at", "released_at"):
            self.assertRegex(app[k], ISO_RE, k)
        self.assertEqual(app["owner"], {"email": EMAIL})
        self.assertEqual(app["stack"], {"name": "debian-12"})
        self.assertRegex(app["web_url"], r"^http://%s\.localhost(:\d+)?/$" % re.escape(name))
        self.assertEqual(app["git_url"], "%s/%s.git" % (self.pierd.url, name))
        self.assertIs(app["maintenance"], False)

    def test_app_shape(self):
        r = self.api("POST", "/apps", {"name": "shape"})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.header("Content-Type", "").startswith("application/json"))
        app = r.json()
        self.check_app(app, "shape")
        self.assertEqual(self.api_ok("GET", "/apps/shape"), app)
        self.assertEqual(self.api_ok("GET", "/apps/%s" % app["id"]), app)
        self.assertEqual(self.api_ok("GET", "/apps"), [app])

    def test_release_shape(self):
        app = self.create_app("shape")
        rels = self.releases("shape")
        self.assertEqual(len(rels), 1)
        rel = rels[0]
        self.assertEqual(set(rel), set(self.RELEASE_KEYS), rel)
        self.assertRegex(rel["id"], UUID_RE)
        self.assertEqual(rel["version"], 1)
        self.assertEqual(rel["description"], "Initial release")
        self.assertEqual(rel["status"], "succeeded")
        self.assertIs(rel["current"], True)
        self.assertRegex(rel["created_at"], ISO_RE)
        self.assertRegex(rel["updated_at"], ISO_RE)
        self.assertEqual(rel["user"], {"email": EMAIL})
        self.assertIsNone(rel["slug"])
        self.assertEqual(app["released_at"], rel["created_at"])
        for ref in ["1", "v1", rel["id"]]:
            with self.subTest(ref=ref):
                self.assertEqual(self.api_ok("GET", "/apps/shape/releases/%s" % ref), rel)
                self.assertEqual(self.api_ok("GET", "/apps/%s/releases/%s" % (app["id"], ref)),
                                 rel)


class ConnectionTest(PierTestCase):
    def test_many_concurrent_clients(self):
        self.create_app("busy")
        errors = []

        def worker():
            try:
                for _ in range(20):
                    r = self.api("GET", "/apps/busy")
                    if r.status != 200:
                        errors.append(repr(r))
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])

    def test_keep_alive(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.pierd.port, timeout=10)
        try:
            for _ in range(5):
                conn.request("GET", "/apps",
                             headers={"Authorization": "Bearer " + self.pierd.admin_token})
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read()), [])
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
