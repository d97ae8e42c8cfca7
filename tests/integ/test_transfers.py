"""
Moving money end to end: concurrent transfers, idempotent retries, history,
`secd ledger check`, and kill -9 crashes under load.
"""
import json
import os
import random
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

N_ACCOUNTS = 16
START = 100000  # minor units each


def accounts(prefix, n, balance="1000.00"):
    return [("%s%03d" % (prefix, i), "pw-%d" % i, balance, "CNY") for i in range(n)]


def ledger_check(secd):
    return subprocess.run([harness.SECD, "ledger", "check", "-c", secd.conf],
                          capture_output=True, timeout=120)


def total_balance(secd, names):
    total = 0
    for name in names:
        c = secd.connect()
        try:
            c.call({"id": 1, "op": "login", "account": name,
                    "password": "pw-%d" % int(name[-3:])})
            total += c.call({"id": 2, "op": "balance"})["balance"]
        finally:
            c.close()
    return total


def history_memos(secd, name):
    """Every memo in name's history, walking the pages."""
    c = secd.connect()
    memos = []
    try:
        c.call({"id": 0, "op": "login", "account": name,
                "password": "pw-%d" % int(name[-3:])})
        before = None
        i = 1
        while True:
            req = {"id": i, "op": "history", "limit": 100}
            if before:
                req["before"] = before
            r = c.call(req)
            assert r["ok"], r
            memos += [e.get("memo", "") for e in r["entries"]]
            before = r.get("next_before")
            i += 1
            if not before:
                return memos
    finally:
        c.close()


class Transfers(unittest.TestCase):
    def setUp(self):
        self.secd = harness.Secd(
            accounts=accounts("T", N_ACCOUNTS) + [("AAA", "123", "100.00", "CNY"),
                                                  ("BBB", "456", "0.00", "CNY"),
                                                  ("USD1", "789", "5.00", "USD")]).start()

    def tearDown(self):
        self.secd.close()

    def login(self, name, password):
        c = self.secd.connect()
        r = c.call({"id": "l", "op": "login", "account": name, "password": password})
        self.assertTrue(r["ok"], r)
        return c

    def test_refusals_have_their_own_codes(self):
        c = self.login("AAA", "123")
        try:
            cases = [({"to": "BBB", "amount": 0}, "invalid_amount"),
                     ({"to": "BBB", "amount": -5}, "invalid_amount"),
                     ({"to": "AAA", "amount": 5}, "same_account"),
                     ({"to": "USD1", "amount": 5}, "currency_mismatch"),
                     ({"to": "ZZZ", "amount": 5}, "no_such_account"),
                     ({"to": "BBB", "amount": 10001}, "insufficient_funds"),
                     ({"to": "BBB", "amount": 5, "memo": "x" * 257}, "bad_request")]
            for i, (args, code) in enumerate(cases):
                req = dict(id=i, op="transfer", idempotency_key="k%d" % i, **args)
                r = c.call(req)
                self.assertEqual(r["error"]["code"], code, (args, r))
            self.assertEqual(c.call({"id": 99, "op": "balance"})["balance"], 10000)
        finally:
            c.close()

    def test_idempotent_retry_and_conflict(self):
        c = self.login("AAA", "123")
        try:
            t = {"op": "transfer", "to": "BBB", "amount": 1250,
                 "idempotency_key": "retry-1", "memo": "lunch"}
            first = c.call(dict(t, id=1))
            self.assertTrue(first["ok"], first)
            self.assertEqual(first["balance"], 8750)
            again = c.call(dict(t, id=2))
            self.assertEqual(again, dict(first, id=2))
            other = c.call(dict(t, id=3, amount=1))
            self.assertEqual(other["error"]["code"], "conflict")
            self.assertEqual(c.call({"id": 4, "op": "balance"})["balance"], 8750)
        finally:
            c.close()
        # Still the same answer after a restart.
        self.secd.stop()
        self.secd.start()
        c = self.login("AAA", "123")
        try:
            again = c.call(dict(t, id=5))
            self.assertEqual(again, dict(first, id=5))
        finally:
            c.close()

    def test_secctl_transfer_and_history(self):
        r = self.secd.secctl("-a", "AAA", "transfer", "BBB", "12.50", "--memo", "books",
                             password="123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("balance 87.50 CNY", r.stdout.decode())
        key = r.stderr.decode().split("idempotency key: ")[1].split()[0]
        again = self.secd.secctl("-a", "AAA", "transfer", "BBB", "12.50", "--memo", "books",
                                 "--key", key, password="123")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(r.stdout, again.stdout)  # same transfer id, same balance
        h = self.secd.secctl("-a", "BBB", "history", password="456")
        self.assertEqual(h.returncode, 0, h.stderr)
        lines = h.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("AAA", lines[0])
        self.assertIn("12.50 CNY", lines[0])
        self.assertIn("books", lines[0])
        hj = self.secd.secctl("--json", "-a", "AAA", "history", "--limit", "1", password="123")
        entry = json.loads(hj.stdout)["entries"][0]
        self.assertEqual((entry["amount"], entry["counterparty"]), (-1250, "BBB"))

    def test_concurrent_transfers_conserve_money(self):
        names = ["T%03d" % i for i in range(N_ACCOUNTS)]
        errors = []

        def worker(i):
            try:
                c = self.login(names[i], "pw-%d" % i)
                rng = random.Random(i)
                # Pipelined in batches of 8, to many counterparties.
                for batch in range(25):
                    reqs = []
                    for j in range(8):
                        to = names[(i + 1 + rng.randrange(N_ACCOUNTS - 1)) % N_ACCOUNTS]
                        reqs.append({"id": j, "op": "transfer", "to": to,
                                     "amount": rng.randrange(1, 500),
                                     "idempotency_key": "c-%d-%d-%d" % (i, batch, j)})
                    c.send_raw(b"".join(json.dumps(r).encode() + b"\n" for r in reqs))
                    for _ in reqs:
                        r = c.recv()
                        if not r["ok"] and r["error"]["code"] != "insufficient_funds":
                            errors.append(r)
                c.close()
            except Exception as e:  # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N_ACCOUNTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(total_balance(self.secd, names), N_ACCOUNTS * START)
        check = ledger_check(self.secd)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)


class Crash(unittest.TestCase):
    """kill -9 under a transfer load from 64 connections, ten times."""
    CONNS = 64
    KILLS = 10

    def test_acknowledged_transfers_survive_kill_9(self):
        names = ["K%03d" % i for i in range(self.CONNS)]
        # 64 clients from 127.0.0.1 reconnect at once after each kill:
        # lift the per-address handshake rate (test_throttle tests it).
        secd = harness.Secd(accounts=accounts("K", self.CONNS),
                            limits="limits:\n  handshake_rate_per_ip: 100000\n"
                            "  handshake_burst_per_ip: 100000\n").start()
        state = {"acked": {}, "refused": {}, "unknown": set(), "stop": False}
        lock = threading.Lock()

        def session(i):
            c = secd.connect(timeout=5)
            r = c.call({"id": "l", "op": "login", "account": names[i],
                        "password": "pw-%d" % i})
            assert r["ok"], r
            return c

        def worker(i):
            rng = random.Random(1000 + i)
            seq = 0
            c = None
            pending = []  # keys sent on this connection, not yet answered
            while not state["stop"]:
                try:
                    if c is None:
                        c = session(i)
                    key = "x-%d-%d" % (i, seq)
                    seq += 1
                    # One in twenty asks too much, to be refused.
                    amount = 10 ** 9 if rng.random() < 0.05 else 1
                    to = names[(i + 1 + rng.randrange(self.CONNS - 1)) % self.CONNS]
                    req = {"id": seq, "op": "transfer", "to": to, "amount": amount,
                           "idempotency_key": key, "memo": key}
                    with lock:
                        state["unknown"].add((i, key, to, amount))
                    c.send(req)
                    r = c.recv()
                    with lock:
                        state["unknown"].discard((i, key, to, amount))
                        if r["ok"]:
                            state["acked"][(i, key)] = (r["transfer_id"], to, amount)
                        else:
                            state["refused"][(i, key)] = r["error"]["code"]
                except (OSError, EOFError, ssl.SSLError, ValueError, AssertionError):
                    if c is not None:
                        c.close()
                    c = None
                    time.sleep(0.05)
            if c is not None:
                c.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(self.CONNS)]
        for t in threads:
            t.start()
        try:
            rng = random.Random(7)
            for _ in range(self.KILLS):
                time.sleep(rng.uniform(0.4, 1.2))
                secd.proc.kill()
                secd.proc.wait(10)
                secd.start()
            time.sleep(1.0)
            state["stop"] = True
            for t in threads:
                t.join(60)
            self.assertGreater(len(state["acked"]), 200)

            # Every answer-less transfer is retried with its key: at most once.
            for (i, key, to, amount) in sorted(state["unknown"]):
                c = session(i)
                r = c.call({"id": 1, "op": "transfer", "to": to, "amount": amount,
                            "idempotency_key": key, "memo": key})
                c.close()
                if r["ok"]:
                    state["acked"][(i, key)] = (r["transfer_id"], to, amount)
                else:
                    state["refused"][(i, key)] = r["error"]["code"]

            # Every acknowledged transfer is there, exactly once: a retry
            # gives back the original id.
            sample = random.Random(3).sample(sorted(state["acked"]), 300)
            for (i, key) in sample:
                tid, to, amount = state["acked"][(i, key)]
                c = session(i)
                r = c.call({"id": 2, "op": "transfer", "to": to, "amount": amount,
                            "idempotency_key": key, "memo": key})
                c.close()
                self.assertTrue(r["ok"], r)
                self.assertEqual(r["transfer_id"], tid)

            # The journals hold exactly the acknowledged transfers.
            seen = {}
            for i, name in enumerate(names):
                for memo in history_memos(secd, name):
                    if memo.startswith("x-%d-" % i):
                        seen[memo] = seen.get(memo, 0) + 1
            for (i, key) in state["acked"]:
                self.assertEqual(seen.get(key), 1, key)
            for (i, key), code in state["refused"].items():
                self.assertNotIn(key, seen, (key, code))
            self.assertEqual(set(seen), {k for (_, k) in state["acked"]})

            self.assertEqual(total_balance(secd, names), self.CONNS * START)
            secd.stop()
            check = ledger_check(secd)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        finally:
            state["stop"] = True
            secd.close(expect_clean_exit=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
