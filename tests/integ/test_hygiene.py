"""
Process hygiene: secd refuses a private key that other users may read, and,
started as root, binds and reads its key as root and then runs as the
configured user and group (here nobody/nogroup), with no way back.
"""
import os
import pwd
import grp
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class KeyPermissions(unittest.TestCase):

    def test_world_readable_key_is_refused_with_the_reason(self):
        s = harness.Secd()
        try:
            key = os.path.join(s.certs, "server.key")
            os.chmod(key, 0o644)
            t = subprocess.run([harness.SECD, "-t", "-c", s.conf],
                               capture_output=True, timeout=60)
            self.assertEqual(t.returncode, 1, t)
            self.assertIn(b"readable or writable by other users (mode 0644)",
                          t.stderr)
            self.assertIn(b"chmod o-rwx", t.stderr)
            with self.assertRaises(RuntimeError) as cm:
                s.start(timeout=20)
            self.assertIn("tls.key %s: the private key is readable" % key,
                          str(cm.exception))
            # Group-readable (0640, for a group of secd's) is fine.
            os.chmod(key, 0o640)
            t = subprocess.run([harness.SECD, "-t", "-c", s.conf],
                               capture_output=True, timeout=60)
            self.assertEqual(t.returncode, 0, t)
        finally:
            s.close(expect_clean_exit=False)


def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = v.split()
    return ids


@unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
class DropPrivileges(unittest.TestCase):

    def test_runs_as_the_configured_user_after_reading_the_key(self):
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrnam("nogroup")
        s = harness.Secd(accounts=(), handler_yaml=(
            "handler:\n  builtin: ledger\n  options:\n"
            "    database: state/ledger.db\n"),
            extra="user: nobody\ngroup: nogroup\n")
        try:
            # Only the state directory is the user's; the key stays
            # root's, mode 0600, readable only before the switch.
            os.chmod(s.dir, 0o755)
            state = os.path.join(s.dir, "state")
            os.mkdir(state, 0o700)
            s.add_account("AAA", "123", "100.00")
            for root, dirs, files in os.walk(state):
                for n in [root] + [os.path.join(root, f) for f in files]:
                    os.chown(n, nobody.pw_uid, nogroup.gr_gid)
            key = os.path.join(s.certs, "server.key")
            self.assertEqual(os.stat(key).st_uid, 0)
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            s.start()
            ids = proc_ids(s.proc.pid)
            self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4, ids)
            self.assertEqual(ids["Gid"], [str(nogroup.gr_gid)] * 4, ids)
            self.assertEqual(ids["Groups"], [str(nogroup.gr_gid)], ids)
            # Every thread, not just the main one.
            for tid in os.listdir("/proc/%d/task" % s.proc.pid):
                with open("/proc/%d/task/%s/status" % (s.proc.pid, tid)) as f:
                    uid_line = [l for l in f if l.startswith("Uid:")][0]
                self.assertEqual(uid_line.split()[1:],
                                 [str(nobody.pw_uid)] * 4)
            self.assertIn("running as user nobody", s.log())
            # It works: the ledger, owned by nobody, reads and writes.
            r = s.secctl("-a", "AAA", "balance", password="123")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, b"balance: 100.00 CNY\n")
        finally:
            s.close()

    def test_unknown_user_is_a_clear_startup_error(self):
        s = harness.Secd(extra="user: nosuchuser\n")
        try:
            with self.assertRaises(RuntimeError) as cm:
                s.start(timeout=20)
            self.assertIn("user: no such user 'nosuchuser'", str(cm.exception))
        finally:
            s.close(expect_clean_exit=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
