#!/usr/bin/env bash
# The main job end to end, offline, in a private root: make a base image, run
# containers from it, and work with images as a Docker user would. Builds join
# this script when the build issue lands.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOCKYARD_ROOT="$work/root" DOCKYARD_RUN="$work/run"
dy=.venv/bin/dockyard
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
$dy import -c 'CMD ["sh"]' -m "busybox from busybox-static" "$work/rootfs.tar" busybox:latest
$dy tag busybox localhost/busybox:1
$dy images
$dy history busybox
$dy save -o "$work/busybox.tar" busybox localhost/busybox:1
$dy rmi busybox localhost/busybox:1
$dy load -i "$work/busybox.tar"
$dy images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
$dy run --rm busybox sh -c 'echo "hello from $(hostname), pid $$"; cat /etc/hostname'
$dy run --rm --runtime dockyard busybox echo "the same on dockyard's own OCI runtime"
$dy run -d --name sleeper busybox sleep 300
$dy ps
$dy stop -t 1 sleeper
$dy ps -a
$dy rm sleeper
$dy system df
echo "demo done"
