#!/usr/bin/env bash
# Install what dockyard and its tests need on Debian/Ubuntu, and a venv in .venv.
# Idempotent: run it again after pulling new code.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  busybox-static   # a static /bin/busybox to make test images from
  runc             # the default OCI runtime until dockyard-runtime is complete
  tini             # /usr/bin/tini-static: the init binary for --init (docker-init)
  skopeo           # interop tests: docker-archive / oci-archive
  zstd xz-utils bzip2
  python3-venv
  iproute2 iptables
  docker-registry  # interop tests: a real registry (distribution 2.8)
  apache2-utils    # htpasswd, to make registry password files in tests
  git              # ADD of git sources (and the tests' git daemon / http-backend)
  openssh-client   # build --ssh: ssh-agent for the build's keys, ssh for git@ sources
  openssh-server   # tests: a private sshd (own config, port, namespace) serving ADD git@… / ssh://
  gcc libc6-dev    # tests compile a tiny static ssh-agent client for build images
)
# The real docker engine and CLI, to compare against (interop tests and benchmarks).
OPTIONAL_PACKAGES=(docker.io docker-compose)

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${DOCKYARD_SKIP_APT_UPDATE:-}" ]; then apt-get update -q >/dev/null; fi
  apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null
  apt-get install -y -q --no-install-recommends "${OPTIONAL_PACKAGES[@]}" >/dev/null \
    || echo "note: optional packages not installed: ${OPTIONAL_PACKAGES[*]}" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import dockyard, zstandard, httpx"
# Byte-compile now: an editable install does not, and without .pyc every command
# would pay for compiling its modules (PYTHONDONTWRITEBYTECODE may be set).
.venv/bin/python -m compileall -q dockyard >/dev/null
echo "setup done: .venv/bin/dockyard"
