#!/usr/bin/python3
"""The one test runner: unit tests, end-to-end tests, fuzz targets.

    /usr/bin/python3 tests/run.py --build build-test --fuzz-build build-fuzz
        [--only unit|e2e|fuzz]... [--fuzz-seconds N] [-k PATTERN]... [-v]

Stages
  unit  every BUILD/tests/unit/test-* binary; each prints TAP-like lines
        (`ok N - name` / `not ok N - name`, see tests/unit/test.h), one
        result per line.  A binary that crashes, times out or exits non-zero
        without a `not ok` line is one more failure.
  e2e   every tests/e2e/test_*.py, each module in its own Python process
        (a crash or hang there cannot take the runner down), with the build
        dir in $PIER_BUILD.  The child reports one JSON line per test method
        on a pipe, so results print as they complete.
  fuzz  every FUZZ_BUILD/tests/fuzz/fuzz-NAME libFuzzer binary for N seconds
        on a scratch copy of tests/fuzz/corpus/NAME; one result per target.

One line per result as it completes (`PASS unit/test-names/test_foo`,
`FAIL e2e/test_apps.AppsTest.test_x`), then the failures with their output,
and last, alone on the final line: `N passed, N failed, N skipped`.
Exit status 0 only when nothing failed and at least one test ran.

Only the Python standard library; run it with Debian's /usr/bin/python3.
"""

import argparse
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E2E_DIR = os.path.join(REPO, "tests", "e2e")
CORPUS_DIR = os.path.join(REPO, "tests", "fuzz", "corpus")

UNIT_TIMEOUT = 120
E2E_MODULE_TIMEOUT = 600
FUZZ_GRACE = 120  # on top of -max_total_time: startup, corpus load, final merge

# Everything the runner starts inherits these: leaks are errors, and UBSan
# findings stop the program with a stack trace instead of scrolling past.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}

# A failure's output is shown in the summary; keep it readable.
MAX_OUTPUT = 20000


def clip(text, limit=MAX_OUTPUT):
    if len(text) <= limit:
        return text
    return "[... %d bytes cut ...]\n" % (len(text) - limit) + text[-limit:]


def decode(b):
    if isinstance(b, str):
        return b
    return (b or b"").decode("utf-8", "replace")


class Tally:
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []  # (name, output)

    def record(self, status, name, output="", reason=""):
        if status == "pass":
            self.passed += 1
            print("PASS " + name, flush=True)
            if self.verbose and output.strip():
                print(indent(output), flush=True)
        elif status == "skip":
            self.skipped += 1
            print("SKIP " + name + (": " + reason if reason else ""), flush=True)
        else:
            self.failed += 1
            self.failures.append((name, output))
            print("FAIL " + name, flush=True)
            if self.verbose and output.strip():
                print(indent(output), flush=True)


def indent(text):
    return "\n".join("    " + line for line in text.rstrip("\n").split("\n"))


def note(msg):
    print("# " + msg, flush=True)


def is_exe(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def kill_group(proc):
    """Kill a child started with start_new_session=True and everything it
    started (pierd, pier, git) — one process group, ours."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_capture(argv, timeout, cwd=None, env=None):
    """Run argv in its own process group; return (rc, stdout, stderr,
    timed_out).  On timeout the whole group is killed."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err, False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return proc.returncode, out, err, True


def describe_exit(rc):
    if rc is None:
        return "did not exit"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


# ---------------------------------------------------------------- unit

TAP_RE = re.compile(r"^(ok|not ok) (\d+) - (.*?)\s*$")


def stage_unit(build, tally):
    unit_dir = os.path.join(build, "tests", "unit")
    binaries = []
    if os.path.isdir(unit_dir):
        binaries = sorted(os.path.join(unit_dir, f) for f in os.listdir(unit_dir)
                          if f.startswith("test-") and is_exe(os.path.join(unit_dir, f)))
    if not binaries:
        note("unit: no test-* binaries in %s" % unit_dir)
        return
    for exe in binaries:
        name = os.path.basename(exe)
        rc, out, err, timed_out = run_capture([exe], UNIT_TIMEOUT, cwd=REPO)
        out, err = decode(out), decode(err)
        pending = []  # "#" diagnostics since the last result line
        saw_not_ok = False
        count = 0
        for line in out.splitlines():
            m = TAP_RE.match(line)
            if not m:
                pending.append(line)
                continue
            count += 1
            status, _, test = m.groups()
            if status == "ok":
                tally.record("pass", "unit/%s/%s" % (name, test))
            else:
                saw_not_ok = True
                detail = "\n".join(pending)
                if rc != 0 and err.strip():
                    detail += "\n--- stderr of %s ---\n%s" % (name, clip(err))
                tally.record("fail", "unit/%s/%s" % (name, test), detail)
            pending = []
        if timed_out:
            tally.record("fail", "unit/%s" % name,
                         "timed out after %d s\n--- stdout ---\n%s\n--- stderr ---\n%s"
                         % (UNIT_TIMEOUT, clip(out), clip(err)))
        elif rc != 0 and not saw_not_ok:
            tally.record("fail", "unit/%s" % name,
                         "%s with no `not ok` line (crash or sanitizer report?)\n"
                         "--- stdout ---\n%s\n--- stderr ---\n%s"
                         % (describe_exit(rc), clip(out), clip(err)))
        elif rc == 0 and count == 0:
            tally.record("fail", "unit/%s" % name,
                         "exited 0 but reported no tests\n--- stdout ---\n%s\n--- stderr ---\n%s"
                         % (clip(out), clip(err)))


# ---------------------------------------------------------------- e2e

def stage_e2e(build, patterns, tally, verbose):
    modules = sorted(f[:-3] for f in os.listdir(E2E_DIR)
                     if f.startswith("test_") and f.endswith(".py"))
    if not modules:
        note("e2e: no tests/e2e/test_*.py")
        return
    missing = [b for b in ("pierd", "pier") if not is_exe(os.path.join(build, b))]
    if missing:
        tally.record("fail", "e2e",
                     "missing %s in %s: build it first (make test-build)"
                     % (", ".join(missing), build))
        return
    for module in modules:
        run_e2e_module(build, module, patterns, tally, verbose)


def run_e2e_module(build, module, patterns, tally, verbose):
    rfd, wfd = os.pipe()
    log = tempfile.TemporaryFile()
    env = dict(os.environ)
    env["PIER_BUILD"] = build
    env["PIER_E2E_RESULT_FD"] = str(wfd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [sys.executable, os.path.abspath(__file__), "--e2e-child", module]
    for p in patterns:
        argv += ["-k", p]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                            stdout=None if verbose else log,
                            stderr=None if verbose else subprocess.STDOUT,
                            cwd=REPO, env=env, pass_fds=(wfd,), start_new_session=True)
    os.close(wfd)
    reader = os.fdopen(rfd, "rb")
    sel = selectors.DefaultSelector()
    sel.register(reader, selectors.EVENT_READ)
    deadline = time.monotonic() + E2E_MODULE_TIMEOUT
    buf = b""
    done = False
    seen = 0
    running = None  # the test the child is in, for a crash report
    timed_out = False
    eof = False
    while not eof:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if not sel.select(timeout=min(left, 1.0)):
            continue
        chunk = os.read(reader.fileno(), 65536)
        if not chunk:
            eof = True
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("done"):
                done = True
                continue
            if "start" in rec:
                running = rec["start"]
                continue
            running = None
            seen += 1
            tally.record(rec["status"], "e2e/" + rec["name"], rec.get("output", ""),
                         rec.get("reason", ""))
    sel.close()
    reader.close()
    if timed_out:
        kill_group(proc)
    else:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(proc)
    # Whatever the module left running (a pierd it forgot) goes too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    log.seek(0)
    output = decode(log.read())
    log.close()
    if timed_out:
        tally.record("fail", "e2e/%s" % (running or module),
                     "module %s timed out after %d s%s (%d tests reported)\n%s"
                     % (module, E2E_MODULE_TIMEOUT, " in this test" if running else "", seen,
                        clip(output)))
    elif not done:
        tally.record("fail", "e2e/%s" % (running or module),
                     "module %s %s %s (%d tests reported)\n%s"
                     % (module, describe_exit(proc.returncode),
                        "during this test" if running else "before it finished", seen,
                        clip(output)))


class JsonLinesResult(unittest.TestResult):
    """Reports one JSON line per test method (subtests folded into their
    test) on the fd the parent gave us."""

    def __init__(self, out):
        super().__init__()
        self.buffer = True  # a test's prints go with its failure report
        self.out = out
        self.current = None

    def emit(self, rec):
        self.out.write(json.dumps(rec) + "\n")
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        # so that the parent can name the test if this process dies in it
        self.emit({"start": test.id()})
        self.current = {"name": test.id(), "status": "pass", "output": [],
                        "start": time.monotonic()}

    def _diagnostics(self, test):
        fn = getattr(test, "pier_diagnostics", None)
        if not callable(fn):
            return ""
        try:
            return fn() or ""
        except Exception:
            return "(could not collect diagnostics: %s)" % traceback.format_exc()

    def _fail(self, test, err, label):
        text = self._exc_info_to_string(err, test)
        cur = self.current
        if cur is None or not cur.get("diagnosed"):
            # pierd's stderr once per test, not once per failed subtest
            diag = self._diagnostics(test)
            if diag:
                text += "\n" + diag
            if cur is not None:
                cur["diagnosed"] = True
        if cur is None or test is None or not isinstance(test, unittest.TestCase) \
                or test.id() != cur["name"]:
            # setUpClass/tearDownModule and friends: no startTest for them.
            self.emit({"name": getattr(test, "description", None) or str(test),
                       "status": "fail", "output": label + "\n" + text})
            return
        cur["status"] = "fail"
        cur["output"].append(label + "\n" + text)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, "ERROR")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, "FAIL")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._fail(test, err, "%s in subtest %s" % (kind, subtest._subDescription()))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.current is not None and self.current["name"] == test.id():
            if self.current["status"] == "pass":
                self.current["status"] = "skip"
            self.current["reason"] = reason
        else:
            self.emit({"name": test.id(), "status": "skip", "reason": reason})

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        if self.current is not None:
            self.current["status"] = "fail"
            self.current["output"].append("unexpected success")

    def stopTest(self, test):
        super().stopTest(test)
        cur = self.current
        self.current = None
        if cur is None:
            return
        self.emit({"name": cur["name"], "status": cur["status"],
                   "output": "\n".join(cur["output"]), "reason": cur.get("reason", ""),
                   "seconds": round(time.monotonic() - cur["start"], 3)})


def e2e_child(module, patterns):
    """Runs inside the per-module subprocess."""
    out = os.fdopen(int(os.environ["PIER_E2E_RESULT_FD"]), "w")
    sys.path.insert(0, E2E_DIR)
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ["*%s*" % p if "*" not in p else p for p in patterns]
    suite = loader.loadTestsFromName(module)
    result = JsonLinesResult(out)
    unittest.registerResult(result)
    suite.run(result)
    out.write(json.dumps({"done": True}) + "\n")
    out.flush()
    return 0


# ---------------------------------------------------------------- fuzz

def stage_fuzz(fuzz_build, seconds, tally):
    if not fuzz_build:
        note("fuzz: no --fuzz-build given")
        return
    fuzz_dir = os.path.join(fuzz_build, "tests", "fuzz")
    targets = []
    if os.path.isdir(fuzz_dir):
        targets = sorted(f for f in os.listdir(fuzz_dir)
                         if f.startswith("fuzz-") and is_exe(os.path.join(fuzz_dir, f)))
    if not targets:
        note("fuzz: no fuzz-* binaries in %s, skipped" % fuzz_dir)
        return
    artifacts = os.path.join(fuzz_build, "fuzz-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    for target in targets:
        name = target[len("fuzz-"):]
        exe = os.path.join(fuzz_dir, target)
        with tempfile.TemporaryDirectory(prefix="pier-fuzz-") as tmp:
            corpus = os.path.join(tmp, "corpus")
            src = os.path.join(CORPUS_DIR, name)
            if os.path.isdir(src):
                shutil.copytree(src, corpus)
            else:
                os.makedirs(corpus)
            argv = [exe, corpus, "-max_total_time=%d" % seconds, "-timeout=10",
                    "-rss_limit_mb=2048",
                    "-artifact_prefix=%s/%s-" % (artifacts, name)]
            rc, out, err, timed_out = run_capture(argv, seconds + FUZZ_GRACE, cwd=tmp)
        text = decode(out) + decode(err)
        if timed_out:
            tally.record("fail", "fuzz/%s" % target,
                         "did not finish within %d s\n%s" % (seconds + FUZZ_GRACE, clip(text)))
        elif rc != 0:
            tally.record("fail", "fuzz/%s" % target,
                         "%s (artifacts in %s)\n%s" % (describe_exit(rc), artifacts,
                                                       clip(text)))
        else:
            tally.record("pass", "fuzz/%s" % target, clip(text, 2000))


# ---------------------------------------------------------------- main

def main(argv):
    ap = argparse.ArgumentParser(description="pier's test runner")
    ap.add_argument("--build", default="build-test",
                    help="meson build dir with sanitizers (pierd, pier, tests/unit/test-*)")
    ap.add_argument("--fuzz-build", default=None,
                    help="meson build dir with libFuzzer targets (tests/fuzz/fuzz-*)")
    ap.add_argument("--only", action="append", choices=("unit", "e2e", "fuzz"),
                    help="run only this stage (repeatable)")
    ap.add_argument("--fuzz-seconds", type=int, default=8,
                    help="seconds per fuzz target (default 8)")
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="select e2e tests whose id matches (substring or glob; repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--e2e-child", metavar="MODULE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    os.environ.update(SANITIZER_ENV)

    if args.e2e_child:
        return e2e_child(args.e2e_child, args.patterns)

    build = os.path.abspath(args.build)
    fuzz_build = os.path.abspath(args.fuzz_build) if args.fuzz_build else None
    stages = args.only or ["unit", "e2e", "fuzz"]
    tally = Tally(args.verbose)
    started = time.monotonic()

    if "unit" in stages:
        stage_unit(build, tally)
    if "e2e" in stages:
        stage_e2e(build, args.patterns, tally, args.verbose)
    if "fuzz" in stages:
        stage_fuzz(fuzz_build, args.fuzz_seconds, tally)

    if tally.failures:
        print("\n==================== failures ====================", flush=True)
        for name, output in tally.failures:
            print("\n--- FAIL %s ---" % name)
            if output.strip():
                print(output.rstrip("\n"))
    print("\n# %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed, %d skipped" % (tally.passed, tally.failed, tally.skipped),
          flush=True)
    ran = tally.passed + tally.failed
    return 0 if tally.failed == 0 and ran > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
