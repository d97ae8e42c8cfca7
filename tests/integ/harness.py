"""
harness.py: run a real secd on a loopback port for the integ suite.

Each Secd instance lives in its own temporary directory: development
certificates made by `secctl certs`, a secd.yaml, a ledger with accounts
made by `secd account add`, and secd's log.  Only 127.0.0.1 and ::1 are
ever used.  Every wait is bounded.
"""
import asyncio
import json
import os
import shutil
import signal as sigmod
import socket
import ssl
import subprocess
import tempfile
import time

BUILD = os.environ.get("SECD_BUILDDIR", os.path.join(os.path.dirname(__file__), "../../build"))
SRC = os.environ.get("SECD_SRCDIR", os.path.join(os.path.dirname(__file__), "../.."))
SECD = os.path.join(BUILD, "daemon", "secd")
SECCTL = os.path.join(BUILD, "secctl", "secctl")

# Tests use cheap password hashing; the default costs are for production.
FAST_AUTH = "auth:\n  scrypt_n: 1024\n  scrypt_r: 8\n  scrypt_p: 1\n"


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (and ::1)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.bind(("::1", port))
            s6.close()
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def make_certs(directory, key_type="ed25519"):
    subprocess.run([SECCTL, "certs", "--out", directory, "--key-type", key_type],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    return directory


class Secd:
    def __init__(self, accounts=(("AAA", "123", "100.00", "CNY"),),
                 extra="", workers=2, key_type="ed25519", listen=None,
                 tls_extra="", limits="", handler_yaml=None, auth_extra="",
                 log_yaml="log:\n  level: debug\n"):
        self.dir = tempfile.mkdtemp(prefix="secd-integ-")
        self.certs = make_certs(os.path.join(self.dir, "certs"), key_type)
        self.port = free_port()
        self.proc = None
        self.logpath = os.path.join(self.dir, "secd.log")
        listen = listen or ['127.0.0.1:%d' % self.port]
        self.conf = os.path.join(self.dir, "secd.yaml")
        with open(self.conf, "w") as f:
            f.write("listen: [%s]\n" % ", ".join('"%s"' % l for l in listen))
            f.write("workers: %d\n" % workers)
            f.write("shutdown_timeout: 10s\n")
            f.write("tls:\n  certificate: certs/server.pem\n  key: certs/server.key\n")
            f.write(tls_extra)
            f.write(limits)
            f.write(FAST_AUTH)
            # auth_extra: more keys of the auth section, indented two
            # spaces ("  methods: certificate\n").
            f.write(auth_extra)
            # handler_yaml: a whole handler section instead of the ledger
            # (pass accounts=() with it: accounts are the ledger's).
            f.write(handler_yaml if handler_yaml is not None else
                    "handler:\n  builtin: ledger\n  options:\n    database: ledger.db\n")
            # log_yaml: the whole log section.
            f.write(log_yaml)
            f.write(extra)
        for acct in accounts:
            self.add_account(*acct)

    def add_account(self, name, password, balance, currency="CNY"):
        subprocess.run([SECD, "account", "add", name, "--balance", balance,
                        "--currency", currency, "-c", self.conf],
                       input=(password + "\n").encode(), check=True,
                       stdout=subprocess.DEVNULL, timeout=60)

    @property
    def ca(self):
        return os.path.join(self.certs, "ca.pem")

    def start(self, timeout=30, wait_log=True):
        """
        Start secd and wait until it accepts a connection, after its
        "listening on" notice (wait_log=False: a log level that leaves the
        notice out).
        """
        if getattr(self, "logf", None):
            self.logf.close()
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([SECD, "-c", self.conf], stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("secd exited at start:\n" + self.log())
            if not wait_log or "listening on" in self.log():
                try:
                    socket.create_connection(("127.0.0.1", self.port), 1).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("secd did not start:\n" + self.log())

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=sigmod.SIGTERM, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)

    def close(self, expect_clean_exit=True):
        """Stop secd; fail if it did not exit cleanly or a sanitizer spoke."""
        rc = self.stop()
        if getattr(self, "logf", None):
            self.logf.close()
        log = self.log() if os.path.exists(self.logpath) else ""
        problems = [m for m in ("AddressSanitizer", "LeakSanitizer",
                                "runtime error:", "ThreadSanitizer")
                    if m in log]
        if problems or (expect_clean_exit and rc not in (0, None)):
            keep = self.dir
            raise AssertionError("secd exit status %r, %s; log kept in %s:\n%s"
                                 % (rc, problems, keep, log[-4000:]))
        if os.environ.get("SECD_KEEP_TEST_DIRS"):
            print("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def secctl(self, *args, password=None, stdin=None, ca=None, timeout=60):
        env = dict(os.environ)
        env.pop("SECCTL_PASSWORD", None)
        if password is not None:
            env["SECCTL_PASSWORD"] = password
        cmd = [SECCTL, "-s", "127.0.0.1:%d" % self.port, "--ca", ca or self.ca] + list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, env=env,
                              timeout=timeout)

    def ssl_context(self, cert=False):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.set_alpn_protocols(["secd/1"])
        if cert:
            ctx.load_cert_chain(os.path.join(self.certs, "client.pem"),
                                os.path.join(self.certs, "client.key"))
        return ctx

    def connect(self, cert=False, timeout=10):
        """A blocking TLS connection (Python's OpenSSL) that has read the hello."""
        raw = socket.create_connection(("127.0.0.1", self.port), timeout)
        s = self.ssl_context(cert).wrap_socket(raw, server_hostname="localhost")
        conn = LineConn(s)
        hello = conn.recv()
        assert hello["type"] == "hello", hello
        conn.hello = hello
        return conn


class LineConn:
    """JSON lines over a blocking socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def recv_line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self):
        return json.loads(self.recv_line())

    def call(self, obj):
        self.send(obj)
        return self.recv()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


async def async_session(port, ca_ctx, account, password, timeout=60):
    """Log in and read the balance over asyncio; returns the balance reply."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, ssl=ca_ctx, server_hostname="localhost"), timeout)
    try:
        hello = json.loads(await asyncio.wait_for(reader.readline(), timeout))
        assert hello["type"] == "hello"
        writer.write(json.dumps({"id": 1, "op": "login", "account": account,
                                 "password": password}).encode() + b"\n")
        writer.write(b'{"id":2,"op":"balance"}\n')
        await writer.drain()
        login = json.loads(await asyncio.wait_for(reader.readline(), timeout))
        bal = json.loads(await asyncio.wait_for(reader.readline(), timeout))
        return login, bal
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 5)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
