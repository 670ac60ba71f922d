#!/usr/bin/env bash
# Make a root filesystem tarball from Debian's busybox-static: a base image, offline.
#   scripts/make-busybox-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: make-busybox-rootfs.sh OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "no static busybox at $busybox (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,var/tmp,home}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$dir/etc/group" <<'G'
root:x:0:
daemon:x:1:
nogroup:x:65534:
G
echo "hosts: files dns" > "$dir/etc/nsswitch.conf"
tar --numeric-owner --owner=0 --group=0 -C "$dir" -cf "$out" .
