"""
Live reload (SIGHUP) of a real secd: clients stay connected across five
reloads while new connections keep coming; a rotated certificate is seen by
new connections only; a broken configuration or certificate is refused with
its precise error and the old one stays in force; with a ticket key file a
session ticket from before a reload resumes after it.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TICKET_KEY = "6b" * 32


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def pem_to_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class Reload(unittest.TestCase):

    def setUp(self):
        self.secd = harness.Secd(
            tls_extra="  ticket_key_file: certs/ticket.key\n")
        with open(os.path.join(self.secd.certs, "ticket.key"), "w") as f:
            f.write("# the current key\n%s\n" % TICKET_KEY)
        os.chmod(os.path.join(self.secd.certs, "ticket.key"), 0o600)
        # A second PKI for the rotation; clients trust both CAs.
        self.certs2 = harness.make_certs(os.path.join(self.secd.dir, "certs2"))
        self.bundle = os.path.join(self.secd.dir, "bundle.pem")
        with open(self.bundle, "w") as out:
            for d in (self.secd.certs, self.certs2):
                with open(os.path.join(d, "ca.pem")) as f:
                    out.write(f.read())
        self.secd.start()

    def tearDown(self):
        self.secd.close()

    def context(self):
        ctx = ssl.create_default_context(cafile=self.bundle)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["secd/1"])
        return ctx

    def connect(self, ctx=None, session=None):
        raw = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        s = (ctx or self.context()).wrap_socket(
            raw, server_hostname="localhost", session=session)
        conn = harness.LineConn(s)
        assert conn.recv()["type"] == "hello"
        return conn

    def reloaded(self, n):
        return self.secd.log().count("reloaded %s" % self.secd.conf) >= n

    def hup_and_wait(self, n):
        self.secd.signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.reloaded(n)), self.secd.log())

    def test_clients_keep_working_across_reloads_and_rotation(self):
        stop = threading.Event()
        counts = {"ok": 0, "failed": []}

        def newcomers():
            ctx = self.context()
            while not stop.is_set():
                try:
                    c = self.connect(ctx)
                    r = c.call({"id": 1, "op": "ping"})
                    assert r == {"id": 1, "ok": True}, r
                    c.close()
                    counts["ok"] += 1
                except Exception as e:  # noqa: BLE001 (reported below)
                    counts["failed"].append(repr(e))
                time.sleep(0.02)

        olds = []
        for i in range(3):
            c = self.connect()
            self.assertTrue(c.call({"id": 1, "op": "login", "account": "AAA",
                                    "password": "123"})["ok"])
            olds.append(c)
        th = threading.Thread(target=newcomers)
        th.start()
        try:
            for n in range(1, 6):
                self.hup_and_wait(n)
                for c in olds:
                    r = c.call({"id": n, "op": "balance"})
                    self.assertTrue(r["ok"], r)
                time.sleep(0.2)

            # Rotate the certificate (same paths, new files) and reload.
            old_der = pem_to_der(os.path.join(self.secd.certs, "server.pem"))
            new_der = pem_to_der(os.path.join(self.certs2, "server.pem"))
            for name in ("server.pem", "server.key"):
                shutil.copy(os.path.join(self.certs2, name),
                            os.path.join(self.secd.certs, name))
            self.hup_and_wait(6)
            fresh = self.connect()
            self.assertEqual(fresh.sock.getpeercert(binary_form=True), new_der)
            fresh.close()
            for c in olds:
                self.assertEqual(c.sock.getpeercert(binary_form=True), old_der)
                r = c.call({"id": 99, "op": "balance"})
                self.assertEqual(r["balance"], 10000, r)
        finally:
            stop.set()
            th.join(30)
            for c in olds:
                c.close()
        self.assertEqual(counts["failed"], [])
        self.assertGreater(counts["ok"], 20)

    def test_broken_configuration_or_certificate_keeps_the_old_one(self):
        with open(self.secd.conf) as f:
            good = f.read()
        old = self.connect()
        # A value out of range: refused with file, line and column.
        with open(self.secd.conf, "w") as f:
            f.write(good + "limits:\n  max_connections: 0\n")
        self.secd.signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "reload refused" in self.secd.log()))
        log = self.secd.log()
        self.assertIn("reload: %s:" % self.secd.conf, log)
        self.assertIn("limits", log)
        # A certificate that does not exist: refused, named.
        with open(self.secd.conf, "w") as f:
            f.write(good.replace("certs/server.pem", "certs/missing.pem"))
        self.secd.signal(signal.SIGHUP)
        self.assertTrue(wait_for(
            lambda: self.secd.log().count("reload refused") >= 2))
        self.assertIn("missing.pem", self.secd.log())
        # A key that does not match the certificate: refused.
        with open(self.secd.conf, "w") as f:
            f.write(good.replace("certs/server.key", "certs/client.key"))
        self.secd.signal(signal.SIGHUP)
        self.assertTrue(wait_for(
            lambda: self.secd.log().count("reload refused") >= 3))
        # The service runs on the old configuration throughout.
        self.assertEqual(old.call({"id": 1, "op": "ping"}), {"id": 1, "ok": True})
        fresh = self.connect()
        self.assertEqual(fresh.call({"id": 2, "op": "ping"}), {"id": 2, "ok": True})
        fresh.close()
        old.close()
        self.assertIsNone(self.secd.proc.poll())
        r = subprocess.run([harness.SECD, "-t", "-c", self.secd.conf],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1)

    def test_restart_only_settings_are_kept_and_named(self):
        with open(self.secd.conf) as f:
            good = f.read()
        with open(self.secd.conf, "w") as f:
            f.write(good.replace("workers: 2", "workers: 1"))
        self.hup_and_wait(1)
        self.assertIn("reload: workers changed in the file; it needs a "
                      "restart", self.secd.log())

    def test_ticket_from_before_a_reload_resumes_after_it(self):
        ctx = self.context()
        first = self.connect(ctx)
        session = first.sock.session
        first.close()
        self.assertIsNotNone(session)
        self.hup_and_wait(1)
        again = self.connect(ctx, session=session)
        self.assertTrue(again.sock.session_reused)
        self.assertEqual(again.call({"id": 1, "op": "ping"}), {"id": 1, "ok": True})
        again.close()

    def test_without_a_ticket_key_file_a_reload_ends_old_tickets(self):
        with open(self.secd.conf) as f:
            good = f.read()
        with open(self.secd.conf, "w") as f:
            f.write(good.replace("  ticket_key_file: certs/ticket.key\n", ""))
        self.hup_and_wait(1)
        ctx = self.context()
        first = self.connect(ctx)
        session = first.sock.session
        first.close()
        self.hup_and_wait(2)
        again = self.connect(ctx, session=session)
        self.assertFalse(again.sock.session_reused)
        again.close()



class Notify(unittest.TestCase):
    """sd_notify(3): a Type=notify service manager hears READY=1 once secd
    listens, RELOADING=1 then READY=1 around a reload, STATUS= lines, and
    STOPPING=1 on SIGTERM.  The test plays the manager: a datagram socket
    named in $NOTIFY_SOCKET."""

    def test_ready_reloading_status_stopping(self):
        s = harness.Secd()
        path = os.path.join(s.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        os.environ["NOTIFY_SOCKET"] = path
        try:
            s.start()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        msgs = []

        def expect(word):
            while not any(word in m for m in msgs):
                msgs.append(sock.recv(4096).decode())
            return [m for m in msgs if word in m]

        try:
            self.assertIn("READY=1", expect("READY=1")[0])
            # READY=1 only once listening: a connection works now.
            c = s.connect()
            c.close()
            self.assertIn("connections open", expect("STATUS=")[0])
            msgs.clear()
            s.signal(signal.SIGHUP)
            reloading = expect("RELOADING=1")[0]
            self.assertIn("MONOTONIC_USEC=", reloading)
            expect("READY=1")
            self.assertLess(msgs.index(reloading),
                            max(i for i, m in enumerate(msgs) if "READY=1" in m))
            s.signal(signal.SIGTERM)
            expect("STOPPING=1")
            self.assertEqual(s.proc.wait(30), 0)
        finally:
            sock.close()
            s.close()


class Shutdown(unittest.TestCase):
    """SIGTERM under load: every request secd accepted is answered, idle
    connections get a close_notify, a client that pipelines more than it
    reads does not hold the exit past shutdown_timeout, and the process
    exits by then (in practice at once: nothing is left to wait for)."""

    def test_sigterm_under_load(self):
        s = harness.Secd(extra="").start()
        with open(s.conf) as f:
            text = f.read()
        self.assertIn("shutdown_timeout: 10s", text)
        try:
            idle = [s.connect() for _ in range(5)]
            busy = [s.connect() for _ in range(10)]
            for c in busy:
                self.assertTrue(c.call({"id": 0, "op": "login", "account": "AAA",
                                        "password": "123"})["ok"])
            # One client pipelines far more than it reads (backpressure).
            stuck = s.connect()
            stuck.sock.setblocking(False)
            line = b'{"id":1,"op":"ping"}\n' * 2000
            sent = 0
            try:
                while sent < 20 * 1024 * 1024:
                    sent += stuck.sock.send(line)
            except (ssl.SSLWantWriteError, BlockingIOError):
                pass
            # The busy ones have requests in flight when the signal comes:
            # 50 in one TLS record each, and the first answer proves secd
            # has read that record (requests still in the kernel's buffer
            # when the drain begins are not accepted: drain reads no more).
            for c in busy:
                c.send_raw(b"".join(b'{"id":%d,"op":"balance"}\n' % i
                                    for i in range(1, 51)))
            firsts = [c.recv()["id"] for c in busy]
            self.assertEqual(firsts, [1] * len(busy))
            t0 = time.monotonic()
            s.signal(signal.SIGTERM)
            for c in busy:
                ids = [c.recv()["id"] for _ in range(49)]
                self.assertEqual(ids, list(range(2, 51)))
            for c in idle:
                # A clean TLS close (close_notify), not a reset.
                self.assertEqual(c.sock.recv(100), b"")
            rc = s.proc.wait(30)
            took = time.monotonic() - t0
            self.assertEqual(rc, 0)
            # shutdown_timeout is 10 s in the harness's configuration.
            self.assertLess(took, 10 + 2.0)
            print("exited %.2f s after SIGTERM" % took)
            for c in busy + idle + [stuck]:
                c.close()
        finally:
            s.close()


class ReloadMetrics(unittest.TestCase):
    """secd_reloads_total counts reloads by result."""

    def test_reload_counter(self):
        import urllib.request
        mport = harness.free_port()
        s = harness.Secd(extra="metrics:\n  listen: 127.0.0.1:%d\n" % mport)
        s.start()
        try:
            with open(s.conf) as f:
                good = f.read()
            s.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reloaded" in s.log()))
            with open(s.conf, "w") as f:
                f.write(good + "bogus: 1\n")
            s.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reload refused" in s.log()))
            body = urllib.request.urlopen(
                "http://127.0.0.1:%d/metrics" % mport, timeout=10).read()
            body = body.decode()
            self.assertIn('secd_reloads_total{result="ok"} 1\n', body)
            self.assertIn('secd_reloads_total{result="failed"} 1\n', body)
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
