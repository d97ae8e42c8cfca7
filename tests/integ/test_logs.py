"""
Logs: what secd writes to stderr in each of its forms (plain text, the
journal's priority prefixes, JSON lines), that log.level filters, that the
close of every connection says why, and that no password ever appears.
"""
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PASSWORD = "Corr3ct-H0rse-Battery-7"
WRONG = "Wr0ng-Guess-Staple-9"
LEVELS = ("error", "warning", "notice", "info", "debug")
# Short timeouts so that the timeout closes come within the test.
LIMITS = ("limits:\n  handshake_timeout: 500ms\n  login_timeout: 1s\n"
          "  max_message_bytes: 8KiB\n")
CLOSED = re.compile(r"conn (\d+\.\d+) (\S+) closed: (.*)$")
FAILED = "handshake failed: "


def traffic(secd):
    """
    Open six kinds of connection, each ending its own way; return the
    close reasons secd must log for them, with the harness's own readiness
    probe (a TCP connect and close) first.
    """
    reasons = ["handshake failed"]
    r = secd.secctl("-a", "AAA", "balance", password=PASSWORD)
    assert r.returncode == 0, r.stderr
    reasons.append("peer closed")
    r = secd.secctl("-a", "AAA", "balance", password=WRONG)
    assert r.returncode != 0 and b"auth_failed" in r.stderr, r.stderr
    reasons.append("peer closed")
    with socket.create_connection(("127.0.0.1", secd.port), 10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.settimeout(10)
        while s.recv(4096):
            pass
    reasons.append("handshake failed")
    with socket.create_connection(("127.0.0.1", secd.port), 10) as s:
        s.settimeout(10)
        while s.recv(4096):     # secd closes it at handshake_timeout
            pass
    reasons.append("handshake timeout")
    conn = secd.connect()
    conn.send_raw(b'{"id":1,"op":"ping","pad":"' + b"x" * 9000 + b'"}\n')
    assert conn.recv()["error"]["code"] == "too_large"
    conn.close()
    reasons.append("line too large")
    conn = secd.connect()
    try:
        while True:             # nothing sent: closed at login_timeout
            conn.recv_line()
    except (EOFError, OSError):
        pass
    conn.close()
    reasons.append("login timeout")
    return reasons


def closes(lines, msg_of):
    """The (connection, peer, reason) of every close line."""
    out = []
    for line in lines:
        m = CLOSED.search(msg_of(line))
        if m:
            out.append(m.groups())
    return out


def wait_for_closes(secd, n, msg_of, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = secd.log().splitlines()
        if len(closes(lines, msg_of)) >= n:
            return
        time.sleep(0.05)


class LogCase(unittest.TestCase):
    log_yaml = None
    environ = {}
    logs_notices = True
    auth_extra = ""

    def setUp(self):
        saved = {k: os.environ.get(k) for k in self.environ}
        os.environ.update(self.environ)
        try:
            self.secd = harness.Secd(accounts=(("AAA", PASSWORD, "100.00"),),
                                     limits=LIMITS, log_yaml=self.log_yaml,
                                     auth_extra=self.auth_extra)
            self.secd.start(wait_log=self.logs_notices)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def tearDown(self):
        self.secd.close()

    def run_and_read(self, msg_of):
        """Send the traffic, stop secd, and return its lines and reasons."""
        expected = traffic(self.secd)
        if self.logs_notices:
            wait_for_closes(self.secd, len(expected), msg_of)
        else:
            time.sleep(1)       # closes a warning-level log leaves out
        self.assertEqual(self.secd.stop(), 0)
        text = self.secd.log()
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(WRONG, text)
        lines = text.splitlines()
        self.assertTrue(lines)
        return lines, expected

    def check_closes(self, lines, expected, msg_of):
        got = closes(lines, msg_of)
        # A failed handshake's close line carries its cause (the probe's:
        # "peer closed during handshake"; the HTTP request's: the TLS
        # error), and no other line does.
        causes = [r[len(FAILED):] for _, _, r in got if r.startswith(FAILED)]
        reasons = ["handshake failed" if r.startswith(FAILED) else r
                   for _, _, r in got]
        self.assertEqual(sorted(reasons), sorted(expected),
                         "\n".join(lines))
        self.assertEqual(len({c for c, _, _ in got}), len(got))
        for _, peer, _ in got:
            self.assertRegex(peer, r"^127\.0\.0\.1:\d+$")
        self.assertEqual(len(causes), expected.count("handshake failed"))
        for cause in causes:
            self.assertRegex(cause, r"\w", "a handshake failure with no cause")
        self.assertIn("peer closed during handshake", causes)
        self.assertTrue([c for c in causes
                         if c != "peer closed during handshake"],
                        "the HTTP request's failure has its own cause")
        self.assertEqual(
            sum(1 for l in lines if FAILED in msg_of(l)), len(causes),
            "a handshake failure logged apart from its close")


class Text(LogCase):
    log_yaml = "log:\n  level: info\n"
    LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ secd\[(\d+)\] "
                      r"(%s): (.*)$" % "|".join(LEVELS))

    def msg(self, line):
        m = self.LINE.match(line)
        return m.group(3) if m else ""

    def test_one_stamped_line_per_event_and_every_close_says_why(self):
        lines, expected = self.run_and_read(self.msg)
        for line in lines:
            m = self.LINE.match(line)
            self.assertIsNotNone(m, "not a log line: %r" % line)
            self.assertEqual(int(m.group(1)), self.secd.proc.pid)
            self.assertNotEqual(m.group(2), "debug", line)
        self.check_closes(lines, expected, self.msg)
        self.assertTrue(any("listening on" in self.msg(l) for l in lines))


class Journal(LogCase):
    """Under systemd (JOURNAL_STREAM set) a line is <priority>message."""
    log_yaml = "log:\n  level: debug\n"
    environ = {"JOURNAL_STREAM": "8:12345"}
    LINE = re.compile(r"^<([3-7])>(.*)$")

    def msg(self, line):
        m = self.LINE.match(line)
        return m.group(2) if m else ""

    def test_priority_prefixes_without_a_time_stamp(self):
        lines, expected = self.run_and_read(self.msg)
        prios = {}
        for line in lines:
            m = self.LINE.match(line)
            self.assertIsNotNone(m, "not a journal line: %r" % line)
            self.assertNotRegex(m.group(2), r"^\d{4}-\d\d-\d\dT", line)
            prios.setdefault(m.group(1), []).append(m.group(2))
        self.check_closes(lines, expected, self.msg)
        # The startup line is a notice, the closes are info, the
        # handshake details debug: the journal can filter on them.
        self.assertTrue(any("listening on" in m for m in prios.get("5", [])))
        self.assertTrue(any(CLOSED.search(m) for m in prios.get("6", [])))
        self.assertTrue(any("handshake done" in m for m in prios.get("7", [])))


class Json(LogCase):
    log_yaml = "log:\n  level: info\n  format: json\n"
    TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    @staticmethod
    def msg(line):
        try:
            return json.loads(line).get("msg", "")
        except ValueError:
            return ""

    def test_one_json_object_per_line(self):
        lines, expected = self.run_and_read(self.msg)
        for line in lines:
            obj = json.loads(line)
            self.assertEqual(set(obj), {"time", "level", "msg"}, line)
            self.assertRegex(obj["time"], self.TIME)
            self.assertIn(obj["level"], LEVELS[:4], line)
        self.check_closes(lines, expected, self.msg)


class Quiet(LogCase):
    log_yaml = "log:\n  level: warning\n"
    logs_notices = False
    # One wrong password locks the account: a warning to be logged.
    auth_extra = "  max_failures: 1\n"

    def test_level_warning_leaves_out_notices_and_closes(self):
        lines, _ = self.run_and_read(Text.msg.__get__(self))
        for line in lines:
            m = Text.LINE.match(line)
            self.assertIsNotNone(m, line)
            self.assertIn(m.group(2), ("error", "warning"), line)
        self.assertTrue(any("account AAA locked" in l for l in lines), lines)


if __name__ == "__main__":
    unittest.main()
