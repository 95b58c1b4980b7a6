"""pier-dyno, the dyno launcher, run directly (SPEC.md §4, DESIGN.md "Dynos").

What a dyno sees (environment, /app, /tmp, its uid, its processes, nothing
of the host), its limits (memory: killed at 2x the quota; pids), how pierd
stops it through its cgroup (SIGTERM to all but bwrap, then SIGKILL), exit
statuses, and that no mount is left on the host.  The cgroup side goes
through BUILD/src/dyno/pier-dyno-cgroup, a command-line wrapper around
src/dyno/cgroup.h, the very functions pierd calls.

Needs root, bwrap and writable cgroups (skipped otherwise, saying why).
Each test makes its own slug dirs under a temp dir and its own cgroups
under pier-e2e-PID-XXXX, removed afterwards.
"""

import json
import os
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, SANITIZER_ENV, sanitizer_report

PIER_DYNO = os.path.join(BUILD, "pier-dyno")
CGTOOL = os.path.join(BUILD, "src", "dyno", "pier-dyno-cgroup")

MIB = 1 << 20
TIMEOUT = 20  # seconds any single dyno may take in these tests


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (pier-dyno sandboxes only as root)"
    if not shutil.which("bwrap"):
        return "bwrap not installed"
    for p in (PIER_DYNO, CGTOOL):
        if not os.access(p, os.X_OK):
            return "%s not built" % p
    for d in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        if os.access(d, os.W_OK) and os.path.exists(os.path.join(d, "cgroup.procs")):
            return None
    return "no writable cgroup hierarchy"


SKIP = _skip_reason()


def cgroup_dirs(name):
    """The directories of cgroup NAME: v2 when /sys/fs/cgroup has memory and
    pids, else the v1 memory and pids hierarchies (as src/dyno/cgroup.c)."""
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                ctl = f.read().split()
        except OSError:
            continue
        if "memory" in ctl and "pids" in ctl:
            return [os.path.join(root, name)]
    return [os.path.join("/sys/fs/cgroup", h, name) for h in ("memory", "pids")]


def cgroup_pids(name):
    pids = set()
    for d in cgroup_dirs(name):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        except FileNotFoundError:
            pass
    return pids


def mounts():
    with open("/proc/self/mountinfo") as f:
        return set(f.read().splitlines())


@unittest.skipIf(SKIP, SKIP)
class DynoSandboxTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pier-dyno-e2e-")
        self.cgbase = "pier-e2e-%d-%s" % (os.getpid(), secrets.token_hex(3))
        self.uid = 41000 + os.getpid() % 1000
        self.procs = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        # Killing pier-dyno's pid (the outer bwrap) would leave the sandbox
        # running: like pierd, kill through the cgroups.
        rc, out, _ = self.cgtool("list", self.cgbase + "/app", check=False)
        for dyno in out.split() if rc == 0 else []:
            self.cgtool("signal", self.cgname(dyno), "9", check=False)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            for s in (p.stdout, p.stderr):
                if s:
                    s.close()
        deadline = time.monotonic() + 5
        while True:
            rc, _, err = self.cgtool("remove", self.cgbase, check=False)
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(rc, 0, "cgroups left behind: %s" % err)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------

    def cgtool(self, *args, check=True):
        p = subprocess.run([CGTOOL, *args], capture_output=True, text=True, timeout=10,
                           env=dict(SANITIZER_ENV))
        self.assertFalse(sanitizer_report(p.stderr), p.stderr)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p.returncode, p.stdout, p.stderr

    def make_slug(self, name="slug", files=None, owner=None):
        """A slug dir: files {relpath: text or (text, mode)}; owned by
        `owner` (default the app's uid, as pierd unpacks them)."""
        root = os.path.join(self.tmp, name)
        os.makedirs(root)
        for rel, content in (files or {}).items():
            mode = None
            if isinstance(content, tuple):
                content, mode = content
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(content)
            if mode is not None:
                os.chmod(path, mode)
        uid = self.uid if owner is None else owner
        for dirpath, dirnames, filenames in os.walk(root):
            for n in [dirpath] + [os.path.join(dirpath, x) for x in dirnames + filenames]:
                os.lchown(n, uid, uid)
        return root

    def write_env(self, pairs):
        path = os.path.join(self.tmp, "env-%s" % secrets.token_hex(4))
        with open(path, "wb") as f:
            for k, v in pairs.items():
                f.write(("%s=%s" % (k, v)).encode() + b"\0")
        return path

    def argv(self, slug, command, name="web.1", env=None, cgroup=True, memory=512 * MIB,
             pids=256, unisolated=False, uid=None):
        a = [PIER_DYNO, "--slug", slug, "--name", name]
        if unisolated:
            a.append("--unisolated")
        else:
            a += ["--app-uid", str(self.uid if uid is None else uid)]
        if cgroup and not unisolated:
            a += ["--cgroup", self.cgname(name), "--memory", str(memory), "--pids", str(pids)]
        if env is not None:
            a += ["--env-file", self.write_env(env)]
        return a + ["--", command]

    def cgname(self, dyno="web.1"):
        return "%s/app/%s" % (self.cgbase, dyno)

    def process_env(self):
        # Something of ours that must not reach the app.
        return dict(os.environ, PIER_E2E_HOST_SECRET="leak", **SANITIZER_ENV)

    def run_dyno(self, slug, command, timeout=TIMEOUT, **kw):
        p = subprocess.run(self.argv(slug, command, **kw), capture_output=True, text=True,
                           timeout=timeout, env=self.process_env(), stdin=subprocess.DEVNULL)
        self.assertFalse(sanitizer_report(p.stderr), p.stderr)
        return p.returncode, p.stdout, p.stderr

    def start_dyno(self, slug, command, **kw):
        p = subprocess.Popen(self.argv(slug, command, **kw), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.process_env(),
                             stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def wait_line(self, p, want, timeout=10):
        """Reads p's stdout until a line equal to `want`; returns the lines."""
        # Raw reads from the fd: a buffered readline() behind select() would
        # keep lines that came in one chunk where select() cannot see them.
        lines, buf = [], b""
        fd = p.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not sel.select(timeout=max(0, deadline - time.monotonic())):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    lines.append(line.decode("utf-8", "replace"))
                    if lines[-1] == want:
                        return lines
        finally:
            sel.close()
        err = p.stderr.read() if p.poll() is not None else ""
        self.fail("no %r from the dyno within %ss; got %r; stderr %r" % (want, timeout, lines, err))

    def kill_dyno(self, p, name="web.1"):
        """SIGKILL to the whole dyno, as pierd does after the grace period."""
        self.cgtool("signal", self.cgname(name), "9")
        return self.finish(p)

    def finish(self, p, timeout=10):
        out, err = p.communicate(timeout=timeout)
        self.assertFalse(sanitizer_report(err), err)
        return p.returncode, out, err

    def py(self, code):
        """A dyno command running python3 code (given as one line)."""
        return "python3 -c %s" % shlex_quote(code)

    # ---- environment -----------------------------------------------------

    def test_environment_cwd_and_home(self):
        slug = self.make_slug(files={"Procfile": "web: true\n"})
        env = {
            "FOO": "bar baz",
            "QUOTES": "it's \"quoted\" $HOME `x` \\ done",
            "MULTI": "line one\nline two\n",
            "EMPTY": "",
            "PORT": "5123",
            "DYNO": "web.1",
        }
        # env -0 first: python3 would add LC_CTYPE to its own environment.
        code = ("import os, json, sys; e = open('/tmp/env0', 'rb').read().split(b'\\0'); "
                "print(json.dumps({'env': dict(x.decode().split('=', 1) for x in e if x), "
                "'cwd': os.getcwd(), 'uid': os.getuid(), 'gid': os.getgid(), "
                "'groups': os.getgroups(), 'host': os.uname().nodename}))")
        rc, out, err = self.run_dyno(slug, "env -0 > /tmp/env0 && " + self.py(code), env=env)
        self.assertEqual(rc, 0, err)
        got = json.loads(out)
        e = got["env"]
        for k, v in env.items():
            self.assertEqual(e.get(k), v, k)
        self.assertEqual(e["HOME"], "/app")
        self.assertEqual(e["PATH"], "/usr/local/bin:/usr/bin:/bin")
        self.assertEqual(got["cwd"], "/app")
        self.assertEqual(got["host"], "web.1")
        self.assertEqual((got["uid"], got["gid"], got["groups"]), (self.uid, self.uid, []))
        self.assertNotIn("PIER_E2E_HOST_SECRET", e)
        # What bash adds itself, as on Heroku.
        extra = set(e) - set(env) - {"HOME", "PATH", "PWD", "SHLVL", "_"}
        self.assertEqual(extra, set(), "unexpected variables reach the app")
        self.assertEqual(err, "")

    def test_env_file_path_and_dyno_defaults(self):
        slug = self.make_slug()
        rc, out, err = self.run_dyno(slug, 'echo "$PATH|$DYNO|$HOME"', name="worker.2",
                                     env={"PATH": "/app/bin:/usr/bin:/bin", "HOME": "/elsewhere"})
        self.assertEqual(rc, 0, err)
        # PATH from the env file wins; DYNO comes from --name; HOME is /app.
        self.assertEqual(out, "/app/bin:/usr/bin:/bin|worker.2|/app\n")

    def test_profile_d_is_sourced_after_config_vars(self):
        slug = self.make_slug(files={
            ".profile.d/10-a.sh": 'export FROM_PROFILE="a:$FOO"\n',
            ".profile.d/20-b.sh": 'export CHAIN="$FROM_PROFILE:b"\n',
            ".profile.d/not-sourced.txt": "export NOPE=1\n",
        })
        rc, out, err = self.run_dyno(slug, 'echo "$FROM_PROFILE|$CHAIN|${NOPE-unset}|$#"',
                                     env={"FOO": "x y"})
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "a:x y|a:x y:b|unset|0\n")

    # ---- filesystem ------------------------------------------------------

    def test_app_is_writable_throwaway_and_per_dyno(self):
        slug = self.make_slug(files={"file.txt": "original\n", "sub/keep.txt": "keep\n"})
        before = snapshot(slug)
        first = self.start_dyno(slug, (
            "echo changed > file.txt && echo new > new.txt && mkdir -p d/e && "
            "rm sub/keep.txt && cat file.txt new.txt && echo ready && sleep 30"), name="web.1")
        lines = self.wait_line(first, "ready")
        self.assertEqual(lines, ["changed", "new", "ready"])
        # A second dyno of the same slug, while the first still runs.
        rc, out, err = self.run_dyno(
            slug, "cat file.txt sub/keep.txt; ls -A /app; touch /app/x && echo writable",
            name="web.2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "original\nkeep\nfile.txt\nsub\nwritable\n")
        self.assertEqual(snapshot(slug), before, "the slug on the host changed")
        self.kill_dyno(first)
        self.assertEqual(snapshot(slug), before)

    def test_tmp_is_private(self):
        slug = self.make_slug()
        marker = os.path.join("/tmp", "pier-e2e-host-%s" % secrets.token_hex(4))
        with open(marker, "w") as f:
            f.write("host\n")
        self.addCleanup(os.unlink, marker)
        rc, out, err = self.run_dyno(
            slug, "ls -A /tmp; stat -c %%a /tmp; echo dyno > /tmp/mine && cat /tmp/mine; "
            "test -e %s && echo LEAK; true" % marker)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "1777\ndyno\n")
        self.assertFalse(os.path.exists("/tmp/mine"))

    def test_runs_as_app_uid_and_host_dirs_are_hidden(self):
        # Stand-ins for pierd's data dir: a 0700 root dir on the host, and
        # one inside the slug (visible there, but not readable by the app).
        data = os.path.join(self.tmp, "pier-home")
        os.makedirs(data, mode=0o700)
        with open(os.path.join(data, "state.db"), "w") as f:
            f.write("secret\n")
        slug = self.make_slug(files={"private/secret.txt": ("secret\n", 0o600)})
        os.chown(os.path.join(slug, "private"), 0, 0)
        os.chown(os.path.join(slug, "private", "secret.txt"), 0, 0)
        os.chmod(os.path.join(slug, "private"), 0o700)
        other = self.make_slug("other-app", files={"config.txt": "other\n"})
        script = "; ".join([
            "id -u; id -g; id -un; id -gn; echo ~dyno",
            "cat /app/private/secret.txt 2>/dev/null && echo READ-SECRET",
            "ls /app/private 2>/dev/null && echo LISTED-SECRET",
            "for p in %s %s %s %s /root /home /var /srv /run /mnt /opt /media /boot; do "
            "test -e $p && echo VISIBLE $p; done" % (data, os.path.join(data, "state.db"),
                                                     other, slug),
            "touch /etc/pier-e2e 2>/dev/null && echo WROTE-ETC",
            "touch /usr/pier-e2e 2>/dev/null && echo WROTE-USR",
            "grep -q CapEff:.0000000000000000 /proc/self/status && echo no-caps",
            "grep -q 'NoNewPrivs:.1' /proc/self/status && echo no-new-privs",
            "echo done",
        ])
        rc, out, err = self.run_dyno(slug, script)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%d\n%d\ndyno\ndyno\n/app\nno-caps\nno-new-privs\ndone\n"
                         % (self.uid, self.uid))
        self.assertFalse(os.path.exists("/etc/pier-e2e") or os.path.exists("/usr/pier-e2e"))

    def test_only_the_dynos_processes_are_visible(self):
        slug = self.make_slug()
        tag = "pier-e2e-host-%s" % secrets.token_hex(4)
        host = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)", tag],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (host.kill(), host.wait()))
        rc, out, err = self.run_dyno(
            slug, "ps -eo pid=,comm=; echo --; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '")
        self.assertEqual(rc, 0, err)
        table, _, cmdlines = out.partition("--\n")
        procs = [line.split() for line in table.splitlines()]
        # bwrap's reaper is pid 1; then the app's shell and ps itself.
        self.assertEqual(procs[0], ["1", "bwrap"], out)
        self.assertLessEqual(len(procs), 4, out)
        self.assertNotIn(tag, cmdlines)
        self.assertNotIn(str(host.pid), [p[0] for p in procs])

    def test_no_mounts_left_on_the_host(self):
        slug = self.make_slug(files={"a.txt": "a\n"})
        before = mounts()
        p = self.start_dyno(slug, "echo ready; sleep 30")
        self.wait_line(p, "ready")
        during = mounts()
        # Killed the hard way: the mounts must go with the namespace.
        rc, _, _ = self.kill_dyno(p)
        self.assertEqual(rc, -signal.SIGKILL)
        rc, out, err = self.run_dyno(slug, "cat a.txt", name="web.2")
        self.assertEqual((rc, out), (0, "a\n"), err)
        after = mounts()

        def ours(lines):
            return {l for l in lines if "pier-dyno" in l or " overlay " in l or self.tmp in l}
        self.assertEqual(ours(during - before), set(), "dyno mounts visible on the host")
        self.assertEqual(ours(after - before), set(), "dyno mounts left on the host")
        self.assertEqual(after, before)

    # ---- limits ----------------------------------------------------------

    def test_memory_hog_is_killed_at_twice_the_quota(self):
        slug = self.make_slug()
        quota = 32 * MIB
        hog = self.py("a = []\nwhile True: a.append(b'x' * (1 << 20))")
        t0 = time.monotonic()
        rc, out, err = self.run_dyno(slug, hog, memory=quota)
        # The kernel's SIGKILL, passed on by bwrap as 128 + 9.
        self.assertIn(rc, (137, -signal.SIGKILL), err)
        self.assertLess(time.monotonic() - t0, TIMEOUT)
        _, out, _ = self.cgtool("memory", self.cgname())
        usage, limit, oom = (int(x) for x in out.split())
        self.assertEqual(limit, 2 * quota)
        self.assertEqual(oom, 1)
        self.assertLess(usage, 2 * quota)
        # The host goes on.
        self.assertEqual(subprocess.run(["true"]).returncode, 0)

    def test_memory_usage_and_list_while_running(self):
        slug = self.make_slug()
        code = "a = b'x' * (40 << 20); print('ready', flush=True); import time; time.sleep(30)"
        p1 = self.start_dyno(slug, self.py(code), name="web.1", memory=64 * MIB)
        p2 = self.start_dyno(slug, "echo ready; sleep 30", name="worker.1")
        self.wait_line(p1, "ready")
        self.wait_line(p2, "ready")
        _, out, _ = self.cgtool("memory", self.cgname("web.1"))
        usage, limit, oom = (int(x) for x in out.split())
        self.assertEqual((limit, oom), (128 * MIB, 0))
        self.assertGreater(usage, 40 * MIB)  # over the quota: R14 for pierd
        self.assertLess(usage, 128 * MIB)
        _, out, _ = self.cgtool("list", self.cgbase + "/app")
        self.assertEqual(out.split(), ["web.1", "worker.1"])
        _, out, _ = self.cgtool("list", self.cgbase)
        self.assertEqual(out.split(), ["app"])
        self.kill_dyno(p1, "web.1")
        self.kill_dyno(p2, "worker.1")

    def test_fork_bomb_stays_within_pids_limit(self):
        slug = self.make_slug()
        bomb = self.py(
            "import os, time\n"
            "print('ready', flush=True)\n"
            "while True:\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(100); os._exit(0)\n"
            "    except OSError:\n"
            "        time.sleep(0.01)\n")
        p = self.start_dyno(slug, bomb, pids=50)
        self.wait_line(p, "ready")
        name = self.cgname()
        peak, stable_since = 0, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = len(cgroup_pids(name))
            if n > peak:
                peak, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > 0.5 and peak >= 45:
                break
            time.sleep(0.05)
        self.assertLessEqual(peak, 50)
        self.assertGreaterEqual(peak, 45, "the bomb never reached the limit")
        self.assertIsNone(p.poll())
        _, out, _ = self.cgtool("signal", name, "9")
        self.assertGreaterEqual(int(out), 45)
        rc, _, _ = self.finish(p)
        self.assertEqual(rc, -signal.SIGKILL)
        deadline = time.monotonic() + 5
        while cgroup_pids(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(cgroup_pids(name), set())

    # ---- stopping and exit statuses -------------------------------------

    def test_sigterm_through_the_cgroup_and_exit_status(self):
        slug = self.make_slug()
        p = self.start_dyno(slug, "trap 'echo got TERM; exit 0' TERM; echo ready; "
                                  "while :; do sleep 0.1; done")
        self.wait_line(p, "ready")
        _, out, _ = self.cgtool("signal", self.cgname(), "15", "skip-bwrap")
        self.assertGreaterEqual(int(out), 1)
        rc, out, err = self.finish(p)
        self.assertEqual(rc, 0, err)
        self.assertIn("got TERM\n", out)

    def test_sigterm_graceful_app_keeps_its_time(self):
        # The app (not a shell) handles SIGTERM slowly; it must not be cut
        # short by its parent shell dying first, and its status arrives.
        slug = self.make_slug()
        app = self.py(
            "import signal, sys, time\n"
            "def bye(*a):\n"
            "    print('stopping', flush=True); time.sleep(0.5)\n"
            "    print('stopped', flush=True); sys.exit(5)\n"
            "signal.signal(signal.SIGTERM, bye)\n"
            "print('ready', flush=True)\n"
            "while True: time.sleep(1)\n")
        p = self.start_dyno(slug, "cd /app && " + app)
        self.wait_line(p, "ready")
        self.cgtool("signal", self.cgname(), "15", "skip-bwrap")
        rc, out, err = self.finish(p)
        self.assertEqual(rc, 5, err)
        self.assertEqual(out, "stopping\nstopped\n")

    def test_sigterm_ignored_needs_sigkill(self):
        slug = self.make_slug()
        p = self.start_dyno(slug, "trap '' TERM; echo ready; while :; do sleep 0.1; done")
        self.wait_line(p, "ready")
        self.cgtool("signal", self.cgname(), "15", "skip-bwrap")
        time.sleep(1)
        self.assertIsNone(p.poll(), "the dyno should have ignored SIGTERM")
        _, out, _ = self.cgtool("signal", self.cgname(), "9")
        self.assertGreaterEqual(int(out), 3)  # two bwraps and the app at least
        rc, _, _ = self.finish(p)
        self.assertEqual(rc, -signal.SIGKILL)

    def test_exit_status_is_the_apps(self):
        slug = self.make_slug()
        self.assertEqual(self.run_dyno(slug, "exit 3")[0], 3)
        self.assertEqual(self.run_dyno(slug, "true", name="web.2")[0], 0)
        self.assertEqual(self.run_dyno(slug, "kill -KILL $$", name="web.3")[0], 137)

    # ---- fallback and errors ---------------------------------------------

    def test_unisolated(self):
        slug = self.make_slug(files={".profile.d/a.sh": 'export P="p:$FOO"\n'}, owner=0)
        code = ("import os, json; print(json.dumps({'env': dict(os.environ), "
                "'cwd': os.getcwd(), 'leader': os.getsid(0) == os.getpid()}))")
        rc, out, err = self.run_dyno(slug, self.py(code), env={"FOO": "bar", "PORT": "5000"},
                                     unisolated=True)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "pier-dyno: running UNISOLATED (no bwrap/root)\n")
        got = json.loads(out)
        self.assertEqual(got["cwd"], slug)
        self.assertTrue(got["leader"])
        e = got["env"]
        self.assertEqual((e["FOO"], e["PORT"], e["DYNO"], e["HOME"], e["P"]),
                         ("bar", "5000", "web.1", slug, "p:bar"))
        self.assertNotIn("PIER_E2E_HOST_SECRET", e)
        self.assertEqual(self.run_dyno(slug, "exit 3", unisolated=True)[0], 3)

    def test_setup_errors_exit_127(self):
        slug = self.make_slug()
        cases = [
            (self.argv(os.path.join(self.tmp, "missing"), "true"), "slug directory"),
            (self.argv(slug, "true", uid=0), "--app-uid"),
            ([PIER_DYNO, "--slug", slug, "--name", "web.1", "--", "true"], "--app-uid"),
            (self.argv(slug, "true", name="bad name", cgroup=False), "--name"),
            ([PIER_DYNO, "--slug", slug, "--name", "web.1", "--app-uid", "1000", "--cgroup",
              "../escape", "--", "true"], "--cgroup"),
            ([PIER_DYNO, "--slug", slug, "--name", "web.1", "--app-uid", "1000"], "COMMAND"),
        ]
        bad_env = os.path.join(self.tmp, "bad-env")
        with open(bad_env, "wb") as f:
            f.write(b"FOO=1\0NO_EQUALS_SIGN\0")
        cases.append((self.argv(slug, "true")[:-2] + ["--env-file", bad_env, "--", "true"],
                      "--env-file"))
        for argv, what in cases:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10,
                               env=self.process_env())
            self.assertEqual(p.returncode, 127, (argv, p.stderr))
            self.assertIn("pier-dyno: ", p.stderr)
            self.assertIn(what, p.stderr, argv)
            self.assertFalse(sanitizer_report(p.stderr), p.stderr)


def shlex_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def snapshot(root):
    """{relpath: (mode, uid, content or None)} of a tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            path = os.path.join(dirpath, n)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, content)
    return out


if __name__ == "__main__":
    unittest.main()
