"""Config vars: byte-exact values through the CLI and the API, the
`config*` commands' output, release per change (docs/api.md, docs/cli.md)."""

import base64
import os
import subprocess
import unittest

from harness import PierTestCase, b64

# name -> value bytes.  Every one must come back byte for byte.
VALUES = {
    "SPACES": b"two words  and  more",
    "EDGES": b"  leading and trailing  ",
    "EQUALS": b"a=b==c=",
    "SINGLE": b"it's 'quoted'",
    "DOUBLE": b'say "hi" ""',
    "NEWLINES": b"line1\nline2\n\nline4",
    "TRAILING_NL": b"ends with newline\n",
    "CRLF": b"dos\r\nline",
    "TABS": b"col1\tcol2\t",
    "BACKSLASH": b"C:\\path\\n\\t\\\\",
    "SHELL": b"$HOME `id` $(id) ${X} ; | & > <",
    "UNICODE": "héllo 🌍".encode(),
    "CJK": "日本語のテキスト".encode(),
    "INVALID_UTF8": b"\xff\xfe",
    "MIXED_INVALID": b"ok \xc3\x28 bad \x80",
    "CONTROL": b"bell\x07esc\x1b[0m del\x7f",
    "EMPTY": b"",
    "JSONISH": b'{"base64": "aGk="}',
    "PERCENT": b"100% %s %n %d",
}


def api_form(value):
    """How the API carries a value: a JSON string if it is UTF-8, else
    {"base64": ...}."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": b64(value)}


def config_block(app, vars):
    """`pier config` output: keys sorted, values one column after the
    longest key + colon."""
    if not vars:
        return "%s has no config vars.\n" % app
    w = max(len(k) for k in vars) + 1
    lines = ["=== %s Config Vars" % app]
    for k in sorted(vars):
        lines.append("%s %s" % ((k + ":").ljust(w), vars[k]))
    return "\n".join(lines) + "\n"


class ConfigValuesTest(PierTestCase):
    def setUp(self):
        super().setUp()
        self.create_app("vals")

    def test_values_byte_exact_through_cli(self):
        version = 1
        for key, value in VALUES.items():
            with self.subTest(key=key):
                res = self.pier("config:set", b"%s=%s" % (key.encode(), value), "-a", "vals")
                self.assertEqual(res.code, 0, self.describe(["config:set", key], res))
                version += 1
                self.assertTrue(res.out.startswith(
                    b"Setting %s and restarting vals... done, v%d\n" % (key.encode(), version)),
                    res.out)
                got = self.pier("config:get", key, "-a", "vals")
                self.assertEqual(got.code, 0, got)
                self.assertEqual(got.out, value + b"\n")
                self.assertEqual(got.err, b"")
        api = self.api_ok("GET", "/apps/vals/config-vars")
        self.assertEqual(api, {k: api_form(v) for k, v in VALUES.items()})
        cli = self.pier_json("config", "-a", "vals", "--json")
        self.assertEqual(cli, api)
        # each release keeps its own snapshot
        snap = self.api_ok("GET", "/apps/vals/releases/%d/config-vars" % version)
        self.assertEqual(snap, api)
        first = self.api_ok("GET", "/apps/vals/releases/2/config-vars")
        self.assertEqual(first, {"SPACES": api_form(VALUES["SPACES"])})

    def test_all_values_in_one_set(self):
        args = [b"%s=%s" % (k.encode(), v) for k, v in VALUES.items()]
        res = self.pier("config:set", *args, "--app=vals")
        self.assertEqual(res.code, 0, res)
        first = res.out.split(b"\n")[0].decode("utf-8", "replace")
        self.assertIn(first, ["Setting %s and restarting vals... done, v2" % ", ".join(keys)
                              for keys in (list(VALUES), sorted(VALUES))])
        self.assertEqual(self.api_ok("GET", "/apps/vals/config-vars"),
                         {k: api_form(v) for k, v in VALUES.items()})
        for key, value in VALUES.items():
            with self.subTest(key=key):
                self.assertEqual(self.pier("config:get", key, "-a", "vals").out, value + b"\n")
        self.assertEqual(len(self.releases("vals")), 2)

    def test_values_byte_exact_through_api(self):
        body = {k: api_form(v) for k, v in VALUES.items()}
        r = self.set_config("vals", body)
        self.assertEqual(r.json(), body)
        self.assertEqual(self.api_ok("GET", "/apps/vals/config-vars"), body)
        for key, value in VALUES.items():
            with self.subTest(key=key):
                self.assertEqual(self.pier("config:get", key, "-a", "vals").out, value + b"\n")

    def test_base64_accepted_for_any_value(self):
        # "travels as {"base64": ...} in both directions": a client may send
        # any value that way; it comes back in the canonical form.
        r = self.set_config("vals", {"B": {"base64": b64(b"plain text")},
                                     "RAW": {"base64": b64(b"\xff\xfe")}})
        self.assertEqual(r.json(), {"B": "plain text", "RAW": {"base64": b64(b"\xff\xfe")}})
        self.assertEqual(self.pier("config:get", "RAW", "-a", "vals").out, b"\xff\xfe\n")

    def test_empty_value_is_set_not_unset(self):
        out = self.pier_ok("config:set", "EMPTY=", "-a", "vals")
        self.assertTrue(out.startswith("Setting EMPTY and restarting vals... done, v2\n"), out)
        self.assertEqual(self.api_ok("GET", "/apps/vals/config-vars"), {"EMPTY": ""})
        self.assertEqual(self.pier("config:get", "EMPTY", "-a", "vals").out, b"\n")

    def test_get_unset_key(self):
        res = self.pier("config:get", "MISSING", "-a", "vals")
        self.assertEqual((res.code, res.out, res.err), (0, b"", b""))

    def test_shell_round_trip(self):
        self.set_config("vals", {k: api_form(v) for k, v in VALUES.items()})
        res = self.pier("config", "--shell", "-a", "vals")
        self.assertEqual(res.code, 0, res)
        script = os.path.join(self.tmp, "env.sh")
        with open(script, "wb") as f:
            f.write(res.out)
        keys = list(VALUES)
        show = 'set -eu; . "$1"; ' + " ".join('printf "%%s\\0" "$%s";' % k for k in keys)
        p = subprocess.run(["/bin/sh", "-c", show, "sh", script], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "X": "x"})
        self.assertEqual(p.returncode, 0, "sh could not source `config --shell` output: %r\n%r"
                         % (p.stderr, res.out))
        got = p.stdout.split(b"\0")[:-1]
        self.assertEqual(dict(zip(keys, got)), VALUES)


class ConfigCliTest(PierTestCase):
    def setUp(self):
        super().setUp()
        self.create_app("myapp")

    def test_empty(self):
        self.assertEqual(self.pier_ok("config", "-a", "myapp"), "myapp has no config vars.\n")
        self.assertEqual(self.pier_json("config", "-a", "myapp", "--json"), {})

    def test_set_output(self):
        out = self.pier_ok("config:set", "A=1", "B=two words", "-a", "myapp")
        self.assertEqual(out, "Setting A, B and restarting myapp... done, v2\nA: 1\nB: two words\n")
        out = self.pier_ok("config:set", "C=3", "-a", "myapp")
        self.assertEqual(out, "Setting C and restarting myapp... done, v3\nC: 3\n")
        out = self.pier_ok("config:set", "D=4", "E=5", "F=6", "-a", "myapp")
        self.assertEqual(out.splitlines()[0], "Setting D, E, F and restarting myapp... done, v4")
        self.assertEqual(self.api_ok("GET", "/apps/myapp/config-vars"),
                         {"A": "1", "B": "two words", "C": "3", "D": "4", "E": "5", "F": "6"})

    def test_listing_aligned_and_sorted(self):
        self.pier_ok("config:set", "LONG=two words", "A=1", "-a", "myapp")
        self.assertEqual(self.pier_ok("config", "-a", "myapp"),
                         "=== myapp Config Vars\nA:    1\nLONG: two words\n")
        vars = {"ZED": "last", "A_VERY_LONG_KEY_NAME": "x", "MID": "m=m", "B": ""}
        self.set_config("myapp", vars)
        want = dict(vars, LONG="two words", A="1")
        self.assertEqual(self.pier_ok("config", "-a", "myapp"), config_block("myapp", want))

    def test_json(self):
        self.set_config("myapp", {"B": "2", "A": "1"})
        self.assertEqual(self.pier_json("config", "-a", "myapp", "--json"),
                         self.api_ok("GET", "/apps/myapp/config-vars"))

    def test_shell_exact(self):
        self.set_config("myapp", {"A": "1", "LONG": "two words"})
        self.assertEqual(self.pier_ok("config", "--shell", "-a", "myapp"),
                         "A='1'\nLONG='two words'\n")

    def test_unset(self):
        self.set_config("myapp", {"A": "1", "B": "2", "C": "3"})
        out = self.pier_ok("config:unset", "A", "B", "-a", "myapp")
        self.assertEqual(out, "Unsetting A, B and restarting myapp... done, v3\n")
        self.assertEqual(self.api_ok("GET", "/apps/myapp/config-vars"), {"C": "3"})
        out = self.pier_ok("config:unset", "C", "-a", "myapp")
        self.assertEqual(out, "Unsetting C and restarting myapp... done, v4\n")
        self.assertEqual(self.pier_ok("config", "-a", "myapp"), "myapp has no config vars.\n")
        self.assertEqual([r["description"] for r in self.releases("myapp")],
                         ["Remove C config vars", "Remove A, B config vars",
                          "Set A, B, C config vars", "Initial release"])

    def test_value_split_at_first_equals(self):
        self.pier_ok("config:set", "URL=postgres://u:p@h/db?sslmode=require&x=y", "-a", "myapp")
        self.assertEqual(self.pier_ok("config:get", "URL", "-a", "myapp"),
                         "postgres://u:p@h/db?sslmode=require&x=y\n")

    def test_usage_errors(self):
        for args in (["config:set"], ["config:set", "NOEQUALS"], ["config:set", "A=1", "NOPE"],
                     ["config:unset"], ["config:get"]):
            with self.subTest(args=args):
                self.pier_fails(*args, "-a", "myapp")
        self.assertEqual(self.api_ok("GET", "/apps/myapp/config-vars"), {})
        self.assertEqual(len(self.releases("myapp")), 1)

    def test_invalid_key(self):
        msg = self.api("PATCH", "/apps/myapp/config-vars", {"1BAD": "x"}).json()["message"]
        self.pier_fails("config:set", "1BAD=x", "-a", "myapp", message=msg)
        self.pier_fails("config:set", "=x", "-a", "myapp")
        self.assertEqual(len(self.releases("myapp")), 1)

    def test_too_large(self):
        msg = self.api("PATCH", "/apps/myapp/config-vars", {"BIG": "x" * 40000}).json()["message"]
        self.pier_fails("config:set", "BIG=" + "x" * 40000, "-a", "myapp", message=msg)
        self.assertEqual(self.api_ok("GET", "/apps/myapp/config-vars"), {})

    def test_unknown_app(self):
        msg = self.api("GET", "/apps/ghost/config-vars").json()["message"]
        self.pier_fails("config", "-a", "ghost", message=msg)
        self.pier_fails("config:set", "A=1", "-a", "ghost", message=msg)


class ConfigApiTest(PierTestCase):
    def setUp(self):
        super().setUp()
        self.create_app("api")

    def test_patch_returns_all_vars_and_version(self):
        r = self.set_config("api", {"A": "1", "B": "2"})
        self.assertEqual(r.json(), {"A": "1", "B": "2"})
        self.assertEqual(r.header("Pier-Release-Version"), "2")
        r = self.set_config("api", {"C": "3"})
        self.assertEqual(r.json(), {"A": "1", "B": "2", "C": "3"})
        self.assertEqual(r.header("Pier-Release-Version"), "3")
        r = self.set_config("api", {"B": None})
        self.assertEqual(r.json(), {"A": "1", "C": "3"})
        self.assertEqual(r.header("Pier-Release-Version"), "4")
        r = self.set_config("api", {"A": "one", "C": None, "D": "4"})
        self.assertEqual(r.json(), {"A": "one", "D": "4"})
        self.assertEqual(r.header("Pier-Release-Version"), "5")
        self.assertEqual([(x["version"], x["description"]) for x in self.releases("api")], [
            (5, "Set A, D config vars, remove C config vars"),
            (4, "Remove B config vars"),
            (3, "Set C config vars"),
            (2, "Set A, B config vars"),
            (1, "Initial release")])

    def test_release_snapshots(self):
        self.set_config("api", {"A": "1"})
        self.set_config("api", {"A": "2", "B": "b"})
        self.set_config("api", {"A": None})
        self.assertEqual(self.api_ok("GET", "/apps/api/releases/1/config-vars"), {})
        self.assertEqual(self.api_ok("GET", "/apps/api/releases/2/config-vars"), {"A": "1"})
        self.assertEqual(self.api_ok("GET", "/apps/api/releases/v3/config-vars"),
                         {"A": "2", "B": "b"})
        rel4 = self.api_ok("GET", "/apps/api/releases/4")
        self.assertEqual(self.api_ok("GET", "/apps/api/releases/%s/config-vars" % rel4["id"]),
                         {"B": "b"})

    def test_non_utf8_value_as_base64(self):
        raw = b"\x01\xff\xfe\xfd bytes"
        r = self.set_config("api", {"BIN": {"base64": base64.b64encode(raw).decode()}})
        self.assertEqual(r.json(), {"BIN": {"base64": base64.b64encode(raw).decode()}})
        self.assertEqual(self.api_ok("GET", "/apps/api/config-vars"),
                         {"BIN": {"base64": base64.b64encode(raw).decode()}})
        self.assertEqual(self.pier("config:get", "BIN", "-a", "api").out, raw + b"\n")

    def test_unicode_value(self):
        r = self.api("PATCH", "/apps/api/config-vars",
                     '{"U": "h\\u00e9llo \\ud83c\\udf0d", "V": "h\u00e9llo \U0001f30d"}'.encode())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"U": "héllo 🌍", "V": "héllo 🌍"})
        self.assertEqual(self.pier("config:get", "U", "-a", "api").out, "héllo 🌍\n".encode())

    def test_removing_missing_key(self):
        r = self.api("PATCH", "/apps/api/config-vars", {"NEVER_SET": None})
        self.assertIn(r.status, (200, 422), r)
        self.assertEqual(self.api_ok("GET", "/apps/api/config-vars"), {})

    def test_empty_patch(self):
        r = self.api("PATCH", "/apps/api/config-vars", {})
        self.assertIn(r.status, (200, 400, 422), r)
        if r.status == 200:
            self.assertEqual(r.json(), {})


if __name__ == "__main__":
    unittest.main()
