"""
The audit log of a real secd: logins (accepted and refused), transfers and
`secd account` changes are chained records; `secd audit verify` accepts
the untouched file and rejects one with a record edited, deleted or
swapped; no password is ever in it.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SECRET = "Pa55-do-not-log"


def verify(path):
    return subprocess.run([harness.SECD, "audit", "verify", path],
                          capture_output=True, timeout=60)


class AuditLog(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.secd = harness.Secd(accounts=(("AAA", SECRET, "100.00", "CNY"),
                                          ("BBB", "456", "1.00", "CNY")),
                                extra="audit:\n  file: audit.log\n").start()
        cls.path = os.path.join(cls.secd.dir, "audit.log")
        s = cls.secd
        c = s.connect()
        c.call({"id": 1, "op": "login", "account": "AAA", "password": "nope"})
        c.call({"id": 2, "op": "login", "account": "AAA", "password": SECRET})
        c.call({"id": "t1", "op": "transfer", "to": "BBB", "amount": 250,
                "idempotency_key": "k1"})
        c.call({"id": "t2", "op": "transfer", "to": "BBB",
                "amount": 99999999, "idempotency_key": "k2"})
        c.close()
        r = subprocess.run([harness.SECD, "account", "deposit", "BBB", "5.00",
                            "--reason", "goodwill", "-c", s.conf],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r
        s.stop()
        with open(cls.path, "rb") as f:
            cls.raw = f.read()
        cls.records = [json.loads(l) for l in cls.raw.splitlines()]

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def find(self, **kv):
        return [r for r in self.records
                if all(r.get(k) == v for k, v in kv.items())]

    def test_untouched_log_verifies(self):
        r = verify(self.path)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn(b"%d records, ok, head %d " % (len(self.records),
                                                     len(self.records)),
                      r.stdout)
        # The head at close is logged, for comparison off the host.
        head = self.records[-1]
        self.assertIn("head seq %d hash %s" % (head["seq"], head["hash"]),
                      self.secd.log())

    def test_logins_transfers_and_admin_changes_are_recorded(self):
        adds = self.find(event="admin", account="AAA", outcome="ok")
        self.assertEqual(len(adds), 1)
        self.assertTrue(adds[0]["peer"].startswith("local:uid="), adds)
        self.assertIn("secd account add", adds[0]["detail"])
        bad = self.find(event="login", request_id="1")
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0]["outcome"], "auth_failed")
        self.assertEqual(bad[0]["account"], "AAA")
        self.assertTrue(bad[0]["peer"].startswith("127.0.0.1:"), bad)
        self.assertIsNone(bad[0]["cert_sha256"])
        good = self.find(event="login", request_id="2", outcome="ok")
        self.assertEqual(len(good), 1)
        t1 = self.find(event="transfer", request_id='"t1"')
        self.assertEqual(len(t1), 1, self.records)
        self.assertEqual((t1[0]["account"], t1[0]["to"], t1[0]["amount"],
                          t1[0]["outcome"]), ("AAA", "BBB", 250, "ok"))
        t2 = self.find(event="transfer", request_id='"t2"')
        self.assertEqual(t2[0]["outcome"], "insufficient_funds")
        dep = self.find(event="admin", account="BBB")
        self.assertTrue(any("deposit" in r["detail"] and "goodwill" in
                            r["detail"] for r in dep), dep)
        # Records are in order, seq by seq.
        self.assertEqual([r["seq"] for r in self.records],
                         list(range(1, len(self.records) + 1)))

    def test_no_password_is_ever_written(self):
        self.assertNotIn(SECRET.encode(), self.raw)
        self.assertNotIn(b"nope", self.raw)
        self.assertNotIn(b"password", self.raw)
        self.assertNotIn(SECRET, self.secd.log())

    def tampered(self, lines, name):
        path = os.path.join(self.secd.dir, name)
        with open(path, "wb") as f:
            f.write(b"".join(l + b"\n" for l in lines))
        r = verify(path)
        self.assertEqual(r.returncode, 1, r)
        return (r.stdout + r.stderr).decode()

    def test_edited_record_is_detected(self):
        lines = self.raw.splitlines()
        i = next(n for n, r in enumerate(self.records)
                 if r.get("request_id") == '"t1"')
        lines[i] = lines[i].replace(b'"amount":250', b'"amount":25')
        out = self.tampered(lines, "edited.log")
        self.assertIn("line %d: hash does not match" % (i + 1), out)

    def test_deleted_record_is_detected(self):
        lines = self.raw.splitlines()
        del lines[2]
        out = self.tampered(lines, "deleted.log")
        self.assertIn("line 3:", out)

    def test_swapped_records_are_detected(self):
        lines = self.raw.splitlines()
        lines[1], lines[2] = lines[2], lines[1]
        out = self.tampered(lines, "swapped.log")
        self.assertIn("line 2:", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
