"""
Handler modules end to end: a real secd loading modules/example (the
"notes" module) with dlopen, real clients, and the startup errors for
modules that are missing, are not modules, or speak another ABI.
"""
import asyncio
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

MODULES = os.path.join(harness.BUILD, "modules")
EXAMPLE = os.path.join(MODULES, "example", "secd-example.so")
NOSYMBOL = os.path.join(MODULES, "test-bad", "nosymbol.so")
WRONGABI = os.path.join(MODULES, "test-bad", "wrongabi.so")
PASSWORD = "correct horse"
NOTES_OPS = ["ping", "login", "logout", "note_put", "note_list", "note_clear"]


def notes_yaml(module=EXAMPLE, **options):
    opts = {"password": PASSWORD}
    opts.update(options)
    lines = ["handler:", "  module: %s" % json.dumps(module), "  options:"]
    lines += ["    %s: %s" % (k, json.dumps(str(v))) for k, v in opts.items()
              if v is not None]
    return "\n".join(lines) + "\n"


def notes_secd(module=EXAMPLE, **options):
    return harness.Secd(accounts=(), handler_yaml=notes_yaml(module, **options))


def login(conn, account, password=PASSWORD, id_=1):
    return conn.call({"id": id_, "op": "login", "account": account,
                      "password": password})


def conf_line(secd, text):
    """The 1-based line of secd.yaml that is exactly text."""
    with open(secd.conf) as f:
        return f.read().splitlines().index(text) + 1


def run_secd(secd, *args):
    """secd [args] -c CONF to completion; (exit status, stdout + stderr)."""
    r = subprocess.run([harness.SECD] + list(args) + ["-c", secd.conf],
                       capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    # A refusal is an orderly exit: nothing leaked, nothing undefined.
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in out, out
    return r.returncode, out


class Notes(unittest.TestCase):
    """One secd serving the notes module, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.secd = notes_secd(max_accounts=300, max_notes=100,
                              max_text=64).start()

    @classmethod
    def tearDownClass(cls):
        cls.secd.close()

    def connect_as(self, account):
        c = self.secd.connect()
        self.assertEqual(login(c, account),
                         {"id": 1, "ok": True, "account": account})
        return c

    def test_greeting_lists_the_module_ops(self):
        c = self.secd.connect()
        try:
            self.assertEqual(c.hello["ops"], NOTES_OPS)
        finally:
            c.close()
        self.assertIn("handler notes", self.secd.log())

    def test_module_ops_before_login_are_auth_required(self):
        c = self.secd.connect()
        try:
            for i, op in enumerate(("note_list", "note_put", "no_such_op")):
                r = c.call({"id": i, "op": op, "text": "x"})
                self.assertEqual(r["error"]["code"], "auth_required", r)
        finally:
            c.close()

    def test_wrong_password_is_auth_failed_and_session_stays_logged_out(self):
        c = self.secd.connect()
        try:
            a = login(c, "alice", "correct horsf")
            b = login(c, "nobody", "x", id_=1)
            self.assertEqual(a["error"]["code"], "auth_failed")
            self.assertEqual(a, b)
            r = c.call({"id": 2, "op": "note_list"})
            self.assertEqual(r["error"]["code"], "auth_required")
        finally:
            c.close()

    def test_put_list_clear_end_to_end(self):
        c = self.connect_as("put-list")
        try:
            self.assertEqual(c.call({"id": 2, "op": "note_put", "text": "milk"}),
                             {"id": 2, "ok": True, "count": 1})
            self.assertEqual(c.call({"id": 3, "op": "note_put",
                                     "text": "caf\u00e9 \"bread\"\n"}),
                             {"id": 3, "ok": True, "count": 2})
            self.assertEqual(c.call({"id": 4, "op": "note_list"}),
                             {"id": 4, "ok": True,
                              "notes": ["milk", "caf\u00e9 \"bread\"\n"]})
            self.assertEqual(c.call({"id": 5, "op": "note_clear"}),
                             {"id": 5, "ok": True, "deleted": 2})
            self.assertEqual(c.call({"id": 6, "op": "note_list"}),
                             {"id": 6, "ok": True, "notes": []})
            # ping and logout stay the host's.
            self.assertEqual(c.call({"id": 7, "op": "ping"}), {"id": 7, "ok": True})
            self.assertEqual(c.call({"id": 8, "op": "logout"}), {"id": 8, "ok": True})
            r = c.call({"id": 9, "op": "note_list"})
            self.assertEqual(r["error"]["code"], "auth_required")
        finally:
            c.close()

    def test_notes_outlive_the_connection_and_are_per_account(self):
        c = self.connect_as("keeper")
        c.call({"id": 2, "op": "note_put", "text": "kept"})
        c.close()
        other = self.connect_as("other")
        try:
            self.assertEqual(other.call({"id": 2, "op": "note_list"})["notes"], [])
            # A login on a logged-in connection replaces the session.
            self.assertEqual(login(other, "keeper", id_=3)["account"], "keeper")
            self.assertEqual(other.call({"id": 4, "op": "note_list"})["notes"],
                             ["kept"])
        finally:
            other.close()

    def test_secctl_send_conversation(self):
        r = self.secd.secctl(
            "send",
            json.dumps({"id": 1, "op": "login", "account": "via-secctl",
                        "password": PASSWORD}),
            '{"id":2,"op":"note_put","text":"from secctl"}',
            '{"id":3,"op":"note_list"}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().splitlines(), [
            '{"id":1,"ok":true,"account":"via-secctl"}',
            '{"id":2,"ok":true,"count":1}',
            '{"id":3,"ok":true,"notes":["from secctl"]}',
        ])

    def test_unknown_op_gets_unknown_op(self):
        c = self.connect_as("unknown-op")
        try:
            # Built-in ops the module does not serve are unknown too, once
            # their fields are well formed (the codec checks them first).
            for i, req in enumerate(({"op": "balance"}, {"op": "stats"},
                                     {"op": "transfer", "to": "x", "amount": 1,
                                      "idempotency_key": "k"}), 2):
                req["id"] = i
                r = c.call(req)
                self.assertEqual(r["error"]["code"], "unknown_op", r)
            self.assertEqual(c.call({"id": 9, "op": "note_list"})["ok"], True)
        finally:
            c.close()

    def test_bad_arguments_are_refused_and_connection_stays(self):
        c = self.connect_as("bad-args")
        try:
            for i, req in enumerate([
                    {"op": "note_put"},
                    {"op": "note_put", "text": 5},
                    {"op": "note_put", "text": ""},
                    {"op": "note_put", "text": "x" * 65},
                    {"op": "note_put", "text": "x", "colour": "red"},
                    {"op": "note_list", "all": True},
                    {"op": "note_clear", "n": 1}], 2):
                req["id"] = i
                r = c.call(req)
                self.assertEqual(r["id"], i)
                self.assertEqual(r["error"]["code"], "bad_request", (req, r))
            r = c.call({"id": 20, "op": "note_put", "text": "y" * 64})
            self.assertEqual(r, {"id": 20, "ok": True, "count": 1})
            r = c.call({"id": 21, "op": "note_put", "text": "y" * 65})
            self.assertEqual(r["error"]["message"], "text: must be 1 to 64 bytes, found 65")
        finally:
            c.close()

    def test_max_notes_per_account(self):
        c = self.connect_as("full")
        try:
            c.send_raw(b"".join(
                json.dumps({"id": i, "op": "note_put", "text": "n%d" % i}).encode()
                + b"\n" for i in range(101)))
            got = [c.recv() for _ in range(101)]
            self.assertEqual([g["count"] for g in got[:100]], list(range(1, 101)))
            self.assertEqual(got[100]["error"]["code"], "bad_request")
            self.assertIn("100 notes", got[100]["error"]["message"])
            self.assertEqual(c.call({"id": "c", "op": "note_clear"})["deleted"], 100)
            self.assertEqual(c.call({"id": "p", "op": "note_put", "text": "again"})["count"], 1)
        finally:
            c.close()

    def test_many_concurrent_connections_all_answered(self):
        """100 connections at once, 40 of them sharing one account."""
        ctx = self.secd.ssl_context()
        port = self.secd.port

        async def session(i):
            account = "shared" if i < 40 else "conc%d" % i
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, server_hostname="localhost"), 30)
            try:
                lines = [{"id": 1, "op": "login", "account": account,
                          "password": PASSWORD}]
                lines += [{"id": 2 + k, "op": "note_put", "text": "%d.%d" % (i, k)}
                          for k in range(2)]
                lines.append({"id": 4, "op": "note_list"})
                writer.write(b"".join(json.dumps(l).encode() + b"\n" for l in lines))
                await writer.drain()
                hello = json.loads(await asyncio.wait_for(reader.readline(), 30))
                self.assertEqual(hello["ops"], NOTES_OPS)
                return [json.loads(await asyncio.wait_for(reader.readline(), 30))
                        for _ in lines]
            finally:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 5)
                except (OSError, asyncio.TimeoutError, ssl.SSLError):
                    pass

        async def all_sessions():
            return await asyncio.gather(*(session(i) for i in range(100)))

        results = asyncio.run(all_sessions())
        for i, replies in enumerate(results):
            self.assertEqual([r["id"] for r in replies], [1, 2, 3, 4])
            self.assertTrue(all(r["ok"] for r in replies), replies)
            mine = ["%d.0" % i, "%d.1" % i]
            if i >= 40:
                self.assertEqual(replies[3]["notes"], mine)
            else:
                for n in mine:
                    self.assertIn(n, replies[3]["notes"])
        c = self.connect_as("shared")
        try:
            notes = c.call({"id": 2, "op": "note_list"})["notes"]
            self.assertEqual(sorted(notes), sorted("%d.%d" % (i, k) for i in range(40)
                                                   for k in range(2)))
        finally:
            c.close()

    def test_threads_submitting_at_once_keep_order_per_connection(self):
        """Blocking clients on threads: every reply arrives, in order."""
        errors = []

        def client(i):
            try:
                c = self.connect_as("thr%d" % i)
                try:
                    for k in range(20):
                        r = c.call({"id": k, "op": "note_put", "text": str(k)})
                        if r != {"id": k, "ok": True, "count": k + 1}:
                            errors.append(r)
                    if c.call({"id": "l", "op": "note_list"})["notes"] != \
                            [str(k) for k in range(20)]:
                        errors.append("list of thr%d" % i)
                finally:
                    c.close()
            except Exception as e:  # reported below, with the others
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])


class Bounds(unittest.TestCase):
    def test_store_full_is_unavailable_but_login_works(self):
        secd = notes_secd(max_accounts=2).start()
        try:
            for name in ("one", "two"):
                c = secd.connect()
                login(c, name)
                self.assertEqual(c.call({"id": 2, "op": "note_put", "text": "x"})["ok"], True)
                c.close()
            c = secd.connect()
            self.assertEqual(login(c, "three")["ok"], True)
            r = c.call({"id": 2, "op": "note_put", "text": "x"})
            self.assertEqual(r["error"]["code"], "unavailable", r)
            self.assertEqual(c.call({"id": 3, "op": "note_list"})["notes"], [])
            c.close()
        finally:
            secd.close()

    def test_full_queue_is_refused_at_once(self):
        # One call at the worker for 400ms, one queued: the rest are
        # refused by submit() itself, long before the worker is free.
        secd = notes_secd(queue=1, delay_ms=400).start()
        try:
            conns = []
            for i in range(6):
                c = secd.connect()
                self.assertEqual(login(c, "q%d" % i)["ok"], True)
                conns.append(c)
            for i, c in enumerate(conns):
                c.send({"id": i, "op": "note_put", "text": "x"})
            replies = [c.recv() for c in conns]
            codes = [r.get("error", {}).get("code", "ok") for r in replies]
            self.assertEqual(set(codes), {"ok", "unavailable"}, replies)
            self.assertLessEqual(codes.count("ok"), 2, replies)
            for r in replies:
                if not r["ok"]:
                    self.assertEqual(r["error"].get("retry_after"), 1, r)
            for c in conns:
                c.close()
        finally:
            secd.close()


class Drain(unittest.TestCase):
    def test_sigterm_answers_every_call_in_flight_at_the_module(self):
        secd = notes_secd(delay_ms=20).start()
        try:
            conns = []
            for i in range(10):
                c = secd.connect()
                self.assertEqual(login(c, "d%d" % i)["ok"], True)
                conns.append(c)
            n = 10
            for c in conns:
                c.send_raw(b"".join(
                    json.dumps({"id": k, "op": "note_put", "text": str(k)}).encode()
                    + b"\n" for k in range(n)) + b'{"id":"last","op":"note_list"}\n')
            # 101 calls at 20ms each: most are still queued, at the
            # module or at their connection, when the signal arrives.
            firsts = [c.recv() for c in conns]
            secd.signal(signal.SIGTERM)
            for c, first in zip(conns, firsts):
                got = [first] + [c.recv() for _ in range(n)]
                self.assertEqual([g["id"] for g in got], list(range(n)) + ["last"])
                self.assertTrue(all(g["ok"] for g in got), got)
                self.assertEqual(got[-1]["notes"], [str(k) for k in range(n)])
                with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
                    c.recv_line()
                c.close()
            self.assertEqual(secd.proc.wait(30), 0)
        finally:
            secd.close()

    def test_drain_waits_for_an_answer_slower_than_the_flush_timer(self):
        # A call that takes 6 s, longer than a connection's 5 s flush timer:
        # a drain still answers it before closing.
        secd = notes_secd(delay_ms=6000).start()
        try:
            c = secd.connect()
            c.send({"id": 1, "op": "login", "account": "slow", "password": PASSWORD})
            self.assertTrue(c.recv()["ok"])
            c.send({"id": 2, "op": "note_list"})
            time.sleep(0.3)
            secd.signal(signal.SIGTERM)
            r = c.recv()
            self.assertEqual((r["id"], r["ok"]), (2, True))
            with self.assertRaises((EOFError, ConnectionError, ssl.SSLError)):
                c.recv_line()
            c.close()
            self.assertEqual(secd.proc.wait(30), 0)
        finally:
            secd.close()

    def test_second_sigterm_closes_and_close_answers_what_the_module_holds(self):
        secd = notes_secd(delay_ms=500).start()
        try:
            conns = []
            for i in range(20):
                c = secd.connect()
                conns.append(c)
                c.send({"id": 1, "op": "login", "account": "f%d" % i,
                        "password": PASSWORD})
                c.send({"id": 2, "op": "note_list"})
            # 40 calls of 500ms each at one worker: 20s if served.  The
            # second signal closes the connections; close() then refuses
            # what is still queued instead of serving it.
            self.assertEqual(conns[0].recv()["ok"], True)
            secd.signal(signal.SIGTERM)
            time.sleep(0.2)
            started = time.monotonic()
            secd.signal(signal.SIGTERM)
            self.assertEqual(secd.proc.wait(30), 0)
            self.assertLess(time.monotonic() - started, 5)
            self.assertIn("closing every connection now", secd.log())
            for c in conns:
                c.close()
        finally:
            secd.close()


class StartupErrors(unittest.TestCase):
    """A module secd cannot use stops it at startup, saying why."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="secd-modules-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_refused(self, secd, *expected, test_too=True):
        rc, out = run_secd(secd)
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("listening on", out)
        for e in expected:
            self.assertIn(e, out)
        if test_too:
            rc, out = run_secd(secd, "-t")
            self.assertEqual(rc, 1, out)
            self.assertNotIn("configuration ok", out)
            for e in expected:
                self.assertIn(e, out)
        secd.close()

    def test_missing_module_file(self):
        path = os.path.join(self.tmp, "absent.so")
        secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(path))
        line = conf_line(secd, "  module: %s" % json.dumps(path))
        self.assert_refused(secd, "secd.yaml:%d:" % line, "handler.module",
                            "cannot open %s: No such file or directory" % path)

    def test_file_that_is_not_a_shared_object(self):
        path = os.path.join(self.tmp, "text.so")
        with open(path, "w") as f:
            f.write("not ELF\n")
        secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(path))
        self.assert_refused(secd, "handler.module %s: cannot load" % path,
                            test_too=False)

    def test_shared_object_without_the_symbol(self):
        secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(NOSYMBOL))
        self.assert_refused(secd, "handler.module %s: no symbol 'secd_handler'"
                            % NOSYMBOL, test_too=False)

    def test_module_built_for_another_abi(self):
        secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(WRONGABI))
        self.assert_refused(secd, "handler.module %s: built for handler ABI 2, "
                            "this secd speaks ABI 1" % WRONGABI, test_too=False)

    def test_check_mode_loads_the_module(self):
        # secd -t loads the module and checks its symbol and ABI (without
        # opening it), so these fail the check, not only the start.
        for path in (NOSYMBOL, WRONGABI):
            secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(path))
            rc, out = run_secd(secd, "-t")
            secd.close()
            self.assertEqual(rc, 1, out)

    def test_bad_option_names_its_place(self):
        secd = notes_secd(max_notes="lots")
        line = conf_line(secd, '    max_notes: "lots"')
        self.assert_refused(secd, 'secd.yaml:%d:16: handler.options.max_notes: '
                            'expected an integer from 1 to 10000, found "lots"' % line,
                            test_too=False)

    def test_missing_password(self):
        self.assert_refused(notes_secd(password=None),
                            "handler.options.password is required", test_too=False)

    def test_short_password_is_refused_without_being_shown(self):
        secd = notes_secd(password="hunter2")
        rc, out = run_secd(secd)
        secd.close()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("handler.options.password: expected 8 to 1024 bytes, found 7", out)
        self.assertNotIn("hunter2", out)

    def test_unknown_option(self):
        self.assert_refused(notes_secd(colour="red"),
                            'unknown option "colour" for the notes module',
                            test_too=False)

    def test_note_list_must_fit_one_line(self):
        self.assert_refused(notes_secd(max_notes=10000, max_text=65536),
                            "note_list could not answer in one line", test_too=False)


class OutOfTree(unittest.TestCase):
    def test_example_builds_alone_against_the_header(self):
        """example.c needs nothing of secd but secd/handler.h, in strict C11."""
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("cc")
        if cc is None:
            self.skipTest("no C compiler")
        tmp = tempfile.mkdtemp(prefix="secd-oot-")
        try:
            so = os.path.join(tmp, "notes.so")
            r = subprocess.run(
                [cc, "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                 "-shared", "-fPIC", "-I", os.path.join(harness.SRC, "daemon", "include"),
                 "-o", so, os.path.join(harness.SRC, "modules", "example", "example.c"),
                 "-pthread"], capture_output=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr.decode())
            secd = harness.Secd(accounts=(), handler_yaml=notes_yaml(so)).start()
            try:
                c = secd.connect()
                self.assertEqual(login(c, "oot")["ok"], True)
                self.assertEqual(c.call({"id": 2, "op": "note_put", "text": "t"})["count"], 1)
                c.close()
            finally:
                secd.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
