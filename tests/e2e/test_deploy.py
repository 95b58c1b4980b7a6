"""git push deploys: real git over HTTP to a real pierd, real buildpacks in
bubblewrap, slugs, releases and rollback (SPEC.md §1-§3)."""

import os
import re
import shutil
import stat
import subprocess
import threading
import unittest

from harness import BUILD, PierTestCase

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = os.path.join(REPO, "tests", "apps")
PIER_BUILD_BIN = os.path.join(BUILD, "pier-build")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")


class DeployTestCase(PierTestCase):
    """Helpers for pushing apps."""

    def make_repo(self, sample=None, name="app", files=None):
        """A git repo with a copy of tests/apps/SAMPLE and/or `files`
        ({path: bytes or (bytes, mode)}), committed on main."""
        path = os.path.join(self.tmp, name)
        if sample:
            shutil.copytree(os.path.join(APPS, sample), path, symlinks=True)
        else:
            os.makedirs(path)
        for rel, content in (files or {}).items():
            self.write(path, rel, content)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "first"]):
            rc, out, err = self.git(*args, cwd=path)
            self.assertEqual(rc, 0, err)
        return path

    def write(self, repo, rel, content):
        mode = None
        if isinstance(content, tuple):
            content, mode = content
        p = os.path.join(repo, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)
        if mode is not None:
            os.chmod(p, mode)

    def commit(self, repo, message="change", files=None):
        for rel, content in (files or {}).items():
            self.write(repo, rel, content)
        for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@x", "commit",
                                      "-q", "--allow-empty", "-m", message]):
            rc, out, err = self.git(*args, cwd=repo)
            self.assertEqual(rc, 0, err)
        return self.head(repo)

    def head(self, repo):
        rc, out, err = self.git("rev-parse", "HEAD", cwd=repo)
        self.assertEqual(rc, 0, err)
        return out.strip()

    def push_url(self, app, token=None):
        token = self.pierd.admin_token if token is None else token
        host = self.pierd.url.split("://", 1)[1]
        if token == "":
            return "http://%s/%s.git" % (host, app)
        return "http://pier:%s@%s/%s.git" % (token, host, app)

    def push(self, repo, app=None, refspec="main", url=None, extra=(), timeout=600):
        """git push; returns (exit code, combined output as str)."""
        url = url or self.push_url(app)
        env = self.cli_env(token=None, api=None, env={"GIT_TERMINAL_PROMPT": "0"})
        p = subprocess.run(["git", "push", *extra, url, refspec], cwd=repo,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", out, "a sanitizer report in the build:\n" + out)
        return p.returncode, out

    def push_ok(self, repo, app, **kw):
        rc, out = self.push(repo, app, **kw)
        self.assertEqual(rc, 0, out)
        return out

    def push_fails(self, repo, app, **kw):
        rc, out = self.push(repo, app, **kw)
        self.assertNotEqual(rc, 0, out)
        return out

    def remote_lines(self, out):
        return [l[len("remote: "):].rstrip() for l in out.splitlines() if l.startswith("remote: ")]

    def release(self, app, version):
        return self.api_ok("GET", "/apps/%s/releases/%d" % (app, version))

    def slug_dir(self, app, version):
        """The slug of release vN, unpacked with `pier-build extract`."""
        rel = self.release(app, version)
        self.assertIsNotNone(rel["slug"], rel)
        app_id = self.api_ok("GET", "/apps/" + app)["id"]
        slug = os.path.join(self.pierd.home, "slugs", app_id, rel["slug"]["id"] + ".tar.zst")
        self.assertTrue(os.path.isfile(slug), slug)
        out = os.path.join(self.tmp, "slug-%s-v%d" % (app, version))
        p = subprocess.run([PIER_BUILD_BIN, "extract", slug, out], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout)
        return out


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK), "pier-build is not built")
class PushTest(DeployTestCase):

    def test_procfile_app_deploys(self):
        self.create_app("myapp")
        repo = self.make_repo("procfile")
        sha = self.head(repo)
        out = self.push_ok(repo, "myapp")
        lines = self.remote_lines(out)
        self.assertIn("-----> Procfile app detected", lines, out)
        self.assertIn("-----> Discovering process types", lines, out)
        self.assertIn("       Procfile declares types -> web, worker", lines, out)
        self.assertTrue(any(re.match(r"^-----> Compiled slug size is [0-9.]+[KMG]$", l)
                            for l in lines), out)
        self.assertIn("-----> Launching... done, v2", lines, out)
        self.assertTrue(any(l.strip().startswith("http://myapp.localhost:") for l in lines), out)
        # the order of the steps
        order = [i for i, l in enumerate(lines) if l.startswith("-----> ")]
        self.assertTrue(lines[order[-1]].startswith("-----> Launching"), out)

        rel = self.release("myapp", 2)
        self.assertEqual(rel["description"], "Deploy %s" % sha[:7])
        self.assertTrue(rel["current"])
        slug = self.api_ok("GET", "/apps/myapp/slugs/%s" % rel["slug"]["id"])
        self.assertEqual(slug["commit"], sha)
        self.assertEqual(set(slug["process_types"]), {"web", "worker"})
        self.assertEqual(slug["process_types"]["web"], "/usr/bin/python3 srv/server.py")
        self.assertGreater(slug["size"], 0)
        out = self.pier_ok("releases", "-a", "myapp")
        self.assertIn("v2  Deploy %s" % sha[:7], out)

        files = self.slug_dir("myapp", 2)
        self.assertTrue(os.path.isfile(os.path.join(files, "Procfile")))
        self.assertTrue(os.path.isfile(os.path.join(files, "srv", "server.py")))
        self.assertFalse(os.path.exists(os.path.join(files, ".git")))

    def test_cli_flow_push_without_prompt(self):
        """As the README says: apps:create in the repo, then `git push pier
        main` -- the remote and the credential helper are set, no prompt."""
        repo = self.make_repo("procfile")
        out = self.pier_ok("apps:create", "tour", cwd=repo)
        self.assertIn("Git remote pier added", out)
        env = self.cli_env(env={"GIT_TERMINAL_PROMPT": "0"})
        p = subprocess.run(["git", "push", "pier", "main"], cwd=repo, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("Launching... done, v2", out)
        # a rename keeps pushes working
        self.pier_ok("apps:rename", "tour2", cwd=repo)
        self.commit(repo, "after rename")
        p = subprocess.run(["git", "push", "pier", "main"], cwd=repo, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertIn("Launching... done, v3", out)
        self.assertIn("http://tour2.localhost:", out)

    def test_output_streams_while_building(self):
        """The build's lines reach the pusher as they happen, not at the end."""
        self.create_app("slow")
        compile_sh = (b"#!/bin/sh\necho '-----> first line'\nsleep 3\n"
                      b"echo '-----> second line'\n")
        repo = self.make_repo(files={
            "bin/detect": (b"#!/bin/sh\necho Slow\n", 0o755),
            "bin/compile": (compile_sh, 0o755),
            "bin/release": (b"#!/bin/sh\necho '---'\necho 'default_process_types: {}'\n", 0o755),
            "Procfile": b"worker: sleep 1000\n"})
        env = self.cli_env(token=None, api=None, env={"GIT_TERMINAL_PROMPT": "0"})
        p = subprocess.Popen(["git", "push", "--progress", self.push_url("slow"), "main"],
                             cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env)
        import time
        seen = {}
        buf = b""
        start = time.monotonic()
        while True:
            chunk = p.stdout.read1(4096) if hasattr(p.stdout, "read1") else p.stdout.read(1)
            if not chunk:
                break
            buf += chunk
            for key in (b"first line", b"second line"):
                if key in buf and key not in seen:
                    seen[key] = time.monotonic() - start
        p.wait(timeout=120)
        self.assertEqual(p.returncode, 0, buf)
        self.assertIn(b"first line", seen, buf)
        self.assertIn(b"second line", seen, buf)
        self.assertGreater(seen[b"second line"] - seen[b"first line"], 2.0,
                           "the first line arrived only with the second: %r" % seen)

    def test_push_needs_auth(self):
        self.create_app("locked")
        repo = self.make_repo("procfile")
        rc, out = self.push(repo, url=self.push_url("locked", token=""))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"Authentication failed|could not read Username|401", out)
        rc, out = self.push(repo, url=self.push_url("locked", token="0" * 64))
        self.assertNotEqual(rc, 0, out)
        self.assertEqual(len(self.releases("locked")), 1)

    def test_read_token_cannot_push(self):
        self.create_app("readonly")
        tok = self.api_ok("POST", "/oauth/authorizations", {"scope": ["read"]},
                          status=201)["access_token"]["token"]
        repo = self.make_repo("procfile")
        rc, out = self.push(repo, url=self.push_url("readonly", token=tok))
        self.assertNotEqual(rc, 0, out)
        self.assertIn("403", out)
        self.assertEqual(len(self.releases("readonly")), 1)

    def test_push_to_missing_app(self):
        repo = self.make_repo("procfile")
        rc, out = self.push(repo, "nosuchapp")
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"not found|404", out)

    def test_only_main_or_master_deploys(self):
        self.create_app("branches")
        repo = self.make_repo("procfile")
        out = self.push_fails(repo, "branches", refspec="main:feature")
        self.assertIn("main or master", out)
        self.assertEqual(len(self.releases("branches")), 1)
        # master works like main
        out = self.push_ok(repo, "branches", refspec="main:master")
        self.assertIn("Launching... done, v2", out)

    def test_force_push_deploys(self):
        self.create_app("forced")
        repo = self.make_repo("procfile")
        self.push_ok(repo, "forced")
        self.commit(repo, "second")
        self.push_ok(repo, "forced")
        rc, out, err = self.git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
        self.assertEqual(rc, 0, err)
        sha = self.commit(repo, "rewritten", files={"NOTE": b"x\n"})
        out = self.push_ok(repo, "forced", extra=("--force",))
        self.assertIn("Launching... done, v4", out)
        self.assertEqual(self.release("forced", 4)["description"], "Deploy %s" % sha[:7])

    def test_failed_build_rejects_push_and_keeps_release(self):
        self.create_app("keep")
        good = self.make_repo("procfile", name="good")
        self.push_ok(good, "keep")
        bad = self.make_repo("failing", name="bad")
        out = self.push_fails(bad, "keep", extra=("--force",))
        self.assertIn("this build fails on purpose", out)
        self.assertIn("pre-receive hook declined", out)
        rels = self.releases("keep")
        self.assertEqual(len(rels), 2)
        self.assertTrue(rels[0]["current"])
        self.assertEqual(rels[0]["version"], 2)
        # the repo kept the good commit
        rc, out, err = self.git("ls-remote", self.push_url("keep"), "main", cwd=good)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith(self.head(good)), out)

    def test_crashing_web_fails_the_push_and_keeps_the_old_release(self):
        self.create_app("crashy")
        repo = self.make_repo("procfile")
        self.push_ok(repo, "crashy")                                      # v2, serving
        dynos = self.api_ok("GET", "/apps/crashy/dynos")
        old_port = [d["port"] for d in dynos if d["name"] == "web.1"][0]
        self.commit(repo, "broken", files={"Procfile": b"web: sh -c 'echo boom; exit 3'\n"})
        out = self.push_fails(repo, "crashy")
        self.assertIn("crashed while starting; the previous release keeps serving", out)
        rels = self.releases("crashy")
        self.assertEqual(rels[0]["version"], 3)
        self.assertEqual(rels[0]["status"], "failed")
        self.assertFalse(rels[0]["current"])
        self.assertTrue(self.release("crashy", 2)["current"])
        self.assertIn("(failed)", self.pier_ok("releases", "-a", "crashy"))
        # the v2 dyno still answers, and only v2 dynos are left
        import urllib.request
        body = urllib.request.urlopen("http://127.0.0.1:%d/" % old_port, timeout=10).read()
        self.assertIn(b"pier sample app: procfile", body)
        import time
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            versions = {d["release"]["version"] for d in self.api_ok("GET", "/apps/crashy/dynos")}
            if versions == {2}:
                break
            time.sleep(0.1)
        self.assertEqual(versions, {2})

    def test_web_that_never_binds_fails_the_push_and_keeps_the_old_release(self):
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + ["--boot-timeout", "2"])
        self.create_app("mute")
        repo = self.make_repo("procfile")
        self.push_ok(repo, "mute")                                        # v2, serving
        old_port = [d["port"] for d in self.api_ok("GET", "/apps/mute/dynos")
                    if d["name"] == "web.1"][0]
        self.commit(repo, "mute", files={"Procfile": b"web: exec sleep 1000\n"})
        out = self.push_fails(repo, "mute")
        self.assertRegex(out, r"(did not come up|crashed while starting); the previous release "
                              r"keeps serving", out)
        self.assertNotIn("Launching... done", out)
        self.assertIn("-----> Push rejected: v3 failed", self.remote_lines(out))
        self.assertNotIn("Build failed", out)
        rels = self.releases("mute")
        self.assertEqual((rels[0]["version"], rels[0]["status"], rels[0]["current"]),
                         (3, "failed", False))
        import urllib.request
        body = urllib.request.urlopen("http://127.0.0.1:%d/" % old_port, timeout=10).read()
        self.assertIn(b"pier sample app: procfile", body)

    def test_first_deploy_whose_web_never_listens_says_why(self):
        # The usual cause: a web process that listens on its own port, not
        # $PORT.  A long wait says what it waits for.
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + ["--boot-timeout", "12"])
        self.create_app("wrongport")
        repo = self.make_repo(files={"Procfile": b"web: exec sleep 1000\n"})
        lines = self.remote_lines(self.push_fails(repo, "wrongport"))
        self.assertIn("       waiting for the web dynos to listen on $PORT: they have 12 s "
                      "(then Error R10)", lines)
        self.assertTrue([l for l in lines if l.startswith("-----> Launching... failed: ")
                         and l.endswith("; no earlier release is up to serve instead")], lines)
        self.assertEqual(lines[-1], "-----> Push rejected: v2 failed")

    def test_bad_procfile_fails_clearly(self):
        self.create_app("badproc")
        repo = self.make_repo(files={"Procfile": b"web: a\nweb: b\n"})
        out = self.push_fails(repo, "badproc")
        self.assertIn("duplicate process type", out)
        self.assertEqual(len(self.releases("badproc")), 1)

    def test_no_buildpack_detected(self):
        self.create_app("nothing")
        repo = self.make_repo(files={"README": b"nothing to run\n"})
        out = self.push_fails(repo, "nothing")
        self.assertRegex(out, r"(?i)no buildpack|not compatible")

    def test_rollback(self):
        self.create_app("rollme")
        repo = self.make_repo("procfile")
        self.push_ok(repo, "rollme")                                  # v2
        self.pier_ok("config:set", "MODE=one", "-a", "rollme")         # v3
        self.commit(repo, "second", files={"NOTE": b"two\n"})
        self.push_ok(repo, "rollme")                                  # v4
        self.pier_ok("config:set", "MODE=two", "-a", "rollme")         # v5
        v3, v4 = self.release("rollme", 3), self.release("rollme", 4)
        self.assertNotEqual(v3["slug"]["id"], v4["slug"]["id"])

        out = self.pier_ok("rollback", "v3", "-a", "rollme")           # v6
        self.assertIn("Rolling back rollme to v3... done, v6", out)
        v6 = self.release("rollme", 6)
        self.assertEqual(v6["description"], "Rollback to v3")
        self.assertTrue(v6["current"])
        self.assertEqual(v6["slug"]["id"], v3["slug"]["id"])
        self.assertEqual(self.api_ok("GET", "/apps/rollme/config-vars"), {"MODE": "one"})
        self.assertIn("Rollback to v3", self.pier_ok("releases", "-a", "rollme"))

        out = self.pier_ok("rollback", "-a", "rollme")                 # v7: before v6 is v5
        self.assertIn("to v5... done, v7", out)
        self.assertEqual(self.release("rollme", 7)["slug"]["id"], v4["slug"]["id"])
        self.assertEqual(self.api_ok("GET", "/apps/rollme/config-vars"), {"MODE": "two"})
        self.pier_fails("rollback", "v99", "-a", "rollme")
        # v1 has no code: refused, nothing changes
        self.pier_fails("rollback", "v1", "-a", "rollme",
                        message="v1 of rollme has no code to roll back to: it was made before "
                                "the first push")
        self.assertEqual(self.releases("rollme")[0]["version"], 7)

    def test_release_create_validates_the_slug(self):
        self.create_app("slugval")
        good = {"id": "33333333-3333-4333-8333-333333333333", "commit": "abc1234", "size": 1,
                "process_types": {"web": "x"}, "buildpack": "Procfile"}
        for change, status, msg in (
                ({"id": "NOPE"}, 422, "slug id must be a lowercase UUID"),
                ({"commit": "abc\n1234"}, 422, "slug commit must be a git commit id (lowercase hex)"),
                ({"size": -1}, 422, "slug size must not be negative"),
                ({"process_types": {"Bad Type": "x"}}, 422, "process type Bad Type is invalid"),
                ({"size": "1"}, 400, None),
                ({}, 422, "slug %s is not in place" % good["id"])):
            r = self.api("POST", "/apps/slugval/releases", {"slug": dict(good, **change)})
            body = self.assertError(r, status, "invalid_params" if status == 422
                                    else "bad_request", repr(change))
            if msg:
                self.assertEqual(body["message"], msg)
        self.assertEqual(len(self.releases("slugval")), 1)

    def test_marking_releases_failed(self):
        self.create_app("markfail")
        r = self.api("PATCH", "/apps/markfail/releases/1", {"status": "failed"})
        self.assertEqual(self.assertError(r, 422, "invalid_params")["message"],
                         "v1 has no code: it cannot fail")
        r = self.api("PATCH", "/apps/markfail/releases/1", {"status": "succeeded"})
        self.assertError(r, 422, "invalid_params")
        self.assertEqual(self.release("markfail", 1)["status"], "succeeded")
        self.set_config("markfail", {"A": "1"})                        # still fine: v2
        self.assertEqual(self.releases("markfail")[0]["version"], 2)

    def test_bare_rollback_skips_releases_without_code(self):
        self.create_app("rollcfg")
        self.pier_ok("config:set", "A=1", "-a", "rollcfg")               # v2, no code yet
        self.push_ok(self.make_repo("procfile"), "rollcfg")           # v3
        self.pier_fails("rollback", "-a", "rollcfg",
                        message="rollcfg has no release before v3 to roll back to")
        self.assertTrue(self.release("rollcfg", 3)["current"])


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK), "pier-build is not built")
class BuildpackApiTest(DeployTestCase):

    def test_inline_buildpack_api(self):
        """SOURCE_VERSION, STACK, ENV_DIR with config vars (not in compile's
        environment), and CACHE_DIR kept between builds."""
        self.create_app("inline")
        self.pier_ok("config:set", "GREETING=hello there", "WITH_EQ=a=b", "-a", "inline")
        repo = self.make_repo("inline")
        sha = self.head(repo)
        out = self.push_ok(repo, "inline")
        lines = self.remote_lines(out)
        self.assertIn("-----> Inline app detected", lines, out)
        self.assertIn("       SOURCE_VERSION=%s" % sha, lines, out)
        self.assertIn("       STACK=debian-12", lines, out)
        self.assertIn("       env GREETING=hello there", lines, out)
        self.assertIn("       env WITH_EQ=a=b", lines, out)
        self.assertIn("       GREETING in environment: no", lines, out)
        self.assertIn("       cache counter: 1", lines, out)
        self.assertIn("       Default types for buildpack -> web", lines, out)

        sha2 = self.commit(repo, "again")
        out = self.push_ok(repo, "inline")
        lines = self.remote_lines(out)
        self.assertIn("       cache counter: 2", lines, out)
        self.assertIn("       SOURCE_VERSION=%s" % sha2, lines, out)
        files = self.slug_dir("inline", 4)
        with open(os.path.join(files, "build-info.txt")) as f:
            self.assertIn("SOURCE_VERSION=%s" % sha2, f.read())

    def test_buildpack_from_a_git_url(self):
        """A buildpack named by a git URL is cloned at build time: here a
        repo served over git's dumb HTTP by a local web server."""
        bp = os.path.join(self.tmp, "bp")
        self.make_repo(name="bp", files={
            "bin/detect": (b"#!/bin/sh\necho FromGit\n", 0o755),
            "bin/compile": (b"#!/bin/sh\necho '       compiled by a cloned buildpack'\n", 0o755),
            "bin/release": (b"#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n"
                            b"  worker: sleep 1000\\n'\n", 0o755)})
        served = os.path.join(self.tmp, "served")
        os.makedirs(served)
        rc, out, err = self.git("clone", "-q", "--bare", bp, os.path.join(served, "bp.git"),
                                cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.git("update-server-info", cwd=os.path.join(served, "bp.git"))
        self.assertEqual(rc, 0, err)
        from harness import free_port
        port = free_port()
        srv = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", str(port), "--bind",
                                "127.0.0.1"], cwd=served, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        self.addCleanup(srv.kill)
        import time
        for _ in range(100):
            try:
                import socket
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.create_app("fromgit")
        self.pier_ok("buildpacks:set", "http://127.0.0.1:%d/bp.git" % port, "-a", "fromgit")
        repo = self.make_repo(files={"README": b"an app\n"})
        out = self.push_ok(repo, "fromgit")
        lines = self.remote_lines(out)
        self.assertIn("-----> FromGit app detected", lines, out)
        self.assertIn("       compiled by a cloned buildpack", lines, out)
        slug = self.api_ok("GET", "/apps/fromgit/slugs/%s"
                           % self.release("fromgit", 2)["slug"]["id"])
        self.assertEqual(slug["process_types"], {"worker": "sleep 1000"})

        # URL#branch and URL#tag over dumb HTTP (no shallow clone there)
        bare = os.path.join(served, "bp.git")
        for args in (["checkout", "-q", "-b", "other"],):
            self.assertEqual(self.git(*args, cwd=bp)[0], 0)
        self.commit(bp, "other", files={"bin/compile": (
            b"#!/bin/sh\necho '       compiled on the other branch'\n", 0o755)})
        for args in (["tag", "v1"], ["push", "-q", bare, "other", "v1"]):
            rc, out, err = self.git(*args, cwd=bp)
            self.assertEqual(rc, 0, err)
        self.assertEqual(self.git("update-server-info", cwd=bare)[0], 0)
        for ref in ("other", "v1"):
            self.pier_ok("buildpacks:set", "http://127.0.0.1:%d/bp.git#%s" % (port, ref),
                         "-a", "fromgit")
            self.commit(repo, "with " + ref, files={"README": ref.encode()})
            lines = self.remote_lines(self.push_ok(repo, "fromgit"))
            self.assertIn("       compiled on the other branch", lines, ref)

    def test_slugignore(self):
        self.create_app("ignored")
        repo = self.make_repo("procfile", files={
            ".slugignore": b"# comment\n*.log\n/secret/\ndocs\n",
            "debug.log": b"x\n", "sub/deep.log": b"x\n", "secret/key": b"k\n",
            "docs/a.md": b"a\n", "keep/docs.txt": b"kept\n", "keep.txt": b"kept\n"})
        self.push_ok(repo, "ignored")
        files = self.slug_dir("ignored", 2)
        present = set()
        for root, dirs, names in os.walk(files):
            for n in names:
                present.add(os.path.relpath(os.path.join(root, n), files))
        self.assertIn("keep.txt", present)
        self.assertIn("keep/docs.txt", present)
        self.assertIn("Procfile", present)
        for gone in ("debug.log", "sub/deep.log", "secret/key", "docs/a.md"):
            self.assertNotIn(gone, present)

    def test_buildpack_names_are_checked(self):
        self.create_app("bpnames")
        # Heroku's names of the built-in ones are taken as those
        self.assertEqual(self.pier_ok("buildpacks:set", "heroku/python", "-a", "bpnames"),
                         "Buildpack set. Next release on bpnames will use python.\n"
                         "Run `git push pier main` to create a new release using this "
                         "buildpack.\n")
        for bad in ("bogus", "heroku/ruby", "../python"):
            self.pier_fails("buildpacks:add", bad, "-a", "bpnames",
                            message="there is no built-in buildpack \"%s\"; the built-in ones "
                                    "are make, nodejs, procfile, python, static; or give a git "
                                    "URL" % bad)
        for url in ("https://x.test/-u ../bp", "file:///tmp/bp", "ssh://x.test/bp"):
            self.pier_fails("buildpacks:add", url, "-a", "bpnames",
                            message="buildpack URL \"%s\" is not one pier can clone: give an "
                                    "https://, http:// or git:// URL" % url)
        self.pier_ok("buildpacks:add", "https://example.com/bp.git", "-a", "bpnames")
        self.assertEqual(self.pier_ok("buildpacks", "-a", "bpnames"),
                         "=== bpnames Buildpack URLs\n1. python\n2. https://example.com/bp.git\n")

    def test_buildpacks_set_and_dot_buildpacks(self):
        self.create_app("bpsel")
        # a Procfile app that also has a Makefile: auto-detect would pick make
        repo = self.make_repo(files={"Makefile": b"all:\n\ttouch built\n",
                                     "Procfile": b"web: python3 -m http.server $PORT\n"})
        self.pier_ok("buildpacks:set", "procfile", "-a", "bpsel")
        out = self.push_ok(repo, "bpsel")
        self.assertIn("-----> Procfile app detected", self.remote_lines(out), out)
        self.pier_ok("buildpacks:clear", "-a", "bpsel")
        self.commit(repo, "dotfile", files={".buildpacks": b"# one per line\nmake\n"})
        out = self.push_ok(repo, "bpsel")
        self.assertIn("-----> C (make) app detected", self.remote_lines(out), out)


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK), "pier-build is not built")
class BuiltinBuildpacksTest(DeployTestCase):
    """One app per built-in buildpack, auto-detected."""

    def deploy(self, sample, name, detected):
        self.create_app(name)
        repo = self.make_repo(sample)
        out = self.push_ok(repo, name)
        self.assertIn("-----> %s app detected" % detected, self.remote_lines(out), out)
        self.assertIn("Launching... done, v2", out)
        return self.slug_dir(name, 2)

    def test_python(self):
        files = self.deploy("python", "pyapp", "Python")
        self.assertTrue(os.path.exists(os.path.join(files, ".venv", "bin", "python")))
        site = subprocess.run(["sh", "-c", "ls %s/.venv/lib/python3*/site-packages" % files],
                              stdout=subprocess.PIPE).stdout.decode()
        self.assertIn("pierhello", site)
        self.assertTrue(os.path.isfile(os.path.join(files, ".profile.d", "python.sh")))

    def test_python_second_push_copies_the_cached_virtualenv(self):
        self.create_app("pytwice")
        repo = self.make_repo("python")
        self.assertNotIn("Copied from the build cache", self.push_ok(repo, "pytwice"))
        self.commit(repo, "again", files={"NOTE": b"2\n"})
        out = self.push_ok(repo, "pytwice")
        self.assertIn("       Copied from the build cache", self.remote_lines(out), out)
        files = self.slug_dir("pytwice", 3)
        site = subprocess.run(["sh", "-c", "ls %s/.venv/lib/python3*/site-packages" % files],
                              stdout=subprocess.PIPE).stdout.decode()
        self.assertIn("pierhello", site)
        with open(os.path.join(files, ".venv", "bin", "pip")) as f:
            self.assertEqual(f.readline(), "#!/app/.venv/bin/python3\n")

    def test_python_app_py_alone(self):
        # No Procfile, no requirements.txt: app.py is enough, and the
        # buildpack's default web process runs it.
        self.create_app("pyalone")
        repo = self.make_repo(files={"app.py": (
            b"import http.server, os\n"
            b"http.server.HTTPServer(('', int(os.environ['PORT'])),\n"
            b"                       http.server.SimpleHTTPRequestHandler).serve_forever()\n")})
        out = self.push_ok(repo, "pyalone")
        self.assertIn("-----> Python app detected", self.remote_lines(out), out)
        self.assertIn("Launching... done, v2", out)
        slug = self.api_ok("GET", "/apps/pyalone/slugs/%s"
                           % self.release("pyalone", 2)["slug"]["id"])
        self.assertEqual(slug["process_types"], {"web": "python app.py"})

    def test_nodejs_with_express_from_npm(self):
        files = self.deploy("nodejs", "nodeapp", "Node.js")
        self.assertTrue(os.path.isfile(os.path.join(files, "node_modules", "express",
                                                    "package.json")))
        slug = self.api_ok("GET", "/apps/nodeapp/slugs/%s" % self.release("nodeapp", 2)["slug"]["id"])
        self.assertEqual(slug["process_types"].get("web"), "npm start")

    def test_static(self):
        files = self.deploy("static", "site", "Static")
        self.assertTrue(os.path.isfile(os.path.join(files, "index.html")))

    def test_make(self):
        files = self.deploy("make", "capp", "C (make)")
        server = os.path.join(files, "server")
        self.assertTrue(os.path.isfile(server) and os.access(server, os.X_OK))


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK), "pier-build is not built")
class HostileRepoTest(DeployTestCase):

    def test_symlinks_do_not_leak_host_files(self):
        """Links to /etc/shadow and to pierd's state db: the build cannot
        read through them and the slug keeps them as links, never as the
        files' contents."""
        self.create_app("sneaky")
        db = os.path.join(self.pierd.home, "state.db")
        compile_sh = (b"#!/bin/sh\n"
                      b"cat /app/shadow > /app/leak-shadow.txt 2>/dev/null || echo denied-shadow\n"
                      b"cat /app/db > /app/leak-db.txt 2>/dev/null || echo denied-db\n"
                      b"cat " + db.encode() + b" > /app/leak-db2.txt 2>/dev/null || echo denied-db2\n")
        repo = self.make_repo(files={
            "bin/detect": (b"#!/bin/sh\necho Sneaky\n", 0o755),
            "bin/compile": (compile_sh, 0o755),
            "Procfile": b"worker: sleep 1000\n"})
        os.symlink("/etc/shadow", os.path.join(repo, "shadow"))
        os.symlink(db, os.path.join(repo, "db"))
        self.commit(repo, "links")
        out = self.push_ok(repo, "sneaky")
        for word in ("denied-shadow", "denied-db", "denied-db2"):
            self.assertIn(word, out)
        files = self.slug_dir("sneaky", 2)
        self.assertTrue(os.path.islink(os.path.join(files, "shadow")))
        self.assertEqual(os.readlink(os.path.join(files, "shadow")), "/etc/shadow")
        for leak in ("leak-shadow.txt", "leak-db.txt", "leak-db2.txt"):
            p = os.path.join(files, leak)
            if os.path.exists(p):
                self.assertEqual(os.path.getsize(p), 0, leak)

    def test_big_file_push(self):
        """A 200 MB file (incompressible) goes through git, the build and
        the slug."""
        self.create_app("big")
        repo = self.make_repo("procfile")
        with open(os.path.join(repo, "blob.bin"), "wb") as f:
            for _ in range(200):
                f.write(os.urandom(1 << 20))
        self.commit(repo, "big")
        out = self.push_ok(repo, "big", timeout=900)
        self.assertRegex(out, r"Compiled slug size is 2\d\d(\.\d)?M")
        files = self.slug_dir("big", 2)
        self.assertEqual(os.path.getsize(os.path.join(files, "blob.bin")), 200 << 20)

    def restart_pierd_with(self, *flags):
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + list(flags))

    def test_file_bomb_refused(self):
        """More files than the limit: a clear error, nothing released.
        (The limit is lowered so that the test stays quick.)"""
        self.restart_pierd_with("--build-max-files", "300")
        self.create_app("bomb")
        files = {"Procfile": b"worker: sleep 1000\n"}
        for i in range(400):
            files["many/f%03d" % i] = b"x"
        repo = self.make_repo(files=files)
        out = self.push_fails(repo, "bomb")
        self.assertIn("at most 300 files", out)
        self.assertEqual(len(self.releases("bomb")), 1)

    def test_build_timeout(self):
        self.restart_pierd_with("--build-timeout", "3")
        self.create_app("sleepy")
        repo = self.make_repo(files={
            "bin/detect": (b"#!/bin/sh\necho Sleepy\n", 0o755),
            "bin/compile": (b"#!/bin/sh\necho started\nsleep 60\n", 0o755),
            "Procfile": b"worker: sleep 1000\n"})
        import time
        t = time.monotonic()
        out = self.push_fails(repo, "sleepy")
        self.assertLess(time.monotonic() - t, 30, out)
        self.assertRegex(out, r"(?i)timed out after 3 seconds")
        self.assertEqual(len(self.releases("sleepy")), 1)

    def test_concurrent_pushes_to_one_app(self):
        self.create_app("race")
        a = self.make_repo("procfile", name="a", files={"WHO": b"a\n"})
        b = self.make_repo("procfile", name="b", files={"WHO": b"b\n"})
        results = {}

        def go(name, repo):
            results[name] = self.push(repo, "race", extra=("--force",))

        threads = [threading.Thread(target=go, args=(n, r)) for n, r in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [n for n, (rc, out) in results.items() if rc == 0]
        self.assertGreaterEqual(len(ok), 1, results)
        rels = self.releases("race")
        versions = sorted(r["version"] for r in rels)
        self.assertEqual(versions, list(range(1, len(versions) + 1)))
        self.assertEqual(len(versions), 1 + len(ok), results)
        for n, (rc, out) in results.items():
            if rc != 0:   # refused clearly, not corrupted
                self.assertRegex(out, r"moved while|another push|rejected", out)
        # the repo's main is the commit of the newest release
        newest = rels[0]
        slug = self.api_ok("GET", "/apps/race/slugs/%s" % newest["slug"]["id"])
        rc, out, err = self.git("ls-remote", self.push_url("race"), "main", cwd=a)
        self.assertTrue(out.startswith(slug["commit"]), (out, slug))


if __name__ == "__main__":
    unittest.main()
