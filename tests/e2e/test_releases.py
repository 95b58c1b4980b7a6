"""Releases: numbering, descriptions, the `releases` table and
`releases:info`, versions under concurrency (docs/api.md, docs/cli.md)."""

import re
import threading
import unittest

from harness import EMAIL, REL_TIME_RE, PierTestCase, iso_to_cli, table

PLACEHOLDER = "\x00WHEN\x00"


class ReleasesApiTest(PierTestCase):
    def test_initial_release(self):
        self.create_app("myapp")
        rels = self.releases("myapp")
        self.assertEqual(len(rels), 1)
        self.assertEqual(rels[0]["version"], 1)
        self.assertEqual(rels[0]["description"], "Initial release")
        self.assertEqual(rels[0]["status"], "succeeded")
        self.assertIs(rels[0]["current"], True)
        self.assertEqual(rels[0]["user"], {"email": EMAIL})

    def test_each_change_makes_the_next_release(self):
        self.create_app("myapp")
        steps = [({"FOO": "1"}, "Set FOO config vars"),
                 ({"A": "1", "B": "2"}, "Set A, B config vars"),
                 ({"FOO": None}, "Remove FOO config vars"),
                 ({"A": None, "B": None}, "Remove A, B config vars"),
                 ({"C": "3", "A": None}, None)]
        for i, (body, desc) in enumerate(steps):
            r = self.set_config("myapp", body)
            self.assertEqual(r.header("Pier-Release-Version"), str(i + 2))
            rel = self.api_ok("GET", "/apps/myapp/releases/%d" % (i + 2))
            if desc:
                self.assertEqual(rel["description"], desc)
        rels = self.releases("myapp")
        self.assertEqual([r["version"] for r in rels], [6, 5, 4, 3, 2, 1], "newest first")
        self.assertEqual([r["current"] for r in rels], [True] + [False] * 5)
        self.assertEqual(len({r["id"] for r in rels}), 6)
        self.assertEqual(rels[0]["description"], "Set C config vars, remove A config vars")
        app = self.api_ok("GET", "/apps/myapp")
        self.assertEqual(app["released_at"], rels[0]["created_at"])
        for r in rels:
            self.assertEqual(r["status"], "succeeded")
            self.assertEqual(r["user"], {"email": EMAIL})
        # created_at never goes backwards
        stamps = [r["created_at"] for r in reversed(rels)]
        self.assertEqual(stamps, sorted(stamps))

    def test_get_by_version_forms_and_id(self):
        self.create_app("myapp")
        self.set_config("myapp", {"A": "1"})
        rel = self.api_ok("GET", "/apps/myapp/releases/2")
        self.assertEqual(self.api_ok("GET", "/apps/myapp/releases/v2"), rel)
        self.assertEqual(self.api_ok("GET", "/apps/myapp/releases/%s" % rel["id"]), rel)
        self.assertIs(rel["current"], True)
        self.assertIs(self.api_ok("GET", "/apps/myapp/releases/1")["current"], False)

    def test_releases_are_per_app(self):
        self.create_app("one")
        self.create_app("two")
        self.set_config("one", {"A": "1"})
        self.set_config("one", {"A": "2"})
        self.set_config("two", {"A": "1"})
        self.assertEqual([r["version"] for r in self.releases("one")], [3, 2, 1])
        self.assertEqual([r["version"] for r in self.releases("two")], [2, 1])
        rel_one = self.api_ok("GET", "/apps/one/releases/3")
        self.assertError(self.api("GET", "/apps/two/releases/%s" % rel_one["id"]), 404,
                         "not_found", "another app's release id")

    def test_concurrent_patches_get_distinct_versions(self):
        self.create_app("race")
        n = 40
        versions, errors = [], []
        lock = threading.Lock()

        def worker(i):
            try:
                r = self.api("PATCH", "/apps/race/config-vars", {"K_%d" % i: str(i)})
                with lock:
                    if r.status != 200:
                        errors.append(repr(r))
                    else:
                        versions.append(int(r.header("Pier-Release-Version")))
            except Exception as e:  # noqa: BLE001 -- reported below
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(versions), list(range(2, n + 2)))
        rels = self.releases("race")
        self.assertEqual([r["version"] for r in rels], list(range(n + 1, 0, -1)))
        self.assertEqual(self.api_ok("GET", "/apps/race/config-vars"),
                         {"K_%d" % i: str(i) for i in range(n)})
        # every release holds exactly one more var than the one before
        for v in range(1, n + 2):
            snap = self.api_ok("GET", "/apps/race/releases/%d/config-vars" % v)
            self.assertEqual(len(snap), v - 1, "release v%d: %r" % (v, snap))


class ReleasesCliTest(PierTestCase):
    def expected_table(self, app, rels):
        rows = [["v%d" % r["version"], r["description"], r["user"]["email"],
                 iso_to_cli(r["created_at"]) + " " + PLACEHOLDER] for r in rels]
        lines = table(rows)
        current = [r for r in rels if r["current"]]
        head = "=== %s Releases - Current: v%d" % (app, current[0]["version"])
        pattern = "\n".join([re.escape(head)] + [re.escape(line) for line in lines]) + "\n"
        return "^" + pattern.replace(re.escape(PLACEHOLDER), REL_TIME_RE) + r"\Z"

    def test_releases_table(self):
        self.pier_ok("apps:create", "myapp")
        out = self.pier_ok("releases", "-a", "myapp")
        self.assertRegex(out, r"^=== myapp Releases - Current: v1\nv1  Initial release  %s  "
                              r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \+0000 \(~ \d+s ago\)\n\Z"
                         % re.escape(EMAIL))
        self.pier_ok("config:set", "FOO=bar", "-a", "myapp")
        self.pier_ok("config:set", "LONGER_NAME=x", "OTHER=y", "-a", "myapp")
        self.pier_ok("config:unset", "FOO", "-a", "myapp")
        rels = self.releases("myapp")
        self.assertEqual([r["description"] for r in rels],
                         ["Remove FOO config vars", "Set LONGER_NAME, OTHER config vars",
                          "Set FOO config vars", "Initial release"])
        out = self.pier_ok("releases", "-a", "myapp")
        self.assertRegex(out, self.expected_table("myapp", rels))

    def test_releases_ten_plus_versions_align(self):
        self.create_app("many")
        for i in range(10):
            self.set_config("many", {"K%d" % i: "v"})
        rels = self.releases("many")
        out = self.pier_ok("releases", "-a", "many")
        self.assertRegex(out, self.expected_table("many", rels))
        self.assertTrue(out.splitlines()[1].startswith("v11  Set K9 config vars  "), out)
        self.assertTrue(out.splitlines()[-1].startswith("v1   Initial release  "), out)

    def test_releases_n(self):
        self.create_app("myapp")
        for i in range(4):
            self.set_config("myapp", {"K%d" % i: "v"})
        rels = self.releases("myapp")
        out = self.pier_ok("releases", "-n", "2", "-a", "myapp")
        lines = out.splitlines()
        self.assertEqual(lines[0], "=== myapp Releases - Current: v5")
        self.assertEqual(len(lines), 3, out)
        self.assertTrue(lines[1].startswith("v5  Set K3 config vars  "), out)
        self.assertTrue(lines[2].startswith("v4  Set K2 config vars  "), out)
        self.assertEqual(len(self.pier_ok("releases", "-a", "myapp").splitlines()), 1 + len(rels))

    def test_releases_json(self):
        self.create_app("myapp")
        self.set_config("myapp", {"A": "1"})
        got = self.pier_json("releases", "-a", "myapp", "--json")
        api = self.api("GET", "/apps/myapp/releases").ordered_json()
        self.assertEqual(got, api)
        self.assertEqual([list(r.keys()) for r in got], [list(r.keys()) for r in api])

    def test_releases_info(self):
        self.create_app("myapp")
        self.pier_ok("config:set", "FOO=bar", "-a", "myapp")
        self.pier_ok("config:set", "BAZ=qux", "-a", "myapp")
        rel = self.api_ok("GET", "/apps/myapp/releases/3")
        want = ("=== Release v3\n"
                "By:      %s\n"
                "Change:  Set BAZ config vars\n"
                "When:    %s\n"
                "Status:  succeeded\n"
                "\n"
                "=== v3 Config vars\n"
                "BAZ: qux\n"
                "FOO: bar\n") % (EMAIL, iso_to_cli(rel["created_at"]))
        self.assertEqual(self.pier_ok("releases:info", "-a", "myapp"), want, "default: current")
        self.assertEqual(self.pier_ok("releases:info", "v3", "-a", "myapp"), want)

    def test_releases_info_older(self):
        self.create_app("myapp")
        self.set_config("myapp", {"FOO": "bar"})
        self.set_config("myapp", {"FOO": "changed", "NEW": "n"})
        rel = self.api_ok("GET", "/apps/myapp/releases/2")
        self.assertEqual(self.pier_ok("releases:info", "v2", "-a", "myapp"),
                         "=== Release v2\nBy:      %s\nChange:  Set FOO config vars\n"
                         "When:    %s\nStatus:  succeeded\n\n=== v2 Config vars\nFOO: bar\n"
                         % (EMAIL, iso_to_cli(rel["created_at"])))
        rel1 = self.api_ok("GET", "/apps/myapp/releases/1")
        out = self.pier_ok("releases:info", "v1", "-a", "myapp")
        self.assertTrue(out.startswith(
            "=== Release v1\nBy:      %s\nChange:  Initial release\nWhen:    %s\n"
            "Status:  succeeded\n" % (EMAIL, iso_to_cli(rel1["created_at"]))), out)

    def test_releases_info_json(self):
        self.create_app("myapp")
        self.set_config("myapp", {"A": "1"})
        got = self.pier_json("releases:info", "v2", "-a", "myapp", "--json")
        self.assertEqual(got, self.api("GET", "/apps/myapp/releases/2").ordered_json())

    def test_releases_info_unknown(self):
        self.create_app("myapp")
        msg = self.api("GET", "/apps/myapp/releases/9").json()["message"]
        self.pier_fails("releases:info", "v9", "-a", "myapp", message=msg)

    def test_concurrent_cli_config_set(self):
        self.create_app("race")
        n = 20
        results = [None] * n

        def worker(i):
            results[i] = self.pier("config:set", "K_%d=%d" % (i, i), "-a", "race", timeout=120)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        versions = []
        for i, res in enumerate(results):
            self.assertIsNotNone(res, "worker %d did not finish" % i)
            self.assertEqual(res.code, 0, self.describe(["config:set", "K_%d=%d" % (i, i)], res))
            first = res.out.decode().splitlines()[0]
            m = re.fullmatch(r"Setting K_%d and restarting race\.\.\. done, v(\d+)" % i, first)
            self.assertIsNotNone(m, first)
            versions.append(int(m.group(1)))
        self.assertEqual(sorted(versions), list(range(2, n + 2)),
                         "versions reported: %s" % versions)
        self.assertEqual(self.api_ok("GET", "/apps/race/config-vars"),
                         {"K_%d" % i: str(i) for i in range(n)})
        self.assertEqual([r["version"] for r in self.releases("race")],
                         list(range(n + 1, 0, -1)))
        out = self.pier_ok("releases", "-a", "race")
        self.assertTrue(out.startswith("=== race Releases - Current: v21\n"), out)


if __name__ == "__main__":
    unittest.main()
