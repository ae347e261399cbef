#!/bin/sh
# bootstrap.sh - install the Debian packages kurir needs to build, test or
# benchmark, and only those that are missing.
#
# usage: tools/bootstrap.sh build|test|fuzz|bench
# Runs apt-get only when something is missing; needs root for that (or sudo).
set -eu

build_pkgs="gcc make pkg-config libbsd-dev check libevent-dev libtls-dev
libcrypt-dev libseccomp-dev libc-ares-dev"
# every program and module a test runs: tests/e2e/tools.py names each with
# its package, and test_tools.py holds that table against this list
test_pkgs="python3 python3-dnslib python3-aiosmtpd openssl curl mpop swaks
libnet-ssleay-perl libio-socket-ssl-perl util-linux perl-base iproute2 make
coreutils mount"
fuzz_pkgs="clang libclang-rt-14-dev"
bench_pkgs="postfix dovecot-pop3d strace"

want=$build_pkgs
for set in "$@"; do
	case $set in
	build) ;;
	test) want="$want $test_pkgs" ;;
	fuzz) want="$want $fuzz_pkgs" ;;
	bench) want="$want $test_pkgs $bench_pkgs" ;;
	*) echo "bootstrap: unknown set '$set'" >&2; exit 2 ;;
	esac
done

missing=
for p in $want; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "bootstrap: installing:$missing"
sudo=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then sudo=sudo; else
		echo "bootstrap: need root to install:$missing" >&2; exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions at install time; answer them up front.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections 2>/dev/null || true
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
