"""One-off dynos (`pier run`, `pier run --detach`, POST /apps/APP/dynos,
the attach protocol of GET /apps/APP/dynos/NAME/attach) and the release
phase (SPEC §3: a `release` process type runs before its release goes
live)."""

import fcntl
import hashlib
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import time
import unittest
import urllib.request

from harness import PIER, sanitizer_report
from test_deploy import PIER_BUILD_BIN
from test_dynos import (PROCFILE_WEB, PS_TIME, STOP_TIMEOUT, DynoTestCase, _need_dyno,
                        app_processes)

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

    def test_logs_on_a_terminal_neuter_control_bytes(self):
        app = self.deploy("ansi", "procfile")
        self.pier_ok("run", "--detach", "-a", app, "--",
                     "printf 'ok\\r\\033[2Kfake \\033[31mred\\033[0m \\033]52;c;eA==\\007\\n'")
        self.wait_log(app, r"^ok\r", proc=None)
        # piped: the bytes as they are
        raw = self.pier("logs", "-a", app, "-s", "app").out
        self.assertIn(b"ok\r\x1b[2Kfake \x1b[31mred\x1b[0m \x1b]52;c;eA==\x07", raw)
        # on a terminal: colours only
        master, slave = pty.openpty()
        p = subprocess.Popen([PIER, "logs", "-a", app, "-s", "app"], stdin=subprocess.DEVNULL,
                             stdout=slave, stderr=subprocess.PIPE,
                             env=self.cli_env(env={"NO_COLOR": "1"}))
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(timeout=20), 0, p.stderr.read())
        self.assertIn(b"ok??[2Kfake \x1b[31mred\x1b[0m ?]52;c;eA==?", out)

    def test_run_before_any_deploy_is_a_clear_error(self):
        app = self.new_app("norel")
        msg = "pier: %s has no release to run yet: deploy it first\n" % app
        res = self.pier("run", "-a", app, "ls", stdin=None)
        self.assertEqual((res.code, res.out), (1, b""), res)
        self.assertEqual(res.err.decode(), "Running `ls` on %s... failed\n%s" % (app, msg))
        res = self.pier("run", "--detach", "-a", app, "ls")
        self.assertEqual(res.code, 1, res)
        self.assertEqual(res.out.decode(), "Running `ls` on %s... failed\n" % app)
        self.assertEqual(res.err.decode(), msg)

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
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "v2"), "migrating\n")
        # the release command is no process type to scale
        self.pier_fails("ps:scale", "release=1", "-a", app,
                        message="release is the release phase's command: it runs once for each "
                                "new release, not as dynos")
        self.assertEqual([f["type"] for f in self.api_ok("GET", "/apps/%s/formation" % app)],
                         ["web"])

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
        # the failed release keeps its slug, but is no release to roll back to
        slug = self.release(app, 3)["slug"]["id"]
        self.assertTrue(os.path.exists(os.path.join(
            self.pierd.home, "slugs", self.apps[app], slug + ".tar.zst")))
        self.pier_fails("rollback", "-a", app, "v3",
                        message="v3 of %s is failed: roll back to a release that went live" % app)

    def test_release_whose_slug_is_gone_fails_without_a_storm(self):
        # A slug file lost from the disk: the release command of a rollback
        # to it cannot start.  It must fail once, not retry the unpacking
        # in a loop.
        app = self.new_app("relgone")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\nrelease: echo ok\n" % PROCFILE_WEB).encode()})
        self.push_ok(repo, app)                                   # v2
        self.commit(repo, "second", files={"NOTE": b"2\n"})
        self.push_ok(repo, app)                                   # v3
        self.wait_dynos(app, {"web": 1}, version=3)
        slug = self.release(app, 2)["slug"]["id"]
        os.unlink(os.path.join(self.pierd.home, "slugs", self.apps[app], slug + ".tar.zst"))
        mark = len(self.pierd.current_log())
        t0 = time.monotonic()
        res = self.pier("rollback", "-a", app, "v2")
        self.assertEqual(res.code, 1, res)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual((self.release(app, 4)["status"], self.release(app, 3)["current"]),
                         ("failed", True))
        time.sleep(1)
        self.assertLess(self.pierd.current_log()[mark:].count("unpack"), 5)
        self.assertEqual([d["release"]["version"] for d in self.dynos(app)], [3])

    def test_release_phase_timeout_fails_the_release(self):
        self.pierd.stop()
        self.pierd.start(argv=self.fast_argv + ["--release-timeout", "2"])
        app = self.new_app("relslow")
        repo = self.make_repo("procfile", name="repo-" + app)
        self.push_ok(repo, app)                                   # v2
        self.wait_dynos(app, {"web": 1}, version=2)
        self.commit(repo, "slow release", files={"Procfile": (
            "web: %s\nrelease: echo migrating; exec sleep 600\n" % PROCFILE_WEB).encode()})
        t0 = time.monotonic()
        out = self.push_fails(repo, app)
        self.assertLess(time.monotonic() - t0, 30, out)
        self.assertIn("       migrating", out)
        self.assertIn("Release command failed", out)
        rels = self.releases(app)
        self.assertEqual((rels[0]["version"], rels[0]["status"], rels[0]["current"]),
                         (3, "failed", False))
        self.assertTrue(self.release(app, 2)["current"])
        self.assertEqual([(d["name"], d["release"]["version"]) for d in self.dynos(app)],
                         [("web.1", 2)])

    # SPEC §1/§3: a config change and a rollback make releases too, and a
    # release command runs for every new release before it goes live.
    RELEASE_GUARD = ('release: echo "release sees K=$K"; '
                     'if [ "$K" = bad ]; then echo refusing; exit 3; fi\n')

    def release_app(self, base):
        app = self.new_app(base)
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\n%s" % (PROCFILE_WEB, self.RELEASE_GUARD)).encode()})
        self.push_ok(repo, app)                                   # v2
        self.wait_dynos(app, {"web": 1}, version=2)
        return app

    def test_release_phase_runs_for_config_changes(self):
        app = self.release_app("relcfg")
        out = self.pier_ok("config:set", "-a", app, "K=good")
        self.assertRegex(out, r"^Setting K and restarting %s\.\.\. done, v3\n" % re.escape(app))
        lines = out.splitlines()
        self.assertIn("Running release command...", lines, out)
        # the command sees the new config vars, its output comes back
        self.assertLess(lines.index("Running release command..."),
                        lines.index("release sees K=good"), out)
        rel = self.release(app, 3)
        self.assertEqual((rel["status"], rel["current"]), ("succeeded", True))
        self.wait_dynos(app, {"web": 1}, version=3)

        # config:unset too
        out = self.pier_ok("config:unset", "-a", app, "K")
        self.assertIn("release sees K=\n", out)
        self.assertEqual(self.release(app, 4)["status"], "succeeded")
        self.wait_dynos(app, {"web": 1}, version=4)

        # releases:output shows one release's output again (default: the newest)
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "v3"),
                         "release sees K=good\n")
        self.assertEqual(self.pier_ok("releases:output", "-a", app), "release sees K=\n")
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "v1"),
                         "v1 has no release command output in the last 1500 log lines\n")
        self.pier_fails("releases:output", "-a", app, "v99",
                        message="couldn't find release 99 of %s" % app)

    def test_release_output_beyond_what_the_log_keeps_says_so(self):
        app = self.new_app("relflood")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\nrelease: seq 1 5000\n" % PROCFILE_WEB).encode()})
        notice = "(some lines may be missing here: more came at once than the log keeps)"
        lines = self.remote_lines(self.push_ok(repo, app))
        self.assertIn("       " + notice, lines)
        # the notice stands where lines went missing, and the last came
        self.assertLess(lines.index("       " + notice), lines.index("       5000"))
        self.assertEqual(lines.count("       5000"), 1)
        out = self.pier_ok("config:set", "-a", app, "K=1").splitlines()
        self.assertLess(out.index(notice), out.index("5000"))
        self.assertEqual(out[-1], "5000")
        nums = [int(l) for l in out if l.isdigit()]
        self.assertEqual(nums, sorted(set(nums)), "lines twice or out of order")

    def test_release_output_of_concurrent_release_commands(self):
        app = self.new_app("relpar")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\nrelease: echo \"start K=$K\"; sleep 1; echo \"end K=$K\"\n"
            % PROCFILE_WEB).encode()})
        self.push_ok(repo, app)                                   # v2
        # v3 and v4 made at once: both commands run side by side
        self.api_ok("PATCH", "/apps/%s/config-vars" % app, {"K": "a"})
        self.api_ok("PATCH", "/apps/%s/config-vars" % app, {"K": "b"})
        self.wait_for("both done", lambda: all(
            self.release(app, v)["status"] == "succeeded" for v in (3, 4)), app=app)
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "v3"),
                         "start K=a\nend K=a\n")
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "v4"),
                         "start K=b\nend K=b\n")
        self.wait_dynos(app, {"web": 1}, version=4)

    def test_release_phase_failing_config_change_keeps_old_release(self):
        app = self.release_app("relcfgbad")
        old = self.dynos(app)[0]
        res = self.pier("config:set", "-a", app, "K=bad")
        ctx = self.describe(("config:set", "K=bad"), res)
        self.assertEqual(res.code, 1, ctx)
        out = res.out.decode()
        self.assertIn("Setting K and restarting %s... done, v3" % app, out)
        self.assertIn("Running release command...\nrelease sees K=bad\nrefusing\n", out, ctx)
        self.assertEqual(res.err.decode(), "pier: the release command failed: v3 is failed "
                         "and the release before it keeps running\n", ctx)
        rel = self.release(app, 3)
        self.assertEqual((rel["status"], rel["current"]), ("failed", False))
        self.assertTrue(self.release(app, 2)["current"])
        # the dyno of v2 was never touched; the config var is set (as on
        # Heroku), for the next release to use
        time.sleep(0.5)
        ds = self.dynos(app)
        self.assertEqual([(d["name"], d["release"]["version"], d["port"]) for d in ds],
                         [("web.1", 2, old["port"])])
        self.answers(old["port"])
        self.assertEqual(self.pier_ok("config:get", "-a", app, "K"), "bad\n")
        self.assertEqual(self.pier_ok("releases:output", "-a", app, "3"),
                         "release sees K=bad\nrefusing\n")
        # the next good change goes live
        self.pier_ok("config:set", "-a", app, "K=fine")
        self.wait_dynos(app, {"web": 1}, version=4)

    def test_release_phase_runs_for_rollbacks(self):
        app = self.release_app("relrb")
        res = self.pier("config:set", "-a", app, "K=bad")      # v3: failed
        self.assertEqual(res.code, 1, res)
        self.pier_ok("config:set", "-a", app, "K=good")         # v4
        self.wait_dynos(app, {"web": 1}, version=4)
        # back to v2's config (no K): the command runs with it
        out = self.pier_ok("rollback", "-a", app, "v2")
        self.assertIn("Rolling back %s to v2... done, v5\n" % app, out)
        self.assertIn("Running release command...\nrelease sees K=\n", out)
        rel = self.release(app, 5)
        self.assertEqual((rel["status"], rel["current"]), ("succeeded", True))
        self.wait_dynos(app, {"web": 1}, version=5)
        # v3 failed: no release to roll back to; v5 runs on.  (A rollback
        # whose release command fails: test_release_whose_slug_is_gone...)
        self.pier_fails("rollback", "-a", app, "v3",
                        message="v3 of %s is failed: roll back to a release that went live" % app)
        self.assertEqual(len(self.releases(app)), 5)
        self.assertEqual([d["release"]["version"] for d in self.dynos(app)], [5])

    def test_release_left_pending_by_killed_pierd_fails(self):
        app = self.new_app("relkill")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: %s\nrelease: if [ -n \"$SLOW\" ]; then exec sleep 600; fi\n"
            % PROCFILE_WEB).encode()})
        self.push_ok(repo, app)                                   # v2
        self.wait_dynos(app, {"web": 1}, version=2)
        self.api_ok("PATCH", "/apps/%s/config-vars" % app, {"SLOW": "1"})  # v3
        self.assertEqual(self.release(app, 3)["status"], "pending")
        self.pierd.kill()
        self.pierd.start(argv=self.fast_argv)
        rel = self.release(app, 3)
        self.assertEqual((rel["status"], rel["current"]), ("failed", False))
        self.assertTrue(self.release(app, 2)["current"])
        self.wait_dynos(app, {"web": 1}, version=2)
        self.assertIn("were pending when pierd stopped", self.pierd.current_log())


# ---- attached runs ------------------------------------------------------------

STATUS_LINE = r"^Running `%s` on %s\.\.\. up, (run\.\d{4})$"

# Frames of the attach protocol (src/lib/attachproto.h).
STDIN, STDOUT, STDERR, RESIZE, SIGNAL, EXIT = range(6)


def frame(kind, data=b""):
    return struct.pack(">BI", kind, len(data)) + data


def read_frames(sock, timeout=20):
    """Frames from pierd until EXIT or EOF: (stdout, stderr, status or None)."""
    buf, out, err, status = b"", b"", b"", None
    deadline = time.monotonic() + timeout
    while status is None and time.monotonic() < deadline:
        while len(buf) >= 5:
            kind, n = struct.unpack(">BI", buf[:5])
            if len(buf) < 5 + n:
                break
            data, buf = buf[5:5 + n], buf[5 + n:]
            if kind == STDOUT:
                out += data
            elif kind == STDERR:
                err += data
            elif kind == EXIT:
                status = struct.unpack(">i", data)[0]
        if status is not None:
            break
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        buf += data
    return out, err, status


@unittest.skipUnless(os.access(PIER_BUILD_BIN, os.X_OK),
                     "pier-build is not built")
class AttachedRunTest(DynoTestCase):

    def setUp(self):
        _need_dyno()
        super().setUp()

    def app(self, base="att", procfile=None):
        files = {"Procfile": procfile.encode()} if procfile else None
        app = self.deploy(base, "procfile", files=files)
        self.wait_dynos(app, {"web": 1})
        return app

    def run_cmd(self, app, *cmd, stdin=b"", timeout=60):
        res = self.pier("run", "-a", app, "--", *cmd, stdin=stdin, timeout=timeout)
        err = res.err.decode("utf-8", "replace")
        m = re.match(STATUS_LINE % (re.escape(" ".join(cmd)), re.escape(app)), err, re.M)
        self.assertIsNotNone(m, self.describe(cmd, res))
        return res, m.group(1), err[m.end() + 1:]

    def run_gone(self, app, name, timeout=STOP_TIMEOUT + 10):
        self.wait_for("%s gone" % name,
                      lambda: name not in [d["name"] for d in self.dynos(app)],
                      timeout=timeout, app=app)

    def test_exit_codes_stdout_stderr_not_logged(self):
        app = self.app()
        res, name, err = self.run_cmd(app, "echo out-marker-1; echo err-marker-1 >&2; exit 3")
        self.assertEqual(res.code, 3, self.describe(["run"], res))
        self.assertEqual(res.out, b"out-marker-1\n")
        self.assertEqual(err, "err-marker-1\n")
        res, _, _ = self.run_cmd(app, "true")
        self.assertEqual((res.code, res.out), (0, b""))
        res, _, err = self.run_cmd(app, "no-such-command-here")
        self.assertEqual(res.code, 127, err)
        self.assertIn("command not found", err)
        # lifecycle lines go to the logs, the output does not
        self.wait_log(app, r"^Process exited with status 3$", proc=name)
        self.wait_log(app, r"^Starting process with command `echo out-marker-1", proc=name)
        self.assertEqual([e for e in self.log_events(app, source="app")
                          if e[2].startswith("run.")], [])
        self.assertEqual(sorted(d["name"] for d in self.dynos(app)), ["web.1"])

    def test_stdin_is_streamed_with_eof(self):
        app = self.app()
        res, _, _ = self.run_cmd(app, "cat", stdin=b"a\nb\n")
        self.assertEqual((res.code, res.out), (0, b"a\nb\n"))
        # stdin closed at once: EOF, nothing read
        res, _, _ = self.run_cmd(app, "wc -c", stdin=b"")
        self.assertEqual((res.code, res.out.strip()), (0, b"0"))
        # a large input both ways, byte for byte
        data = os.urandom(3 * 1024 * 1024)
        res, _, _ = self.run_cmd(app, "sha256sum; cat >/dev/null", stdin=data, timeout=120)
        self.assertEqual(res.code, 0)
        self.assertEqual(res.out.split()[0].decode(), hashlib.sha256(data).hexdigest())

    def test_large_output_arrives_complete(self):
        app = self.app()
        res, _, _ = self.run_cmd(app, "head -c 5000000 /dev/zero | tr '\\0' x; echo; exit 5",
                                 timeout=120)
        self.assertEqual(res.code, 5)
        self.assertEqual(len(res.out), 5000001)
        self.assertEqual(res.out, b"x" * 5000000 + b"\n")

    def test_closed_stdout_ends_the_run(self):
        app = self.app()
        p = subprocess.run("%s run -a %s -- yes | head -2" % (PIER, app), shell=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.cli_env(), cwd=self.work, timeout=60)
        self.assertEqual(p.stdout, b"y\ny\n", p.stderr)
        self.assertFalse(sanitizer_report(p.stderr), p.stderr)
        self.wait_for("no run dyno left", lambda: not [
            d for d in self.dynos(app) if d["type"] == "run"], timeout=STOP_TIMEOUT + 10,
            app=app)

    def test_run_type_expands_with_arguments(self):
        app = self.app(procfile="web: %s\nhello: echo hello from type\n" % PROCFILE_WEB)
        res = self.pier("run", "-a", app, "hello", "42")
        self.assertEqual((res.code, res.out), (0, b"hello from type 42\n"),
                         self.describe(["run"], res))
        self.assertIn(b"Running `echo hello from type 42` on", res.err)

    def spawn_pier(self, *args, **kw):
        p = subprocess.Popen([PIER] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.cli_env(), cwd=self.work, **kw)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def read_until(self, fd, pattern, timeout=15):
        """Reads fd until the bytes read match PATTERN; returns them."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, buf):
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, "no %r within %ss; got %r" % (pattern, timeout, buf))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    self.fail("EOF before %r; got %r" % (pattern, buf))
                buf += data
        return buf

    def test_sigint_is_forwarded_without_tty(self):
        app = self.app()
        script = "trap 'echo got-INT; exit 7' INT; echo ready; while true; do sleep 0.1; done"
        p = self.spawn_pier("run", "-a", app, "--", script, stdin=subprocess.DEVNULL)
        self.read_until(p.stdout.fileno(), rb"ready\n")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 7, (out, err))
        self.assertIn(b"got-INT", out)
        # without a trap the process dies of it: 128 + SIGINT
        p = self.spawn_pier("run", "-a", app, "--", "echo ready; exec sleep 100",
                            stdin=subprocess.DEVNULL)
        self.read_until(p.stdout.fileno(), rb"ready\n")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 130, (out, err))
        self.assertFalse(sanitizer_report(err), err)

    def test_client_gone_stops_the_dyno(self):
        app = self.app()
        p = self.spawn_pier("run", "-a", app, "--", "echo ready; exec sleep 1000",
                            stdin=subprocess.PIPE)
        self.read_until(p.stdout.fileno(), rb"ready\n")
        runs = [d for d in self.dynos(app) if d["type"] == "run"]
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(runs[0]["state"], "up")
        self.assertTrue(app_processes(app, lambda argv: argv[:1] == ["sleep"]))
        p.kill()
        p.wait()
        self.run_gone(app, runs[0]["name"])
        self.wait_for("no process of %s left" % runs[0]["name"],
                      lambda: not app_processes(app, lambda argv: argv[:1] == ["sleep"]),
                      timeout=5)
        self.wait_log(app, r"^Process exited with status", proc=runs[0]["name"])
        self.assert_no_zombies()

    def test_ps_shows_one_off_section(self):
        app = self.app()
        p = self.spawn_pier("run", "-a", app, "--", "echo ready; exec sleep 1000",
                            stdin=subprocess.PIPE)
        self.read_until(p.stdout.fileno(), rb"ready\n")
        out = self.pier_ok("ps", "-a", app)
        rx = (r"\A=== run: one-off processes \(1\)\n"
              r"(run\.\d{4}) \(Standard-1X\): up %s: echo ready; exec sleep 1000\n"
              r"\n"
              r"=== web \(Standard-1X\): %s \(1\)\n"
              r"web\.1: up %s\n\Z" % (PS_TIME, re.escape(PROCFILE_WEB), PS_TIME))
        self.assertRegex(out, rx)
        self.assertRegex(self.pier_ok("ps", "-a", app, "run"),
                         r"\A=== run: one-off processes \(1\)\nrun\.\d{4} \(Standard-1X\): up ")
        p.stdin.close()
        p.kill()
        p.wait()

    # ---- with a terminal -----------------------------------------------------

    def spawn_tty(self, app, *cmd, rows=30, cols=100):
        master, slave = pty.openpty()
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        p = subprocess.Popen([PIER, "run", "-a", app, "--"] + list(cmd), stdin=slave,
                             stdout=slave, stderr=slave, preexec_fn=ctty,
                             env=self.cli_env(env={"TERM": "xterm"}), cwd=self.work)
        os.close(slave)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.addCleanup(os.close, master)
        return p, master

    def tty_done(self, p, master, timeout=20):
        """Waits for pier to exit, reading the rest; (code, output)."""
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                out += data
                if not data:
                    break
            elif p.poll() is not None:
                break
        return p.wait(timeout=5), out

    def test_tty_shell(self):
        app = self.app()
        p, m = self.spawn_tty(app, "bash")
        self.read_until(m, rb"\$ $")
        os.write(m, b"tty; test -t 0 && echo is-a-tty; stty size; echo $((6*7)); echo $TERM\r")
        out = self.read_until(m, rb"\r\n42\r\nxterm\r\n")
        self.assertIn(b"is-a-tty", out)
        # bwrap's /dev/pts is the dyno's own: its terminal shows as /dev/console
        self.assertRegex(out, rb"(/dev/pts/\d+|/dev/console)\r\n")
        self.assertIn(b"\r\n30 100\r\n", out)
        # the window size follows (SIGWINCH, as a terminal sends it)
        fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        time.sleep(0.5)
        os.write(m, b"stty size\r")
        self.read_until(m, rb"\r40 120\r\n")
        # ^C interrupts the foreground job, not the shell
        os.write(m, b"sleep 100\r")
        time.sleep(1)
        os.write(m, b"\x03")
        os.write(m, b"echo after-$((1+1))\r")
        self.read_until(m, rb"after-2\r\n")
        os.write(m, b"exit 4\r")
        code, rest = self.tty_done(p, m)
        self.assertEqual(code, 4, rest)
        self.assertFalse(sanitizer_report(rest), rest)

    def test_tty_ctrl_c_ends_a_plain_command(self):
        app = self.app()
        p, m = self.spawn_tty(app, "echo ready; exec sleep 100")
        self.read_until(m, rb"ready\r\n")
        os.write(m, b"\x03")
        code, rest = self.tty_done(p, m)
        self.assertEqual(code, 130, rest)

    # ---- the API, as a hostile client sees it ---------------------------------

    def attach(self, app, name, token=None, headers=None):
        sock = socket.create_connection(("127.0.0.1", self.pierd.port), timeout=10)
        self.addCleanup(sock.close)
        hdrs = {"Connection": "Upgrade", "Upgrade": "pier-attach",
                "Authorization": "Bearer %s" % (token or self.pierd.admin_token)}
        hdrs.update(headers or {})
        req = "GET /apps/%s/dynos/%s/attach HTTP/1.1\r\nHost: x\r\n" % (app, name)
        req += "".join("%s: %s\r\n" % kv for kv in hdrs.items() if kv[1] is not None)
        sock.sendall(req.encode() + b"\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(1)
            if not data:
                break
            head += data
        status = int(head.split(b" ", 2)[1]) if head else 0
        return sock, status

    def start_attached(self, app, command):
        body = self.api_ok("POST", "/apps/%s/dynos" % app,
                           {"command": command, "attach": True}, status=201)
        self.assertRegex(body["name"], r"^run\.\d{4}$")
        self.assertTrue(body["attach_url"].endswith(
            "/apps/%s/dynos/%s/attach" % (app, body["name"])), body)
        return body["name"]

    def test_attach_api_is_guarded(self):
        app = self.app()
        other = self.new_app("attother")
        name = self.start_attached(app, "read line; echo got:$line; exit 9")
        read_tok = self.api_ok("POST", "/oauth/authorizations", {"scope": ["read"]},
                               status=201)["access_token"]["token"]
        glob_tok = self.api_ok("POST", "/oauth/authorizations", {"scope": ["global"]},
                               status=201)["access_token"]["token"]
        self.assertEqual(self.attach(app, name, token=read_tok)[1], 403)
        self.assertEqual(self.attach(app, name, token=glob_tok)[1], 403)
        self.assertEqual(self.attach(app, name, token="nope")[1], 401)
        self.assertEqual(self.attach(other, name)[1], 404)
        self.assertEqual(self.attach(app, "run.0000")[1], 404)
        self.assertEqual(self.attach(app, name, headers={"Upgrade": "websocket"})[1], 400)
        self.assertEqual(self.attach(app, name, headers={"Connection": None})[1], 400)
        sock, status = self.attach(app, name)
        self.assertEqual(status, 101)
        self.assertEqual(self.attach(app, name)[1], 409)  # once only
        sock.sendall(frame(STDIN, b"hi\n") + frame(STDIN))
        out, err, code = read_frames(sock)
        self.assertEqual((out, err, code), (b"got:hi\n", b"", 9))
        self.assertEqual(sock.recv(10), b"")  # closed after EXIT
        self.run_gone(app, name)
        # the session is over
        self.assertEqual(self.attach(app, name)[1], 404)

    def test_protocol_errors_drop_the_client_and_stop_the_dyno(self):
        app = self.app()
        for bad in (b"\x09", b"\x01\0\0\0\0", b"\x00\xff\xff\xff\xff",
                    b"\x04\0\0\0\x01\x09", b"\x03\0\0\0\x04\0\0\0\0"):
            name = self.start_attached(app, "exec sleep 1000")
            sock, status = self.attach(app, name)
            self.assertEqual(status, 101)
            sock.sendall(bad)
            sock.settimeout(10)
            self.assertEqual(sock.recv(100), b"", bad)
            self.run_gone(app, name)
        self.pierd.check_log()

    def test_pierd_stopping_ends_the_run(self):
        app = self.app()
        p = self.spawn_pier("run", "-a", app, "--", "echo ready; exec sleep 1000",
                            stdin=subprocess.PIPE)
        self.read_until(p.stdout.fileno(), rb"ready\n")
        self.pierd.stop()  # clean, no sanitizer report
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"pier: the connection to pierd was lost", err)
        self.assertFalse(app_processes(app, lambda argv: argv[:1] == ["sleep"]))
        self.pierd.start(argv=self.fast_argv)

    def test_never_attached_is_stopped(self):
        app = self.app()
        name = self.start_attached(app, "exec sleep 1000")
        time.sleep(1)
        self.assertIn(name, [d["name"] for d in self.dynos(app)])
        self.run_gone(app, name, timeout=30 + STOP_TIMEOUT + 10)
        self.wait_log(app, r"^Stopping all processes with SIGTERM$", proc=name)
        self.assertEqual(self.attach(app, name)[1], 404)

    def test_output_before_attach_is_kept(self):
        app = self.app()
        name = self.start_attached(app, "echo early; echo late >&2; exit 2")
        self.wait_log(app, r"^Process exited with status 2$", proc=name)
        sock, status = self.attach(app, name)
        self.assertEqual(status, 101)
        self.assertEqual(read_frames(sock), (b"early\n", b"late\n", 2))


if __name__ == "__main__":
    unittest.main()
