#!/usr/bin/env bash
# Make a full Debian root filesystem tarball with debootstrap (needs Debian's package
# mirror, which this project's machines reach):  scripts/make-debootstrap-rootfs.sh OUT.tar [SUITE]
# Then: dockyard import OUT.tar debian:SUITE
set -euo pipefail
out=${1:?usage: make-debootstrap-rootfs.sh OUT.tar [SUITE]}
suite=${2:-bookworm}
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
debootstrap --variant=minbase "$suite" "$dir" >/dev/null
tar --numeric-owner -C "$dir" -cf "$out" .
