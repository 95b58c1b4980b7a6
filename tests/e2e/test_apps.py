"""Apps: the API's life cycle and the `pier apps*` commands (docs/api.md,
docs/cli.md)."""

import os
import unittest

from harness import APP_NAME_RE, EMAIL, PierTestCase, iso_to_cli, states_name_rule

NO_APP = ("no app specified. Run this command from an app folder or specify which app "
          "to use with --app APP.")



WARN_OTHER_CHECKOUTS = ("!    Don't forget to update git remotes for all other local checkouts of "
                        "the app.\n")

class AppsApiTest(PierTestCase):
    def test_create_with_name(self):
        app = self.create_app("myapp")
        self.assertEqual(app["name"], "myapp")
        rels = self.releases("myapp")
        self.assertEqual([(r["version"], r["description"]) for r in rels],
                         [(1, "Initial release")])

    def test_create_without_name(self):
        names = set()
        for _ in range(5):
            app = self.create_app()
            self.assertRegex(app["name"], APP_NAME_RE)
            names.add(app["name"])
            self.assertEqual(self.api_ok("GET", "/apps/%s" % app["name"])["id"], app["id"])
        self.assertEqual(len(names), 5, "generated names repeat: %s" % sorted(names))
        self.assertEqual(sorted(a["name"] for a in self.api_ok("GET", "/apps")), sorted(names))

    def test_create_with_null_name_generates(self):
        r = self.api("POST", "/apps", {"name": None})
        self.assertEqual(r.status, 201, r)
        self.assertRegex(r.json()["name"], APP_NAME_RE)

    def test_list_sorted_by_name(self):
        for n in ["charlie", "alpha", "bravo-2", "bravo"]:
            self.create_app(n)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")],
                         ["alpha", "bravo", "bravo-2", "charlie"])

    def test_info_by_name_and_id(self):
        app = self.create_app("findme")
        self.assertEqual(self.api_ok("GET", "/apps/findme"), app)
        self.assertEqual(self.api_ok("GET", "/apps/%s" % app["id"]), app)

    def test_rename(self):
        app = self.create_app("before")
        self.set_config("before", {"KEEP": "me"})
        rels = self.releases("before")
        renamed = self.api_ok("PATCH", "/apps/before", {"name": "after"})
        self.assertEqual(renamed["id"], app["id"])
        self.assertEqual(renamed["name"], "after")
        self.assertEqual(renamed["git_url"], "%s/after.git" % self.pierd.url)
        self.assertRegex(renamed["web_url"], r"^http://after\.localhost(:\d+)?/$")
        self.assertError(self.api("GET", "/apps/before"), 404, "not_found", "old name")
        self.assertError(self.api("GET", "/apps/before/releases"), 404, "not_found", "old name")
        self.assertEqual(self.api_ok("GET", "/apps/after")["id"], app["id"])
        self.assertEqual(self.api_ok("GET", "/apps/%s" % app["id"])["name"], "after")
        self.assertEqual(self.releases("after"), rels)
        self.assertEqual(self.api_ok("GET", "/apps/after/config-vars"), {"KEEP": "me"})
        # the old name is free again
        self.assertNotEqual(self.create_app("before")["id"], app["id"])
        self.assertEqual(len(self.releases("before")), 1)

    def test_rename_by_id(self):
        app = self.create_app("by-id")
        self.assertEqual(self.api_ok("PATCH", "/apps/%s" % app["id"], {"name": "by-id-2"})["name"],
                         "by-id-2")

    def test_rename_to_same_name(self):
        self.create_app("same")
        r = self.api("PATCH", "/apps/same", {"name": "same"})
        self.assertIn(r.status, (200, 409), r)
        self.assertEqual(self.api_ok("GET", "/apps/same")["name"], "same")

    def test_destroy(self):
        app = self.create_app("doomed")
        self.set_config("doomed", {"A": "1"})
        self.set_config("doomed", {"B": "2"})
        other = self.create_app("survivor")
        self.set_config("survivor", {"S": "s"})
        deleted = self.api_ok("DELETE", "/apps/doomed")
        self.assertEqual(deleted["id"], app["id"])
        self.assertEqual(deleted["name"], "doomed")
        for path in ["/apps/doomed", "/apps/%s" % app["id"], "/apps/doomed/config-vars",
                     "/apps/doomed/releases", "/apps/doomed/releases/1",
                     "/apps/doomed/releases/3/config-vars"]:
            with self.subTest(path=path):
                self.assertError(self.api("GET", path), 404, "not_found", path)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["survivor"])
        self.assertError(self.api("DELETE", "/apps/doomed"), 404, "not_found", "twice")
        # the neighbour is untouched
        self.assertEqual(self.api_ok("GET", "/apps/survivor")["id"], other["id"])
        self.assertEqual(self.api_ok("GET", "/apps/survivor/config-vars"), {"S": "s"})
        self.assertEqual(len(self.releases("survivor")), 2)
        # same name again: a new app, starting at v1 with no config
        again = self.create_app("doomed")
        self.assertNotEqual(again["id"], app["id"])
        self.assertEqual([(r["version"], r["description"]) for r in self.releases("doomed")],
                         [(1, "Initial release")])
        self.assertEqual(self.api_ok("GET", "/apps/doomed/config-vars"), {})
        self.assertEqual(self.set_config("doomed", {"X": "1"}).header("Pier-Release-Version"), "2")

    def test_destroy_by_id(self):
        app = self.create_app("gone-by-id")
        self.assertEqual(self.api_ok("DELETE", "/apps/%s" % app["id"])["name"], "gone-by-id")
        self.assertEqual(self.api_ok("GET", "/apps"), [])


class AppsCliTest(PierTestCase):
    def urls_line(self, name):
        app = self.api_ok("GET", "/apps/%s" % name)
        return "%s | %s\n" % (app["web_url"], app["git_url"])

    def test_create(self):
        out = self.pier_ok("apps:create", "myapp")
        self.assertEqual(out, "Creating myapp... done\n" + self.urls_line("myapp"))
        self.assertEqual(self.api_ok("GET", "/apps/myapp")["name"], "myapp")
        self.assertIn("http://myapp.localhost", out)
        self.assertIn("%s/myapp.git" % self.pierd.url, out)

    def test_create_generated_name(self):
        out = self.pier_ok("apps:create")
        apps = self.api_ok("GET", "/apps")
        self.assertEqual(len(apps), 1)
        name = apps[0]["name"]
        self.assertRegex(name, APP_NAME_RE)
        self.assertEqual(out, "Creating %s... done\n%s" % (name, self.urls_line(name)))

    def test_create_invalid_and_taken(self):
        err = self.pier_fails("apps:create", "Bad_Name")
        self.assertTrue(states_name_rule(err), err)
        self.pier_ok("apps:create", "taken")
        msg = self.api("POST", "/apps", {"name": "taken"}).json()["message"]
        self.pier_fails("apps:create", "taken", message=msg)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["taken"])

    def test_list(self):
        self.assertEqual(self.pier_ok("apps"), "You have no apps.\n")
        for n in ["zeta", "alpha", "mid-app"]:
            self.create_app(n)
        self.assertEqual(self.pier_ok("apps"),
                         "=== %s Apps\nalpha\nmid-app\nzeta\n" % EMAIL)

    def test_list_json(self):
        self.assertEqual(self.pier_json("apps", "--json"), [])
        self.create_app("one")
        self.create_app("two")
        got = self.pier_json("apps", "--json")
        api = self.api("GET", "/apps").ordered_json()
        self.assertEqual(got, api)
        self.assertEqual([list(a.keys()) for a in got], [list(a.keys()) for a in api],
                         "keys not in API order")

    def test_info(self):
        self.create_app("myapp")
        self.set_config("myapp", {"A": "1"})
        app = self.api_ok("GET", "/apps/myapp")
        want = ("=== myapp\n"
                "Git URL:     %s\n"
                "Owner:       %s\n"
                "Stack:       debian-12\n"
                "Created At:  %s\n"
                "Released At: %s\n"
                "Web URL:     %s\n") % (app["git_url"], EMAIL, iso_to_cli(app["created_at"]),
                                        iso_to_cli(app["released_at"]), app["web_url"])
        for args in (["apps:info", "-a", "myapp"], ["apps:info", "--app", "myapp"],
                     ["apps:info", "--app=myapp"]):
            with self.subTest(args=args):
                self.assertEqual(self.pier_ok(*args), want)

    def test_info_json(self):
        self.create_app("myapp")
        got = self.pier_json("apps:info", "-a", "myapp", "--json")
        api = self.api("GET", "/apps/myapp").ordered_json()
        self.assertEqual(got, api)
        self.assertEqual(list(got.keys()), list(api.keys()), "keys not in API order")

    def test_info_unknown_app(self):
        msg = self.api("GET", "/apps/ghost").json()["message"]
        self.pier_fails("apps:info", "-a", "ghost", message=msg)

    def test_no_app(self):
        self.create_app("myapp")
        for cmd in (["apps:info"], ["config"], ["config:get", "A"], ["config:set", "A=1"],
                    ["config:unset", "A"], ["releases"], ["releases:info"],
                    ["apps:destroy", "--confirm", "myapp"], ["apps:rename", "other"]):
            with self.subTest(cmd=cmd):
                self.pier_fails(*cmd, message=NO_APP)
        self.assertEqual(len(self.releases("myapp")), 1)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["myapp"])

    def test_no_app_in_repo_without_pier_remote(self):
        self.create_app("myapp")
        repo = self.git_repo()
        self.git("remote", "add", "origin", "%s/myapp.git" % self.pierd.url, cwd=repo)
        self.pier_fails("config", cwd=repo, message=NO_APP)

    def test_rename(self):
        self.create_app("oldname")
        self.set_config("oldname", {"A": "1"})
        rels = self.releases("oldname")
        out = self.pier_ok("apps:rename", "newname", "-a", "oldname")
        self.assertEqual(out, "Renaming oldname to newname... done\n" + self.urls_line("newname")
                         + WARN_OTHER_CHECKOUTS)
        self.assertError(self.api("GET", "/apps/oldname"), 404, "not_found", "old name")
        self.assertEqual(self.releases("newname"), rels)
        self.assertEqual(self.pier_ok("config:get", "A", "-a", "newname"), "1\n")
        self.pier_fails("apps:info", "-a", "oldname",
                        message=self.api("GET", "/apps/oldname").json()["message"])

    def test_open_prints_the_url(self):
        app = self.create_app("opener")
        for cmd in ("open", "apps:open"):
            self.assertEqual(self.pier_ok(cmd, "-a", "opener", env={"DISPLAY": None,
                                                                    "WAYLAND_DISPLAY": None}),
                             app["web_url"] + "\n")
        self.pier_fails("open", "-a", "nosuchapp", contains="nosuchapp")

    def test_rename_refused(self):
        self.create_app("first")
        self.create_app("second")
        msg = self.api("PATCH", "/apps/second", {"name": "first"}).json()["message"]
        self.pier_fails("apps:rename", "first", "-a", "second", message=msg)
        err = self.pier_fails("apps:rename", "Upper", "-a", "second")
        self.assertTrue(states_name_rule(err), err)
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["first", "second"])

    def test_destroy_needs_confirm(self):
        self.create_app("keepme")
        for extra in ([], ["--confirm", "other"], ["--confirm", "keepm"]):
            with self.subTest(extra=extra):
                err = self.pier_fails("apps:destroy", "-a", "keepme", *extra)
                self.assertIn("--confirm keepme", err)
                self.assertEqual(self.api_ok("GET", "/apps/keepme")["name"], "keepme")

    def test_destroy(self):
        self.create_app("doomed")
        self.set_config("doomed", {"A": "1"})
        out = self.pier_ok("apps:destroy", "-a", "doomed", "--confirm", "doomed")
        self.assertEqual(out, "Destroying doomed (including all add-ons)... done\n")
        self.assertError(self.api("GET", "/apps/doomed"), 404, "not_found", "destroyed")
        self.assertEqual(self.pier_ok("apps"), "You have no apps.\n")
        self.pier_ok("apps:create", "doomed")
        self.assertEqual([r["version"] for r in self.releases("doomed")], [1])
        self.assertEqual(self.pier_ok("config", "-a", "doomed"), "doomed has no config vars.\n")

    def test_destroy_unknown(self):
        msg = self.api("DELETE", "/apps/ghost").json()["message"]
        self.pier_fails("apps:destroy", "-a", "ghost", "--confirm", "ghost", message=msg)


class GitRemoteTest(PierTestCase):
    def test_create_outside_a_repo_adds_no_remote(self):
        out = self.pier_ok("apps:create", "plain")
        self.assertNotIn("Git remote", out)
        self.assertEqual(len(out.splitlines()), 2, out)

    def test_create_adds_remote_and_app_comes_from_it(self):
        repo = self.git_repo()
        out = self.pier_ok("apps:create", "fromgit", cwd=repo)
        app = self.api_ok("GET", "/apps/fromgit")
        self.assertEqual(out, "Creating fromgit... done\n%s | %s\nGit remote pier added\n"
                         % (app["web_url"], app["git_url"]))
        self.assertEqual(self.remote_url(repo), app["git_url"])
        # the app now comes from the remote, no -a needed
        out = self.pier_ok("config:set", "FROM=git", cwd=repo)
        self.assertEqual(out.splitlines()[0], "Setting FROM and restarting fromgit... done, v2")
        self.assertEqual(self.pier_ok("config:get", "FROM", cwd=repo), "git\n")
        self.assertTrue(self.pier_ok("apps:info", cwd=repo).startswith("=== fromgit\n"))
        self.assertTrue(self.pier_ok("releases", cwd=repo).startswith(
            "=== fromgit Releases - Current: v2\n"))
        # also from a sub-directory of the work tree
        sub = os.path.join(repo, "src", "deep")
        os.makedirs(sub)
        self.assertEqual(self.pier_ok("config:get", "FROM", cwd=sub), "git\n")
        # -a wins over the remote
        self.create_app("other")
        self.assertEqual(self.pier_ok("config", "-a", "other", cwd=repo),
                         "other has no config vars.\n")

    def test_create_generated_name_in_repo(self):
        repo = self.git_repo()
        out = self.pier_ok("apps:create", cwd=repo)
        name = self.api_ok("GET", "/apps")[0]["name"]
        self.assertTrue(out.startswith("Creating %s... done\n" % name), out)
        self.assertTrue(out.endswith("Git remote pier added\n"), out)
        self.assertEqual(self.remote_url(repo), "%s/%s.git" % (self.pierd.url, name))

    def test_create_updates_an_existing_remote(self):
        repo = self.git_repo()
        self.git("remote", "add", "pier", "http://example.invalid/stale.git", cwd=repo)
        self.git("remote", "add", "origin", "https://example.invalid/upstream.git", cwd=repo)
        out = self.pier_ok("apps:create", "fresh", cwd=repo)
        self.assertTrue(out.endswith("Git remote pier added\n"), out)
        self.assertEqual(self.remote_url(repo), "%s/fresh.git" % self.pierd.url)
        self.assertEqual(self.remote_url(repo, "origin"), "https://example.invalid/upstream.git")

    def test_rename_updates_remote(self):
        repo = self.git_repo()
        self.pier_ok("apps:create", "gitold", cwd=repo)
        out = self.pier_ok("apps:rename", "gitnew", cwd=repo)
        app = self.api_ok("GET", "/apps/gitnew")
        self.assertEqual(out, "Renaming gitold to gitnew... done\n%s | %s\nGit remote pier updated\n"
                         % (app["web_url"], app["git_url"]) + WARN_OTHER_CHECKOUTS)
        self.pier_fails("apps:rename", "gitnew", cwd=repo,
                        message="gitnew is already called gitnew")
        self.assertEqual(self.remote_url(repo), app["git_url"])
        self.assertTrue(self.pier_ok("apps:info", cwd=repo).startswith("=== gitnew\n"))

    def test_rename_other_app_leaves_remote(self):
        repo = self.git_repo()
        self.pier_ok("apps:create", "mine", cwd=repo)
        self.create_app("theirs")
        out = self.pier_ok("apps:rename", "theirs-2", "-a", "theirs", cwd=repo)
        self.assertNotIn("Git remote", out)
        self.assertEqual(self.remote_url(repo), "%s/mine.git" % self.pierd.url)

    def test_destroy_removes_remote(self):
        repo = self.git_repo()
        self.pier_ok("apps:create", "gitgone", cwd=repo)
        out = self.pier_ok("apps:destroy", "--confirm", "gitgone", cwd=repo)
        self.assertTrue(out.startswith("Destroying gitgone (including all add-ons)... done\n"), out)
        self.assertIsNone(self.remote_url(repo), "the pier remote is still there")
        self.assertError(self.api("GET", "/apps/gitgone"), 404, "not_found", "destroyed")
        self.pier_fails("config", cwd=repo, message=NO_APP)

    def test_destroy_other_app_keeps_remote(self):
        repo = self.git_repo()
        self.pier_ok("apps:create", "mine", cwd=repo)
        self.create_app("theirs")
        self.pier_ok("apps:destroy", "-a", "theirs", "--confirm", "theirs", cwd=repo)
        self.assertEqual(self.remote_url(repo), "%s/mine.git" % self.pierd.url)


if __name__ == "__main__":
    unittest.main()
