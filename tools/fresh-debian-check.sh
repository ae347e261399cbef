#!/bin/sh
# fresh-debian-check.sh - prove that CI passes on a fresh Debian 12 system:
# a minimal root made by debootstrap with only git, gcc and make added, a
# clean clone of this repository's HEAD inside it, and `CI=true bash
# .ci/run` run there as root with no input, as CI runs it.  Whatever the
# tests need must then come from the project's own bootstrap.
#
# usage: tools/fresh-debian-check.sh [ROOT]
#   ROOT   where the Debian root lives (default /var/tmp/kurir-fresh-root);
#          made by debootstrap when missing, reused otherwise (use a new
#          one to start from nothing again).  Needs root, debootstrap
#          (installed when missing) and the host's Debian mirror.
# The log is ROOT.log; the exit status is .ci/run's.
set -eu
root=${1:-/var/tmp/kurir-fresh-root}
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "fresh-debian-check: run as root" >&2; exit 1; }

# the host's own mirror: the first deb URI apt uses here
mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "fresh-debian-check: no Debian mirror found;" \
    "set DEBIAN_MIRROR" >&2; exit 1; }

if [ ! -x "$root/usr/bin/git" ]; then
	command -v debootstrap >/dev/null 2>&1 || {
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
	}
	rm -rf "$root"
	debootstrap --variant=minbase --include=git,gcc,make,libc6-dev,ca-certificates \
	    bookworm "$root" "$mirror"
fi

mounted=
cleanup() {
	for m in $mounted; do umount -l "$root$m" 2>/dev/null || true; done
	# and whatever the tests mounted inside (ip netns: /run/netns)
	umount -R -l "$root" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
# the root a mount point of its own, as / is on a booted system (ip netns
# and private mounts need one)
mount --bind "$root" "$root"
# /tmp a mount point of its own, as on a booted system: the chroot's root
# is none, and check_local's disk-full test needs a private mount above
# its Maildir
for m in /proc /sys /dev /dev/pts /dev/shm /tmp; do
	mkdir -p "$root$m"
	case $m in
	/proc) mount -t proc proc "$root$m" ;;
	/sys) mount -t sysfs sysfs "$root$m" ;;
	/tmp) mount -t tmpfs -o mode=1777,size=4g tmpfs "$root$m" ;;
	*) mount --bind "$m" "$root$m" ;;
	esac
	mounted="$m $mounted"
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

rm -rf "$root/src"
git clone -q "$repo" "$root/src/kurir"
echo "fresh-debian-check: $(git -C "$repo" log --oneline -1) in $root"
# no locale, no terminal, nothing of this shell's environment
rm -f "$root.rc"
{ rc=0; chroot "$root" /usr/bin/env -i HOME=/root CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'cd /src/kurir && bash .ci/run' </dev/null 2>&1 || rc=$?
  echo "$rc" >"$root.rc"; } | tee "$root.log"
rc=$(cat "$root.rc")
echo "fresh-debian-check: .ci/run exited $rc (log: $root.log)"
exit "$rc"
