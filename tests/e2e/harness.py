"""Black-box test harness: a real pierd in a temp dir, the real pier CLI.

Every test gets (in setUp) a fresh temp dir TMP with
    TMP/home        pierd's --home (PIER_HOME): state.db, admin-token, ...
    TMP/userhome    $HOME for the pier CLI (~/.config/pier/credentials)
    TMP/work        the default cwd for pier: not inside any git repo
and a running pierd listening on 127.0.0.1:<free port>.  tearDown stops
every pierd the test started with SIGTERM and asserts a clean exit 0 within
5 s and no sanitizer report in its stderr; cleanups kill -9 whatever is
left and remove TMP (set PIER_E2E_KEEP=1 to keep it).

    self.pierd                 the Pierd started for the test
    self.api(method, path, body=None, token=DEFAULT, headers=None)
                               raw HTTP through http.client -> Response
    self.pier(*args, stdin=b"", cwd=None, env=None, token=DEFAULT, api=DEFAULT)
                               runs $PIER_BUILD/pier -> CliResult(code, out, err)

Binaries come from $PIER_BUILD (tests/run.py sets it to the sanitizer
build); for a quick manual run: PIER_BUILD=build /usr/bin/python3 -m
unittest -v test_apps (from tests/e2e).
"""

import base64
import collections
import datetime
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _default_build():
    for d in ("build-test", "build"):
        if os.path.exists(os.path.join(REPO, d, "pierd")):
            return os.path.join(REPO, d)
    return os.path.join(REPO, "build-test")


BUILD = os.path.abspath(os.environ.get("PIER_BUILD") or _default_build())
PIERD = os.path.join(BUILD, "pierd")
PIER = os.path.join(BUILD, "pier")

VERSION = "0.1.0"
APP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
REL_TIME_RE = r"\(~ \d+[smhd] ago\)"

# What a sanitizer prints when it finds something.  Any of these in a
# process's stderr fails the test even if the exit status looked fine.
SANITIZER_MARKERS = (
    b"ERROR: AddressSanitizer",
    b"ERROR: LeakSanitizer",
    b"SUMMARY: AddressSanitizer",
    b"SUMMARY: UndefinedBehaviorSanitizer",
    b"runtime error:",
)

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}

DEFAULT = object()  # "use the usual value" for token/api arguments

USER = pwd.getpwuid(os.getuid()).pw_name
HOSTNAME = socket.gethostname()
EMAIL = "%s@%s" % (USER, HOSTNAME)  # pierd's user: USER@HOSTNAME (docs/api.md)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def closed_port():
    """A port nothing listens on (bound, never listened, then released)."""
    return free_port()


def sanitizer_report(data):
    if isinstance(data, str):
        data = data.encode()
    return any(m in data for m in SANITIZER_MARKERS)


def iso_to_cli(ts):
    """'2026-11-26T12:00:00Z' -> '2026/11/26 12:00:00 +0000' (the CLI's
    time format)."""
    ts = re.sub(r"\.\d+Z$", "Z", ts)
    dt = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y/%m/%d %H:%M:%S +0000")


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def tail(text, lines=200):
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return "[... %d lines cut ...]\n" % (len(parts) - lines) + "\n".join(parts[-lines:])


class Response:
    def __init__(self, status, reason, headers, body, error=None):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.send_error = error

    def header(self, name, default=None):
        return self.headers.get(name, default) if self.headers is not None else default

    def json(self, **kw):
        return json.loads(self.body.decode("utf-8"), **kw)

    def ordered_json(self):
        return self.json(object_pairs_hook=collections.OrderedDict)

    def __repr__(self):
        body = self.body[:2000]
        return "<HTTP %s %s: %r>" % (self.status, self.reason, body)


def http_request(port, method, path, body=None, token=None, headers=None, timeout=30,
                 chunked=False, host="127.0.0.1"):
    """One HTTP request on a fresh connection.  body: bytes/str sent as
    is, anything else as JSON.  A server that answers and closes before the
    body is all sent (413) is fine: the response is still read."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    hdrs = {}
    if token is not None:
        hdrs["Authorization"] = "Bearer %s" % token
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    if body is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    for k, v in (headers or {}).items():
        for old in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[old]
        if v is not None:
            hdrs[k] = v
    lower = {h.lower() for h in hdrs}
    if body is not None and not chunked and "content-length" not in lower:
        hdrs["Content-Length"] = str(len(body))
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    send_error = None
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            try:
                step = 65536
                for i in range(0, len(body), step):
                    piece = body[i:i + step]
                    if chunked:
                        conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    else:
                        conn.send(piece)
                if chunked:
                    conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError) as e:
                send_error = e
        elif chunked:
            conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.reason, resp.headers, data, send_error)
    finally:
        conn.close()


class PierdDied(AssertionError):
    pass


class Pierd:
    """One pierd process on a given home; can be stopped and restarted on
    the same home and port."""

    def __init__(self, root, home=None, port=None, listen=None, env=None, name="pierd"):
        self.root = root
        self.home = home or os.path.join(root, "home")
        self.port = port or free_port()
        self.listen = listen or "127.0.0.1:%d" % self.port
        # every pierd its own router port: routers share ports by SO_REUSEPORT
        self.router_port = free_port()
        self.env = env
        self.name = name
        self.log_path = os.path.join(root, "%s.log" % name)
        self.proc = None
        self.starts = 0
        self.log_offset = 0  # where the current run's stderr starts
        self.last_exit = None

    # -- life cycle

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def argv(self):
        return [PIERD, "--home", self.home, "--listen", self.listen,
                "--router-listen", "127.0.0.1:%d" % self.router_port, "--router-workers", "1"]

    def process_env(self):
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
               "HOME": os.path.join(self.root, "pierd-user-home"),
               "LANG": "C.UTF-8"}
        env.update(SANITIZER_ENV)
        if self.env:
            for k, v in self.env.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        return env

    def start(self, argv=None, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "pierd already running"
        os.makedirs(os.path.join(self.root, "pierd-user-home"), exist_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            log.write(b"==== harness: start #%d: %s\n" % (
                self.starts, " ".join(argv or self.argv()).encode()))
            log.flush()
            self.proc = subprocess.Popen(argv or self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=self.process_env(),
                                         cwd=self.root)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.last_exit = rc
                raise PierdDied("pierd exited (status %d) before it answered GET /health; "
                                "its stderr:\n%s" % (rc, self.current_log()))
            try:
                r = http_request(self.port, "GET", "/health", timeout=2)
                if r.status == 200:
                    return r
                last = "GET /health -> %d %r" % (r.status, r.body[:200])
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill()
        raise AssertionError("pierd did not answer GET /health within %d s (last: %s); "
                             "its stderr:\n%s" % (timeout, last, self.current_log()))

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def signal_and_wait(self, sig, timeout=5):
        """Send sig, wait up to timeout; return the exit status or None."""
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.last_exit = rc
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Clean shutdown: sig, then exit status 0 within timeout and no
        sanitizer report.  Raises AssertionError otherwise (after a kill -9)."""
        if not self.running:
            if self.proc is not None:
                self.check_log()
            return self.last_exit
        rc = self.signal_and_wait(sig, timeout)
        if rc is None:
            self.kill()
            raise AssertionError("pierd did not exit within %d s of %s (killed -9); "
                                 "its stderr:\n%s" % (timeout, sig.name, self.current_log()))
        self.check_log()
        if rc != 0:
            raise AssertionError("pierd exited with status %d on %s, want 0; its stderr:\n%s"
                                 % (rc, sig.name, self.current_log()))
        return rc

    def check_log(self):
        log = self.current_log()
        if sanitizer_report(log):
            raise AssertionError("sanitizer report in pierd's stderr:\n%s" % tail(log, 400))

    def kill(self):
        """kill -9: the crash case."""
        if self.running:
            self.proc.kill()
        if self.proc is not None:
            self.last_exit = self.proc.wait()

    def kill_leftovers(self):
        """After a test: a router a killed pierd left behind (pierd's own
        shutdown stops its router and dynos; a kill -9 does not)."""
        try:
            with open(os.path.join(self.home, "router.pid")) as f:
                pid = int(f.read().strip() or 0)
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "pier-router":
                    os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def restart(self, wait=True):
        if self.running:
            self.stop()
        return self.start(wait=wait)

    # -- state

    @property
    def admin_token(self):
        with open(os.path.join(self.home, "admin-token")) as f:
            return f.read().strip()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def current_log(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def request(self, method, path, body=None, token=DEFAULT, headers=None, timeout=30,
                chunked=False):
        if token is DEFAULT:
            token = self.admin_token
        return http_request(self.port, method, path, body=body, token=token,
                            headers=headers, timeout=timeout, chunked=chunked)


CliResult = collections.namedtuple("CliResult", "code out err")


class PierTestCase(unittest.TestCase):
    """Base class: a fresh pierd per test (set START_PIERD = False to
    start it yourself with self.start_pierd())."""

    START_PIERD = True
    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pier-e2e-")
        self.addCleanup(self._cleanup_tmp)
        self.userhome = os.path.join(self.tmp, "userhome")
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.userhome)
        os.makedirs(self.work)
        self.pierds = []
        self.addCleanup(self._kill_pierds)
        self.pierd = None
        if self.START_PIERD:
            self.pierd = self.start_pierd()

    def tearDown(self):
        if os.environ.get("PIER_E2E_RESULT_FD") is None and not self._passed_so_far():
            # Plain `python3 -m unittest`: tests/run.py collects this itself.
            print(self.pier_diagnostics())
        errors = []
        for p in self.pierds:
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            self.fail("\n\n".join(errors))

    def _passed_so_far(self):
        outcome = getattr(self, "_outcome", None)
        return outcome is None or getattr(outcome, "success", True)

    def _kill_pierds(self):
        for p in self.pierds:
            p.kill()
            p.kill_leftovers()

    def _cleanup_tmp(self):
        if os.environ.get("PIER_E2E_KEEP"):
            print("kept %s" % self.tmp)
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_pierd(self, name=None, home=None, wait=True, **kw):
        name = name or "pierd%d" % (len(self.pierds) + 1)
        root = self.tmp
        if home is None:
            home = os.path.join(self.tmp, "home" if not self.pierds else name + "-home")
            os.makedirs(home, mode=0o700, exist_ok=True)
        p = Pierd(root, home=home, name=name, **kw)
        self.pierds.append(p)
        p.start(wait=wait)
        return p

    def pier_diagnostics(self):
        out = []
        for p in getattr(self, "pierds", []):
            out.append("--- %s stderr (%s) ---\n%s" % (p.name, p.log_path, tail(p.log())))
        return "\n".join(out)

    # -- HTTP

    def api(self, method, path, body=None, token=DEFAULT, headers=None, pierd=None, **kw):
        return (pierd or self.pierd).request(method, path, body=body, token=token,
                                             headers=headers, **kw)

    def api_ok(self, method, path, body=None, status=200, **kw):
        r = self.api(method, path, body=body, **kw)
        self.assertEqual(r.status, status, "%s %s -> %r" % (method, path, r))
        return r.json() if r.body else None

    def assertError(self, r, status, err_id, what=""):
        """An API error: that status, a JSON body {"id": err_id,
        "message": non-empty string}."""
        ctx = "%s: %r" % (what, r)
        self.assertEqual(r.status, status, ctx)
        ctype = r.header("Content-Type", "")
        self.assertTrue(ctype.startswith("application/json"), "Content-Type %r; %s" % (ctype, ctx))
        try:
            body = r.json()
        except ValueError:
            self.fail("error body is not JSON; %s" % ctx)
        self.assertIsInstance(body, dict, ctx)
        self.assertEqual(body.get("id"), err_id, ctx)
        self.assertIsInstance(body.get("message"), str, ctx)
        self.assertTrue(body["message"].strip(), "empty message; %s" % ctx)
        return body

    def create_app(self, name=None, pierd=None):
        body = {"name": name} if name is not None else {}
        r = self.api("POST", "/apps", body, pierd=pierd)
        self.assertEqual(r.status, 201, "POST /apps %r -> %r" % (body, r))
        return r.json()

    def set_config(self, app, vars, pierd=None):
        r = self.api("PATCH", "/apps/%s/config-vars" % app, vars, pierd=pierd)
        self.assertEqual(r.status, 200, "PATCH config-vars %r -> %r" % (vars, r))
        return r

    def releases(self, app, pierd=None):
        return self.api_ok("GET", "/apps/%s/releases" % app, pierd=pierd)

    # -- the CLI

    def cli_env(self, token=DEFAULT, api=DEFAULT, env=None):
        e = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
             "HOME": self.userhome,
             "LANG": "C.UTF-8",
             "TZ": "UTC",
             "GIT_CONFIG_NOSYSTEM": "1",
             # git never looks above the test's temp dir for a repository
             "GIT_CEILING_DIRECTORIES": os.path.dirname(self.tmp)}
        e.update(SANITIZER_ENV)
        if token is DEFAULT:
            token = self.pierd.admin_token if self.pierd else None
        if api is DEFAULT:
            api = self.pierd.url if self.pierd else None
        if token is not None:
            e["PIER_TOKEN"] = token
        if api is not None:
            e["PIER_API_URL"] = api
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def pier(self, *args, stdin=b"", cwd=None, env=None, token=DEFAULT, api=DEFAULT,
             timeout=60):
        """Run the pier CLI: returns CliResult(code, out, err) with bytes.
        stdin: bytes, or None for /dev/null.  A sanitizer report or a
        timeout fails the test on the spot."""
        argv = [PIER] + [a if isinstance(a, bytes) else str(a) for a in args]
        try:
            p = subprocess.run(argv, input=stdin if stdin is not None else None,
                               stdin=subprocess.DEVNULL if stdin is None else None,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=cwd or self.work, env=self.cli_env(token, api, env),
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.fail("pier %s: no exit within %d s\nstdout: %r\nstderr: %r"
                      % (self.show_args(args), timeout, e.stdout, e.stderr))
        res = CliResult(p.returncode, p.stdout, p.stderr)
        if sanitizer_report(p.stderr):
            self.fail("sanitizer report from pier %s:\n%s"
                      % (self.show_args(args), p.stderr.decode("utf-8", "replace")))
        return res

    @staticmethod
    def show_args(args):
        return " ".join(repr(a) if isinstance(a, bytes) else a for a in map(
            lambda a: a if isinstance(a, bytes) else str(a), args))

    def describe(self, args, res):
        return "pier %s -> exit %d\nstdout: %r\nstderr: %r" % (
            self.show_args(args), res.code, res.out, res.err)

    def pier_ok(self, *args, **kw):
        """pier must exit 0 with nothing on stderr; returns stdout as str."""
        res = self.pier(*args, **kw)
        self.assertEqual(res.code, 0, self.describe(args, res))
        self.assertEqual(res.err, b"", self.describe(args, res))
        return res.out.decode("utf-8")

    def pier_fails(self, *args, message=None, contains=None, **kw):
        """pier must exit 1 with `pier: MESSAGE` on stderr and nothing on
        stdout.  message: the exact message; contains: a substring."""
        res = self.pier(*args, **kw)
        ctx = self.describe(args, res)
        self.assertEqual(res.code, 1, ctx)
        self.assertEqual(res.out, b"", ctx)
        err = res.err.decode("utf-8", "replace")
        self.assertTrue(err.startswith("pier: "), ctx)
        self.assertTrue(err.endswith("\n"), ctx)
        if message is not None:
            self.assertEqual(err, "pier: %s\n" % message, ctx)
        if contains is not None:
            self.assertIn(contains, err, ctx)
        return err

    def pier_json(self, *args, **kw):
        out = self.pier_ok(*args, **kw)
        try:
            return json.loads(out, object_pairs_hook=collections.OrderedDict)
        except ValueError as e:
            self.fail("pier %s --json printed no JSON (%s): %r" % (self.show_args(args), e, out))

    # -- git

    def git(self, *args, cwd):
        p = subprocess.run(["git"] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.cli_env(token=None, api=None), timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def git_repo(self, name="repo"):
        path = os.path.join(self.tmp, name)
        os.makedirs(path)
        rc, out, err = self.git("init", "-q", cwd=path)
        self.assertEqual(rc, 0, err)
        return path

    def remote_url(self, repo, remote="pier"):
        rc, out, err = self.git("remote", "get-url", remote, cwd=repo)
        return out.strip() if rc == 0 else None


def states_name_rule(message):
    """docs/api.md: a bad name is 422 "with that rule in the message" --
    the regex itself, or the rule in words (lowercase, 3 to 30 chars)."""
    if "^[a-z][a-z0-9-]{1,28}[a-z0-9]$" in message:
        return True
    m = message.lower()
    return "lowercase" in m and "3" in m and "30" in m


def b64(data):
    return base64.b64encode(data).decode()


def table(rows):
    """Columns padded to their widest cell, two spaces between columns, the
    last column unpadded (docs/cli.md)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r[:-1])] + [r[-1]]
        lines.append("  ".join(cells))
    return lines
