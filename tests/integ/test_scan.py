"""
sslscan against a running secd: TLS 1.3 only, no weak cipher suite, no weak
key-exchange group.  The verdict comes from sslscan's XML report, never
from its exit status.

sslscan probes TLS 1.3 with a ClientHello whose X25519 key share is random
bytes; wolfSSL 5.5.4 refuses a share with the top bit set ("Bad ECC Peer
Key") where RFC 7748 says to mask that bit, so about half of sslscan's
runs see no TLS 1.3 at all (real clients always send valid keys).  The
share comes from a generator seeded with the time in seconds, so scans in
one second share their fate.  The test therefore scans up to SCANS times,
a second apart, and needs TLS 1.3 in at least one report; every report
must show no other protocol and nothing weak.
"""
import os
import shutil
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SCANS = 8
STRONG_SUITES = {"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
                 "TLS_AES_256_GCM_SHA384"}
ACCEPTABLE_GROUPS = {0x001d, 0x0017}  # x25519, P-256: secd's defaults


@unittest.skipUnless(shutil.which("sslscan"), "sslscan is not installed")
class Scan(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.secd = harness.Secd().start()

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def scan(self, i):
        out = os.path.join(self.secd.dir, "scan%d.xml" % i)
        subprocess.run(["sslscan", "--no-colour", "--show-sigs",
                        "--xml=" + out, "127.0.0.1:%d" % self.secd.port],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=300)
        test = ET.parse(out).getroot().find("ssltest")
        self.assertIsNotNone(test, "sslscan wrote no <ssltest>")
        return test

    def check_report(self, test):
        protocols = {(p.get("type"), p.get("version")): p.get("enabled")
                     for p in test.findall("protocol")}
        # Every protocol sslscan knows was probed; only TLS 1.3 may answer.
        for v in (("ssl", "2"), ("ssl", "3"), ("tls", "1.0"), ("tls", "1.1"),
                  ("tls", "1.2"), ("tls", "1.3")):
            self.assertIn(v, protocols)
        for v, enabled in protocols.items():
            if v != ("tls", "1.3"):
                self.assertEqual(enabled, "0", "%s %s is enabled" % v)
        for c in test.findall("cipher"):
            self.assertEqual(c.get("sslversion"), "TLSv1.3", c.attrib)
            self.assertIn(c.get("cipher"), STRONG_SUITES, c.attrib)
            self.assertGreaterEqual(int(c.get("bits")), 128, c.attrib)
            self.assertNotIn(c.get("strength"),
                             ("weak", "medium", "null", "anonymous"), c.attrib)
        for g in test.findall("group"):
            self.assertIn(int(g.get("id"), 16), ACCEPTABLE_GROUPS, g.attrib)
            self.assertGreaterEqual(int(g.get("bits")), 128, g.attrib)
        for r in test.findall("renegotiation"):
            self.assertEqual(r.get("supported"), "0")
        for h in test.findall("heartbleed"):
            self.assertEqual(h.get("vulnerable"), "0")
        for c in test.findall("compression"):
            self.assertEqual(c.get("supported"), "0")
        return protocols.get(("tls", "1.3")) == "1", test.findall("cipher")

    def test_tls13_only_and_nothing_weak(self):
        seen_13 = False
        for i in range(SCANS):
            tls13, ciphers = self.check_report(self.scan(i))
            if tls13:
                seen_13 = True
                names = {c.get("cipher") for c in ciphers}
                self.assertEqual(names, STRONG_SUITES)
                break
            time.sleep(1.1)
        self.assertTrue(seen_13, "no scan saw TLS 1.3")
        # The refused group probes were answered with an alert, not a
        # HelloRetryRequest for a group the client never offered.
        self.assertIn("no shared key exchange group (client offers",
                      self.secd.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
