"""tools - every program and module from outside that a test runs, with
the Debian package that brings it.

tools/bootstrap.sh installs the test set (make check runs it first), so
on any machine that ran it each of these is present.  A test that needs
one asks for it here: when it is missing the test fails, naming the
package, instead of being skipped, so that a machine without it cannot
pass by testing less.  test_tools.py holds this table against
bootstrap.sh and against what the tests actually run.
"""
import importlib
import os
import shutil
import subprocess
import sys

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "..", "..", "tools", "bootstrap.sh")

# program -> Debian package
PROGRAMS = {
    "python3": "python3",
    "openssl": "openssl",
    "swaks": "swaks",
    "curl": "curl",
    "mpop": "mpop",
    "setpriv": "util-linux",        # kurir-sendmail as another user
    "perl": "perl-base",            # asks for swaks' Perl modules
    "ip": "iproute2",               # network namespaces of the tests' own
    "make": "make",                 # make install DESTDIR=... (its modes)
    "cat": "coreutils",             # reading a file as another user
    "mount": "mount",               # a small tmpfs of a test's own
    "umount": "mount",
}

# Python module -> Debian package (imported from Debian's python3)
PY_MODULES = {
    "dnslib": "python3-dnslib",
    "aiosmtpd": "python3-aiosmtpd",
}

# Perl module -> Debian package (swaks' TLS needs both; they are only
# "recommended" by swaks, which the bootstrap installs without those)
PERL_MODULES = {
    "Net::SSLeay": "libnet-ssleay-perl",
    "IO::Socket::SSL": "libio-socket-ssl-perl",
}


class MissingTool(AssertionError):
    """A tool the tests need is not installed (a failure, not a skip)."""


def _missing(what, package):
    return MissingTool("%s is missing: install the Debian package %s "
                       "(sh tools/bootstrap.sh test)" % (what, package))


def need(program):
    """The path of program, or MissingTool naming its package."""
    package = PROGRAMS[program]             # KeyError: add it to the table
    path = shutil.which(program)
    if path is None:
        # root's PATH on a minimal system may lack the sbin directories
        for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
            if os.access(os.path.join(d, program), os.X_OK):
                return os.path.join(d, program)
        raise _missing("program %r" % program, package)
    return path


def need_module(name):
    """Import the Python module name (from Debian's dist-packages when
    another python3 runs the tests), or MissingTool naming its package."""
    package = PY_MODULES[name.split(".")[0]]
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    if "/usr/lib/python3/dist-packages" not in sys.path:
        sys.path.append("/usr/lib/python3/dist-packages")
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise _missing("Python module %r (%s)" % (name, e), package)


def need_perl(module):
    """MissingTool naming the package unless perl can load module."""
    package = PERL_MODULES[module]
    try:
        r = subprocess.run([need("perl"), "-M" + module, "-e", "1"],
                           capture_output=True, timeout=30)
        ok = r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    if not ok:
        raise _missing("Perl module %s" % module, package)


def need_swaks(tls=False):
    """swaks' path; with tls, also the Perl modules its TLS needs."""
    path = need("swaks")
    if tls:
        for m in PERL_MODULES:
            need_perl(m)
    return path


def bootstrap_set(name):
    """The packages of one set ("test", "build", ...) in bootstrap.sh."""
    with open(BOOTSTRAP) as f:
        text = f.read()
    key = name + '_pkgs="'
    start = text.index(key) + len(key)
    return text[start:text.index('"', start)].split()
