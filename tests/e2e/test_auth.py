"""Logging in and out, where the CLI finds pierd and the token, tokens
(`authorizations*`) — docs/cli.md "Where pier finds pierd and the token"."""

import json
import os
import select
import stat
import subprocess
import time
import unittest

from harness import EMAIL, PIER, PierTestCase, closed_port

REFUSED = "not logged in or the token was refused — run `pier login`"


def unreachable(url):
    return "cannot reach pierd at %s — is it running? start it with `make run`" % url


class LoginTest(PierTestCase):
    @property
    def creds_path(self):
        return os.path.join(self.userhome, ".config", "pier", "credentials")

    def read_creds(self, path=None):
        path = path or self.creds_path
        with open(path) as f:
            return json.load(f)

    def check_creds_file(self, path, api, token):
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "credentials mode %o" % st.st_mode)
        self.assertEqual(self.read_creds(path), {"api": api, "token": token})

    def test_login_with_token_flag(self):
        tok = self.pierd.admin_token
        out = self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.assertEqual(out, "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.check_creds_file(self.creds_path, self.pierd.url, tok)
        # later commands need neither env var
        self.create_app("after-login")
        self.assertEqual(self.pier_ok("apps", token=None, api=None),
                         "=== %s Apps\nafter-login\n" % EMAIL)
        self.assertEqual(self.pier_ok("auth:whoami", token=None, api=None), EMAIL + "\n")

    def test_login_with_token_on_stdin(self):
        tok = self.pierd.admin_token
        out = self.pier_ok("login", "--api", self.pierd.url, stdin=(tok + "\n").encode(),
                           token=None, api=None)
        self.assertEqual(out, "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.check_creds_file(self.creds_path, self.pierd.url, tok)

    def test_login_prompts_on_a_tty(self):
        tok = self.pierd.admin_token
        master, slave = os.openpty()
        p = subprocess.Popen([PIER, "login", "--api", self.pierd.url], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.work,
                             env=self.cli_env(token=None, api=None), start_new_session=True)
        os.close(slave)
        out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
        got = {master: b"", out_fd: b"", err_fd: b""}
        fds = list(got)
        try:
            # wait for the prompt (on the tty or stderr) before typing: a
            # CLI that turns echo off may flush input typed before it asks
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(got.values()):
                ready, _, _ = select.select(fds, [], [], 0.2)
                for fd in ready:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        data = b""
                    if not data:
                        fds.remove(fd)
                    got[fd] += data
                if p.poll() is not None:
                    break
            self.assertTrue(any(got.values()), "no prompt within 10 s (exit %r)" % p.poll())
            time.sleep(0.3)
            os.write(master, (tok + "\n").encode())
            try:
                out, err = p.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                self.fail("pier login did not finish after the token was typed; so far %r"
                          % got)
        finally:
            os.close(master)
        out = got[out_fd] + out
        self.assertEqual(p.returncode, 0, "stdout %r stderr %r" % (out, err))
        self.assertTrue(out.endswith(("Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
                                     .encode()), out)
        self.assertNotIn(tok.encode(), out + got[err_fd] + err,
                         "the token was printed back")
        self.check_creds_file(self.creds_path, self.pierd.url, tok)

    def test_login_on_a_tty_takes_the_local_admin_token(self):
        # The README's `pier login`: on a terminal, with pierd's admin
        # token at hand, no prompt.
        master, slave = os.openpty()
        try:
            p = subprocess.run([PIER, "login", "--api", self.pierd.url], stdin=slave,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.work,
                               env=self.cli_env(token=None, api=None,
                                                env={"PIER_HOME": self.pierd.home}),
                               timeout=20)
        finally:
            os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout.decode(), "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.assertNotIn(b"Enter your", p.stderr)
        self.check_creds_file(self.creds_path, self.pierd.url, self.pierd.admin_token)

    def test_login_without_any_token_names_the_file_it_tried(self):
        home = os.path.join(self.work, "nohome")
        self.pier_fails("login", "--api", self.pierd.url, stdin=None, token=None, api=None,
                        env={"PIER_HOME": home},
                        message="no token given and none in %s/admin-token; pass --token "
                                "TOKEN, or set PIER_HOME to the directory of the local pierd"
                                % home)

    def test_login_api_from_env(self):
        tok = self.pierd.admin_token
        out = self.pier_ok("login", "--token", tok, token=None, api=self.pierd.url)
        self.assertEqual(out, "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.check_creds_file(self.creds_path, self.pierd.url, tok)

    def test_login_reads_admin_token_file(self):
        # no --token, nothing on stdin: pierd runs here, so $PIER_HOME/admin-token
        out = self.pier_ok("login", "--api", self.pierd.url, stdin=None, token=None, api=None,
                           env={"PIER_HOME": self.pierd.home})
        self.assertEqual(out, "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.check_creds_file(self.creds_path, self.pierd.url, self.pierd.admin_token)

    def test_login_with_read_token(self):
        r = self.api("POST", "/oauth/authorizations", {"scope": ["read"], "description": "ro"})
        tok = r.json()["access_token"]["token"]
        out = self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.assertEqual(out, "Logged in as %s at %s\n" % (EMAIL, self.pierd.url))
        self.create_app("ro-app")
        self.assertEqual(self.pier_ok("apps", token=None, api=None), "=== %s Apps\nro-app\n" % EMAIL)
        msg = self.api("GET", "/apps/ro-app/config-vars", token=tok).json()["message"]
        self.pier_fails("config", "-a", "ro-app", token=None, api=None, message=msg)

    def test_bad_token_refused(self):
        for how in ("flag", "stdin"):
            with self.subTest(how=how):
                args = ["login", "--api", self.pierd.url]
                stdin = b""
                if how == "flag":
                    args += ["--token", "wrong-token"]
                else:
                    stdin = b"wrong-token\n"
                self.pier_fails(*args, stdin=stdin, token=None, api=None)
                self.assertFalse(os.path.exists(self.creds_path), "refused token was stored")

    def test_bad_token_keeps_old_credentials(self):
        tok = self.pierd.admin_token
        self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.pier_fails("login", "--api", self.pierd.url, "--token", "wrong", token=None, api=None)
        self.check_creds_file(self.creds_path, self.pierd.url, tok)

    def test_login_unreachable(self):
        url = "http://127.0.0.1:%d" % closed_port()
        self.pier_fails("login", "--api", url, "--token", "x", token=None, api=None,
                        message=unreachable(url))
        self.assertFalse(os.path.exists(self.creds_path))

    def test_xdg_config_home(self):
        xdg = os.path.join(self.tmp, "xdg")
        tok = self.pierd.admin_token
        self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None,
                     env={"XDG_CONFIG_HOME": xdg})
        path = os.path.join(xdg, "pier", "credentials")
        self.check_creds_file(path, self.pierd.url, tok)
        self.assertFalse(os.path.exists(self.creds_path))
        self.assertEqual(self.pier_ok("auth:whoami", token=None, api=None,
                                      env={"XDG_CONFIG_HOME": xdg}), EMAIL + "\n")

    def test_logout(self):
        tok = self.pierd.admin_token
        self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.assertEqual(self.pier_ok("logout", token=None, api=None), "Local credentials cleared\n")
        if os.path.exists(self.creds_path):
            self.assertNotIn(tok, open(self.creds_path).read(), "token still on disk")
        # the API URL is gone with the token: say which pierd was meant explicitly
        self.pier_fails("apps", token=None, api=self.pierd.url, message=REFUSED)
        # logging out twice is fine
        self.assertEqual(self.pier_ok("logout", token=None, api=None), "Local credentials cleared\n")

    def test_whoami(self):
        self.assertEqual(self.pier_ok("auth:whoami"), EMAIL + "\n")

    def test_refused_token_message(self):
        self.pier_fails("apps", token="bogus", message=REFUSED)
        self.pier_fails("apps", token=None, message=REFUSED)
        self.pier_fails("auth:whoami", token="bogus", message=REFUSED)
        self.pier_fails("config", "-a", "whatever", token="bogus", message=REFUSED)

    def test_env_token_beats_credentials_file(self):
        tok = self.pierd.admin_token
        self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.pier_fails("apps", token="bogus", api=None, message=REFUSED)

    def test_api_flag_beats_env_and_file(self):
        tok = self.pierd.admin_token
        dead = "http://127.0.0.1:%d" % closed_port()
        self.assertEqual(self.pier_ok("apps", "--api", self.pierd.url, api=dead),
                         "You have no apps.\n")
        self.pier_fails("apps", "--api", dead, message=unreachable(dead))
        # env beats the file
        self.pier_ok("login", "--api", self.pierd.url, "--token", tok, token=None, api=None)
        self.pier_fails("apps", token=None, api=dead, message=unreachable(dead))
        self.assertEqual(self.pier_ok("apps", token=None, api=None), "You have no apps.\n")


class UnreachableTest(PierTestCase):
    START_PIERD = False

    def test_unreachable_exact_message(self):
        url = "http://127.0.0.1:%d" % closed_port()
        for args in (["apps"], ["config", "-a", "x"], ["apps:create", "x"], ["releases", "-a", "x"],
                     ["auth:whoami"]):
            with self.subTest(args=args):
                self.pier_fails(*args, token="t", api=url, message=unreachable(url))

    def test_unreachable_default_url(self):
        import socket
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 5000))
        except OSError:
            self.skipTest("something listens on 127.0.0.1:5000")
        finally:
            s.close()
        self.pier_fails("apps", token="t", api=None,
                        message=unreachable("http://127.0.0.1:5000"))

    def test_pierd_went_away(self):
        p = self.start_pierd()
        tok = p.admin_token
        self.assertEqual(self.pier_ok("apps", token=tok, api=p.url), "You have no apps.\n")
        p.stop()
        self.pier_fails("apps", token=tok, api=p.url, message=unreachable(p.url))


class AuthorizationsCliTest(PierTestCase):
    def test_create_read_token(self):
        out = self.pier_ok("authorizations:create", "-s", "read", "-d", "ci")
        lines = out.splitlines()
        tok_lines = [line for line in lines if line.startswith("Token:")]
        self.assertEqual(len(tok_lines), 1, out)
        self.assertRegex(tok_lines[0], r"^Token:       \S{20,}$")
        self.assertIn("Scope:       read", lines)
        tok = tok_lines[0].split()[-1]
        self.create_app("viewable")
        self.assertEqual(self.api("GET", "/apps", token=tok).status, 200)
        self.assertError(self.api("GET", "/apps/viewable/config-vars", token=tok), 403,
                         "forbidden", "read token from the CLI")
        auths = self.api_ok("GET", "/oauth/authorizations")
        mine = [a for a in auths if a.get("description") == "ci"]
        self.assertEqual(len(mine), 1, auths)
        self.assertEqual(mine[0]["scope"], ["read"])

    def test_create_global_token_default(self):
        out = self.pier_ok("authorizations:create", "-d", "full")
        self.assertIn("Scope:       global", out.splitlines())
        tok = [line for line in out.splitlines() if line.startswith("Token:")][0].split()[-1]
        self.assertEqual(self.api("POST", "/apps", {"name": "by-new-token"}, token=tok).status, 201)

    def test_list_and_revoke(self):
        r = self.api("POST", "/oauth/authorizations", {"scope": ["read"], "description": "listed"})
        auth = r.json()
        tok = auth["access_token"]["token"]
        out = self.pier_ok("authorizations")
        self.assertIn(auth["id"], out)
        self.assertIn("listed", out)
        self.assertNotIn(tok, out, "list must not show tokens")
        got = self.pier_json("authorizations", "--json")
        self.assertEqual(got, self.api("GET", "/oauth/authorizations").ordered_json())
        self.pier_ok("authorizations:revoke", auth["id"])
        self.assertError(self.api("GET", "/apps", token=tok), 401, "unauthorized", "revoked")
        self.assertNotIn(auth["id"], self.pier_ok("authorizations"))
        msg = self.api("DELETE", "/oauth/authorizations/%s" % auth["id"]).json()["message"]
        self.pier_fails("authorizations:revoke", auth["id"], message=msg)


if __name__ == "__main__":
    unittest.main()
