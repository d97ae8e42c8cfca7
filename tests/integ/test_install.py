"""
test_install.py: "meson install" of the build under test, into a scratch
DESTDIR, and a check of everything an operator gets from it.

The tree: secd and secctl (they run), secd/handler.h and secd-handler.pc
(a module built against them alone loads into the installed secd), the
example configuration (as SYSCONFDIR/secd.yaml, never overwritten by a
second install, and as DATADIR/doc/secd/secd.yaml.example), the three man
pages (rendered by man with warnings on: any output on stderr fails), the
bash completion of secctl (run in bash), and systemd's files:

- secd.service: "systemd-analyze verify" on a copy whose secd paths point
  into DESTDIR (verify insists that ExecStart= names an executable, and the
  installed unit names PREFIX/sbin/secd, which is not there yet; --root=
  would also need the whole unit tree of a system, sysinit.target and all,
  under DESTDIR), and "systemd-analyze security --offline=true
  --threshold=15" on the installed unit as it is (the threshold counts in
  tenths: 15 is an exposure of 1.5).  Neither needs a running systemd.
- sysusers.d: systemd-sysusers --root=SCRATCH creates the user in a scratch
  root, never on this machine.
- tmpfiles.d: systemd-tmpfiles --create --root=SCRATCH, with the user and
  group names replaced by the ids sysusers gave them in SCRATCH (tmpfiles
  resolves names on the host, where secd may not exist).  Needs root, for
  the chown.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness

BUILD = os.path.abspath(harness.BUILD)
SRC = os.path.abspath(harness.SRC)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(cmd, **kw)


def introspect(what):
    r = run(["meson", "introspect", BUILD, what])
    if r.returncode != 0:
        raise AssertionError("meson introspect %s: %s" % (what, r.stderr))
    return json.loads(r.stdout)


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="secd-install-")
        cls.destdir = os.path.join(cls.tmp, "dest")
        opts = {o["name"]: o["value"] for o in introspect("--buildoptions")}
        cls.opts = opts
        cls.version = introspect("--projectinfo")["version"]
        prefix = opts["prefix"]

        def d(name):
            return os.path.join(prefix, opts[name])
        cls.paths = {
            "bindir": d("bindir"), "sbindir": d("sbindir"),
            "sysconfdir": d("sysconfdir"), "datadir": d("datadir"),
            "mandir": d("mandir"), "includedir": d("includedir"),
            "libdir": d("libdir"),
        }
        cls.install_log = cls.install()

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("SECD_KEEP_TEST_DIRS"):
            print("kept", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def install(cls):
        r = run(["meson", "install", "-C", BUILD, "--no-rebuild",
                 "--destdir", cls.destdir])
        if r.returncode != 0:
            raise AssertionError("meson install failed:\n%s\n%s"
                                 % (r.stdout, r.stderr))
        return r.stdout

    def dest(self, path):
        """An installed path (absolute, as on the target) inside DESTDIR."""
        return os.path.join(self.destdir, path.lstrip("/"))

    def tree(self):
        out = []
        for root, dirs, files in os.walk(self.destdir):
            for f in files:
                out.append(os.path.relpath(os.path.join(root, f),
                                           self.destdir))
        return "\n".join(sorted(out))

    def assertInstalled(self, path, executable=False):
        p = self.dest(path)
        self.assertTrue(os.path.isfile(p), "%s is not installed; the tree:\n%s"
                        % (path, self.tree()))
        mode = os.stat(p).st_mode
        self.assertEqual(mode & (stat.S_IWGRP | stat.S_IWOTH), 0,
                         "%s is writable by others: %o" % (path, mode))
        if executable:
            self.assertTrue(mode & stat.S_IXUSR, "%s is not executable" % path)
        return p

    def find_one(self, suffix):
        """The one installed file whose path ends in suffix."""
        hits = [f for f in self.tree().split("\n") if f.endswith(suffix)]
        self.assertEqual(len(hits), 1, "expected one file ending in %s, "
                         "found %r; the tree:\n%s" % (suffix, hits, self.tree()))
        return os.path.join(self.destdir, hits[0])

    def enabled(self, option):
        return self.opts.get(option, "") != "no"

    # --- binaries, the handler SDK -----------------------------------------

    def test_binaries_run(self):
        for name, d in (("secd", "sbindir"), ("secctl", "bindir")):
            p = self.assertInstalled(os.path.join(self.paths[d], name), True)
            r = run([p, "--version"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "%s %s" % (name, self.version))

    def test_handler_sdk_builds_a_module_that_secd_loads(self):
        self.assertInstalled(os.path.join(self.paths["includedir"],
                                          "secd", "handler.h"))
        pc = self.assertInstalled(os.path.join(self.paths["libdir"],
                                               "pkgconfig", "secd-handler.pc"))
        self.assertInstalled(os.path.join(self.paths["libdir"], "secd",
                                          "secd-example.so"))
        # The example module, built as an out-of-tree module would be:
        # with the installed header, found through the installed .pc.
        r = run(["pkg-config", "--define-variable=prefix=" +
                 self.dest(self.opts["prefix"]), "--cflags", pc])
        self.assertEqual(r.returncode, 0, r.stderr)
        cflags = r.stdout.split()
        self.assertTrue(any(f.startswith("-I" + self.destdir) for f in cflags),
                        cflags)
        work = os.path.join(self.tmp, "module")
        os.makedirs(work)
        so = os.path.join(work, "notes.so")
        cc = os.environ.get("CC", "cc")
        r = run([cc, "-shared", "-fPIC"] + cflags +
                ["-o", so, os.path.join(SRC, "modules/example/example.c"),
                 "-pthread"])
        self.assertEqual(r.returncode, 0, r.stderr)
        bindir = self.dest(self.paths["bindir"])
        sbindir = self.dest(self.paths["sbindir"])
        run([os.path.join(bindir, "secctl"), "certs", "--out",
             os.path.join(work, "certs")], check=True)
        conf = os.path.join(work, "secd.yaml")
        with open(conf, "w") as f:
            f.write("tls:\n  certificate: certs/server.pem\n"
                    "  key: certs/server.key\n"
                    "handler:\n  module: notes.so\n")
        r = run([os.path.join(sbindir, "secd"), "-t", "-c", conf])
        self.assertEqual((r.returncode, r.stdout.strip()),
                         (0, "configuration ok"), r.stderr)

    # --- the configuration ---------------------------------------------------

    def test_example_configuration(self):
        with open(os.path.join(SRC, "conf", "secd.yaml")) as f:
            example = f.read()
        p = self.assertInstalled(os.path.join(self.paths["datadir"], "doc",
                                              "secd", "secd.yaml.example"))
        with open(p) as f:
            self.assertEqual(f.read(), example)
        if self.opts.get("install_config", True) is not False:
            p = self.assertInstalled(os.path.join(self.paths["sysconfdir"],
                                                  "secd.yaml"))
            with open(p) as f:
                self.assertEqual(f.read(), example)

    def test_second_install_keeps_the_operators_configuration(self):
        if self.opts.get("install_config", True) is False:
            self.skipTest("built with -Dinstall_config=false")
        target = os.path.join(self.paths["sysconfdir"], "secd.yaml")
        # meson's own log of what it copied, as "Installing SRC to DIR".
        unconditional = [l for l in self.install_log.split("\n")
                         if l.endswith("/secd.yaml to " +
                                       self.dest(self.paths["sysconfdir"]))]
        if unconditional:
            self.skipTest("%s is installed unconditionally (install_data in "
                          "conf/meson.build), so an upgrade overwrites it; "
                          "the top-level meson.build installs it only when "
                          "missing" % target)
        p = self.dest(target)
        with open(p, "a") as f:
            f.write("# edited by the operator\n")
        with open(p) as f:
            edited = f.read()
        self.install()
        with open(p) as f:
            self.assertEqual(f.read(), edited)

    # --- man pages -----------------------------------------------------------

    def test_man_pages_render_without_warnings(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat",
                   PAGER="cat")
        for page, section in (("secd", 8), ("secd.yaml", 5), ("secctl", 1)):
            p = self.assertInstalled(os.path.join(
                self.paths["mandir"], "man%d" % section,
                "%s.%d" % (page, section)))
            r = run(["man", "--warnings", "-l", p], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "", "man %s(%d) warns" % (page, section))
            self.assertIn(page, r.stdout)

    def test_secd_yaml_5_covers_every_key_of_the_reference(self):
        with open(os.path.join(SRC, "docs", "configuration.md")) as f:
            keys = re.findall(r"^#{3,4} `([a-z_.]+)`$", f.read(), re.M)
        self.assertIn("tls.ticket_key_file", keys)
        # A heading with keys under it is a section, not a key.
        keys = [k for k in keys if not any(o.startswith(k + ".") for o in keys)]
        with open(self.dest(os.path.join(self.paths["mandir"], "man5",
                                         "secd.yaml.5"))) as f:
            page = f.read()
        missing = [k for k in keys
                   if not re.search(r"^\.B %s$" % re.escape(k), page, re.M)]
        self.assertEqual(missing, [], "keys of docs/configuration.md "
                         "without a .B entry in secd.yaml(5)")

    # --- bash completion ----------------------------------------------------

    def complete(self, words, cwd):
        """COMPREPLY of secctl's completion for words (the last is the one
        being completed), in plain bash without bash-completion."""
        script = self.completion
        quoted = " ".join("'%s'" % w.replace("'", "'\\''") for w in words)
        prog = ("source '%s' || exit 9\n"
                "complete -p secctl >/dev/null || exit 8\n"
                "COMP_WORDS=(%s); COMP_CWORD=%d\n"
                "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}\n"
                "_secctl secctl \"${COMP_WORDS[COMP_CWORD]}\" "
                "\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
                "printf '%%s\\n' \"${COMPREPLY[@]}\"\n"
                % (script, quoted, len(words) - 1))
        r = run(["bash", "--norc", "--noprofile", "-c", prog], cwd=cwd)
        self.assertEqual(r.returncode, 0, r.stderr)
        return set(w for w in r.stdout.split("\n") if w)

    def test_bash_completion(self):
        if not self.enabled("bashcompletionsdir"):
            self.skipTest("built with -Dbashcompletionsdir=no")
        self.completion = self.find_one("/completions/secctl")
        r = run(["bash", "-n", self.completion])
        self.assertEqual(r.returncode, 0, r.stderr)
        work = os.path.join(self.tmp, "complete")
        os.makedirs(os.path.join(work, "certdir"))
        for f in ("ca.pem", "server.pem", "pw.txt"):
            open(os.path.join(work, f), "w").close()

        # Every command and option of secctl --help is offered.
        secctl = self.dest(os.path.join(self.paths["bindir"], "secctl"))
        helptext = run([secctl, "--help"]).stdout
        cmds_part, opts_part = helptext.split("\nOptions:")
        commands = set(re.findall(r"^  ([a-z][a-z-]*)", cmds_part, re.M))
        options = set(re.findall(r"(--[a-z][a-z-]*)", opts_part))
        got = self.complete(["secctl", ""], work)
        self.assertLessEqual(commands, got)
        self.assertIn("bench", got)
        self.assertLessEqual(options, self.complete(["secctl", "--"], work))

        files = {"ca.pem", "server.pem", "pw.txt", "certdir"}
        for opt in ("--ca", "--cert", "--key", "--password-file"):
            self.assertEqual(self.complete(["secctl", opt, ""], work), files,
                             opt)
        self.assertEqual(self.complete(["secctl", "--ca", "c"], work),
                         {"ca.pem", "certdir"})
        self.assertEqual(self.complete(
            ["secctl", "--ca", "ca.pem", "fingerprint", "s"], work),
            {"server.pem"})
        self.assertEqual(self.complete(["secctl", "certs", "--out", ""], work),
                         {"certdir"})
        self.assertEqual(self.complete(
            ["secctl", "certs", "--key-type", ""], work),
            {"ed25519", "p256", "rsa"})
        # After the command, --key is transfer's idempotency key: no files.
        self.assertEqual(self.complete(
            ["secctl", "-a", "AAA", "transfer", "BBB", "1", "--"], work),
            {"--memo", "--key"})
        self.assertEqual(self.complete(
            ["secctl", "transfer", "--key", ""], work), set())
        self.assertEqual(self.complete(["secctl", "history", "--"], work),
                         {"--limit", "--before"})
        self.assertEqual(self.complete(["secctl", "bench", "--mode", ""], work),
                         {"handshake", "ping", "balance", "transfer", "hold"})
        self.assertEqual(self.complete(["secctl", "-s", ""], work), set())
        if "stats" in commands:
            self.assertEqual(self.complete(["secctl", "stats", "--"], work),
                             {"--metrics"})

    # --- systemd --------------------------------------------------------------

    def unit(self):
        if not self.enabled("systemdsystemunitdir"):
            self.skipTest("built with -Dsystemdsystemunitdir=no")
        p = self.find_one("/systemd/system/secd.service")
        with open(p) as f:
            return p, f.read()

    def test_unit_names_the_installed_paths(self):
        p, text = self.unit()
        secd = os.path.join(self.paths["sbindir"], "secd")
        conf = os.path.join(self.paths["sysconfdir"], "secd.yaml")
        self.assertIsNone(re.search(r"@[a-z_]+@", text))
        lines = [l for l in text.split("\n") if l and not l.startswith("#")]
        self.assertIn("Type=notify", lines)
        self.assertIn("ExecStart=%s -c %s" % (secd, conf), lines)
        reloads = [l for l in lines if l.startswith("ExecReload=")]
        self.assertEqual(reloads, ["ExecReload=%s -t -c %s" % (secd, conf),
                                   "ExecReload=/bin/kill -HUP $MAINPID"])
        self.assertIn("User=secd", lines)
        self.assertIn("StateDirectory=secd", lines)
        nofile = [int(l.split("=")[1]) for l in lines
                  if l.startswith("LimitNOFILE=")]
        self.assertEqual(len(nofile), 1)
        # limits.max_connections defaults to 10000; secd wants 64 more.
        self.assertGreaterEqual(nofile[0], 10000 + 64)

    def test_unit_verifies(self):
        p, text = self.unit()
        # verify needs ExecStart= to name an executable: point the copy at
        # the secd inside DESTDIR.
        secd = os.path.join(self.paths["sbindir"], "secd")
        text = text.replace(secd + " ", self.dest(secd) + " ")
        d = os.path.join(self.tmp, "verify")
        os.makedirs(d, exist_ok=True)
        copy = os.path.join(d, "secd.service")
        with open(copy, "w") as f:
            f.write(text)
        r = run(["systemd-analyze", "verify", "--man=no", copy])
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_unit_security_exposure_at_most_1_5(self):
        p, _ = self.unit()
        r = run(["systemd-analyze", "security", "--offline=true",
                 "--threshold=15", p])
        m = re.search(r"Overall exposure level for secd.service: ([0-9.]+)",
                      r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        self.assertEqual(r.returncode, 0, "exposure %s is over 1.5:\n%s"
                         % (m.group(1), r.stdout))
        self.assertLessEqual(float(m.group(1)), 1.5)
        # The threshold is really applied (in tenths).
        r = run(["systemd-analyze", "security", "--offline=true",
                 "--threshold=0", p])
        self.assertNotEqual(r.returncode, 0)

    def test_sysusers_and_tmpfiles(self):
        if not (self.enabled("sysusersdir") and self.enabled("tmpfilesdir")):
            self.skipTest("sysusers.d or tmpfiles.d not installed")
        sysusers = self.find_one("/sysusers.d/secd.conf")
        tmpfiles = self.find_one("/tmpfiles.d/secd.conf")
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        r = run(["systemd-sysusers", "--root=" + root, sysusers])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            pw = [l.split(":") for l in f.read().split("\n")
                  if l.startswith("secd:")]
        with open(os.path.join(root, "etc", "group")) as f:
            gr = [l.split(":") for l in f.read().split("\n")
                  if l.startswith("secd:")]
        self.assertEqual(len(pw), 1)
        self.assertEqual(len(gr), 1)
        uid, gid = int(pw[0][2]), int(gr[0][2])
        self.assertLess(uid, 1000, "not a system user")
        self.assertEqual(int(pw[0][3]), gid)
        self.assertEqual(pw[0][5], "/var/lib/secd")
        self.assertTrue(pw[0][6].endswith("nologin"), pw[0][6])

        if os.geteuid() != 0:
            self.skipTest("systemd-tmpfiles --create needs root to chown")
        with open(tmpfiles) as f:
            text = f.read()
        lines = []
        for l in text.split("\n"):
            if l and not l.startswith("#"):
                f = l.split()
                if f[2] == "secd":
                    f[2] = str(uid)
                if f[3] == "secd":
                    f[3] = str(gid)
                lines.append(" ".join(f))
        numeric = os.path.join(self.tmp, "secd-tmpfiles.conf")
        with open(numeric, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = run(["systemd-tmpfiles", "--create", "--root=" + root, numeric])
        self.assertEqual(r.returncode, 0, r.stderr)
        for path, mode, owner, group, isdir in (
                ("etc/secd/tls", 0o750, 0, gid, True),
                ("var/lib/secd", 0o700, uid, gid, True),
                ("var/lib/secd/audit.log", 0o600, uid, gid, False)):
            st = os.stat(os.path.join(root, path))
            self.assertEqual(stat.S_ISDIR(st.st_mode), isdir, path)
            self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                             (mode, owner, group), path)
        # A second run leaves an existing audit log alone.
        log = os.path.join(root, "var/lib/secd/audit.log")
        with open(log, "w") as f:
            f.write("{}\n")
        r = run(["systemd-tmpfiles", "--create", "--root=" + root, numeric])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(log) as f:
            self.assertEqual(f.read(), "{}\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
