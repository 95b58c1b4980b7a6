"""`pier help`, `pier version`, unknown commands and flags (docs/cli.md)."""

import platform
import unittest

from harness import VERSION, PierTestCase, closed_port

COMMANDS = ["login", "logout", "auth:whoami", "apps", "apps:create", "apps:info",
            "apps:rename", "apps:destroy", "config", "config:get", "config:set",
            "config:unset", "releases", "releases:info", "authorizations",
            "authorizations:create", "authorizations:revoke", "help", "version"]


def arch():
    m = platform.machine()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(m, m)


class HelpVersionTest(PierTestCase):
    START_PIERD = False  # neither needs pierd

    def dead(self):
        return "http://127.0.0.1:%d" % closed_port()

    def test_version(self):
        out = self.pier_ok("version", token=None, api=self.dead())
        self.assertEqual(out, "pier/%s linux-%s\n" % (VERSION, arch()))

    def test_help_lists_every_command(self):
        out = self.pier_ok("help", token=None, api=self.dead())
        words = set(out.replace(",", " ").split())
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                self.assertIn(cmd, words, "`pier help` does not list %s" % cmd)

    def test_help_for_each_command(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                out = self.pier_ok("help", cmd, token=None, api=self.dead())
                self.assertIn(cmd, out)
                self.assertIn("pier", out)
        self.assertIn("KEY=VALUE", self.pier_ok("help", "config:set", token=None, api=self.dead()))
        self.assertIn("--confirm", self.pier_ok("help", "apps:destroy", token=None,
                                                api=self.dead()))

    def test_help_unknown_command(self):
        err = self.pier_fails("help", "frobnicate", token=None, api=self.dead())
        self.assertIn("frobnicate", err)

    def test_unknown_command(self):
        err = self.pier_fails("frobnicate", token=None, api=self.dead())
        self.assertIn("frobnicate", err)
        err = self.pier_fails("apps:frobnicate", token=None, api=self.dead())
        self.assertIn("apps:frobnicate", err)


class FlagsTest(PierTestCase):
    def test_unknown_flag(self):
        self.create_app("myapp")
        err = self.pier_fails("config", "-a", "myapp", "--bogus")
        self.assertIn("--bogus", err)

    def test_app_flag_forms(self):
        self.create_app("myapp")
        self.set_config("myapp", {"K": "v"})
        for flags in (["-a", "myapp"], ["--app", "myapp"], ["--app=myapp"]):
            with self.subTest(flags=flags):
                self.assertEqual(self.pier_ok("config:get", "K", *flags), "v\n")
                self.assertEqual(self.pier_ok("config", *flags),
                                 "=== myapp Config Vars\nK: v\n")

    def test_flag_missing_value(self):
        self.pier_fails("config", "-a")
        self.pier_fails("config", "--app")


if __name__ == "__main__":
    unittest.main()
