"""Log drains (SPEC.md §6, issue 6): `pier drains`, drains:add/remove, the
/apps/APP/log-drains API, and the lines reaching real receivers:

- a real rsyslogd (Debian's), started by the test with its own config in
  the test's temp dir, over syslog:// and syslog+tls:// (a CA and a server
  certificate made with the openssl CLI; pierd runs with --drain-ca-file);
- a local HTTP(S) receiver (http.server + ssl) that checks logplex-1
  batches: headers, Logplex-Msg-Count against the frames in the body, the
  token, retries of the same Frame-Id after a 500, none after a 400.

A drain that is down (nothing listening) must not keep the lines from a
tail or from the other drains.
"""

import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

from harness import EMAIL, PierTestCase, closed_port, free_port
from test_dynos import LOG_LINE_RE, SKIP as DYNO_SKIP, DynoTestCase

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
RSYSLOG_SKIP = None if os.access(RSYSLOGD, os.X_OK) else "rsyslogd is not installed"
OSSL_DRIVER = "/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so"

TOKEN_RE = re.compile(r"^d\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FRAME_RE = re.compile(r"^<190>1 (\S+) (\S+) (\S+) (\S+) - - (.*)$", re.S)

# drains.c: the first retry after 0.5 s.
RETRY_WITHIN = 5


def wait_until(test, what, check, timeout=15, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            test.fail("%s: not within %ss (last: %r)" % (what, timeout, last))
        time.sleep(interval)


def line_as_syslog(line):
    """'TS SOURCE[PROC]: MSG' -> (TS, SOURCE, PROC, MSG)."""
    m = LOG_LINE_RE.match(line)
    assert m, line
    return m.groups()


def make_certs(d):
    """A CA, and a server certificate it signed for localhost and
    127.0.0.1 (SAN), in directory d.  Returns (ca, cert, key) paths."""
    os.makedirs(d, exist_ok=True)
    ca, cakey = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in ([OPENSSL, "req", "-x509"] + ec + ["-keyout", cakey, "-out", ca, "-days", "2",
                                                   "-subj", "/CN=pier drain test CA"],
                 [OPENSSL, "req"] + ec + ["-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                 [OPENSSL, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]):
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout.decode()
    return ca, cert, key


class Rsyslog:
    """rsyslogd in the foreground (-n) on its own config, work dir and pid
    file, one imtcp listener on 127.0.0.1:PORT (TLS with certs=(ca, cert,
    key)), writing `HOSTNAME APP-NAME PROCID MSG` lines to OUT."""

    def __init__(self, root, name, certs=None, port=None):
        self.dir = os.path.join(root, name)
        os.makedirs(os.path.join(self.dir, "work"))
        self.port = port or free_port()
        self.out = os.path.join(self.dir, "received.log")
        self.raw = os.path.join(self.dir, "raw.log")
        conf = ['global(workDirectory="%s/work" maxMessageSize="64k")' % self.dir]
        if certs:
            ca, cert, key = certs
            conf.append('global(DefaultNetstreamDriverCAFile="%s" '
                        'DefaultNetstreamDriverCertFile="%s" '
                        'DefaultNetstreamDriverKeyFile="%s")' % (ca, cert, key))
            conf.append('module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" '
                        'StreamDriver.AuthMode="anon")')
        else:
            conf.append('module(load="imtcp")')
        conf += [
            'input(type="imtcp" address="127.0.0.1" port="%d")' % self.port,
            'template(name="pier" type="string" '
            'string="%hostname% %app-name% %procid% %msg%\\n")',
            'action(type="omfile" file="%s" template="pier")' % self.out,
            # and each message exactly as it came (less the octet count)
            'template(name="raw" type="string" string="%rawmsg%\\n")',
            'action(type="omfile" file="%s" template="raw")' % self.raw,
        ]
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = open(os.path.join(self.dir, "rsyslogd.log"), "wb")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", os.path.join(self.dir, "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("rsyslogd exited: %s" % self.output())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("rsyslogd did not listen: %s" % self.output())
                time.sleep(0.05)

    def output(self):
        with open(os.path.join(self.dir, "rsyslogd.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def received(self, raw=False):
        try:
            with open(self.raw if raw else self.out, "rb") as f:
                return f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class LogplexReceiver:
    """An HTTP(S) server that records every POST (path, headers, body) and
    answers with the statuses planned for its path, then 200, each after
    the delay set for its path."""

    def __init__(self, certs=None):
        self.requests = []
        self.plan = {}
        self.delay = {}
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with owner.lock:
                    owner.requests.append((self.path, dict(self.headers), body))
                    plan = owner.plan.get(self.path) or []
                    status = plan.pop(0) if plan else 200
                    delay = owner.delay.get(self.path, 0)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if certs:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certs[1], certs[2])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, path):
        with self.lock:
            return [(h, b) for p, h, b in self.requests if p == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def parse_logplex(test, headers, body):
    """The frames of a logplex-1 body: checks the octet counting, and that
    Logplex-Msg-Count says how many.  Returns the frames' messages
    (TS, HOST, APP, PROC, MSG)."""
    h = {k.lower(): v for k, v in headers.items()}
    test.assertEqual(h.get("content-type"), "application/logplex-1", headers)
    frames, i = [], 0
    while i < len(body):
        sp = body.index(b" ", i)
        n = int(body[i:sp])
        test.assertTrue(body[i:sp].isdigit(), body[i:sp])
        msg = body[sp + 1:sp + 1 + n]
        test.assertEqual(len(msg), n, "frame cut short at %d: %r" % (i, body[i:i + 200]))
        m = FRAME_RE.match(msg.decode("utf-8", "replace"))
        test.assertIsNotNone(m, msg)
        frames.append(m.groups())
        i = sp + 1 + n
    test.assertEqual(int(h.get("logplex-msg-count", "-1")), len(frames), headers)
    test.assertTrue(h.get("logplex-frame-id"), headers)
    return frames


# ---- the API and the CLI ---------------------------------------------------

class DrainsApiTest(PierTestCase):

    def test_add_list_remove_with_the_cli(self):
        self.create_app("drainy")
        self.assertEqual(self.pier_ok("drains", "-a", "drainy"), "drainy has no drains.\n")
        out = self.pier_ok("drains:add", "syslog://logs.example.com:514", "-a", "drainy")
        self.assertEqual(out, "Successfully added drain syslog://logs.example.com:514\n")
        added = self.pier_json("drains:add", "https://user:pw@h.example.com/drain/?t=1",
                               "-a", "drainy", "--json")
        self.assertEqual(list(added), ["id", "url", "token", "created_at", "updated_at"])
        self.assertEqual(added["url"], "https://user:pw@h.example.com/drain/?t=1")
        self.assertRegex(added["token"], TOKEN_RE)

        drains = self.api_ok("GET", "/apps/drainy/log-drains")
        self.assertEqual([d["url"] for d in drains],
                         ["syslog://logs.example.com:514",
                          "https://user:pw@h.example.com/drain/?t=1"])
        self.assertEqual(len({d["token"] for d in drains}), 2)
        self.assertEqual(self.pier_ok("drains", "-a", "drainy"),
                         "=== Drains\n" + "".join("%s (%s)\n" % (d["url"], d["token"])
                                                  for d in drains))
        self.assertEqual(self.pier_json("drains", "-a", "drainy", "--json"), drains)

        # the same URL twice: refused, by the API and the CLI
        r = self.api("POST", "/apps/drainy/log-drains", {"url": "syslog://logs.example.com:514"})
        self.assertError(r, 409, "conflict")
        self.pier_fails("drains:add", "syslog://logs.example.com:514", "-a", "drainy",
                        message="syslog://logs.example.com:514 is already a log drain of drainy")
        # another app may have it
        self.create_app("other")
        self.api_ok("POST", "/apps/other/log-drains", {"url": "syslog://logs.example.com:514"},
                    status=201)

        # remove by URL (slashes, query and all; the trailing slash too) and by id
        out = self.pier_ok("drains:remove", "https://user:pw@h.example.com/drain/?t=1",
                           "-a", "drainy")
        self.assertEqual(out, "Successfully removed drain "
                              "https://user:pw@h.example.com/drain/?t=1\n")
        gone = self.pier_json("drains:remove", drains[0]["id"], "-a", "drainy", "--json")
        self.assertEqual(gone, drains[0])
        self.assertEqual(self.api_ok("GET", "/apps/drainy/log-drains"), [])
        self.pier_fails("drains:remove", "syslog://logs.example.com:514", "-a", "drainy",
                        contains="couldn't find log drain syslog://logs.example.com:514")
        self.assertError(self.api("DELETE", "/apps/drainy/log-drains/nope"), 404, "not_found")

    def test_trailing_slash_url(self):
        self.create_app("slashy")
        self.api_ok("POST", "/apps/slashy/log-drains", {"url": "http://127.0.0.1:9/"}, status=201)
        self.pier_ok("drains:remove", "http://127.0.0.1:9/", "-a", "slashy")
        self.assertEqual(self.api_ok("GET", "/apps/slashy/log-drains"), [])

    def test_bad_urls_refused(self):
        self.create_app("baddy")
        for url in ["", "logs.example.com:514", "ftp://example.com/", "syslog://host",
                    "syslog://host:0", "syslog://host:70000", "syslog://user@host:514",
                    "syslog://host:514/path", "https://", "https://exa mple.com/",
                    "https://example.com/#x", "https://-x.example.com/", "http://a..b/",
                    "https://example.com/" + "a" * 600, "https://example.com/\u00e9",
                    "syslog://[::1:514"]:
            r = self.api("POST", "/apps/baddy/log-drains", {"url": url})
            body = self.assertError(r, 422, "invalid_params", url)
            self.assertIn("drain URL", body["message"])
        for body in [{}, {"url": 5}, {"url": None}, ["syslog://h:1"]]:
            self.assertError(self.api("POST", "/apps/baddy/log-drains", body), 400,
                             "bad_request", body)
        self.pier_fails("drains:add", "bogus", "-a", "baddy", contains="invalid drain URL")
        self.assertEqual(self.api_ok("GET", "/apps/baddy/log-drains"), [])
        self.assertError(self.api("GET", "/apps/nope/log-drains"), 404, "not_found")

    def test_at_most_20_per_app(self):
        self.create_app("many")
        for i in range(20):
            self.api_ok("POST", "/apps/many/log-drains", {"url": "syslog://h%d.example.com:1" % i},
                        status=201)
        r = self.api("POST", "/apps/many/log-drains", {"url": "syslog://one-more.example.com:1"})
        self.assertError(r, 422, "invalid_params")

    def test_read_token_may_not_see_drains(self):
        # drain URLs may hold credentials, as config vars do
        self.create_app("secret")
        tok = self.api_ok("POST", "/oauth/authorizations", {"scope": ["read"]},
                          status=201)["access_token"]["token"]
        self.assertError(self.api("GET", "/apps/secret/log-drains", token=tok), 403, "forbidden")

    def test_drains_go_with_the_app(self):
        self.create_app("doomed")
        self.api_ok("POST", "/apps/doomed/log-drains", {"url": "syslog://127.0.0.1:9"},
                    status=201)
        self.api_ok("DELETE", "/apps/doomed")
        self.create_app("doomed")
        self.assertEqual(self.api_ok("GET", "/apps/doomed/log-drains"), [])


# ---- lines to real receivers -------------------------------------------------

class HttpsDrainTest(PierTestCase):
    """logplex-1 over http:// and https://; the lines are the app[api]
    events of config changes (no dyno needed)."""

    def setUp(self):
        super().setUp()
        self.certs = make_certs(os.path.join(self.tmp, "certs"))
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + ["--drain-ca-file", self.certs[0]])
        self.http = LogplexReceiver()
        self.addCleanup(self.http.stop)
        self.https = LogplexReceiver(self.certs)
        self.addCleanup(self.https.stop)

    def add(self, app, url):
        return self.api_ok("POST", "/apps/%s/log-drains" % app, {"url": url}, status=201)

    def frames(self, posts):
        out = []
        for h, body in posts:
            out += parse_logplex(self, h, body)
        return out

    def test_https_batches(self):
        self.create_app("webhook")
        good = self.add("webhook", "https://localhost:%d/logs" % self.https.port)
        self.set_config("webhook", {"A": "1"})
        self.set_config("webhook", {"B": "2"})
        # what the hub has, as logplex frames (HOSTNAME "host", as Heroku's)
        lines = self.api_ok("GET", "/apps/webhook/log-lines?lines=1500")
        api_lines = [line_as_syslog(x) for x in lines if " app[api]: " in x]
        want = [(ts, "host", src, proc, msg) for ts, src, proc, msg in api_lines
                if msg.startswith(("Set A", "Set B", "Release v2", "Release v3"))]
        self.assertEqual(len(want), 4, lines)

        def got():
            f = self.frames(self.https.posts("/logs"))
            return f if len(f) >= 4 else None
        frames = wait_until(self, "4 lines at the https drain", got)
        self.assertEqual(frames, want)
        for h, _ in self.https.posts("/logs"):
            h = {k.lower(): v for k, v in h.items()}
            self.assertEqual(h["logplex-drain-token"], good["token"])
        ids = [h["Logplex-Frame-Id"] for h, _ in self.https.posts("/logs")]
        self.assertEqual(len(ids), len(set(ids)), ids)

    def test_untrusted_certificate_gets_nothing(self):
        # pierd without --drain-ca-file: the test CA is not trusted
        self.pierd.stop()
        self.pierd.start()
        self.create_app("untrust")
        self.add("untrust", "https://localhost:%d/nope" % self.https.port)
        self.add("untrust", "http://127.0.0.1:%d/plain" % self.http.port)
        self.set_config("untrust", {"A": "1"})
        wait_until(self, "the http drain's batch", lambda: self.http.posts("/plain"))
        time.sleep(1)
        self.assertEqual(self.https.posts("/nope"), [])
        wait_until(self, "pierd logs the refused certificate",
                   lambda: "certificate" in self.pierd.current_log().lower()
                   or "ssl" in self.pierd.current_log().lower())

    def test_500_is_retried_with_the_same_frame_id(self):
        self.create_app("flaky")
        self.http.plan["/flaky"] = [500, 503]
        self.add("flaky", "http://127.0.0.1:%d/flaky" % self.http.port)
        self.set_config("flaky", {"A": "1"})
        posts = wait_until(self, "three tries", lambda: (
            lambda p: p if len(p) >= 3 else None)(self.http.posts("/flaky")), timeout=RETRY_WITHIN * 3)
        first = posts[0]
        ids = {h["Logplex-Frame-Id"] for h, _ in posts[:3]}
        self.assertEqual(len(ids), 1, "a retry must keep its Frame-Id: %r" % ids)
        self.assertEqual({b for _, b in posts[:3]}, {first[1]})
        self.assertTrue(self.frames([first]))
        # delivered (200) on the third: nothing more is sent
        time.sleep(2)
        self.assertEqual(len(self.http.posts("/flaky")), 3)

    def test_400_is_not_retried(self):
        self.create_app("refuser")
        self.http.plan["/no"] = [400, 400]
        self.add("refuser", "http://127.0.0.1:%d/no" % self.http.port)
        self.set_config("refuser", {"A": "1"})
        wait_until(self, "the first POST", lambda: self.http.posts("/no"))
        time.sleep(2)  # a retry would come after 0.5 s
        first = [h["Logplex-Frame-Id"] for h, _ in self.http.posts("/no")]
        self.assertEqual(len(first), len(set(first)), "a 400 was retried: %r" % first)
        # later lines go in a new batch (a new Frame-Id), refused too, then
        # delivered: nothing is sent twice, pierd's log says it once
        self.set_config("refuser", {"B": "1"})
        self.set_config("refuser", {"C": "1"})
        wait_until(self, "the line of C", lambda: any(
            f[4].startswith("Set C config vars") for f in self.frames(self.http.posts("/no"))))
        time.sleep(1.5)
        ids = [h["Logplex-Frame-Id"] for h, _ in self.http.posts("/no")]
        self.assertEqual(len(ids), len(set(ids)), ids)
        self.assertEqual(self.pierd.current_log().count("answered 400"), 1,
                         self.pierd.current_log())

    def test_429_is_retried(self):
        self.create_app("limited")
        self.http.plan["/slow"] = [429]
        self.add("limited", "http://127.0.0.1:%d/slow" % self.http.port)
        self.set_config("limited", {"A": "1"})
        posts = wait_until(self, "a retry after 429", lambda: (
            lambda p: p if len(p) >= 2 else None)(self.http.posts("/slow")), timeout=RETRY_WITHIN)
        self.assertEqual(posts[0][0]["Logplex-Frame-Id"], posts[1][0]["Logplex-Frame-Id"])

    def test_drains_come_back_after_a_restart(self):
        self.create_app("again")
        self.add("again", "http://127.0.0.1:%d/again" % self.http.port)
        self.pierd.restart()
        self.pierd.stop()
        self.pierd.start(argv=self.pierd.argv() + ["--drain-ca-file", self.certs[0]])
        self.set_config("again", {"AFTER": "restart"})
        wait_until(self, "a line after the restart", lambda: any(
            f[4].startswith("Set AFTER config vars") for f in self.frames(
                self.http.posts("/again"))))

    def test_a_clean_shutdown_sends_what_waits(self):
        # A slow drain: while one batch is on its way, the next lines wait
        # in pierd; SIGTERM must not lose them.
        self.create_app("closing")
        self.http.delay["/slow"] = 0.4
        self.add("closing", "http://127.0.0.1:%d/slow" % self.http.port)
        for k in "ABC":
            self.set_config("closing", {k: "1"})
        self.pierd.stop()
        msgs = [f[4] for f in self.frames(self.http.posts("/slow"))]
        for k in "ABC":
            self.assertTrue(any(m.startswith("Set %s config vars" % k) for m in msgs), msgs)
        self.assertGreaterEqual(len(self.http.posts("/slow")), 2)

    def test_bad_ca_file_stops_pierd(self):
        self.pierd.stop()
        bad = os.path.join(self.tmp, "not-a-ca.pem")
        with open(bad, "w") as f:
            f.write("nothing\n")
        p = subprocess.run(self.pierd.argv() + ["--drain-ca-file", bad],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.pierd.process_env(), timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"CA certificates", p.stderr)


@unittest.skipIf(DYNO_SKIP or RSYSLOG_SKIP, DYNO_SKIP or RSYSLOG_SKIP)
class SyslogDrainTest(DynoTestCase):
    """A dyno's lines reach a real rsyslogd over syslog:// and
    syslog+tls://, exactly; a dead drain hinders neither them nor a tail."""

    def setUp(self):
        super().setUp()
        self.certs = make_certs(os.path.join(self.tmp, "certs"))
        self.pierd.stop()
        self.pierd.start(argv=self.fast_argv + ["--drain-ca-file", self.certs[0]])
        self.plain = Rsyslog(self.tmp, "rsyslog-plain")
        self.addCleanup(self.plain.stop)

    def run_printer(self, app, lines):
        """A one-off dyno that prints LINES; returns its name."""
        script = "; ".join("echo '%s'" % l for l in lines)
        out = self.pier_ok("run", "--detach", "-a", app, "--", script)
        name = re.search(r"up, (run\.\d+)$", out, re.M).group(1)
        self.wait_log(app, r"^Process exited with status 0$", proc=name)
        return name

    def received_from(self, rsyslog, token, proc):
        return [l for l in rsyslog.received() if l.startswith("%s app %s " % (token, proc))]

    def test_syslog_and_tls_get_the_dynos_lines_exactly(self):
        if not os.path.exists(OSSL_DRIVER):
            self.skipTest("rsyslog-openssl is not installed")
        tls = Rsyslog(self.tmp, "rsyslog-tls", certs=self.certs)
        self.addCleanup(tls.stop)
        app = self.deploy("drained", "procfile")
        plain = self.api_ok("POST", "/apps/%s/log-drains" % app,
                            {"url": "syslog://127.0.0.1:%d" % self.plain.port}, status=201)
        secure = self.api_ok("POST", "/apps/%s/log-drains" % app,
                             {"url": "syslog+tls://localhost:%d" % tls.port}, status=201)
        # a dead drain of each kind: never slows the others, nor a tail
        self.api_ok("POST", "/apps/%s/log-drains" % app,
                    {"url": "syslog://127.0.0.1:%d" % closed_port()}, status=201)
        self.api_ok("POST", "/apps/%s/log-drains" % app,
                    {"url": "http://127.0.0.1:%d/dead" % closed_port()}, status=201)
        tail = subprocess.Popen([os.path.join(os.path.dirname(self.pierd.argv()[0]), "pier"),
                                 "logs", "--tail", "-a", app, "-n", "1"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.cli_env())
        self.addCleanup(lambda: (tail.kill(), tail.wait(), tail.stdout.close(),
                                 tail.stderr.close()))
        printed = ["drain line %d: ünïcode and  spaces [x] <y> %%z" % i for i in range(1, 31)]
        name = self.run_printer(app, printed)

        want = ["app %s %s" % (name, l) for l in printed]
        for rs, d in ((self.plain, plain), (tls, secure)):
            got = wait_until(self, "30 lines at %s" % rs.dir, lambda: (
                lambda g: g if len(g) >= 30 else None)(self.received_from(rs, d["token"], name)))
            self.assertEqual([l[len(d["token"]) + 1:] for l in got], want)
        # byte for byte: "<190>1 TS TOKEN app PROC - - MSG", TS the hub's stamp
        hub = [line_as_syslog(l) for l in self.log_lines(app)
               if "app[%s]: drain line " % name in l]
        self.assertEqual(len(hub), 30, hub)
        for rs, d in ((self.plain, plain), (tls, secure)):
            raw = [l for l in rs.received(raw=True) if " app %s - - drain line " % name in l]
            self.assertEqual(raw, ["<190>1 %s %s %s %s - - %s" % (ts, d["token"], src, proc, msg)
                                   for ts, src, proc, msg in hub])
        # the platform's own lines of that dyno came too, as heroku[run.N]
        self.assertTrue([l for l in self.plain.received()
                         if l.startswith("%s heroku %s Starting process" % (plain["token"], name))])
        # the tail saw the lines as well
        seen = b""
        deadline = time.monotonic() + 10
        while b"drain line 30" not in seen and time.monotonic() < deadline:
            seen += os.read(tail.stdout.fileno(), 65536)
        self.assertIn(("app[%s]: %s" % (name, printed[-1])).encode(), seen)

    def test_https_batches_of_at_most_100_kib(self):
        # 3,000 lines of ~200 bytes (~600 KiB of frames): several batches,
        # each <= ~100 KiB, counts right, every line once and in order.
        http_rx = LogplexReceiver()
        self.addCleanup(http_rx.stop)
        app = self.deploy("batched", "procfile")
        self.api_ok("POST", "/apps/%s/log-drains" % app,
                    {"url": "http://127.0.0.1:%d/b" % http_rx.port}, status=201)
        out = self.pier_ok("run", "--detach", "-a", app, "--",
                           "for i in $(seq 1 3000); do printf 'batch line %05d %s\\n' $i "
                           "$(printf %180s | tr ' ' z); done")
        name = re.search(r"up, (run\.\d+)$", out, re.M).group(1)

        def lines():
            frames = []
            for h, body in http_rx.posts("/b"):
                self.assertLessEqual(len(body), 100 * 1024 + 512, h)
                frames += parse_logplex(self, h, body)
            got = [f[4] for f in frames if f[3] == name and f[4].startswith("batch line ")]
            return got if len(got) >= 3000 else None
        got = wait_until(self, "3000 lines at the drain", lines, timeout=30)
        self.assertEqual(got, ["batch line %05d %s" % (i, "z" * 180) for i in range(1, 3001)])
        self.assertGreaterEqual(len(http_rx.posts("/b")), 6)

    def test_reconnects_and_sends_what_waited(self):
        app = self.deploy("reconn", "procfile")
        d = self.api_ok("POST", "/apps/%s/log-drains" % app,
                        {"url": "syslog://127.0.0.1:%d" % self.plain.port}, status=201)
        name = self.run_printer(app, ["before restart"])
        wait_until(self, "the first line", lambda: self.received_from(self.plain, d["token"], name))
        # rsyslogd goes away; lines written meanwhile wait in the drain's
        # queue, and go once a receiver listens there again
        self.plain.stop()
        name2 = self.run_printer(app, ["while down 1", "while down 2"])
        again = Rsyslog(self.tmp, "rsyslog-again", port=self.plain.port)
        self.addCleanup(again.stop)
        got = wait_until(self, "the lines written while down", lambda: (
            lambda g: g if len(g) >= 2 else None)(self.received_from(again, d["token"], name2)),
            timeout=45)
        self.assertEqual(got, ["%s app %s while down %d" % (d["token"], name2, i) for i in (1, 2)])
        self.assertIn("delivering again", self.pierd.current_log())

    def test_a_dead_drain_keeps_the_newest_lines_and_says_L10(self):
        app = self.deploy("overflow", "procfile")
        port = closed_port()
        d = self.api_ok("POST", "/apps/%s/log-drains" % app,
                        {"url": "syslog://127.0.0.1:%d" % port}, status=201)
        # more lines than the drain's queue holds (drains.h: 10,000)
        out = self.pier_ok("run", "--detach", "-a", app, "--", "seq 1 12000")
        name = re.search(r"up, (run\.\d+)$", out, re.M).group(1)
        self.wait_log(app, r"^Process exited with status 0$", proc=name)
        rs = Rsyslog(self.tmp, "rsyslog-late", port=port)
        self.addCleanup(rs.stop)
        got = wait_until(self, "the last line, late", lambda: (
            lambda g: g if g and g[-1].endswith(" 12000") else None)(
                self.received_from(rs, d["token"], name)), timeout=45)
        l10 = [l for l in rs.received()
               if l.startswith("%s heroku logplex Error L10 (output buffer overflow): "
                               % d["token"])]
        self.assertEqual(len(l10), 1, rs.received()[:3])
        dropped = int(re.search(r": (\d+) messages dropped since ", l10[0]).group(1))
        self.assertGreater(dropped, 0)
        # the newest lines, in order, none twice
        nums = [int(l.rsplit(" ", 1)[1]) for l in got]
        self.assertEqual(nums, list(range(nums[0], 12001)))
        self.assertLessEqual(len(nums), 10000)


if __name__ == "__main__":
    unittest.main()
