"""One-off dynos (`pier run --detach`, POST /apps/APP/dynos) and the
release phase (SPEC §3: a `release` process type runs before its release
goes live)."""

import os
import re
import time
import unittest
import urllib.request

from test_deploy import PIER_BUILD_BIN
from test_dynos import PROCFILE_WEB, STOP_TIMEOUT, DynoTestCase, _need_dyno

RUN_NAME = r"run\.\d{4}"


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK),
                     "pier-build is not built")
class OneOffTest(DynoTestCase):

    def setUp(self):
        _need_dyno()
        super().setUp()

    def test_run_detach_logs_and_is_gone(self):
        app = self.deploy("oneoff", "procfile")
        self.wait_dynos(app, {"web": 1})
        out = self.pier_ok("run", "--detach", "-a", app, "--", "echo hello-from-run; exit 0")
        m = re.search(r"^Running `echo hello-from-run; exit 0` on %s\.\.\. up, (%s)$"
                      % (re.escape(app), RUN_NAME), out, re.M)
        self.assertIsNotNone(m, out)
        name = m.group(1)
        self.assertIn("Run `pier logs -p %s` to view the output." % name, out)
        self.wait_log(app, r"^hello-from-run$", proc=name)
        self.wait_log(app, r"^Process exited with status 0$", proc=name)
        self.wait_for("%s gone" % name,
                      lambda: name not in [d["name"] for d in self.dynos(app)], app=app)
        time.sleep(1.5)  # never restarted
        starts = [e for e in self.log_events(app, proc=name) if e[3].startswith("Starting")]
        self.assertEqual(len(starts), 1, starts)
        self.assertNotIn(name, [d["name"] for d in self.dynos(app)])
        self.assertIn("hello-from-run", self.pier_ok("logs", "-a", app, "-p", name))
        # the formation was not touched
        self.assertEqual(sorted(d["name"] for d in self.dynos(app)), ["web.1"])

    def test_run_type_expands_and_is_listed(self):
        app = self.deploy("oneofft", "procfile")
        self.wait_dynos(app, {"web": 1})
        out = self.pier_ok("run", "--detach", "-a", app, "worker")
        self.assertIn("Running `while true; do echo", out)
        name = re.search(r"up, (%s)$" % RUN_NAME, out, re.M).group(1)
        self.wait_log(app, r"^worker alive", proc=name)
        ds = {d["name"]: d for d in self.dynos(app)}
        self.assertEqual(ds[name]["type"], "run")
        self.assertEqual(ds[name]["state"], "up")
        self.assertEqual(ds[name]["port"], 0)
        # a converge (scale) leaves it alone
        self.scale(app, web=1)
        time.sleep(0.5)
        self.assertIn(name, [d["name"] for d in self.dynos(app)])
        # ps:stop stops it for good
        self.pier_ok("ps:stop", "-a", app, name)
        self.wait_for("%s gone" % name,
                      lambda: name not in [d["name"] for d in self.dynos(app)],
                      timeout=STOP_TIMEOUT + 5, app=app)

    def test_attached_run_is_refused(self):
        app = self.deploy("oneoffa", "procfile")
        res = self.pier("run", "-a", app, "echo", "x")
        self.assertEqual(res.code, 1)
        self.assertIn(b"attached runs are not supported yet", res.err)
        r = self.api("POST", "/apps/%s/dynos" % app, {"command": "true", "attach": True})
        self.assertEqual(r.status, 422)
        self.assertIn("attach is not supported yet; use --detach", r.json()["message"])

    def test_release_phase_succeeds(self):
        app = self.new_app("relok")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\nrelease: echo migrating; touch /tmp/x\n" % PROCFILE_WEB).encode()})
        out = self.push_ok(repo, app)
        self.assertIn("Running release command...", out)
        self.assertIn("       migrating", out)
        rel = self.releases(app)[0]
        self.assertEqual((rel["version"], rel["status"], rel["current"]), (2, "succeeded", True))
        self.wait_dynos(app, {"web": 1}, version=2)
        self.wait_log(app, r"^migrating$", proc=None)
        self.assertFalse([d for d in self.dynos(app) if d["type"] == "release"])

    def test_release_phase_fails_and_old_release_serves(self):
        app = self.new_app("relbad")
        repo = self.make_repo("procfile", name="repo-" + app)
        self.push_ok(repo, app)                                   # v2
        old = self.wait_dynos(app, {"web": 1}, version=2)["web.1"]
        self.commit(repo, "bad release", files={"Procfile": (
            "web: %s\nrelease: echo nope; exit 1\n" % PROCFILE_WEB).encode()})
        out = self.push_fails(repo, app)
        self.assertIn("       nope", out)
        self.assertIn("Release command failed", out)
        rels = self.releases(app)
        self.assertEqual((rels[0]["version"], rels[0]["status"], rels[0]["current"]),
                         (3, "failed", False))
        self.assertTrue(self.release(app, 2)["current"])
        time.sleep(0.5)
        ds = self.dynos(app)
        self.assertEqual([(d["name"], d["release"]["version"]) for d in ds], [("web.1", 2)])
        body = urllib.request.urlopen("http://127.0.0.1:%d/" % old["port"], timeout=10).read()
        self.assertIn(b"pier sample app: procfile", body)


if __name__ == "__main__":
    unittest.main()
