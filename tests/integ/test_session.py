"""
The secure conversation end to end: a real secd, real clients (secctl,
openssl s_client, gnutls-cli, Python's ssl), over loopback.
"""
import asyncio
import json
import os
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


class Classic(unittest.TestCase):
    """One secd with the demo account, shared by the read-only tests."""

    @classmethod
    def setUpClass(cls):
        cls.secd = harness.Secd(limits="limits:\n  handshake_timeout: 1s\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def test_secctl_reads_balance_of_demo_account(self):
        r = self.secd.secctl("-a", "AAA", "balance", password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")

    def test_secctl_json_output(self):
        r = self.secd.secctl("--json", "-a", "AAA", "balance", password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual(reply["balance"], 10000)
        self.assertEqual(reply["currency"], "CNY")
        self.assertEqual(reply["account"], "AAA")

    def test_secctl_trace_shows_each_step(self):
        r = self.secd.secctl("--trace", "-a", "AAA", "balance", password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        trace = r.stderr.decode() + r.stdout.decode()
        for word in ("suite TLS_CHACHA20_POLY1305_SHA256", "key exchange x25519",
                     "alpn secd/1", "issuer O=secd development, CN=secd development CA",
                     "spki sha256", "serial", "matches an IP address",
                     "signature verified", "balance: 100.00 CNY"):
            self.assertIn(word.lower(), trace.lower(), trace)

    def test_wrong_password_and_unknown_account_look_the_same(self):
        a = self.secd.secctl("--json", "-a", "AAA", "balance", password="124")
        b = self.secd.secctl("--json", "-a", "NOBODY", "balance", password="123")
        self.assertEqual(a.returncode, 4)
        self.assertEqual(b.returncode, 4)
        ea, eb = json.loads(a.stdout)["error"], json.loads(b.stdout)["error"]
        self.assertEqual(ea["code"], "auth_failed")
        self.assertEqual(ea, eb)

    def test_balance_before_login_is_auth_required(self):
        c = self.secd.connect()
        try:
            r = c.call({"id": 1, "op": "balance"})
            self.assertEqual(r["error"]["code"], "auth_required")
            self.assertEqual(c.call({"id": 2, "op": "ping"}), {"id": 2, "ok": True})
        finally:
            c.close()

    def test_failed_login_logs_the_session_out(self):
        c = self.secd.connect()
        try:
            self.assertTrue(c.call({"id": 1, "op": "login", "account": "AAA",
                                    "password": "123"})["ok"])
            r = c.call({"id": 2, "op": "login", "account": "AAA", "password": "x"})
            self.assertEqual(r["error"]["code"], "auth_failed")
            r = c.call({"id": 3, "op": "balance"})
            self.assertEqual(r["error"]["code"], "auth_required")
        finally:
            c.close()

    def test_greeting(self):
        c = self.secd.connect()
        try:
            self.assertEqual(c.hello["server"], "secd")
            self.assertEqual(c.hello["version"], 1)
            self.assertEqual(c.hello["max_message_bytes"], 65536)
            for op in ("ping", "login", "logout", "balance"):
                self.assertIn(op, c.hello["ops"])
        finally:
            c.close()

    def _openssl_lines(self, extra):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % self.secd.port,
               "-tls1_3", "-CAfile", self.secd.ca, "-verify_return_error",
               "-verify_hostname", "localhost", "-alpn", "secd/1", "-quiet"] + extra
        return cmd

    def _conversation(self, cmd):
        """Type the classic conversation into a TLS client's stdin."""
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        lines = []
        try:
            def read_line():
                line = p.stdout.readline()
                if not line:
                    raise AssertionError("client ended early: " + p.stderr.read().decode())
                return json.loads(line)
            hello = read_line()
            self.assertEqual(hello["type"], "hello")
            p.stdin.write(b'{"id":1,"op":"login","account":"AAA","password":"123"}\n')
            p.stdin.write(b'{"id":2,"op":"balance"}\n')
            p.stdin.flush()
            lines = [read_line(), read_line()]
        finally:
            p.kill()
            p.wait(10)
        self.assertEqual(lines[0], {"id": 1, "ok": True, "account": "AAA"})
        self.assertEqual(lines[1], {"id": 2, "ok": True, "account": "AAA",
                                    "balance": 10000, "currency": "CNY"})

    def test_openssl_s_client_conversation(self):
        self._conversation(self._openssl_lines([]))

    def test_gnutls_cli_conversation(self):
        self._conversation(["gnutls-cli", "--x509cafile", self.secd.ca,
                            "-p", str(self.secd.port), "--alpn", "secd/1",
                            "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                            "--logfile", "/dev/null", "localhost"])

    def test_other_ca_is_refused_before_anything_is_sent(self):
        other = harness.make_certs(os.path.join(self.secd.dir, "other"))
        r = self.secd.secctl("-a", "AAA", "balance", password="123",
                             ca=os.path.join(other, "ca.pem"))
        self.assertEqual(r.returncode, 3)
        self.assertIn("verif", r.stderr.decode().lower())

    def test_pin_mismatch_is_refused(self):
        r = self.secd.secctl("--pin", "sha256:" + "00" * 32, "ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn("pin", r.stderr.decode())

    def test_matching_pin_is_accepted(self):
        fp = self.secd.secctl("fingerprint", os.path.join(self.secd.certs, "server.pem"))
        self.assertEqual(fp.returncode, 0, fp.stderr)
        pin = fp.stdout.decode().split()[1]
        self.assertTrue(pin.startswith("sha256:"))
        r = self.secd.secctl("--pin", pin, "ping")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "pong\n")

    def test_stalled_handshake_is_closed_at_handshake_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        try:
            s.sendall(b"\x16\x03\x01\x00\xf0\x01")  # a ClientHello that never ends
            start = time.monotonic()
            s.settimeout(10)
            data = s.recv(100)
            elapsed = time.monotonic() - start
            self.assertEqual(data, b"")
            self.assertGreater(elapsed, 0.5)
            self.assertLess(elapsed, 5)
        finally:
            s.close()
        time.sleep(0.2)
        self.assertIn("handshake timeout", self.secd.log())

    def test_malformed_line_gets_bad_request_and_connection_stays(self):
        c = self.secd.connect()
        try:
            c.send_raw(b'{"id":5,"op":\n')
            r = c.recv()
            self.assertEqual(r["ok"], False)
            self.assertEqual(r["error"]["code"], "bad_request")
            c.send_raw(b'{"id":6,"op":"login","account":"AAA","password":"123","amount":1.5}\n')
            r = c.recv()
            self.assertEqual((r["id"], r["error"]["code"]), (6, "bad_request"))
            self.assertEqual(c.call({"id": 7, "op": "ping"}), {"id": 7, "ok": True})
        finally:
            c.close()

    def test_overlong_line_gets_too_large_then_close(self):
        c = self.secd.connect()
        try:
            c.send_raw(b'{"id":1,"op":"ping","pad":"' + b"x" * 70000)
            r = c.recv()
            self.assertEqual(r["error"]["code"], "too_large")
            with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
                c.recv_line()
        finally:
            c.close()

    def test_pipelined_requests_answered_in_order(self):
        c = self.secd.connect()
        try:
            reqs = [{"id": i, "op": "ping"} for i in range(50)]
            reqs.insert(10, {"id": "L", "op": "login", "account": "AAA", "password": "123"})
            reqs.append({"id": "B", "op": "balance"})
            c.send_raw(b"".join(json.dumps(r).encode() + b"\n" for r in reqs))
            ids = [c.recv()["id"] for _ in reqs]
            self.assertEqual(ids, [r["id"] for r in reqs])
        finally:
            c.close()

    def test_ipv6_loopback_is_not_served_unless_listed(self):
        with self.assertRaises(OSError):
            socket.create_connection(("::1", self.secd.port), 2).close()


class ClientCertificates(unittest.TestCase):
    def setUp(self):
        self.secd = harness.Secd(tls_extra="  client_ca: certs/ca.pem\n  client_auth: required\n").start()

    def tearDown(self):
        self.secd.close()

    def test_required_client_certificate(self):
        r = self.secd.secctl("ping")
        self.assertEqual(r.returncode, 3, r.stdout)
        certs = self.secd.certs
        r = self.secd.secctl("--cert", os.path.join(certs, "client.pem"),
                             "--key", os.path.join(certs, "client.key"),
                             "-a", "AAA", "balance", password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")


class KeyTypes(unittest.TestCase):
    def _serve(self, key_type):
        secd = harness.Secd(key_type=key_type).start()
        try:
            r = secd.secctl("-a", "AAA", "balance", password="123")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")
        finally:
            secd.close()

    def test_p256(self):
        self._serve("p256")

    def test_rsa(self):
        self._serve("rsa")


class BothFamilies(unittest.TestCase):
    def test_ipv4_and_ipv6_listeners(self):
        port = harness.free_port()
        secd = harness.Secd(listen=["127.0.0.1:%d" % port, "[::1]:%d" % port])
        secd.port = port
        secd.start()
        try:
            for host in ("127.0.0.1:%d" % port, "[::1]:%d" % port):
                r = subprocess.run([harness.SECCTL, "-s", host, "--ca", secd.ca, "ping"],
                                   capture_output=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            secd.close()


class StartupErrors(unittest.TestCase):
    def test_port_in_use_is_a_clear_error_not_a_crash(self):
        secd = harness.Secd()
        busy = socket.socket()
        busy.bind(("127.0.0.1", secd.port))
        busy.listen(1)
        try:
            r = subprocess.run([harness.SECD, "-c", secd.conf], capture_output=True,
                               timeout=30)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("listen 127.0.0.1:%d: Address already in use" % secd.port,
                          r.stderr.decode())
        finally:
            busy.close()
            secd.close()


class Concurrency(unittest.TestCase):
    N_ACCOUNTS = 20
    N_CLIENTS = 1000

    def test_thousand_concurrent_clients(self):
        accounts = [("U%03d" % i, "pw%d" % i, "%d.%02d" % (i, i), "CNY")
                    for i in range(self.N_ACCOUNTS)]
        secd = harness.Secd(accounts=accounts,
                            limits="limits:\n  max_connections_per_ip: 2000\n"
                            # All from 127.0.0.1: lift the per-address
                            # handshake rate (test_throttle tests it).
                            "  handshake_rate_per_ip: 100000\n"
                            "  handshake_burst_per_ip: 100000\n").start()
        try:
            ctx = secd.ssl_context()

            async def main():
                sem = asyncio.Semaphore(self.N_CLIENTS)

                async def one(i):
                    async with sem:
                        name, pw, bal, _ = accounts[i % self.N_ACCOUNTS]
                        return i, await harness.async_session(secd.port, ctx, name, pw)
                return await asyncio.gather(*(one(i) for i in range(self.N_CLIENTS)))

            results = asyncio.run(main())
            self.assertEqual(len(results), self.N_CLIENTS)
            for i, (login, bal) in results:
                name, _, balance, _ = accounts[i % self.N_ACCOUNTS]
                self.assertEqual(login, {"id": 1, "ok": True, "account": name})
                whole, cents = balance.split(".")
                self.assertEqual(bal["balance"], int(whole) * 100 + int(cents), bal)
                self.assertEqual(bal["account"], name)
        finally:
            secd.close()


class Drain(unittest.TestCase):
    def test_sigterm_answers_every_request_in_flight(self):
        secd = harness.Secd().start()
        try:
            conns = [secd.connect() for _ in range(20)]
            n = 10
            for c in conns:
                # Logins cost a hash each, so these are still queued or at
                # the handler when the signal arrives.
                c.send_raw(b"".join(
                    json.dumps({"id": i, "op": "login", "account": "AAA",
                                "password": "123"}).encode() + b"\n"
                    for i in range(n)) + b'{"id":"last","op":"balance"}\n')
            # One answer proves secd has read the whole batch (it came in
            # one TLS record); the rest are queued or at the handler.
            firsts = [c.recv() for c in conns]
            secd.signal(signal.SIGTERM)
            for c, first in zip(conns, firsts):
                got = [first] + [c.recv() for _ in range(n)]
                self.assertEqual([g["id"] for g in got], list(range(n)) + ["last"])
                self.assertTrue(all(g["ok"] for g in got), got)
                with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
                    c.recv_line()
                c.close()
            self.assertEqual(secd.proc.wait(30), 0)
            self.assertIn("shutting down", secd.log())
        finally:
            secd.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
