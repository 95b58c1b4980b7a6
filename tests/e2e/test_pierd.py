"""pierd itself: --home, --listen, $PIER_HOME, the admin token (mode 0600,
only its hash stored), signals (docs/api.md "Authentication")."""

import base64
import hashlib
import os
import signal
import socket
import stat
import time
import unittest

from harness import PIERD, VERSION, Pierd, PierTestCase, free_port, http_request


def home_files(home, skip=("admin-token",)):
    """Every file under home except the ones named in skip, as (path, bytes)."""
    for dirpath, _, files in os.walk(home):
        for f in files:
            if f in skip:
                continue
            path = os.path.join(dirpath, f)
            try:
                with open(path, "rb") as fh:
                    yield path, fh.read()
            except OSError:
                continue


def db_bytes(home):
    data = b""
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(os.path.join(home, "state.db" + suffix), "rb") as f:
                data += f.read()
        except FileNotFoundError:
            pass
    return data


class AdminTokenTest(PierTestCase):
    def test_admin_token_file(self):
        path = os.path.join(self.pierd.home, "admin-token")
        st = os.stat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "admin-token mode %o" % st.st_mode)
        self.assertEqual(st.st_uid, os.getuid())
        with open(path, "rb") as f:
            raw = f.read()
        tok = raw.decode().strip()
        self.assertGreaterEqual(len(tok), 20, "token too short to be secret: %r" % tok)
        self.assertNotIn(b"\n", raw.rstrip(b"\n"), "one token, one line")
        self.assertTrue(all(33 <= c < 127 for c in tok.encode()), "token is not printable: %r" % tok)
        r = self.api("GET", "/account", token=tok)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["scope"], ["global"])

    def test_state_db_in_home(self):
        self.create_app("something")
        self.assertTrue(os.path.isfile(os.path.join(self.pierd.home, "state.db")),
                        os.listdir(self.pierd.home))

    def test_only_the_hash_is_stored(self):
        tok = self.pierd.admin_token
        r = self.api("POST", "/oauth/authorizations", {"scope": ["read"], "description": "x"})
        self.assertEqual(r.status, 201, r)
        read_tok = r.json()["access_token"]["token"]
        self.create_app("some-app")

        def check(when):
            for t in (tok, read_tok):
                for path, data in home_files(self.pierd.home):
                    self.assertNotIn(t.encode(), data, "%s: token stored in %s" % (when, path))
            db = db_bytes(self.pierd.home)
            self.assertTrue(db, "no state.db in %s" % self.pierd.home)
            for t in (tok, read_tok):
                digest = hashlib.sha256(t.encode()).digest()
                forms = [digest, digest.hex().encode(), digest.hex().upper().encode(),
                         base64.b64encode(digest).rstrip(b"="),
                         base64.urlsafe_b64encode(digest).rstrip(b"=")]
                self.assertTrue(any(f in db for f in forms),
                                "%s: no SHA-256 of the token in state.db" % when)

        check("while running")
        self.pierd.stop()
        check("after SIGTERM")
        self.pierd.start()
        self.assertEqual(self.pierd.admin_token, tok)

    def test_token_not_regenerated(self):
        tok = self.pierd.admin_token
        self.pierd.restart()
        self.assertEqual(self.pierd.admin_token, tok)
        self.pierd.kill()
        self.pierd.start()
        self.assertEqual(self.pierd.admin_token, tok)
        self.assertEqual(self.api("GET", "/apps", token=tok).status, 200)

    def test_homes_get_different_tokens(self):
        other = self.start_pierd()
        self.assertNotEqual(other.admin_token, self.pierd.admin_token)
        self.assertEqual(self.api("GET", "/apps", token=self.pierd.admin_token,
                                  pierd=other).status, 401)


class FlagsTest(PierTestCase):
    START_PIERD = False

    def test_home_created_when_missing(self):
        home = os.path.join(self.tmp, "not", "yet", "there")
        p = self.start_pierd(home=home)
        self.assertTrue(os.path.isfile(os.path.join(home, "admin-token")))
        self.assertEqual(p.request("GET", "/apps").status, 200)

    def test_listen(self):
        port = free_port()
        p = self.start_pierd(port=port)
        self.assertEqual(p.listen, "127.0.0.1:%d" % port)
        r = http_request(port, "GET", "/health")
        self.assertEqual((r.status, r.json()), (200, {"status": "ok", "version": VERSION}))
        r = p.request("POST", "/apps", {"name": "listen-app"})
        self.assertEqual(r.json()["git_url"], "http://127.0.0.1:%d/listen-app.git" % port)

    def test_pier_home_env(self):
        home = os.path.join(self.tmp, "env-home")
        port = free_port()
        p = Pierd(self.tmp, home=home, port=port, env={"PIER_HOME": home}, name="envpierd")
        self.pierds.append(p)
        p.start(argv=[PIERD, "--listen", "127.0.0.1:%d" % port])
        self.assertTrue(os.path.isfile(os.path.join(home, "admin-token")), "PIER_HOME ignored")
        self.assertEqual(p.request("GET", "/apps").status, 200)

    def test_port_in_use_fails_fast(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            p = Pierd(self.tmp, home=os.path.join(self.tmp, "busy-home"), port=port,
                      name="busypierd")
            self.pierds.append(p)
            p.start(wait=False)
            try:
                rc = p.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                p.kill()
                self.fail("pierd kept running although 127.0.0.1:%d was taken" % port)
            self.assertNotEqual(rc, 0, "pierd exited 0 although it could not listen")
            self.assertTrue(p.current_log().strip(), "pierd said nothing about why it stopped")
            p.check_log()
        finally:
            s.close()


class SignalTest(PierTestCase):
    def test_sigterm_exits_0(self):
        self.create_app("sig-app")
        t0 = time.monotonic()
        self.assertEqual(self.pierd.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)

    def test_sigint_exits_0(self):
        # `make run` runs pierd in the foreground: Ctrl-C stops it cleanly.
        self.create_app("sig-app")
        self.assertEqual(self.pierd.stop(signal.SIGINT), 0)
        self.pierd.start()
        self.assertEqual([a["name"] for a in self.api_ok("GET", "/apps")], ["sig-app"])

    def test_sigterm_during_requests(self):
        self.create_app("sig-app")
        import threading
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    self.api("GET", "/apps/sig-app", timeout=5)
                except OSError:
                    return

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        try:
            self.assertEqual(self.pierd.stop(signal.SIGTERM), 0)
        finally:
            stop.set()
            for t in threads:
                t.join(10)


if __name__ == "__main__":
    unittest.main()
