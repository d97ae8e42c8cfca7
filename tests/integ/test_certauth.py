"""
Client certificates as identity, end to end: auth.methods certificate and
both, certificates bound with `secd account bind-cert` and revoked with
`secd account unbind-cert`, secctl logging in with --cert/--key and no
password, and a resumed TLS session (which carries no verified
certificate) refused.

Two development PKIs: the instance's own (certs/: its CA signed the server
and the client certificate CN=AAA that gets bound) and a second one
(other/), whose CA secd also trusts for clients, so that other/client.pem
passes the TLS handshake but is bound to nobody.
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

TLS = "  client_ca: certs/ca.pem\n  client_auth: %s\n"


class CertServer:
    """A Secd whose clients may present certificates of either PKI."""

    def __init__(self, methods, client_auth="optional"):
        self.secd = harness.Secd(
            accounts=(("AAA", "123", "100.00", "CNY"), ("BBB", "456", "5.00", "CNY")),
            tls_extra=TLS % client_auth,
            auth_extra="  methods: %s\n" % methods)
        self.other = harness.make_certs(os.path.join(self.secd.dir, "other"))
        bundle = os.path.join(self.secd.dir, "clients-ca.pem")
        with open(bundle, "w") as out:
            for d in (self.secd.certs, self.other):
                with open(os.path.join(d, "ca.pem")) as f:
                    out.write(f.read())
        with open(self.secd.conf) as f:
            conf = f.read().replace("client_ca: certs/ca.pem",
                                    "client_ca: clients-ca.pem")
        with open(self.secd.conf, "w") as f:
            f.write(conf)

    def cert(self, which="mine"):
        d = self.secd.certs if which == "mine" else self.other
        return os.path.join(d, "client.pem"), os.path.join(d, "client.key")

    def account(self, *args):
        return subprocess.run([harness.SECD, "account"] + list(args) +
                              ["-c", self.secd.conf], capture_output=True,
                              timeout=60)

    def secctl(self, *args, cert=None, password=None):
        """secctl in a session of its own: no terminal to prompt on."""
        env = dict(os.environ)
        env.pop("SECCTL_PASSWORD", None)
        if password is not None:
            env["SECCTL_PASSWORD"] = password
        cmd = [harness.SECCTL, "-s", "127.0.0.1:%d" % self.secd.port,
               "--ca", self.secd.ca]
        if cert is not None:
            cmd += ["--cert", cert[0], "--key", cert[1]]
        return subprocess.run(cmd + list(args), capture_output=True, env=env,
                              stdin=subprocess.DEVNULL, start_new_session=True,
                              timeout=60)

    def context(self, which=None):
        ctx = self.secd.ssl_context()
        if which is not None:
            ctx.load_cert_chain(*self.cert(which))
        return ctx

    def connect(self, ctx, session=None):
        raw = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        conn = harness.LineConn(s)
        hello = conn.recv()
        assert hello["type"] == "hello", hello
        return conn


class CertificateOnly(unittest.TestCase):
    def setUp(self):
        self.s = CertServer("certificate")
        r = self.s.account("bind-cert", "AAA", self.s.cert()[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.s.secd.start()

    def tearDown(self):
        self.s.secd.close()

    def test_bound_certificate_logs_in_without_a_password(self):
        r = self.s.secctl("-a", "AAA", "--trace", "balance", cert=self.s.cert())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")
        self.assertNotIn("password for", r.stderr.decode())
        # On the wire: a login without a password field works, one with
        # a password is refused by this server.
        c = self.s.connect(self.s.context("mine"))
        try:
            self.assertEqual(c.call({"id": 1, "op": "login", "account": "AAA"}),
                             {"id": 1, "ok": True, "account": "AAA"})
            self.assertEqual(c.call({"id": 2, "op": "balance"})["balance"], 10000)
            r = c.call({"id": 3, "op": "login", "account": "AAA", "password": "123"})
            self.assertEqual(r["error"]["code"], "bad_request", r)
        finally:
            c.close()

    def test_unbound_certificate_and_other_accounts_fail_alike(self):
        failures = [
            self.s.secctl("-a", "AAA", "balance", cert=self.s.cert("other")),
            self.s.secctl("-a", "BBB", "balance", cert=self.s.cert()),
            self.s.secctl("-a", "NOBODY", "balance", cert=self.s.cert()),
        ]
        for r in failures:
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("auth_failed: wrong account or certificate", r.stderr.decode())
        # No certificate at all: refused by the gate, never prompts.
        r = self.s.secctl("-a", "AAA", "balance")
        self.assertNotEqual(r.returncode, 0)
        c = self.s.connect(self.s.context())
        try:
            r = c.call({"id": 1, "op": "login", "account": "AAA"})
            self.assertEqual(r["error"]["code"], "auth_failed", r)
        finally:
            c.close()

    def test_unbind_cert_revokes_the_certificate(self):
        ok = self.s.secctl("-a", "AAA", "login", cert=self.s.cert())
        self.assertEqual(ok.returncode, 0, ok.stderr)
        show = self.s.account("show", "AAA").stdout.decode()
        fp = [l.split()[1] for l in show.splitlines() if l.startswith("cert ")]
        self.assertEqual(len(fp), 1, show)
        r = self.s.account("unbind-cert", "AAA", fp[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.s.secctl("-a", "AAA", "login", cert=self.s.cert())
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("auth_failed", r.stderr.decode())
        show = self.s.account("show", "AAA").stdout.decode()
        self.assertIn(fp[0] + "  bound ", show)
        self.assertIn(", revoked ", show)
        # Bound again (to another account now), it logs in as that one.
        r = self.s.account("bind-cert", "BBB", self.s.cert()[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.s.secctl("-a", "BBB", "balance", cert=self.s.cert())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "balance: 5.00 CNY\n")
        r = self.s.secctl("-a", "AAA", "balance", cert=self.s.cert())
        self.assertEqual(r.returncode, 4, r.stderr)

    def test_resumed_session_is_not_certificate_authenticated(self):
        ctx = self.s.context("mine")
        first = self.s.connect(ctx)
        try:
            self.assertFalse(first.sock.session_reused)
            # The full handshake had the bound certificate: it works.
            self.assertTrue(first.call({"id": 1, "op": "login", "account": "AAA"})["ok"])
            session = first.sock.session
        finally:
            first.close()
        self.assertIsNotNone(session)
        self.assertTrue(session.has_ticket)
        again = self.s.connect(ctx, session=session)
        try:
            self.assertTrue(again.sock.session_reused)
            r = again.call({"id": 1, "op": "login", "account": "AAA"})
            self.assertEqual(r["ok"], False, r)
            self.assertEqual(r["error"]["code"], "auth_failed", r)
            r = again.call({"id": 2, "op": "balance"})
            self.assertEqual(r["error"]["code"], "auth_required", r)
        finally:
            again.close()


class CertificateRequired(unittest.TestCase):
    def test_required_client_auth_with_certificate_logins(self):
        s = CertServer("certificate", client_auth="required")
        try:
            r = s.account("bind-cert", "AAA", s.cert()[0])
            self.assertEqual(r.returncode, 0, r.stderr)
            s.secd.start()
            r = s.secctl("-a", "AAA", "balance", cert=s.cert())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")
            r = s.secctl("-a", "AAA", "balance", cert=s.cert("other"))
            self.assertEqual(r.returncode, 4, r.stderr)
            r = s.secctl("-a", "AAA", "balance")
            self.assertEqual(r.returncode, 3, r.stderr)   # no TLS without one
        finally:
            s.secd.close()


class Both(unittest.TestCase):
    def setUp(self):
        self.s = CertServer("both")
        r = self.s.account("bind-cert", "AAA", self.s.cert()[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.s.secd.start()

    def tearDown(self):
        self.s.secd.close()

    def test_certificate_and_password_together(self):
        r = self.s.secctl("-a", "AAA", "balance", cert=self.s.cert(), password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), "balance: 100.00 CNY\n")

    def test_certificate_alone_fails(self):
        r = self.s.secctl("-a", "AAA", "balance", cert=self.s.cert())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("password: required by this server", r.stderr.decode())
        self.assertEqual(r.stdout, b"")

    def test_password_alone_fails(self):
        r = self.s.secctl("-a", "AAA", "balance", password="123")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("auth_failed", r.stderr.decode())

    def test_wrong_password_or_unbound_certificate_fail_alike(self):
        wrong = self.s.secctl("-a", "AAA", "balance", cert=self.s.cert(), password="124")
        unbound = self.s.secctl("-a", "AAA", "balance", cert=self.s.cert("other"),
                                password="123")
        for r in (wrong, unbound):
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("auth_failed: wrong account or password", r.stderr.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
