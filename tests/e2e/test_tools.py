"""Every outside program and module a test runs comes from
tools/bootstrap.sh, and a missing one fails the run, naming its package.

A machine that lacks a test tool must not pass by skipping the tests that
need it: this file holds the table in tools.py against bootstrap.sh's test
set, checks that everything in it is installed, and reads the tests
themselves for programs they start that the table does not know, and for
skips that hang on a tool being there.
"""
import glob
import os
import re
import unittest

import tools

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

# a literal program name at the head of an argument list: ["swaks", ...
ARGV_HEAD = re.compile(
    r'(?:subprocess\.\w+\(|argv\s*=|execlp\(\w+,)\s*\[?\s*"([\w.+-]+)"')
SKIP_ON_TOOL = re.compile(r'skip\w*\(\s*(?:not\s+)?shutil\.which')


class ToolsTest(unittest.TestCase):
    def test_every_package_is_in_the_bootstrap_test_set(self):
        test_set = set(tools.bootstrap_set("test"))
        wanted = (set(tools.PROGRAMS.values()) |
                  set(tools.PY_MODULES.values()) |
                  set(tools.PERL_MODULES.values()))
        self.assertEqual(wanted - test_set, set(),
                         "add these to test_pkgs in tools/bootstrap.sh")

    def test_every_tool_is_installed(self):
        for program in tools.PROGRAMS:
            with self.subTest(program=program):
                self.assertTrue(os.access(tools.need(program), os.X_OK))
        for module in tools.PY_MODULES:
            with self.subTest(module=module):
                tools.need_module(module)
        for module in tools.PERL_MODULES:
            with self.subTest(module=module):
                tools.need_perl(module)

    def test_missing_tool_fails_naming_its_package(self):
        saved = dict(tools.PROGRAMS)
        tools.PROGRAMS["kurir-no-such-tool"] = "kurir-no-such-package"
        try:
            with self.assertRaises(AssertionError) as cm:
                tools.need("kurir-no-such-tool")
        finally:
            tools.PROGRAMS.clear()
            tools.PROGRAMS.update(saved)
        self.assertIn("kurir-no-such-package", str(cm.exception))
        self.assertNotIsInstance(cm.exception, unittest.SkipTest)

    def test_tests_start_only_known_programs(self):
        """A program named literally at the head of an argv in a test is
        one of tools.PROGRAMS (or comes from the build, via prog())."""
        sources = (glob.glob(os.path.join(HERE, "*.py")) +
                   glob.glob(os.path.join(TESTS, "check_*.c")) +
                   glob.glob(os.path.join(TESTS, "bench", "*.py")))
        unknown = []
        for path in sources:
            if os.path.basename(path) in ("tools.py", "test_tools.py"):
                continue
            with open(path) as f:
                text = f.read()
            for m in ARGV_HEAD.finditer(text):
                if m.group(1) not in tools.PROGRAMS:
                    line = text.count("\n", 0, m.start()) + 1
                    unknown.append("%s:%d: %s" % (
                        os.path.relpath(path, TESTS), line, m.group(1)))
            for m in SKIP_ON_TOOL.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                unknown.append("%s:%d: a skip when a tool is missing" % (
                    os.path.relpath(path, TESTS), line))
        self.assertEqual(unknown, [], "start it through tools.need() and "
                         "list it (and its package) in tests/e2e/tools.py")


if __name__ == "__main__":
    unittest.main()
