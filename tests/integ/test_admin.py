"""
The administration commands on a real ledger: secd account and secd ledger,
their outputs, exit codes and refusals, and that a refused command changes
nothing.
"""
import hashlib
import os
import sqlite3
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class Admin(unittest.TestCase):
    def setUp(self):
        self.secd = harness.Secd(accounts=(("AAA", "123", "100.00", "CNY"),))

    def tearDown(self):
        self.secd.close()

    def run_secd(self, *args, stdin=b""):
        return subprocess.run([harness.SECD] + list(args) + ["-c", self.secd.conf],
                              input=stdin, capture_output=True, timeout=60)

    def account(self, *args, stdin=b""):
        return self.run_secd("account", *args, stdin=stdin)

    def test_add_refuses_bad_input_and_changes_nothing(self):
        cases = [(("add", "AAA"), b"pw\n", "already exists"),
                 (("add", "bad name"), b"pw\n", "ACCOUNT"),
                 (("add", "@deposit"), b"pw\n", "@"),
                 (("add", "CCC", "--balance", "1e3"), b"pw\n", "1e3"),
                 (("add", "CCC", "--balance", "-1"), b"pw\n", "-1"),
                 (("add", "CCC", "--balance", "1.001"), b"pw\n", "1.001"),
                 (("add", "CCC", "--currency", "cny"), b"pw\n", "cny"),
                 (("add", "CCC"), b"", "password")]
        for args, stdin, word in cases:
            r = self.account(*args, stdin=stdin)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn(word.lower(), r.stderr.decode().lower(), (args, r.stderr))
        listing = self.account("list").stdout.decode()
        self.assertIn("AAA", listing)
        self.assertNotIn("CCC", listing)

    def test_deposit_withdraw_show_and_check(self):
        r = self.account("deposit", "AAA", "12.50", "--reason", "refund")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.account("withdraw", "AAA", "200.00", "--reason", "too much")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nothing withdrawn", r.stderr.decode())
        r = self.account("withdraw", "AAA", "2.50", "--reason", "fee")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.account("deposit", "AAA", "1.00")
        self.assertNotEqual(r.returncode, 0)  # --reason is required
        show = self.account("show", "AAA")
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertIn("110.00 CNY", show.stdout.decode())
        r = self.account("show", "NOBODY")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such account", r.stderr.decode().lower())
        check = self.run_secd("ledger", "check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("112.50 deposited - 2.50 withdrawn", check.stdout.decode())

    def test_passwd_changes_the_password(self):
        r = self.account("passwd", "AAA", stdin=b"new-secret\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.secd.start()
        old = self.secd.secctl("-a", "AAA", "balance", password="123")
        new = self.secd.secctl("-a", "AAA", "balance", password="new-secret")
        self.assertEqual(old.returncode, 4)
        self.assertEqual(new.returncode, 0, new.stderr)

    def test_check_finds_a_balance_edited_behind_its_back(self):
        db = sqlite3.connect(os.path.join(self.secd.dir, "ledger.db"))
        db.execute("UPDATE accounts SET balance = balance + 1 WHERE name = 'AAA'")
        db.commit()
        db.close()
        check = self.run_secd("ledger", "check")
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn("AAA", check.stdout.decode() + check.stderr.decode())

    def test_another_applications_database_is_refused_untouched(self):
        other = os.path.join(self.secd.dir, "other.db")
        db = sqlite3.connect(other)
        db.execute("CREATE TABLE t (x)")
        db.commit()
        db.close()
        with open(self.secd.conf) as f:
            conf = f.read().replace("database: ledger.db", "database: other.db")
        with open(self.secd.conf, "w") as f:
            f.write(conf)
        r = self.run_secd("ledger", "check")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a secd ledger", r.stdout.decode() + r.stderr.decode())
        db = sqlite3.connect(other)
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "delete")
        db.close()

    def test_backup_while_serving_and_refuses_to_overwrite(self):
        self.secd.start()
        dest = os.path.join(self.secd.dir, "copy.db")
        r = self.run_secd("ledger", "backup", dest)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("passes ledger check", r.stdout.decode())
        again = self.run_secd("ledger", "backup", dest)
        self.assertNotEqual(again.returncode, 0)
        copy = sqlite3.connect(dest)
        self.assertEqual(copy.execute("SELECT balance FROM accounts WHERE name='AAA'")
                         .fetchone()[0], 10000)
        copy.close()

    def bindings(self):
        db = sqlite3.connect(os.path.join(self.secd.dir, "ledger.db"))
        try:
            return db.execute("SELECT sha256, account, revoked IS NOT NULL "
                              "FROM cert_bindings ORDER BY id").fetchall()
        finally:
            db.close()

    def test_bind_cert_pem_der_and_hex_name_the_same_certificate(self):
        self.secd.add_account("BBB", "456", "0")
        pem = os.path.join(self.secd.certs, "client.pem")
        with open(pem) as f:
            der_bytes = ssl.PEM_cert_to_DER_cert(f.read())
        fp = hashlib.sha256(der_bytes).hexdigest()
        der = os.path.join(self.secd.dir, "client.der")
        with open(der, "wb") as f:
            f.write(der_bytes)

        r = self.account("bind-cert", "AAA", pem)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sha256:%s bound to AAA" % fp, r.stdout.decode())
        # The DER file and the hex (any case, colons) are the same
        # certificate: bound already.
        colons = "sha256:" + ":".join(fp[i:i + 2].upper() for i in range(0, 64, 2))
        for arg in (der, colons):
            r = self.account("bind-cert", "AAA", arg)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("already bound to AAA", r.stderr.decode())
        r = self.account("bind-cert", "BBB", der)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already bound to account AAA", r.stderr.decode())
        self.assertEqual(self.bindings(), [(fp, "AAA", 0)])

        show = self.account("show", "AAA")
        self.assertEqual(show.returncode, 0, show.stderr)
        self.assertRegex(show.stdout.decode(), r"cert +sha256:%s  bound .*, active" % fp)
        self.assertIn("certs     none bound", self.account("show", "BBB").stdout.decode())

        r = self.account("unbind-cert", "AAA", colons)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unbound from AAA", r.stdout.decode())
        r = self.account("unbind-cert", "AAA", "sha256:" + fp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not bound to AAA", r.stderr.decode())
        self.assertRegex(self.account("show", "AAA").stdout.decode(),
                         r"sha256:%s  bound .*, revoked " % fp)
        r = self.account("bind-cert", "BBB", "sha256:" + fp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.bindings(), [(fp, "AAA", 1), (fp, "BBB", 0)])
        check = self.run_secd("ledger", "check")
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("(schema 3)", check.stdout.decode())

    def test_bind_cert_refuses_bad_input_and_changes_nothing(self):
        certs = self.secd.certs
        garbage = os.path.join(self.secd.dir, "garbage.der")
        with open(garbage, "wb") as f:
            f.write(b"\x30\x82\x01\x00not a certificate")
        empty = os.path.join(self.secd.dir, "empty.pem")
        open(empty, "w").close()
        good = os.path.join(certs, "client.pem")
        cases = [(("bind-cert", "AAA", os.path.join(certs, "client.key")), "not a CERTIFICATE"),
                 (("bind-cert", "AAA", os.path.join(certs, "nothing.pem")), "cannot read"),
                 (("bind-cert", "AAA", garbage), "truncated"),
                 (("bind-cert", "AAA", self.secd.conf), "neither a PEM nor a DER"),
                 (("bind-cert", "AAA", empty), "empty"),
                 (("bind-cert", "AAA", "sha256:abc"), "64 hex digits"),
                 (("bind-cert", "AAA", "sha256:" + "g" * 64), "64 hex digits"),
                 (("bind-cert", "AAA", "sha256:" + "a" * 66), "64 hex digits"),
                 (("bind-cert", "NOBODY", good), "no such account NOBODY"),
                 (("bind-cert", "bad name", good), "bad account name"),
                 (("bind-cert", "AAA"), "needs an ACCOUNT and a certificate"),
                 (("unbind-cert", "AAA", "sha256:" + "a" * 64), "not bound to AAA"),
                 (("unbind-cert", "NOBODY", "sha256:" + "a" * 64), "no such account")]
        for args, words in cases:
            r = self.account(*args)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertIn(words, r.stderr.decode(), args)
        self.assertEqual(self.bindings(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
