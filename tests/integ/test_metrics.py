"""
Metrics: a real secd with metrics.listen set, known traffic, and a strict
reading of the Prometheus text it serves; `secctl stats` over the same
endpoint; and an endpoint that shrugs off bad HTTP.
"""
import json
import math
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels in %r" % line
        assert m.group(1) not in labels, "label repeated in %r" % line
        labels[m.group(1)] = m.group(2)
        pos = m.end()
        assert m.group(3) == "," or pos == len(text), line
    return labels


def parse_prometheus(text):
    """
    Parse the text format 0.0.4 strictly: every line is a HELP, a TYPE or
    a sample; a family's HELP and TYPE come once, before its samples,
    which are contiguous; no sample repeats; histograms are cumulative and
    end in +Inf == _count.  Returns {(name, frozenset(labels)): value}.
    """
    assert text.endswith("\n"), "no final line end"
    types, helps, samples, done, sampled = {}, set(), {}, set(), set()
    current = None
    for line in text.split("\n")[:-1]:
        assert line, "empty line"
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.+)$" % NAME, line)
            assert m, "bad comment %r" % line
            kind, fam, rest = m.groups()
            assert fam not in sampled, "%r after its samples" % line
            if kind == "HELP":
                assert fam not in helps, "second HELP for " + fam
                helps.add(fam)
            else:
                assert fam not in types and rest in TYPES, line
                types[fam] = rest
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), parse_labels(m.group(2) or "", line), m.group(3)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                fam = name[:-len(suffix)]
        assert fam in types, "sample before its TYPE: %r" % line
        assert fam in helps, "sample without HELP: %r" % line
        sampled.add(fam)
        if current != fam:
            assert fam not in done, "family %s is not contiguous" % fam
            if current is not None:
                done.add(current)
            current = fam
        if types[fam] == "counter":
            assert name.endswith("_total"), "counter %s lacks _total" % name
        v = float(value)
        assert not math.isnan(v), line
        key = (name, frozenset(labels.items()))
        assert key not in samples, "repeated sample %r" % line
        samples[key] = v
    # Histograms: per label set (without le), cumulative, +Inf == _count.
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                d = dict(labels)
                le = d.pop("le")
                series.setdefault(frozenset(d.items()), []).append(
                    (float(le), v, le))
        assert series, "histogram %s has no buckets" % fam
        for rest, buckets in series.items():
            # The order in the text must already be ascending.
            order = [b[0] for b in buckets]
            assert order == sorted(order), fam
            assert buckets[-1][2] == "+Inf", fam
            counts = [b[1] for b in buckets]
            assert counts == sorted(counts), "%s not cumulative" % fam
            assert samples[(fam + "_count", rest)] == counts[-1], fam
            assert (fam + "_sum", rest) in samples, fam
    return samples


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), \
            r.headers["Content-Type"]
        return parse_prometheus(r.read().decode("utf-8"))


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **match):
    return sum(v for (n, l), v in samples.items()
               if n == name and all(dict(l).get(k) == x for k, x in match.items()))


def raw_http(port, data, timeout=10):
    """Send data, read the answer until secd closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mport = harness.free_port()
        cls.secd = harness.Secd(
            accounts=(("AAA", "123", "100.00", "CNY"), ("BBB", "456", "0.00", "CNY")),
            extra="metrics:\n  listen: 127.0.0.1:%d\n" % cls.mport).start()
        # The harness's readiness probe is one TCP connection that may
        # still sit in the listen backlog; let secd accept and close it
        # so that no test sees it land between two scrapes.
        deadline = time.monotonic() + 10
        while True:
            s = scrape(cls.mport)
            if (val(s, "secd_connections_accepted_total") >= 1
                    and val(s, "secd_connections_open") == 0):
                break
            if time.monotonic() > deadline:
                raise AssertionError("the readiness probe was never accepted")
            time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def stats(self, *args):
        return subprocess.run([harness.SECCTL] + list(args) +
                              ["stats", "--metrics", "127.0.0.1:%d" % self.mport],
                              capture_output=True, timeout=60)

    def wait_closed(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s = scrape(self.mport)
            if val(s, "secd_connections_open") == 0:
                return s
            time.sleep(0.05)
        self.fail("connections stay open")

    def test_counters_match_the_traffic_sent(self):
        b = self.wait_closed()
        ctx = self.secd.ssl_context()

        # One session: 2 wrong passwords, 3 logins, 5 balances, a
        # malformed line, a transfer and a ping.
        raw = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        c = harness.LineConn(ctx.wrap_socket(raw, server_hostname="localhost"))
        self.assertEqual(c.recv()["type"], "hello")
        cipher = c.sock.cipher()
        for i in range(2):
            r = c.call({"id": i, "op": "login", "account": "AAA", "password": "nope"})
            self.assertEqual(r["error"]["code"], "auth_failed")
        for i in range(3):
            self.assertTrue(c.call({"id": 10 + i, "op": "login", "account": "AAA",
                                    "password": "123"})["ok"])
        for i in range(5):
            self.assertEqual(c.call({"id": 20 + i, "op": "balance"})["balance"], 10000)
        c.send_raw(b'{"id":30,"op":\n')
        self.assertEqual(c.recv()["error"]["code"], "bad_request")
        r = c.call({"id": 31, "op": "transfer", "to": "BBB", "amount": 100,
                    "idempotency_key": "metrics-1"})
        self.assertTrue(r["ok"], r)
        self.assertTrue(c.call({"id": 32, "op": "ping"})["ok"])

        # A session with a ticket, then one that resumes it.
        raw = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        c2 = harness.LineConn(ctx.wrap_socket(raw, server_hostname="localhost"))
        self.assertEqual(c2.recv()["type"], "hello")
        session = c2.sock.session
        self.assertIsNotNone(session)
        raw = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        c3 = harness.LineConn(ctx.wrap_socket(raw, server_hostname="localhost",
                                               session=session))
        self.assertEqual(c3.recv()["type"], "hello")
        self.assertTrue(c3.sock.session_reused)
        for conn in (c, c2, c3):
            conn.close()

        # Plain text where a ClientHello belongs.
        g = socket.create_connection(("127.0.0.1", self.secd.port), 10)
        g.sendall(b"GET / HTTP/1.0\r\n\r\nhello there, this is not TLS\r\n")
        try:
            while g.recv(4096):
                pass
        except OSError:
            pass
        g.close()

        a = self.wait_closed()

        def d(name, **labels):
            return val(a, name, **labels) - val(b, name, **labels)

        def dt(name, **match):
            return total(a, name, **match) - total(b, name, **match)

        self.assertEqual(d("secd_connections_accepted_total"), 4)
        self.assertEqual(dt("secd_connections_refused_total"), 0)
        self.assertEqual(d("secd_handshakes_total", result="completed"), 3)
        self.assertEqual(d("secd_handshakes_total", result="failed"), 1)
        self.assertEqual(d("secd_handshake_failures_total", reason="malformed"), 1)
        self.assertEqual(dt("secd_handshake_failures_total"), 1)
        self.assertEqual(d("secd_handshakes_resumed_total"), 1)
        self.assertEqual(d("secd_tls_sessions_total", version="TLSv1.3",
                           suite=cipher[0], group="x25519"), 3)
        self.assertEqual(dt("secd_tls_sessions_total"), 3)

        want = {("login", "ok"): 3, ("login", "auth_failed"): 2,
                ("balance", "ok"): 5, ("other", "bad_request"): 1,
                ("transfer", "ok"): 1, ("ping", "ok"): 1}
        for (name, labels), v in a.items():
            if name == "secd_requests_total":
                l = dict(labels)
                self.assertEqual(v - val(b, name, **l),
                                 want.get((l["op"], l["code"]), 0), l)
        self.assertEqual(d("secd_request_duration_seconds_count"), 13)
        self.assertEqual(d("secd_request_duration_seconds_bucket", le="+Inf"), 13)
        self.assertGreater(d("secd_request_duration_seconds_sum"), 0)

        self.assertEqual(d("secd_ledger_batches_total", result="committed"), 1)
        self.assertEqual(d("secd_ledger_batches_total", result="failed"), 0)
        self.assertEqual(d("secd_ledger_transfers_total", result="applied"), 1)
        self.assertEqual(d("secd_ledger_commit_batch_size_count"), 1)
        self.assertEqual(d("secd_ledger_commit_batch_size_sum"), 1)
        self.assertEqual(d("secd_ledger_commit_batch_size_bucket", le="1"), 1)
        self.assertEqual(d("secd_ledger_commit_duration_seconds_count"), 1)
        self.assertEqual(val(a, "secd_reloads_total", result="ok"), 0)
        self.assertEqual(val(a, "secd_build_info", version=
                             [dict(l)["version"] for n, l in a if n == "secd_build_info"][0]), 1)
        self.assertLessEqual(abs(val(a, "secd_start_time_seconds") - time.time()), 3600)

        # secctl stats says the same, for a person and as JSON (the other
        # tests' traffic is in these totals too: compare with the scrape).
        r = self.stats()
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.decode()
        self.assertIn("connections: 0 open, %d accepted, 0 refused\n"
                      % val(a, "secd_connections_accepted_total"), out)
        self.assertIn("handshakes: %d completed (%d resumed), %d failed\n" % (
            val(a, "secd_handshakes_total", result="completed"),
            val(a, "secd_handshakes_resumed_total"),
            val(a, "secd_handshakes_total", result="failed")), out)
        self.assertIn("  failed: " + ", ".join(
            "%s %d" % (dict(l)["reason"], v) for (n, l), v in a.items()
            if n == "secd_handshake_failures_total" and v > 0) + "\n", out)
        for (n, l), v in a.items():
            if n == "secd_tls_sessions_total":
                l = dict(l)
                self.assertIn("tls: %s %s %s: %d\n" % (l["version"], l["suite"],
                                                       l["group"], v), out)
        self.assertIn("requests: %d answered\n" % total(a, "secd_requests_total"), out)
        for op in ("ping", "login", "logout", "balance", "transfer", "history", "other"):
            codes = ["%s %d" % (dict(l)["code"], v) for (n, l), v in a.items()
                     if n == "secd_requests_total" and dict(l)["op"] == op and v > 0]
            if codes:
                self.assertIn("  %s: %s\n" % (op, ", ".join(codes)), out)
        self.assertIn("  balance: ok 5\n", out)
        self.assertIn("  transfer: ok 1\n", out)
        self.assertRegex(out, r"request latency: p50 [\d.]+m?s, p90 [\d.]+m?s, "
                              r"p99 [\d.]+m?s \(mean [\d.]+m?s\)\n")
        self.assertIn("ledger: 1 batches committed, 0 failed; batch size mean 1.0; "
                      "commit p50 ", out)
        self.assertIn("ledger transfers: 1 applied, 0 replayed, 0 refused, "
                      "0 unavailable\n", out)
        self.assertIn("reloads: 0 ok, 0 failed\n", out)

        r = self.stats("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        got = {}
        for smp in doc["samples"]:
            got[(smp["name"], frozenset(smp["labels"].items()))] = smp["value"]
        self.assertEqual(got, a)

    def test_bad_http_gets_an_error_and_secd_carries_on(self):
        before = scrape(self.mport)
        cases = [
            (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b" 405 "),
            (b"GET /admin HTTP/1.1\r\n\r\n", b" 404 "),
            (b"GET /metrics HTTP/2.0\r\n\r\n", b" 400 "),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b" 400 "),
            (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", b" 400 "),
            (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", b" 431 "),
            (b"A" * 9000, b" 431 "),
        ]
        for req, status in cases:
            out = raw_http(self.mport, req)
            self.assertTrue(out.startswith(b"HTTP/1.1" + status), (req[:40], out[:80]))
            self.assertIn(b"\r\nConnection: close\r\n", out)
        # HEAD: the headers alone.
        out = raw_http(self.mport, b"HEAD /metrics HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:80])
        self.assertTrue(out.endswith(b"\r\n\r\n"), out[-80:])
        # A client that stops half-way is dropped, not waited for forever;
        # meanwhile the endpoint serves others.
        slow = socket.create_connection(("127.0.0.1", self.mport), 10)
        slow.sendall(b"GET /metr")
        # More than METRICS_MAX_CLIENTS at once: the excess is closed.
        idle = [socket.create_connection(("127.0.0.1", self.mport), 10)
                for _ in range(15)]
        extra = socket.create_connection(("127.0.0.1", self.mport), 10)
        extra.settimeout(10)
        try:
            self.assertEqual(extra.recv(100), b"")
        except ConnectionResetError:
            pass
        extra.close()
        for s in idle:
            s.close()
        # The endpoint learns of those closes in its own loop turn: until
        # then a new client may still be one too many and be closed.
        deadline = time.monotonic() + 10
        while True:
            try:
                after = scrape(self.mport)
                break
            except OSError:     # a reset, or urllib's URLError around it
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        slow.close()
        # None of it touched secd's own counters, and secd still answers.
        for name in ("secd_connections_accepted_total",):
            self.assertEqual(val(before, name), val(after, name))
        r = self.secd.secctl("ping")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"pong\n")

    def test_closed_port_fails_cleanly(self):
        port = harness.free_port()
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5)
        r = subprocess.run([harness.SECCTL, "stats", "--metrics", "127.0.0.1:%d" % port],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stdout, b"")
        self.assertIn(b"secctl: stats: 127.0.0.1:%d: connect: Connection refused" % port,
                      r.stderr)
        # Something that is not the metrics endpoint: a clear error too.
        r = subprocess.run([harness.SECCTL, "stats", "--metrics",
                            "127.0.0.1:%d" % self.secd.port],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"secctl: stats: ", r.stderr)
        r = subprocess.run([harness.SECCTL, "stats", "--metrics", "nonsense"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertIn(b"is not HOST:PORT", r.stderr)


class MetricsStartup(unittest.TestCase):
    def test_metrics_port_in_use_is_a_clear_startup_error(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        secd = harness.Secd(extra="metrics:\n  listen: 127.0.0.1:%d\n" % port)
        try:
            with self.assertRaises(RuntimeError) as cm:
                secd.start()
            self.assertIn("metrics.listen 127.0.0.1:%d: Address already in use" % port,
                          str(cm.exception))
            self.assertEqual(secd.proc.wait(10), 1)
        finally:
            blocker.close()
            secd.close(expect_clean_exit=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
