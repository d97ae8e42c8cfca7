"""
secctl bench against a real secd: every mode for about a second with a few
connections, --count, refused logins counted by code, connections spread
over several 127.0.0.x source addresses, a hold of 200 logged-in sessions,
and the file-descriptor check.

Runs are kept short and small: the point is that the load generator counts
and reports correctly, not how fast anything is.
"""
import json
import subprocess
import os
import re
import resource
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

# secd limits new connections per source address; bench makes many.
LIMITS = ("limits:\n"
          "  max_connections: 10000\n"
          "  max_connections_per_ip: 10000\n"
          "  handshake_rate_per_ip: 100000\n"
          "  handshake_burst_per_ip: 100000\n")

ACCOUNTS = tuple(("B%03d" % i, "pw", "100000.00", "CNY") for i in range(4)) + \
    tuple(("W%03d" % i, "right", "1.00", "CNY") for i in range(3))


class Bench(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.secd = harness.Secd(accounts=ACCOUNTS, limits=LIMITS).start()

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def bench(self, *args, password="pw", expect=0, timeout=60):
        r = self.secd.secctl("--json", "bench", *args, password=password,
                             timeout=timeout)
        self.assertEqual(r.returncode, expect,
                         "exit %d\nstdout: %s\nstderr: %s"
                         % (r.returncode, r.stdout.decode(), r.stderr.decode()))
        out = r.stdout.decode().strip().splitlines()
        self.assertEqual(len(out), 1, "one JSON object: %r" % out)
        return json.loads(out[0])

    def check_clean(self, j, mode):
        self.assertEqual(j["mode"], mode)
        self.assertEqual(j["errors"], {}, j)
        self.assertEqual(j["transport_errors"], {}, j)
        self.assertGreater(j["ok"], 0, j)
        self.assertGreater(j["per_second"], 0, j)
        self.assertGreater(j["seconds"], 0, j)
        lat = j["latency_ms"]
        self.assertGreater(lat["max"], 0, j)
        self.assertLessEqual(lat["p50"], lat["p90"], j)
        self.assertLessEqual(lat["p90"], lat["p99"], j)
        self.assertLessEqual(lat["p99"], lat["p99.9"], j)
        self.assertLessEqual(lat["p99.9"], lat["max"], j)
        self.assertEqual(j["ok"], j["received"], j)
        if mode not in ("handshake", "hold"):
            # Every request sent was answered, and only those.
            self.assertEqual(j["sent"], j["received"], j)

    def test_bench_handshake_mode_counts_full_handshakes(self):
        j = self.bench("--mode", "handshake", "--connections", "3",
                       "--duration", "1")
        self.check_clean(j, "handshake")
        self.assertEqual(j["resumed"], 0)
        # A handshake cut short by the end of the run has no greeting.
        self.assertGreaterEqual(j["connected"], j["ok"])
        self.assertLessEqual(j["connected"], j["ok"] + 3)

    def test_bench_handshake_resume_uses_tickets(self):
        j = self.bench("--mode", "handshake", "--connections", "3",
                       "--duration", "1", "--resume")
        self.check_clean(j, "handshake")
        # Only each slot's first handshake is full.
        self.assertGreaterEqual(j["resumed"], j["ok"] - 3, j)

    def test_bench_ping_mode_needs_no_login(self):
        j = self.bench("--mode", "ping", "--connections", "3", "--inflight",
                       "4", "--duration", "1")
        self.check_clean(j, "ping")
        self.assertEqual(j["connected"], 3)
        self.assertEqual(j["logged_in"], 0)

    def test_bench_balance_mode_one_and_several_in_flight(self):
        for inflight in ("1", "8"):
            j = self.bench("--mode", "balance", "--connections", "4",
                           "--inflight", inflight, "--duration", "1",
                           "--accounts", "B:4")
            self.check_clean(j, "balance")
            self.assertEqual(j["inflight"], int(inflight))
            self.assertEqual(j["logged_in"], 4)
            self.assertEqual(j["failed"], 0)

    def test_bench_balance_over_two_threads(self):
        j = self.bench("--mode", "balance", "--connections", "4",
                       "--threads", "2", "--inflight", "2", "--duration", "1",
                       "--accounts", "B:4")
        self.check_clean(j, "balance")
        self.assertEqual(j["threads"], 2)

    def test_bench_transfer_mode_pays_around_the_ring(self):
        j = self.bench("--mode", "transfer", "--connections", "4",
                       "--duration", "1", "--accounts", "B:4")
        self.check_clean(j, "transfer")

    def test_bench_count_stops_at_exactly_that_many(self):
        j = self.bench("--mode", "balance", "--connections", "3",
                       "--inflight", "7", "--count", "500",
                       "--accounts", "B:4")
        self.check_clean(j, "balance")
        self.assertEqual(j["sent"], 500)
        self.assertEqual(j["ok"], 500)
        j = self.bench("--mode", "handshake", "--connections", "3",
                       "--count", "20")
        self.check_clean(j, "handshake")
        self.assertEqual(j["sent"], 20)
        self.assertEqual(j["ok"], 20)

    def test_bench_wrong_password_counts_auth_failed(self):
        j = self.bench("--mode", "balance", "--connections", "3",
                       "--duration", "1", "--accounts", "W:3",
                       password="wrong", expect=1)
        self.assertEqual(j["errors"], {"auth_failed": 3}, j)
        self.assertEqual(j["transport_errors"], {}, j)
        self.assertEqual(j["connected"], 3)
        self.assertEqual(j["logged_in"], 0)
        self.assertEqual(j["ok"], 0)
        self.assertIn("auth_failed", j["first_error"])

    def test_bench_spreads_over_source_addresses(self):
        j = self.bench("--mode", "balance", "--connections", "6",
                       "--sources", "3", "--duration", "1",
                       "--accounts", "B:4")
        self.check_clean(j, "balance")
        self.assertEqual(j["sources"], 3)
        j = self.bench("--mode", "ping", "--connections", "4",
                       "--source-range", "127.0.0.4-127.0.0.5",
                       "--duration", "1")
        self.check_clean(j, "ping")
        self.assertEqual(j["sources"], 2)
        peers = set(re.findall(r" (127\.0\.0\.\d+):\d+ handshake done",
                               self.secd.log()))
        for a in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4",
                  "127.0.0.5"):
            self.assertIn(a, peers)

    def test_bench_hold_keeps_sessions_that_answer(self):
        j = self.bench("--hold", "200", "--duration", "2",
                       "--ping-interval", "1", "--accounts", "B:4")
        self.check_clean(j, "hold")
        self.assertEqual(j["connections"], 200)
        self.assertEqual(j["logged_in"], 200)
        self.assertEqual(j["held"], 200)
        self.assertEqual(j["answering"], 200)
        # Each answered at least its final ping.
        self.assertGreaterEqual(j["ok"], 200)

    def test_bench_text_report(self):
        r = self.secd.secctl("bench", "--mode", "balance", "--connections",
                             "2", "--count", "50", "--accounts", "B:4",
                             password="pw")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout.decode()
        self.assertIn("ok          50 (", text)
        self.assertIn("latency ms  p50", text)
        self.assertIn("errors      none", text)
        self.assertIn("requests    50 sent, 50 answered", text)

    def test_bench_says_when_file_limit_is_too_low(self):
        def lower():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        env = dict(os.environ, SECCTL_PASSWORD="pw")
        import subprocess
        r = subprocess.run([harness.SECCTL, "-s", "127.0.0.1:%d" % self.secd.port,
                            "--ca", self.secd.ca, "bench", "--hold", "5000",
                            "--accounts", "B:4"], preexec_fn=lower, env=env,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 5, r)
        self.assertIn("RLIMIT_NOFILE", r.stderr.decode())
        self.assertEqual(r.stdout, b"")

    def test_bench_rejects_bad_options(self):
        for args in (["--mode", "nope"], ["--inflight", "0"],
                     ["--mode", "transfer", "--accounts", "B:1"],
                     ["--mode", "hold"], ["--source-range", "127.0.0.9-127.0.0.2"],
                     ["--mode", "balance", "--resume", "--accounts", "B:4"]):
            r = self.secd.secctl("bench", *args, password="pw")
            self.assertEqual(r.returncode, 2, (args, r))



class TlsMemory(unittest.TestCase):
    """secctl tls-memory: wolfSSL's own memory per idle server session."""

    def test_floor_is_measured(self):
        r = subprocess.run([harness.SECCTL, "--json", "tls-memory", "300"],
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["sessions"], 300)
        # Tens of KiB per session (DESIGN section 7 says about 54).  Under
        # AddressSanitizer the heap is unknown (not glibc's malloc) and
        # the resident set, inflated by its redzones, is what there is.
        per = d["heap_bytes_per_session"]
        if per is None:
            per = d["rss_kib_per_session"] * 1024
        self.assertGreater(per, 10 * 1024)
        self.assertLess(per, 1024 * 1024)
        r = subprocess.run([harness.SECCTL, "tls-memory", "5"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 2)

if __name__ == "__main__":
    unittest.main(verbosity=2)
