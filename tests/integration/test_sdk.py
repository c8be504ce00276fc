"""The plugin SDK as an integrator gets it: `cmake --install` of the build
into a fresh prefix, the worked example of docs/plugins.md (the outbox
plugin) configured and built outside the tree against the installed header
through tidings-plugin.pc, and the result loaded by the installed engine,
which sends a real booking's confirmation through it."""
import glob
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import SOURCE_DIR, Database, Engine, Setup, booking, close_class, wait_until

BUILD_DIR = os.path.dirname(os.path.abspath(harness.BIN))


def run(*cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


class InstalledSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tidings-sdk-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run("cmake", "--install", BUILD_DIR, "--prefix", cls.prefix)
        pcs = glob.glob(os.path.join(cls.prefix, "lib*", "**", "tidings-plugin.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        cls.env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))
        cls.plugin_build = os.path.join(cls.tmp, "build-plugin")
        run("cmake", "-S", os.path.join(SOURCE_DIR, "examples", "plugin-sdk"), "-B", cls.plugin_build,
            "-DPLUGIN_SOURCE=" + os.path.join(SOURCE_DIR, "plugins", "outbox", "outbox.c"), env=cls.env)
        run("cmake", "--build", cls.plugin_build, env=cls.env)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_install_has_the_engine_its_plugins_and_the_sdk(self):
        for path in ("bin/tidings", "include/tidings/plugin.h", "include/tidings/json_write.h",
                     "include/tidings/plugin_util.h"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, path)), path)
        self.assertTrue(os.path.isfile(os.path.join(self.prefix, "include/tidings/fake_host.h")))
        plugindir = run("pkg-config", "--variable=plugindir", "tidings-plugin", env=self.env).strip()
        self.assertEqual(sorted(os.listdir(plugindir)),
                         ["booking_webhook.so", "infobip_sms.so", "infobip_whatsapp.so", "outbox.so",
                          "pg_notify.so", "resend.so"])
        cflags = run("pkg-config", "--cflags", "tidings-plugin", env=self.env).split()
        self.assertEqual([os.path.realpath(f[2:]) for f in cflags if f.startswith("-I")],
                         [os.path.realpath(os.path.join(self.prefix, "include"))])

    def test_the_out_of_tree_plugin_passes_its_own_test_with_the_installed_fake_host(self):
        out = run("ctest", "--test-dir", self.plugin_build, "--output-on-failure", env=self.env)
        self.assertIn("100% tests passed", out)
        self.assertTrue(os.path.isfile(os.path.join(self.plugin_build, "test-out", "7.eml")))

    def test_the_out_of_tree_plugin_exports_only_its_entry(self):
        out = run("nm", "-D", "--defined-only", os.path.join(self.plugin_build, "outbox.so"))
        self.assertEqual([line.split()[-1] for line in out.splitlines() if line.strip()],
                         ["td_plugin_entry"])

    def test_the_installed_engine_sends_through_the_out_of_tree_plugin(self):
        # the installed plugins, with the outbox replaced by the one built outside the tree
        plugins = os.path.join(self.tmp, "plugins")
        plugindir = run("pkg-config", "--variable=plugindir", "tidings-plugin", env=self.env).strip()
        shutil.copytree(plugindir, plugins, dirs_exist_ok=True)
        shutil.copy(os.path.join(self.plugin_build, "outbox.so"), os.path.join(plugins, "outbox.so"))
        saved = harness.BIN, harness.PLUGIN_DIR
        harness.BIN, harness.PLUGIN_DIR = os.path.join(self.prefix, "bin", "tidings"), plugins
        db = Database()
        setup = Setup(db, orgs=("acme",))
        engine = None
        try:
            setup.cli("migrate")
            with open(setup.config, encoding="utf-8") as f:
                self.assertIn(f"path = {plugins}\n", f.read())
            self.assertTrue(setup.cli("check").stdout.startswith("ok: "))
            setup.cli("sequences", "import", "--org", "acme",
                      os.path.join(SOURCE_DIR, "sql", "seed", "demo.json"))
            engine = Engine(setup)
            status, answer, _ = engine.post("acme", booking("SDK-1", days_ahead=3))
            self.assertEqual(status, 202, answer)
            files = wait_until(lambda: len(setup.outbox_files("acme")) >= 2 and setup.outbox_files("acme"),
                               what="the confirmation in the outbox")
            self.assertEqual(len([f for f in files if f.endswith(".eml")]), 1)
        finally:
            harness.BIN, harness.PLUGIN_DIR = saved
            if engine:
                close_class(engine, setup, db)
            else:
                setup.remove()
                db.drop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
