"""Dynos run by pierd's supervisor, end to end (SPEC.md §4, §6, §7): deploy
with git push, then watch the dynos through the API (GET .../dynos,
.../log-lines), the CLI (ps, ps:scale, ps:type, ps:restart, ps:stop, logs),
their ports (straight to 127.0.0.1:PORT: the router is not in between yet)
and the host's /proc.

pierd runs with short timings (FAST) so that boot timeouts, exit timeouts
and crash back-offs happen within seconds.  Every wait polls with a
deadline.  Each test scales its apps to 0 in tearDown and kills whatever is
left of its dynos afterwards (pierd lets dynos go on SIGTERM: the next
pierd is the one that cleans up).

Needs pier-build and pier-dyno; the isolation, memory and fork-bomb tests
need root, bwrap and writable cgroups (skipped otherwise, saying why).
"""

import datetime
import errno
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import BUILD, PierTestCase, closed_port, http_request, iso_to_cli
from test_deploy import PIER_BUILD_BIN, DeployTestCase

PIER_DYNO = os.path.join(BUILD, "pier-dyno")

# Short timings (seconds, except the back-offs in ms) so that every
# supervisor path is reached within a test.
BOOT_TIMEOUT = 3
STOP_TIMEOUT = 2
BACKOFF_MS = 500
BACKOFF_MAX_MS = 2000
FAST = ["--boot-timeout", str(BOOT_TIMEOUT), "--stop-timeout", str(STOP_TIMEOUT),
        "--crash-backoff", str(BACKOFF_MS), "--crash-backoff-max", str(BACKOFF_MAX_MS)]

# How long a dyno of a tiny app may take to come up, poll to poll.
UP_WITHIN = 15

LOG_LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) "
                         r"([a-z]+)\[([A-Za-z0-9_.-]+)\]: (.*)$")
PS_TIME = r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \+0000 \(~ \d+[smhd] ago\)"

# Standard-1X (SPEC §4 sizes; src/pierd/dynos.c): 512 MB, killed at 2x;
# 256 processes.
QUOTA_1X = 512 << 20
PIDS_1X = 256

PROCFILE_WEB = "/usr/bin/python3 srv/server.py"
# A web process that crashes or never binds once told so by a config var
# (a push waits for the web dyno to come up: it must work at first).
MODES_WEB = ("case \"$MODE\" in crash) sh -c 'echo boom; exit 3';; hang) exec sleep 1000;; "
             "*) exec /usr/bin/python3 srv/server.py;; esac")
PROCFILE_MODES = "web: %s\n" % MODES_WEB
PROCFILE_WORKER = ('while true; do echo "worker alive, greeting=${GREETING:-none}"; '
                   'sleep 5; done')


def _need_dyno():
    for p in (PIER_BUILD_BIN, PIER_DYNO):
        if not os.access(p, os.X_OK):
            return "%s is not built" % p
    return None


def _sandbox_skip():
    """Why isolated dynos cannot be tested here, or None."""
    if os.geteuid() != 0:
        return "needs root (pierd isolates dynos only as root)"
    if not os.access("/usr/bin/bwrap", os.X_OK):
        return "bubblewrap (/usr/bin/bwrap) is not installed"
    for d in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        if os.access(d, os.W_OK) and os.path.exists(os.path.join(d, "cgroup.procs")):
            return None
    return "no writable cgroup hierarchy"


SKIP = _need_dyno()
SANDBOX_SKIP = _sandbox_skip()


# ---- the host's view ---------------------------------------------------------

def cgroup_roots():
    """The hierarchies dynos live in: the v2 one when /sys/fs/cgroup (or the
    hybrid unified mount) has memory and pids, else the v1 memory and pids
    hierarchies (as src/dyno/cgroup.c chooses)."""
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                ctl = f.read().split()
        except OSError:
            continue
        if "memory" in ctl and "pids" in ctl:
            return [root]
    return [os.path.join("/sys/fs/cgroup", h) for h in ("memory", "pids")]


def cgroup_dirs(name):
    return [os.path.join(root, name) for root in cgroup_roots()]


def proc_cgroup(pid):
    """The cgroup of a process (a path relative to the hierarchy roots, as
    cgroup_dirs() takes it), or None."""
    data = read_proc(pid, "cgroup")
    if data is None:
        return None
    v2 = len(cgroup_roots()) == 1
    for line in data.decode().splitlines():
        _, ctl, path = line.split(":", 2)
        if (v2 and ctl == "") or (not v2 and "pids" in ctl.split(",")):
            return path.lstrip("/")
    return None


def app_cgroups(app_id):
    """The cgroup dirs of an app's dynos, whatever pierd names them by
    (pier/INSTANCE/APP_ID/...)."""
    found = []
    for root in cgroup_roots():
        for dirpath, dirnames, _ in os.walk(os.path.join(root, "pier")):
            if os.path.basename(dirpath) == app_id:
                found.append(dirpath)
                dirnames[:] = []
    return found


def cgroup_pids(name=None, dirs=None):
    """Every process in cgroup NAME (or the dirs) and the cgroups below."""
    pids = set()
    for d in dirs if dirs is not None else cgroup_dirs(name):
        for dirpath, _, files in os.walk(d):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return pids


def read_proc(pid, what):
    try:
        with open("/proc/%d/%s" % (pid, what), "rb") as f:
            return f.read()
    except OSError:
        return None


def proc_stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    data = read_proc(pid, "stat")
    if data is None:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[1])


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def app_processes(app, match):
    """Pids of live processes of APP's dynos (PIER_APP=APP in their
    environment) whose argv satisfies match(argv)."""
    want = ("PIER_APP=%s" % app).encode()
    found = []
    for pid in all_pids():
        env = read_proc(pid, "environ")
        if not env or want not in env.split(b"\0"):
            continue
        argv = [a.decode("utf-8", "replace") for a in (read_proc(pid, "cmdline") or b"")
                .split(b"\0")[:-1]]
        if argv and match(argv) and alive(pid):
            found.append(pid)
    return sorted(found)


def is_web_server(argv):
    """The procfile sample's web process (not the sandbox or shell around it)."""
    return os.path.basename(argv[0]).startswith("python3") and "srv/server.py" in argv[1:2]


def is_worker_loop(argv):
    """The procfile sample's worker: a shell running the loop."""
    return (os.path.basename(argv[0]) in ("sh", "dash", "bash") and argv[1:2] == ["-c"]
            and len(argv) > 2 and argv[2].startswith("while true"))


def zombies_of(ppid):
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[0] == "Z" and st[1] == ppid:
            out.append(pid)
    return out


def get(port, path="/", timeout=5):
    """GET 127.0.0.1:PORT; (status, body) or None when nothing answered."""
    try:
        r = http_request(port, "GET", path, timeout=timeout)
    except OSError:
        return None
    return r.status, r.body.decode("utf-8", "replace")


def parse_ts(ts):
    return datetime.datetime.fromisoformat(ts).timestamp()


class DynoCliTest(PierTestCase):
    """What the dyno commands say before they ask pierd anything."""
    START_PIERD = False

    def dead(self):
        return "http://127.0.0.1:%d" % closed_port()

    def fails(self, *args, contains):
        res = self.pier(*args, token=None, api=self.dead())
        ctx = self.describe(args, res)
        self.assertEqual((res.code, res.out), (1, b""), ctx)
        self.assertIn(contains, res.err.decode(), ctx)
        return res.err.decode()

    def test_help(self):
        out = self.pier_ok("help", token=None, api=self.dead())
        for cmd in ("ps", "ps:scale", "ps:type", "ps:restart", "ps:stop", "logs"):
            self.assertRegex(out, r"(?m)^  %s +\S" % re.escape(cmd))
        # Heroku's aliases
        for alias, cmd in (("restart", "ps:restart"), ("stop", "ps:stop"),
                           ("ps:resize", "ps:type"), ("scale", "ps:scale"),
                           ("dyno:scale", "ps:scale"), ("dyno:restart", "ps:restart"),
                           ("dyno:kill", "ps:stop"), ("ps:kill", "ps:stop"),
                           ("dyno:type", "ps:type"), ("create", "apps:create"),
                           ("destroy", "apps:destroy"), ("info", "apps:info"),
                           ("rename", "apps:rename"), ("config:add", "config:set"),
                           ("config:remove", "config:unset"),
                           ("releases:rollback", "rollback")):
            self.assertTrue(self.pier_ok("help", alias, token=None, api=self.dead())
                            .startswith("Usage: pier %s" % cmd), alias)
        self.assertIn("-n, --num N", self.pier_ok("help", "logs", token=None, api=self.dead()))

    def test_usage_errors(self):
        for arg in ("web", "web=", "=2", "web=two", "web*2", "web=1:", "web=1:big size"):
            with self.subTest(arg=arg):
                err = self.fails("ps:scale", arg, "-a", "myapp", contains="Usage: pier ps:scale")
                self.assertTrue(err.startswith("pier: "), err)
        self.fails("ps:scale", "web=99999999999999999999", "-a", "myapp", contains="too many")
        self.fails("ps:type", "web=standard-2x", "worker", "-a", "myapp", contains="TYPE=SIZE")
        self.fails("ps:restart", "web", "worker", "-a", "myapp", contains="one process type")
        self.fails("ps:restart", "web.x", "-a", "myapp", contains="neither a process type")
        self.fails("ps:stop", "-a", "myapp", contains="which dynos?")
        self.fails("ps", "web.1", "-a", "myapp", contains="not a process type")
        self.fails("logs", "-n", "0", "-a", "myapp", contains="at most 1500 are kept")
        self.fails("logs", "-d", "web", "-p", "web", "-a", "myapp", contains="not both")
        self.fails("logs", "extra", "-a", "myapp", contains="no arguments")
        self.fails("logs", "-s", "router", "-a", "myapp", contains="app or heroku")


@unittest.skipIf(SKIP, SKIP)
class DynoTestCase(DeployTestCase):
    """A pierd with FAST timings, helpers to deploy apps and watch dynos."""

    def setUp(self):
        super().setUp()
        self.apps = {}  # name -> id
        self.pierd.stop()
        self.fast_argv = self.pierd.argv() + FAST
        self.pierd.start(argv=self.fast_argv)
        self.addCleanup(self._kill_dynos)

    def tearDown(self):
        # A stopping pierd takes its dynos with it, but a killed one (or a
        # failed test) may leave some: scale everything down first, best
        # effort.
        if self.pierd.running:
            for app in list(self.apps):
                try:
                    form = self.api("GET", "/apps/%s/formation" % app, timeout=5)
                    if form.status == 200 and form.json():
                        self.api("PATCH", "/apps/%s/formation" % app, {"updates": [
                            {"type": f["type"], "quantity": 0} for f in form.json()]},
                            timeout=5)
                except OSError:
                    pass
            deadline = time.monotonic() + STOP_TIMEOUT + 3
            while time.monotonic() < deadline:
                try:
                    if all(not self.dynos(app) for app in self.apps):
                        break
                except (OSError, AssertionError):
                    break
                time.sleep(0.1)
        super().tearDown()

    def _kill_dynos(self):
        """Whatever of our apps' dynos is still there: killed."""
        for app, app_id in self.apps.items():
            for _ in range(50):
                pids = cgroup_pids(dirs=app_cgroups(app_id)) | set(
                    app_processes(app, lambda argv: True))
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)

    # ---- apps ----------------------------------------------------------

    def new_app(self, base):
        """Creates an app with a name no other test run uses (dyno
        processes are told apart by PIER_APP)."""
        name = "%s-%s" % (base, secrets.token_hex(3))
        app = self.create_app(name)
        self.apps[name] = app["id"]
        return name

    def deploy(self, base, sample=None, files=None, buildpack=None, config=None):
        app = self.new_app(base)
        if buildpack:
            self.api_ok("PUT", "/apps/%s/buildpack-installations" % app,
                        {"updates": [{"buildpack": buildpack}]})
        if config:
            self.set_config(app, config)
        repo = self.make_repo(sample, name="repo-" + app, files=files)
        self.push_ok(repo, app)
        return app

    def deploy_broken(self, base, mode):
        """An app whose web works at first (a push waits for its web dyno
        to come up) and then, from a config change on, runs as MODE says
        (PROCFILE_MODES).  Returns (app, the time web.1 was started so)."""
        app = self.deploy(base, "procfile", files={"Procfile": PROCFILE_MODES.encode()})
        self.wait_dynos(app, {"web": 1})
        self.scale(app, web=0)
        self.wait_for("no dynos", lambda: self.dynos(app) == [], timeout=STOP_TIMEOUT + 5,
                      app=app)
        self.set_config(app, {"MODE": mode})
        since = time.time()
        self.scale(app, web=1)
        return app, since

    def scale(self, app, **types):
        return self.api_ok("PATCH", "/apps/%s/formation" % app, {"updates": [
            {"type": t, "quantity": q} for t, q in types.items()]})

    # ---- watching ------------------------------------------------------

    def dynos(self, app):
        r = self.api("GET", "/apps/%s/dynos" % app, timeout=10)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def log_lines(self, app, n=1500):
        r = self.api("GET", "/apps/%s/log-lines?lines=%d" % (app, n), timeout=10)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def log_events(self, app, proc=None, source=None, since=0):
        """(unix time, source, proc, message) of each log line (of PROC,
        from SOURCE, stamped at SINCE or later)."""
        out = []
        for line in self.log_lines(app):
            m = LOG_LINE_RE.match(line)
            self.assertIsNotNone(m, "log line not as SPEC §6: %r" % line)
            ts, src, p, msg = m.groups()
            t = parse_ts(ts)
            if ((proc is None or p == proc) and (source is None or src == source)
                    and t >= since):
                out.append((t, src, p, msg))
        return out

    def diagnose(self, app):
        try:
            dynos = json.dumps(self.dynos(app), indent=1)
            logs = "\n".join(self.log_lines(app, 60))
        except Exception as e:  # only for the failure message
            dynos, logs = "?", "(no logs: %r)" % e
        return "dynos of %s:\n%s\nlast log lines:\n%s" % (app, dynos, logs)

    def wait_for(self, what, check, timeout=UP_WITHIN, app=None, interval=0.1):
        """Polls check() until it returns something true, which is returned;
        fails after timeout saying what was awaited."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = check()
            if last:
                return last
            if time.monotonic() > deadline:
                break
            time.sleep(interval)
        self.fail("%s: not within %ss (last: %r)\n%s" % (
            what, timeout, last, self.diagnose(app) if app else ""))

    def wait_dynos(self, app, want, timeout=UP_WITHIN, version=None):
        """Waits until the app's dynos are exactly WANT ({type: n}), all up
        (and of release VERSION when given); returns them by name."""
        def check():
            ds = self.dynos(app)
            names = sorted(d["name"] for d in ds)
            expect = sorted("%s.%d" % (t, i) for t, n in want.items() for i in range(1, n + 1))
            if names != expect or any(d["state"] != "up" for d in ds):
                return None
            if version is not None and any(d["release"]["version"] != version for d in ds):
                return None
            return {d["name"]: d for d in ds}
        return self.wait_for("dynos of %s all up as %r (v%s)" % (app, want, version), check,
                             timeout=timeout, app=app)

    def wait_log(self, app, pattern, proc=None, timeout=UP_WITHIN, count=1, since=0):
        """Waits for COUNT log lines whose message matches PATTERN; returns
        the events."""
        rx = re.compile(pattern)

        def check():
            ev = [e for e in self.log_events(app, proc, since=since) if rx.search(e[3])]
            return ev if len(ev) >= count else None
        return self.wait_for("%d log line(s) %r from %s" % (count, pattern, proc or app), check,
                             timeout=timeout, app=app)

    def wait_processes(self, app, match, n, what, timeout=5):
        """Waits until exactly N live processes of APP's dynos satisfy
        match(argv); returns their pids."""
        return self.wait_for("exactly %d %s" % (n, what), lambda: (
            lambda pids: pids if len(pids) == n else None)(app_processes(app, match)),
            timeout=timeout, app=app)

    def answers(self, port, want="pier sample app: procfile"):
        res = get(port)
        return res is not None and res[0] == 200 and want in res[1]

    def assert_no_zombies(self):
        self.assertEqual(zombies_of(self.pierd.pid), [], "zombie children of pierd")


class WebDynoTest(DynoTestCase):

    def test_deploy_starts_web_and_ps_shows_it(self):
        app = self.deploy("ps", "procfile")
        # The first deploy runs web=1; the other types start at 0.
        form = self.api_ok("GET", "/apps/%s/formation" % app)
        self.assertEqual([(f["type"], f["quantity"], f["size"], f["command"]) for f in form],
                         [("web", 1, "standard-1x", PROCFILE_WEB),
                          ("worker", 0, "standard-1x", PROCFILE_WORKER)])
        web = self.wait_dynos(app, {"web": 1})["web.1"]
        self.assertEqual(web["type"], "web")
        self.assertEqual(web["command"], PROCFILE_WEB)
        self.assertEqual(web["size"], "standard-1x")
        self.assertEqual(web["release"], {"version": 2})
        self.assertGreater(web["port"], 0)
        self.assertGreater(web["pid"], 0)
        res = get(web["port"])
        self.assertIsNotNone(res, "nothing answers on web.1's port %d" % web["port"])
        self.assertEqual(res[0], 200)
        self.assertIn("pier sample app: procfile", res[1])
        self.assertIn("dyno: web.1", res[1])
        self.assertEqual(len(app_processes(app, is_web_server)), 1)

        # The life of web.1 in the logs (SPEC §4, §6).
        msgs = [e[3] for e in self.log_events(app, "web.1", "heroku")]
        self.assertIn("Starting process with command `%s`" % PROCFILE_WEB, msgs)
        self.assertIn("State changed from starting to up", msgs)
        self.wait_log(app, r"^procfile sample listening on port %d$" % web["port"], "web.1")

        # ps, exactly (SPEC §7)
        out = self.pier_ok("ps", "-a", app)
        lines = out.split("\n")
        self.assertEqual(lines[0], "=== web (Standard-1X): %s (1)" % PROCFILE_WEB, out)
        self.assertRegex(lines[1], r"^web\.1: up %s$" % PS_TIME, out)
        self.assertEqual(lines[2:], [""], out)
        now = self.dynos(app)[0]
        self.assertTrue(lines[1].startswith("web.1: up %s (" % iso_to_cli(now["updated_at"])),
                        out)
        js = self.pier_json("ps", "--json", "-a", app)
        self.assertEqual([d["name"] for d in js], ["web.1"])
        self.assertEqual(self.pier_ok("ps", "worker", "-a", app),
                         "No worker dynos on %s\n" % app)

        # logs: the last N lines, oldest first, as the API has them
        out = self.pier_ok("logs", "-n", "3", "-a", app)
        self.assertEqual(out.splitlines(), self.log_lines(app, 3), out)
        for line in self.pier_ok("logs", "-a", app).splitlines():
            self.assertRegex(line, LOG_LINE_RE)
        heroku = self.pier_ok("logs", "-s", "heroku", "-a", app).splitlines()
        self.assertTrue(heroku and all(" heroku[" in l for l in heroku), heroku)
        self.assertEqual(self.pier_json("logs", "--json", "-n", "2", "-a", app),
                         self.log_lines(app, 2))
        self.pier_fails("logs", "-n", "-1", "-a", app, contains="at most 1500 are kept")

    def test_app_without_deploy_has_no_dynos(self):
        app = self.new_app("empty")
        self.assertEqual(self.pier_ok("ps", "-a", app), "No dynos on %s\n" % app)
        self.assertEqual(self.pier_json("ps", "--json", "-a", app), [])
        self.assertEqual(self.pier_ok("ps:scale", "-a", app), "No process types on %s.\n" % app)
        err = self.pier_fails("ps:scale", "web=1", "-a", app)
        self.assertIn("no web process type", err)
        self.pier_fails("ps:restart", "web", "-a", app, contains="web")
        self.pier_fails("logs", "-n", "abc", "-a", app, contains="-n")
        self.assertEqual(self.pier_ok("logs", "-a", app), "")


class ScaleTest(DynoTestCase):

    def test_scale_up_down_and_types(self):
        app = self.deploy("scale", "procfile")
        self.wait_dynos(app, {"web": 1})

        out = self.pier_ok("ps:scale", "web=3", "-a", app)
        self.assertEqual(out, "Scaling dynos... done, now running web at 3:Standard-1X, "
                              "worker at 0:Standard-1X\n")
        dynos = self.wait_dynos(app, {"web": 3})
        ports = {d["port"] for d in dynos.values()}
        self.assertEqual(len(ports), 3, dynos)
        for name, d in dynos.items():
            res = get(d["port"])
            self.assertIsNotNone(res, "%s: nothing on port %d" % (name, d["port"]))
            self.assertIn("dyno: %s" % name, res[1])
        web_pids = self.wait_processes(app, is_web_server, 3, "web processes")

        out = self.pier_ok("ps", "-a", app)
        self.assertRegex(out, r"^=== web \(Standard-1X\): %s \(3\)\n"
                              r"web\.1: up %s\nweb\.2: up %s\nweb\.3: up %s\n$"
                         % (re.escape(PROCFILE_WEB), PS_TIME, PS_TIME, PS_TIME))

        # web-2: web.2 and web.3 go, their processes too, no zombies.
        out = self.pier_ok("ps:scale", "web-2", "-a", app)
        self.assertEqual(out, "Scaling dynos... done, now running web at 1:Standard-1X, "
                              "worker at 0:Standard-1X\n")
        dynos = self.wait_dynos(app, {"web": 1}, timeout=STOP_TIMEOUT + 5)
        self.wait_processes(app, is_web_server, 1, "web process left")
        left = [p for p in web_pids if alive(p)]
        self.assertEqual(len(left), 1, "of %r, still there: %r" % (web_pids, left))
        self.assertEqual(get(dynos["web.1"]["port"])[0], 200)
        self.wait_for("no zombies", lambda: not zombies_of(self.pierd.pid), timeout=5)

        # worker=1 and web+1 together; the formation in its order.
        out = self.pier_ok("ps:scale", "worker=1", "web+1", "-a", app)
        self.assertEqual(out, "Scaling dynos... done, now running web at 2:Standard-1X, "
                              "worker at 1:Standard-1X\n")
        self.wait_dynos(app, {"web": 2, "worker": 1})
        self.wait_log(app, r"^worker alive, greeting=none$", "worker.1")
        self.assertEqual(len(app_processes(app, is_worker_loop)), 1)
        out = self.pier_ok("ps", "-a", app)
        self.assertRegex(out, r"^=== web \(Standard-1X\): %s \(2\)\n"
                              r"web\.1: up %s\nweb\.2: up %s\n\n"
                              r"=== worker \(Standard-1X\): %s \(1\)\n"
                              r"worker\.1: up %s\n$"
                         % (re.escape(PROCFILE_WEB), PS_TIME, PS_TIME,
                            re.escape(PROCFILE_WORKER), PS_TIME))
        self.assertEqual(self.pier_ok("ps:scale", "-a", app),
                         "web=2:Standard-1X worker=1:Standard-1X\n")

        # What the API refuses, and the CLI passes on.
        self.pier_fails("ps:scale", "clock=1", "-a", app, contains="no clock process type")
        self.pier_fails("ps:scale", "web=101", "-a", app, contains="0 to 100")
        self.pier_fails("ps:type", "web=standard-9x", "-a", app, contains="unknown size")
        self.pier_fails("ps:scale", "web-5", "-a", app, contains="below 0")
        self.pier_fails("ps:scale", "web", "-a", app, contains="TYPE=N")
        self.assertEqual([(f["type"], f["quantity"]) for f in self.api_ok(
            "GET", "/apps/%s/formation" % app)], [("web", 2), ("worker", 1)])

        # Scaled to 0: nothing of it runs.
        self.pier_ok("ps:scale", "web=0", "worker=0", "-a", app)
        self.wait_for("no dynos", lambda: self.dynos(app) == [], timeout=STOP_TIMEOUT + 5,
                      app=app)
        self.wait_for("no app processes", lambda: not app_processes(app, lambda a: True),
                      timeout=5, app=app)
        self.assertEqual(self.pier_ok("ps", "-a", app), "No dynos on %s\n" % app)
        self.assert_no_zombies()

    def test_resize(self):
        app = self.deploy("resize", "procfile")
        self.scale(app, worker=1)
        self.wait_dynos(app, {"web": 1, "worker": 1})

        # A size with the quantity.
        out = self.pier_ok("ps:scale", "worker=1:Standard-2X", "-a", app)
        self.assertEqual(out, "Scaling dynos... done, now running web at 1:Standard-1X, "
                              "worker at 1:Standard-2X\n")
        out = self.pier_ok("ps:type", "-a", app)
        self.assertEqual(out, "=== Dyno Types\n"
                              "type    size         qty\n"
                              "web     Standard-1X  1\n"
                              "worker  Standard-2X  1\n")
        out = self.pier_ok("ps:type", "web=standard-2x", "worker=standard-1x", "-a", app)
        self.assertEqual(out, "Scaling dynos on %s... done\n"
                              "=== Dyno Types\n"
                              "type    size         qty\n"
                              "web     Standard-2X  1\n"
                              "worker  Standard-1X  1\n" % app)
        self.assertEqual([(f["type"], f["size"]) for f in self.pier_json("ps:type", "--json",
                                                                         "-a", app)],
                         [("web", "standard-2x"), ("worker", "standard-1x")])
        out = self.pier_ok("ps:resize", "standard-2x", "-a", app)
        self.assertTrue(out.endswith("web     Standard-2X  1\nworker  Standard-2X  1\n"), out)
        # while the new web.1 replaces the old one, ps shows the new one only
        both = [d for d in self.dynos(app) if d["name"] == "web.1"]
        ps = self.pier_ok("ps", "-a", app)
        self.assertEqual(ps.count("web.1:"), 1, (ps, both))
        if len(both) == 2:
            self.assertIn("=== web (Standard-2X)", ps)

        # As on Heroku, a new size restarts the dynos with it (its limits
        # are the dyno's: 1 GB, 512 processes).
        self.wait_for("dynos at standard-2x", lambda: (lambda ds: len(ds) == 2 and all(
            d["state"] == "up" and d["size"] == "standard-2x" for d in ds))(self.dynos(app)),
            timeout=STOP_TIMEOUT + UP_WITHIN, app=app)
        self.assertEqual(self.pier_ok("ps", "-a", app).count("(Standard-2X)"), 2)
        if not SANDBOX_SKIP:
            worker = [d for d in self.dynos(app) if d["name"] == "worker.1"][0]
            cg = cgroup_dirs(proc_cgroup(worker["pid"]))
            limits = {}
            for d in cg:
                for f in ("memory.limit_in_bytes", "memory.max", "pids.max"):
                    try:
                        with open(os.path.join(d, f)) as fh:
                            limits[f] = fh.read().strip()
                    except OSError:
                        pass
            self.assertEqual(limits.get("pids.max"), "512", limits)
            mem = limits.get("memory.limit_in_bytes") or limits.get("memory.max")
            self.assertEqual(mem, str(2 * 1024 << 20), limits)

    def test_restart_and_stop(self):
        app = self.deploy("restart", "procfile")
        self.scale(app, web=2)
        before = self.wait_dynos(app, {"web": 2})

        def restarted(old, names):
            """The dynos once all are up again and NAMES have a new pid."""
            def check():
                ds = {d["name"]: d for d in self.dynos(app)}
                if sorted(ds) != sorted(old) or any(d["state"] != "up" for d in ds.values()):
                    return None
                return ds if all(ds[n]["pid"] != old[n]["pid"] for n in names) else None
            return self.wait_for("%s restarted" % ", ".join(names), check,
                                 timeout=STOP_TIMEOUT + UP_WITHIN, app=app)

        out = self.pier_ok("ps:restart", "web.1", "-a", app)
        self.assertEqual(out, "Restarting web.1 dyno on %s... done\n" % app)
        after = restarted(before, ["web.1"])
        self.assertEqual(after["web.2"]["pid"], before["web.2"]["pid"], "web.2 was restarted")
        self.assertFalse(alive(before["web.1"]["pid"]))
        self.assertTrue(self.answers(after["web.1"]["port"]))
        msgs = [e[3] for e in self.log_events(app, "web.1", "heroku")]
        self.assertIn("Stopping all processes with SIGTERM", msgs)
        self.assertNotIn("Stopping all processes with SIGTERM",
                         [e[3] for e in self.log_events(app, "web.2", "heroku")])

        # ps:stop: as on Heroku, the formation brings it back.
        out = self.pier_ok("ps:stop", "web.1", "-a", app)
        self.assertEqual(out, "Stopping web.1 dyno on %s... done\n" % app)
        back = restarted(after, ["web.1"])
        self.assertEqual(back["web.2"]["pid"], before["web.2"]["pid"])
        self.assertTrue(self.answers(back["web.1"]["port"]))

        # All of a type, and all: every pid changes.
        self.assertEqual(self.pier_ok("ps:restart", "web", "-a", app),
                         "Restarting web dynos on %s... done\n" % app)
        last = restarted(back, ["web.1", "web.2"])
        self.assertEqual(self.pier_ok("restart", "-a", app),
                         "Restarting dynos on %s... done\n" % app)
        final = restarted(last, ["web.1", "web.2"])
        self.wait_processes(app, is_web_server, 2, "web processes")
        # ps:stop TYPE: every dyno of it, brought back by the formation.
        self.assertEqual(self.pier_ok("ps:stop", "web", "-a", app),
                         "Stopping web dynos on %s... done\n" % app)
        restarted(final, ["web.1", "web.2"])

        err = self.pier_fails("ps:restart", "web.7", "-a", app)
        self.assertIn("web.7", err)
        self.pier_fails("ps:stop", "clock", "-a", app, contains="clock")
        self.pier_fails("ps:stop", "-a", app, contains="which dynos")
        self.wait_for("no zombies", lambda: not zombies_of(self.pierd.pid), timeout=5)

    def test_stopping_several_crashed_dynos_keeps_pierd_up(self):
        # Stopping a crashed dyno frees it and converges again, freeing the
        # next crashed one under the stop loop's feet (a use after free).
        app = self.deploy("crashers", "procfile", files={"Procfile": (
            "web: %s\nworker: echo bye; exit 1\n" % PROCFILE_WEB).encode()})
        for change in ({"config": {"A": "1"}}, {"scale": {"worker": 0}}):
            self.scale(app, worker=3)
            self.wait_for("three crashed workers", lambda: len(
                [d for d in self.dynos(app) if d["type"] == "worker"
                 and d["state"] == "crashed"]) == 3, app=app)
            if "config" in change:
                self.set_config(app, change["config"])
            else:
                self.scale(app, **change["scale"])
            time.sleep(0.3)
            self.assertTrue(self.pierd.running, "pierd died: %s" % self.pierd.current_log())
        self.wait_dynos(app, {"web": 1}, version=3)

    def test_destroy_leaves_no_process_zombie_cgroup_or_files(self):
        app = self.deploy("destroyed", "procfile")
        self.scale(app, web=2)
        self.wait_dynos(app, {"web": 2})
        app_id = self.apps[app]
        self.assertTrue(app_cgroups(app_id))
        run_dir = os.path.join(self.pierd.home, "run", app_id)
        self.assertTrue(os.path.isdir(run_dir))
        self.pier_ok("apps:destroy", "-a", app, "--confirm", app)
        self.assertEqual(app_processes(app, lambda argv: True), [])
        self.assertEqual(zombies_of(self.pierd.pid), [])
        self.wait_for("cgroups and files gone", lambda: not app_cgroups(app_id)
                      and not os.path.exists(run_dir), timeout=10)
        self.assertTrue(self.pierd.running)

    def test_restart_then_stop_leaves_one_dyno(self):
        app = self.deploy("restop", "procfile")
        self.wait_dynos(app, {"web": 1})
        # A restart, and a stop before the restart is through: the stop
        # wins and the formation brings back one web.1, not two.
        self.api_ok("DELETE", "/apps/%s/dynos/web.1" % app, status=202)
        self.api_ok("POST", "/apps/%s/dynos/web.1/actions/stop" % app, status=202)
        time.sleep(STOP_TIMEOUT + 1)
        self.scale(app, web=1)                                 # converges
        self.wait_dynos(app, {"web": 1})
        time.sleep(1)
        self.assertEqual([d["name"] for d in self.dynos(app)], ["web.1"])
        self.set_config(app, {"NEXT": "1"})                    # v3 replaces all
        self.wait_dynos(app, {"web": 1}, version=3)
        time.sleep(STOP_TIMEOUT + 1)
        self.assertEqual([(d["name"], d["release"]["version"]) for d in self.dynos(app)],
                         [("web.1", 3)])

    def test_dyno_stopped_as_it_starts_stops_at_once(self):
        # Stopped before its app runs, only bwrap is in its cgroup: SIGTERM
        # reached nobody and the dyno waited for the SIGKILL timeout (R12).
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + ["--stop-timeout", "30"])
        app = self.deploy("quickstop", "procfile")
        self.wait_dynos(app, {"web": 1})
        host, port = self.pierd.url.split("://", 1)[1].rsplit(":", 1)

        def patch(n):
            body = json.dumps({"updates": [{"type": "web", "quantity": n}]}).encode()
            return (b"PATCH /apps/%s/formation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    b"%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (app.encode(), self.pierd.admin_token.encode(), len(body), body))
        for delay in [0] + [i / 1000 for i in range(2, 62, 3)]:
            # Up and down again at once: the second request pipelined
            # behind the first, or DELAY after it.
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(patch(2) + (b"" if delay else patch(1)))
                if delay:
                    time.sleep(delay)
                    sock.sendall(patch(1))
                got = b""
                while got.count(b"HTTP/1.1 200") < 2:
                    chunk = sock.recv(65536)
                    self.assertTrue(chunk, got)
                    got += chunk
            self.wait_for("web.2 gone", lambda: [d["name"] for d in self.dynos(app)]
                          == ["web.1"], timeout=10, app=app)
        self.assertNotIn("R12", "\n".join(self.log_lines(app)))


class ReleaseTest(DynoTestCase):

    def test_unpacked_releases_no_dyno_uses_are_removed(self):
        app = self.deploy("prune", "procfile")
        self.wait_dynos(app, {"web": 1}, version=2)
        run = os.path.join(self.pierd.home, "run", self.apps[app])
        self.assertEqual(sorted(os.listdir(run)), ["v2"])
        self.set_config(app, {"A": "1"})                                 # v3
        self.wait_dynos(app, {"web": 1}, version=3)
        self.wait_for("only v3 unpacked", lambda: sorted(os.listdir(run)) == ["v3"],
                      timeout=STOP_TIMEOUT + 10, app=app)
        # a one-off of the current release keeps it; the app keeps working
        res = self.pier("run", "-a", app, "cat Procfile", stdin=None)
        self.assertEqual(res.code, 0, res)
        self.assertIn(b"web:", res.out)
        self.assertTrue(self.answers(self.dynos(app)[0]["port"]))

    def test_config_change_during_a_push_launch_is_no_failure(self):
        # v2's web takes a while to bind; a config change meanwhile makes
        # v3 (v2's code), which replaces v2 before it is up.  The push
        # must end "done" and v2 must not be marked failed.
        app = self.new_app("supersede")
        repo = self.make_repo("procfile", name="repo-" + app, files={"Procfile": (
            "web: sleep 2; exec %s\n" % PROCFILE_WEB).encode()})
        result = {}
        pusher = threading.Thread(target=lambda: result.update(
            zip(("rc", "out"), self.push(repo, app))))
        pusher.start()
        self.wait_for("v2 launching", lambda: len(self.releases(app)) >= 2, app=app)
        self.set_config(app, {"LATE": "1"})                      # v3
        pusher.join(UP_WITHIN + 30)
        self.assertFalse(pusher.is_alive())
        self.assertEqual(result["rc"], 0, result["out"])
        self.assertIn("Launching... done, v2", result["out"])
        self.assertEqual(self.release(app, 2)["status"], "succeeded")
        self.assertTrue(self.release(app, 3)["current"])
        self.wait_dynos(app, {"web": 1}, version=3)

    def test_new_release_replaces_every_dyno_with_preboot(self):
        # The web process waits BOOT_DELAY before it binds: the window in
        # which only the old web dyno can answer.
        app = self.deploy("preboot", "procfile", files={"Procfile": (
            "web: sleep ${BOOT_DELAY:-0}; exec %s\nworker: %s\n"
            % (PROCFILE_WEB, PROCFILE_WORKER)).encode()})
        self.scale(app, worker=1)
        old = self.wait_dynos(app, {"web": 1, "worker": 1}, version=2)
        old_port = old["web.1"]["port"]
        self.assertTrue(self.answers(old_port))

        results = []  # (monotonic start, ok)
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                t = time.monotonic()
                res = get(old_port, timeout=2)
                results.append((t, res is not None and res[0] == 200))
                time.sleep(0.02)
        th = threading.Thread(target=hammer, daemon=True)
        th.start()
        try:
            out = self.pier_ok("config:set", "BOOT_DELAY=2", "GREETING=hi", "-a", app)
            self.assertIn("done, v3", out)
            # Both web.1s run while the new one boots; ps shows the new
            # one only (--json both).
            def web1s():
                ds = [d for d in json.loads(self.pier_ok("ps", "--json", "-a", app))
                      if d["name"] == "web.1"]
                return ds if len(ds) == 2 else None
            both = self.wait_for("both web.1s", web1s, app=app)
            self.assertEqual(sorted(d["release"]["version"] for d in both), [2, 3], both)
            ps = self.pier_ok("ps", "-a", app)
            self.assertRegex(ps, r"^=== web \(Standard-1X\): .* \(1\)\nweb\.1: starting %s\n"
                             % PS_TIME, ps)
            # Until the new web dyno is seen up, the old one must serve.
            new_not_up_at = time.monotonic()
            deadline = time.monotonic() + UP_WITHIN + 5
            while time.monotonic() < deadline:
                t = time.monotonic()
                ds = self.dynos(app)
                new_web = [d for d in ds if d["type"] == "web" and d["release"]["version"] == 3]
                if new_web and new_web[0]["state"] == "up":
                    break
                new_not_up_at = t
                time.sleep(0.05)
            else:
                self.fail("the v3 web dyno did not come up\n" + self.diagnose(app))
        finally:
            stop.set()
            th.join(10)
        during = [ok for t, ok in results if t < new_not_up_at]
        self.assertGreater(len(during), 20, "too few requests while the new dyno booted")
        self.assertTrue(all(during), "the old web dyno failed %d of %d requests before the "
                        "new one was up\n%s" % (during.count(False), len(during),
                                                 self.diagnose(app)))

        new = self.wait_dynos(app, {"web": 1, "worker": 1}, version=3,
                              timeout=STOP_TIMEOUT + UP_WITHIN)
        res = get(new["web.1"]["port"])
        self.assertIn("greeting: hi", res[1])
        self.wait_log(app, r"^worker alive, greeting=hi$", "worker.1")
        self.wait_for("old web port closed", lambda: get(old_port, timeout=1) is None,
                      timeout=STOP_TIMEOUT + 3, app=app)
        self.wait_for("one web and one worker process",
                      lambda: len(app_processes(app, is_web_server)) == 1 and len(
                          app_processes(app, is_worker_loop)) == 1, timeout=STOP_TIMEOUT + 3,
                      app=app)
        # Preboot order: the old web.1 was told to stop after the new one was up.
        ev = self.log_events(app, "web.1", "heroku")
        last_up = max(t for t, _, _, m in ev if m == "State changed from starting to up")
        last_term = max(t for t, _, _, m in ev if m == "Stopping all processes with SIGTERM")
        self.assertLessEqual(last_up, last_term)
        # A rollback is a release too: v2's config again, in new dynos (v4).
        self.assertIn("done, v4", self.pier_ok("rollback", "v2", "-a", app))
        back = self.wait_dynos(app, {"web": 1, "worker": 1}, version=4,
                               timeout=STOP_TIMEOUT + UP_WITHIN)
        self.assertNotIn("greeting: hi", get(back["web.1"]["port"])[1])
        self.assert_no_zombies()


class CrashTest(DynoTestCase):

    def test_crashing_web_restarts_with_back_off(self):
        app, since = self.deploy_broken("crashy", "crash")
        starts = self.wait_log(app, r"^Starting process with command ", "web.1", count=5,
                               timeout=BACKOFF_MS * 2 / 1000 + BACKOFF_MAX_MS * 3 / 1000 + 10,
                               since=since)
        ev = self.log_events(app, "web.1", since=since)
        msgs = [(src, m) for _, src, _, m in ev]
        self.assertIn(("app", "boom"), msgs)
        self.assertIn(("heroku", "Process exited with status 3"), msgs)
        self.assertIn(("heroku", "State changed from starting to crashed"), msgs)
        self.assertIn(("heroku", "State changed from crashed to starting"), msgs)
        # Restart at once, then back off: growing gaps, capped.
        t = [e[0] for e in starts[:5]]
        gaps = [b - a for a, b in zip(t, t[1:])]
        self.assertLess(gaps[0], BACKOFF_MS / 1000, gaps)
        self.assertGreaterEqual(gaps[1], BACKOFF_MS / 1000 * 0.9, gaps)
        self.assertGreater(gaps[2], gaps[1] * 1.5, gaps)
        self.assertGreaterEqual(gaps[3], BACKOFF_MAX_MS / 1000 * 0.9, gaps)
        self.assertLess(gaps[3], BACKOFF_MAX_MS / 1000 + 1.5, gaps)

        # ps shows it crashed (it stays so between restarts).
        def crashed_in_ps():
            out = self.pier_ok("ps", "-a", app)
            return out if re.search(r"^web\.1: crashed %s$" % PS_TIME, out, re.M) else None
        out = self.wait_for("ps shows web.1 crashed", crashed_in_ps, app=app, interval=0.05)
        self.assertTrue(out.startswith("=== web (Standard-1X): %s (1)\n" % MODES_WEB), out)
        self.assert_no_zombies()

    def test_back_off_starts_afresh_after_a_good_run(self):
        # A worker that runs 1.5 s and then crashes: with the good-run
        # threshold at 1 s each crash is a first one, restarted at once
        # (without it the gaps would grow by 1 s, 2 s, ...).
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + [
            "--crash-backoff", "1000", "--crash-backoff-max", "8000",
            "--crash-backoff-reset", "1000"])
        app = self.deploy("phoenix2", "procfile", files={"Procfile": (
            "web: %s\nworker: echo run; sleep 1.5; exit 3\n" % PROCFILE_WEB).encode()})
        since = time.time()
        self.scale(app, web=0, worker=1)
        starts = self.wait_log(app, r"^Starting process with command ", "worker.1", count=4,
                               timeout=20, since=since)
        t = [e[0] for e in starts[:4]]
        gaps = [b - a for a, b in zip(t, t[1:])]
        self.assertTrue(all(1.4 < g < 2.3 for g in gaps), gaps)

    def test_boot_timeout_r10(self):
        app, since = self.deploy_broken("hang", "hang")
        first = self.wait_for("web.1 starting", lambda: [
            d for d in self.dynos(app) if d["name"] == "web.1" and d["pid"] > 0], app=app)[0]
        self.assertEqual(first["state"], "starting")
        sleeps = self.wait_for("the sleep process", lambda: app_processes(
            app, lambda a: os.path.basename(a[0]) == "sleep"), app=app)
        t0 = time.monotonic()
        ev = self.wait_log(app, r"^Error R10 \(Boot timeout\) -> Web process failed to bind to "
                                r"\$PORT within %d seconds of launch$" % BOOT_TIMEOUT, "web.1",
                           timeout=BOOT_TIMEOUT + 5, since=since)
        self.wait_log(app, r"^State changed from starting to crashed$", "web.1", timeout=5,
                      since=since)
        msgs = [e[3] for e in self.log_events(app, "web.1", "heroku", since=since)]
        i = msgs.index(ev[0][3])
        self.assertIn("Stopping process with SIGKILL", msgs[i:])
        self.assertIn("Process exited with status 137", msgs[i:])
        self.assertLess(time.monotonic() - t0, BOOT_TIMEOUT + 5)
        # That dyno is gone, all of it.
        self.wait_for("the first dyno's processes gone", lambda: not any(
            alive(p) for p in sleeps + [first["pid"]]), timeout=5, app=app)
        self.assert_no_zombies()


class StopTest(DynoTestCase):

    def test_sigterm_grace_then_r12(self):
        serve = (b"#!/bin/sh\n"
                 b"# Serves $PORT; on SIGTERM says so and exits 0, unless told to ignore it.\n"
                 b"if [ \"$ON_TERM\" = ignore ]; then\n"
                 b"  trap '' TERM\n"
                 b"  exec python3 -m http.server \"$PORT\"\n"
                 b"fi\n"
                 b"trap 'echo got TERM; sleep 1; echo cleaned up; exit 0' TERM\n"
                 b"python3 -m http.server \"$PORT\" &\n"
                 b"wait\n")
        app = self.deploy("term", files={"Procfile": b"web: sh serve.sh\n",
                                         "serve.sh": (serve, 0o755)})
        first = self.wait_dynos(app, {"web": 1})["web.1"]
        self.pier_ok("ps:restart", "-a", app)
        got = self.wait_log(app, r"^got TERM$", "web.1", timeout=STOP_TIMEOUT + 5)
        # A second of clean-up, inside the grace period: its time, no R12.
        done = self.wait_log(app, r"^cleaned up$", "web.1", timeout=5)
        self.assertGreaterEqual(done[-1][0] - got[-1][0], 0.9)
        self.wait_log(app, r"^Process exited with status 0$", "web.1", timeout=5)
        self.wait_for("web.1 back", lambda: [d for d in self.dynos(app) if d["state"] == "up"
                                             and d["pid"] != first["pid"]], app=app)
        self.assertNotIn("Error R12", "\n".join(self.log_lines(app)))

        # One that ignores SIGTERM: R12 after --stop-timeout, then SIGKILL.
        self.set_config(app, {"ON_TERM": "ignore"})
        stubborn = self.wait_dynos(app, {"web": 1}, version=3,
                                   timeout=STOP_TIMEOUT + UP_WITHIN)["web.1"]
        self.pier_ok("ps:restart", "web", "-a", app)
        ev = self.wait_log(app, r"^Error R12 \(Exit timeout\) -> Process failed to exit within "
                                r"%d seconds of SIGTERM$" % STOP_TIMEOUT, "web.1",
                           timeout=STOP_TIMEOUT + 5)
        term = [e for e in self.log_events(app, "web.1", "heroku")
                if e[3] == "Stopping all processes with SIGTERM"]
        waited = ev[-1][0] - term[-1][0]
        self.assertGreaterEqual(waited, STOP_TIMEOUT - 0.2)
        self.assertLess(waited, STOP_TIMEOUT + 2)
        self.wait_log(app, r"^Process exited with status 137$", "web.1", timeout=5)
        self.wait_for("web.1 back after SIGKILL", lambda: [
            d for d in self.dynos(app) if d["state"] == "up" and d["pid"] != stubborn["pid"]],
            app=app)
        self.assertFalse(alive(stubborn["pid"]))
        self.assert_no_zombies()


class PierdRestartTest(DynoTestCase):

    def test_kill9_pierd_then_restart_no_duplicates(self):
        app = self.deploy("phoenix", "procfile")
        self.scale(app, web=2, worker=1)
        self.wait_dynos(app, {"web": 2, "worker": 1})
        old_web = self.wait_processes(app, is_web_server, 2, "web processes")
        old_worker = app_processes(app, is_worker_loop)
        self.assertEqual(len(old_worker), 1)

        self.pierd.kill()
        self.pierd.start(argv=self.fast_argv)
        dynos = self.wait_dynos(app, {"web": 2, "worker": 1}, timeout=UP_WITHIN + 5)
        for name in ("web.1", "web.2"):
            self.assertTrue(self.answers(dynos[name]["port"]), name)

        def converged():
            web, worker = app_processes(app, is_web_server), app_processes(app, is_worker_loop)
            return (web, worker) if len(web) == 2 and len(worker) == 1 else None
        web, worker = self.wait_for("2 web and 1 worker processes, no more", converged,
                                    timeout=5, app=app)
        self.assertEqual(set(web) & set(old_web), set(), "web processes of the old pierd live")
        self.assertEqual(set(worker) & set(old_worker), set())
        self.assertEqual([p for p in old_web + old_worker if alive(p)], [])
        # Stable: nothing more starts.
        time.sleep(1)
        self.assertEqual((app_processes(app, is_web_server), app_processes(app, is_worker_loop)),
                         (web, worker))
        self.assertEqual(sorted(d["name"] for d in self.dynos(app)),
                         ["web.1", "web.2", "worker.1"])
        self.assert_no_zombies()

    def test_clean_restart_converges(self):
        # A clean stop takes its dynos with it; the next start brings the
        # formation back.
        app = self.deploy("lazarus", "procfile")
        self.scale(app, web=2, worker=1)
        self.wait_dynos(app, {"web": 2, "worker": 1})
        old = self.wait_processes(app, is_web_server, 2, "web processes") + app_processes(
            app, is_worker_loop)
        self.pierd.stop()
        self.assertEqual([p for p in old if alive(p)], [])
        self.pierd.start(argv=self.fast_argv)
        dynos = self.wait_dynos(app, {"web": 2, "worker": 1}, timeout=UP_WITHIN + 5)
        for name in ("web.1", "web.2"):
            self.assertTrue(self.answers(dynos[name]["port"]), name)
        self.wait_processes(app, is_web_server, 2, "web processes")


class UnisolatedTest(DynoTestCase):
    """pierd --unisolated (what it does where it cannot sandbox): says so
    at start, marks the dynos in ps, and a kill -9 leaves no duplicates."""

    def test_marked_and_kill9_leaves_no_duplicates(self):
        argv = self.fast_argv + ["--unisolated"]
        self.pierd.stop()
        self.pierd.start(argv=argv)
        self.assertIn("dynos run UNISOLATED", self.pierd.current_log())
        app = self.deploy("plain", "procfile")
        self.scale(app, web=2, worker=1)
        dynos = self.wait_dynos(app, {"web": 2, "worker": 1})
        self.assertEqual({d["isolated"] for d in dynos.values()}, {False})
        out = self.pier_ok("ps", "-a", app)
        self.assertRegex(out, r"\nweb\.1: up %s \(unisolated\)\n" % PS_TIME, out)
        old_web = self.wait_processes(app, is_web_server, 2, "web processes")
        old_worker = app_processes(app, is_worker_loop)
        self.assertEqual(len(old_worker), 1)

        self.pierd.kill()
        self.pierd.start(argv=argv)
        self.wait_dynos(app, {"web": 2, "worker": 1}, timeout=UP_WITHIN + 5)

        def converged():
            web, worker = app_processes(app, is_web_server), app_processes(app, is_worker_loop)
            return (web, worker) if len(web) == 2 and len(worker) == 1 else None
        web, worker = self.wait_for("2 web and 1 worker processes, no more", converged,
                                    timeout=5, app=app)
        self.assertEqual([p for p in old_web + old_worker if alive(p)], [])
        time.sleep(1)
        self.assertEqual((app_processes(app, is_web_server), app_processes(app, is_worker_loop)),
                         (web, worker))
        self.pierd.stop()
        self.assertEqual([p for p in web + worker if alive(p)], [])

PROBE = r'''"""Reports what a dyno can see and do, as JSON on GET /."""
import errno
import json
import os
import subprocess
from http.server import BaseHTTPRequestHandler, HTTPServer


def attempt(fn, path):
    try:
        fn(path)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def read(path):
    with open(path, "rb") as f:
        f.read(1)


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout.strip()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        other = os.environ.get("PROBE_OTHER", "/nonexistent")
        body = json.dumps({
            "id_u": run("id", "-u"),
            "uid": os.getuid(),
            "proc": [p for p in run("ls", "/proc").split() if p.isdigit()],
            "cwd": os.getcwd(),
            "own_app": attempt(os.listdir, "/app"),
            "state_db": attempt(read, os.environ.get("PROBE_STATE_DB", "/nonexistent")),
            "pier_home": attempt(os.listdir, os.environ.get("PROBE_HOME", "/nonexistent")),
            "other_app": attempt(os.listdir, other),
            "other_probe": attempt(read, os.path.join(other, "probe.py")),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
'''


@unittest.skipIf(SANDBOX_SKIP, SANDBOX_SKIP)
class IsolationTest(DynoTestCase):

    def probe_files(self):
        return {"Procfile": b"web: python3 probe.py\n", "probe.py": PROBE.encode()}

    def test_dyno_is_isolated(self):
        other = self.deploy("other", files=self.probe_files(), buildpack="procfile")
        other_web = self.wait_dynos(other, {"web": 1})["web.1"]
        other_dir = os.path.join(self.pierd.home, "run", self.apps[other], "v2")
        self.assertTrue(os.path.isfile(os.path.join(other_dir, "probe.py")),
                        "the other app's slug is not at %s" % other_dir)
        state_db = os.path.join(self.pierd.home, "state.db")
        self.assertTrue(os.path.isfile(state_db))
        app = self.deploy("probe", files=self.probe_files(), buildpack="procfile", config={
            "PROBE_STATE_DB": state_db, "PROBE_HOME": self.pierd.home, "PROBE_OTHER": other_dir})
        web = self.wait_dynos(app, {"web": 1})["web.1"]
        self.assertTrue(web["isolated"], web)
        res = get(web["port"], timeout=10)
        self.assertIsNotNone(res)
        seen = json.loads(res[1])

        # Its own uid, the same inside and out, no one else's.
        self.assertEqual(seen["id_u"], str(seen["uid"]))
        self.assertGreaterEqual(seen["uid"], 100000, seen)
        pids = app_processes(app, lambda a: "probe.py" in a[1:2])
        self.assertEqual(len(pids), 1, pids)
        with open("/proc/%d/status" % pids[0]) as f:
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", f.read(), re.M).groups()
        self.assertEqual(set(uids), {str(seen["uid"])})
        other_seen = json.loads(get(other_web["port"], timeout=10)[1])
        self.assertNotEqual(other_seen["uid"], seen["uid"], "two apps share a uid")

        # Only its own processes: the sandbox's init, sh, python, id/ls.
        self.assertLessEqual(len(seen["proc"]), 6, seen["proc"])
        # Its /app, and nothing of pierd's or the other app's.
        self.assertEqual(seen["cwd"], "/app")
        self.assertEqual(seen["own_app"], "ok")
        for key in ("state_db", "pier_home", "other_app", "other_probe"):
            self.assertIn(seen[key], ("ENOENT", "EACCES", "EPERM"), "%s: %r" % (key, seen))

    def test_memory_hog_is_killed_r15(self):
        # Allocates up to 3 GB, well past 2 x 512 MB; bounded should the
        # limit be missing, so that the host survives a failing test.
        hog = ("python3 -c 'import time; a = [b\"x\" * (1 << 20) for _ in range(3 * 1024)]; "
               "print(\"still alive\", flush=True); time.sleep(100)'")
        app = self.deploy("hog", "procfile", files={"Procfile": (
            "web: %s\nworker: %s\n" % (PROCFILE_WEB, hog)).encode()})
        self.scale(app, web=0, worker=1)
        self.wait_log(app, r"^Error R15 \(Memory quota vastly exceeded\)", "worker.1",
                      timeout=20)
        self.wait_log(app, r"^Process exited with status 137$", "worker.1", timeout=5)
        self.assertNotIn("still alive", [e[3] for e in self.log_events(app, "worker.1", "app")])
        self.wait_for("worker.1 crashed or restarting", lambda: [
            d for d in self.dynos(app) if d["name"] == "worker.1"], app=app)
        self.scale(app, worker=0)
        self.wait_for("no dynos", lambda: self.dynos(app) == [], timeout=STOP_TIMEOUT + 5,
                      app=app)
        self.assertTrue(self.pierd.running)
        self.assert_no_zombies()

    def test_r15_kills_the_whole_dyno(self):
        # The OOM killer takes the hog only (cgroup v1: the biggest
        # process); the shell around it must not live on as the dyno.
        hog = ("sh -c 'python3 -c \"a = [b\\\"x\\\" * (1 << 20) for _ in range(3 * 1024)]\"; "
               "echo survived-oom; exec sleep 100'")
        app = self.deploy("hogsh", "procfile", files={"Procfile": (
            "web: %s\nworker: %s\n" % (PROCFILE_WEB, hog)).encode()})
        self.scale(app, web=0, worker=1)
        self.wait_log(app, r"^Error R15 \(Memory quota vastly exceeded\)", "worker.1",
                      timeout=20)
        self.wait_log(app, r"^Process exited with status 137$", "worker.1", timeout=5)
        r15 = [e for e in self.log_events(app, "worker.1", "heroku") if "R15" in e[3]]
        self.assertEqual(len(r15), 1, r15)
        self.scale(app, worker=0)
        self.assertTrue(self.pierd.running)

    def test_over_quota_is_r14_and_lives(self):
        # 700 MB: over standard-1x's 512 MB quota, under the 2x kill line.
        hog = ("python3 -c 'import time; a = [b\"x\" * (1 << 20) for _ in range(700)]; "
               "print(\"holding\", flush=True); time.sleep(100)'")
        app = self.deploy("fat", "procfile", files={"Procfile": (
            "web: %s\nworker: %s\n" % (PROCFILE_WEB, hog)).encode()})
        self.scale(app, web=0, worker=1)
        self.wait_log(app, r"^holding$", "worker.1", timeout=20)
        self.wait_log(app, r"^Error R14 \(Memory quota exceeded\)$", "worker.1", timeout=10)
        msgs = [e[3] for e in self.log_events(app, "worker.1", "heroku")]
        self.assertFalse([m for m in msgs if "R15" in m or m.startswith("Process exited")], msgs)
        self.assertEqual([d["state"] for d in self.dynos(app) if d["name"] == "worker.1"], ["up"])
        self.scale(app, worker=0)
        self.wait_for("no dynos", lambda: self.dynos(app) == [], timeout=STOP_TIMEOUT + 5,
                      app=app)

    def test_fork_bomb_stays_within_pids_limit(self):
        # A bomb that stops by itself after 3000 processes: should the limit
        # be missing, the test fails instead of the host.
        bomb = ("python3 -c 'import os, time\n"
                "ok = failed = 0\n"
                "for i in range(3000):\n"
                "    try:\n"
                "        if os.fork() == 0:\n"
                "            time.sleep(120); os._exit(0)\n"
                "        ok += 1\n"
                "    except OSError:\n"
                "        failed += 1\n"
                "print(\"forked\", ok, \"failed\", failed, flush=True)\n"
                "time.sleep(120)'")
        bomb_sh = ("#!/bin/sh\nexec " + bomb + "\n").encode()
        app = self.deploy("bomb", "procfile", files={
            "Procfile": ("web: %s\nworker: sh bomb.sh\n" % PROCFILE_WEB).encode(),
            "bomb.sh": (bomb_sh, 0o755)})
        self.scale(app, web=0, worker=1)
        ev = self.wait_log(app, r"^forked \d+ failed \d+$", "worker.1", timeout=30)
        ok, failed = (int(x) for x in re.findall(r"\d+", ev[0][3]))
        self.assertLess(ok, PIDS_1X, ev[0][3])
        self.assertGreater(failed, 0, ev[0][3])
        worker = [d for d in self.dynos(app) if d["name"] == "worker.1"][0]
        cg = proc_cgroup(worker["pid"])
        self.assertTrue(cg and self.apps[app] in cg, cg)
        n = len(cgroup_pids(cg))
        self.assertGreater(n, PIDS_1X * 0.8, "the bomb did not reach the limit")
        self.assertLessEqual(n, PIDS_1X)
        # The host and pierd are fine.
        self.assertEqual(subprocess.run(["true"]).returncode, 0)
        self.assertEqual(self.api("GET", "/health").status, 200)
        self.assertIn("worker.1: up", self.pier_ok("ps", "-a", app))
        # Scaled down, every one of them goes.
        self.scale(app, worker=0)
        self.wait_for("no dynos", lambda: self.dynos(app) == [], timeout=STOP_TIMEOUT + 5,
                      app=app)
        self.wait_for("the bomb's processes gone", lambda: not cgroup_pids(cg),
                      timeout=5, app=app)
        self.wait_for("no zombies", lambda: not zombies_of(self.pierd.pid), timeout=5)


if __name__ == "__main__":
    unittest.main()
