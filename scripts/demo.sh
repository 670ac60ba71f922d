#!/usr/bin/env bash
# The main job end to end, offline, in a private root: make a base image, run
# containers from it, build an image from a Dockerfile, network containers,
# and push/pull through dockyard's own registry — as a Docker user would.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
registry_pid=""
cleanup() {
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  $dy rm -f $($dy ps -aq) >/dev/null 2>&1
  $dy network prune -f >/dev/null 2>&1
  # the default bridge (device and rules) goes with this private root, unless in use
  .venv/bin/python -c 'from dockyard.config import resolve_options
from dockyard.engine import Engine
Engine(resolve_options()).networks.release_default_bridge()' 2>/dev/null
  for helper in network/portd.pid monitor/zygote.pid cli/warm.pid; do  # per-root helpers, idle now
    [ -s "$work/run/$helper" ] && kill "$(cat "$work/run/$helper")" 2>/dev/null
  done
  # the embedded DNS server of user networks lingers a minute after its last container
  [ -f "$work/run/network/dnsd.pid" ] && kill "$(cat "$work/run/network/dnsd.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
export DOCKYARD_ROOT="$work/root" DOCKYARD_RUN="$work/run"
dy=.venv/bin/dockyard

echo "== a base image from busybox-static"
scripts/make-busybox-rootfs.sh "$work/rootfs.tar"
$dy import -c 'CMD ["sh"]' -m "busybox from busybox-static" "$work/rootfs.tar" busybox:latest
$dy tag busybox localhost/busybox:1
$dy images
$dy history busybox
$dy save -o "$work/busybox.tar" busybox localhost/busybox:1
$dy rmi busybox localhost/busybox:1
$dy load -i "$work/busybox.tar"
$dy images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'

echo "== containers"
$dy run --rm busybox sh -c 'echo "hello from $(hostname), pid $$"; cat /etc/hostname'
$dy run --rm --runtime dockyard busybox echo "the same on dockyard's own OCI runtime"
$dy run -d --name sleeper busybox sleep 300
$dy ps
$dy stop -t 1 sleeper
$dy ps -a
$dy rm sleeper

echo "== build an image"
mkdir -p "$work/app"
echo "hello from a built image" > "$work/app/greeting.txt"
cat > "$work/app/Dockerfile" <<'DOCKERFILE'
FROM busybox
WORKDIR /app
COPY greeting.txt .
RUN echo "built on $(uname -m)" > built.txt
CMD ["sh", "-c", "cat greeting.txt built.txt"]
DOCKERFILE
$dy build -t app:1 "$work/app"
$dy run --rm app:1
$dy build -t app:1 "$work/app"   # again: every step from the cache

echo "== networks"
$dy network create demo-net
$dy run -d --name web --network demo-net -p 127.0.0.1:8088:80 busybox \
  sh -c 'echo "served by web" > /index.html; httpd -f -p 80 -h /'
$dy run --rm --network demo-net busybox sh -c 'sleep 0.5; nc web 80 </dev/null >/dev/null && echo "web is reachable by name"'
$dy port web
.venv/bin/python -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8088/index.html", timeout=5).read().decode().strip(), "(from the host, through -p)")'
$dy rm -f web
$dy network rm demo-net

echo "== a private registry: push and pull"
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$dy registry serve --addr "127.0.0.1:$port" --storage "$work/registry" &
registry_pid=$!
.venv/bin/python -c "
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(('127.0.0.1', $port), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit('the registry did not start')"
$dy tag app:1 "127.0.0.1:$port/app:1"
$dy push "127.0.0.1:$port/app:1"
$dy rmi app:1 "127.0.0.1:$port/app:1"
$dy run --rm "127.0.0.1:$port/app:1"

$dy system df
echo "demo done"
