"""Executing the steps that make layers: RUN in a container, COPY/ADD, WORKDIR.

Each such step works in a fresh active snapshot on the stage's top layer,
mounted under ``$DOCKYARD_RUN/build/<token>``: RUN starts the OCI runtime
(``runc run``, in the foreground, its output piped to the progress display)
with a spec from :func:`dockyard.runtime.spec.build_spec`, on the default bridge
(``--network default``: an endpoint from ``engine.networks`` as a ``docker run``
container gets, recorded under an id derived from the step's token so that
:func:`reap_stale` can detach it after a killed build); COPY applies a tar of
the sources through the layer code's safe extraction (so nothing in the image,
symlinks included, can lead a copy outside the root). The snapshot's changes
then become a layer exactly as ``commit`` makes one (``write_diff`` into
``LayerStore.unpack_stream``). Everything a step creates (runtime state,
network endpoint, mounts, snapshot, bundle) is removed in ``finally`` blocks, and the snapshot and
layer are held under the build's lease meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import Conflict, DockyardError, InvalidArgument
from dockyard.store.layers.tarformat import DIR, LNK, REG, SYM, Entry, TarWriter

if TYPE_CHECKING:
    from dockyard.build.dockerignore import Matcher
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container
    from dockyard.engine.layerstore import Layer
    from dockyard.engine.networks import NetPlan

Output = Callable[[bytes], None]

# Files runc bind-mounts over, and mount points it creates when missing: when
# they did not exist before the step, they are removed again before the diff
# (BuildKit's executor does the same with its "stubs").
_STUB_PATHS = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/proc", "/sys", "/dev")


class RunFailed(DockyardError):
    """A RUN step's process exited non-zero (BuildKit's wording)."""

    exit_code = 1

    def __init__(self, argv: list[str], code: int) -> None:
        shown = " ".join(argv)
        super().__init__(f'process "{shown}" did not complete successfully: exit code: {code}')
        self.code = code


@dataclass
class RunMount:
    """One ``RUN --mount`` resolved to a host directory (or a tmpfs)."""

    target: str
    source: str = ""
    type: str = "bind"  # bind | tmpfs
    readonly: bool = False


@dataclass
class RunSpec:
    argv: list[str]
    env: list[str]
    user: str = ""
    workdir: str = "/"
    network: str = "default"  # default | none | host
    mounts: list[RunMount] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    shm_size: int = 0
    ulimits: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------- a step's snapshot


class StepWork:
    """A writable snapshot on ``parent`` mounted at ``rootfs`` for one step."""

    def __init__(self, engine: Engine, lease: str, parent: str | None) -> None:
        self.engine = engine
        self.lease = lease
        self.parent = parent
        self.token = secrets.token_hex(8)
        self.key = f"build-{self.token}"
        self.dir = os.path.join(engine.options.run_root, "build", self.token)
        self.rootfs = os.path.join(self.dir, "rootfs")
        self._mounted = False
        # directories that only held removed mount stubs: (path, mode, uid, gid)
        self.stub_parents: list[tuple[str, int, int, int]] = []

    def __enter__(self) -> StepWork:
        from dockyard.store.procs import self_identity

        e = self.engine
        os.makedirs(self.rootfs, mode=0o700)
        pid, start = self_identity()
        with open(os.path.join(self.dir, "owner"), "w") as f:
            f.write(f"{pid} {start}\n")
        try:
            e.leases.add(self.lease, "snapshot", self.key)
            e.snapshots.prepare(self.key, self.parent)
            e.snapshots.mount(self.key, self.rootfs)
            self._mounted = True
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def unmount(self) -> None:
        if self._mounted:
            self.engine.snapshots.unmount(self.rootfs)
            self._mounted = False

    def close(self) -> None:
        try:
            self.unmount()
        finally:
            try:
                if self.engine.snapshots.exists(self.key):
                    self.engine.snapshots.remove(self.key)
            finally:
                shutil.rmtree(self.dir, ignore_errors=True)

    def commit(self) -> Layer:
        """The snapshot's changes as a layer on ``parent`` (unmounts first).

        The diff tar goes to the content store (its digest is the diff id) and the
        step's own snapshot becomes the layer's committed snapshot, as BuildKit
        commits an exec's upper directory: the files are not extracted a second
        time. The ``layers`` row is written after the commit, as
        :class:`~dockyard.engine.layerstore.LayerStore` does, so a killed build
        leaves at worst an unreferenced snapshot or blob for garbage collection.
        """
        from dockyard.oci import mediatypes as mt
        from dockyard.oci.image import chain_ids
        from dockyard.store.layers.diff import write_diff

        self.unmount()
        e = self.engine
        snaps = e.snapshots
        vfs = e.storage_driver == "vfs"
        upper = snaps.layer_dir(self.key)
        if not vfs:
            _drop_untouched_dirs(upper, self.stub_parents)
        parent_dir = snaps.layer_dir(self.parent) if vfs and self.parent else None
        with e.content.writer() as writer:
            stats = write_diff(
                upper, writer, parent=parent_dir, mode="compare" if vfs else "overlay"
            )
            blob = writer.commit(before_publish=lambda d: e.leases.add(self.lease, "blob", d))
        chain = stats.diff_id if self.parent is None else chain_ids([self.parent, stats.diff_id])[1]
        existing = e.layers.claim(self.lease, chain)
        if existing is not None:
            return existing  # the same layer exists already; close() drops our copy
        size = snaps.usage(self.key).size if not vfs else _tar_content_size(blob, e)
        try:
            snaps.commit(chain, self.key)
        except Conflict:
            found = e.layers.claim(self.lease, chain)
            if found is not None:
                return found
            raise
        with e.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, blob_digest,"
                " blob_size, media_type, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (chain, stats.diff_id, self.parent, size, blob, stats.size, mt.DOCKER_LAYER,
                 time.time()),
            )  # fmt: skip
        layer = e.layers.claim(self.lease, chain)
        if layer is None:  # pragma: no cover - the row was just written
            raise Conflict(f"layer {chain} vanished while it was committed")
        return layer


def _tar_content_size(blob: str, engine: Engine) -> int:
    """Bytes of file content in a layer tar (vfs snapshots are full copies)."""
    import tarfile

    with engine.content.open(blob) as f, tarfile.open(fileobj=f, mode="r|") as tar:
        return sum(m.size for m in tar if m.isreg())


def reap_stale(engine: Engine) -> int:
    """Clean up after builds whose process was killed (``kill -9``): their runtime
    container, mounts, snapshot and directory. Returns how many were found."""
    from dockyard.store.procs import pid_alive

    base = os.path.join(engine.options.run_root, "build")
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return 0
    found = 0
    for token in names:
        directory = os.path.join(base, token)
        try:
            with open(os.path.join(directory, "owner")) as f:
                pid_text, start = f.read().split()
        except (OSError, ValueError):
            continue  # not a step directory (views, downloads) or still being made
        if pid_alive(int(pid_text), start):
            continue
        found += 1
        runtime = engine.options.daemon.get("default-runtime") or "runc"
        with contextlib.suppress(DockyardError, OSError, subprocess.SubprocessError):
            binary = engine.lifecycle.runtime_binary(runtime)
            subprocess.run(
                [binary, "--root", engine.lifecycle.runtime_root(runtime), "delete", "--force",
                 f"dockyard-build-{token}"],
                capture_output=True, timeout=30,
            )  # fmt: skip
        with contextlib.suppress(DockyardError, OSError):
            engine.networks.detach(_step_container(token, "default"))
        from dockyard.store.snapshots._linux import mounts_under

        for point in mounts_under(directory):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        key = f"build-{token}"
        with contextlib.suppress(DockyardError):
            if engine.snapshots.exists(key):
                engine.snapshots.remove(key)
        shutil.rmtree(directory, ignore_errors=True)
    return found


def _drop_untouched_dirs(upper: str, dirs: list[tuple[str, int, int, int]]) -> None:
    """Remove an overlay upper directory that only held mount stubs (now removed)
    and whose metadata is unchanged: the lower one shows through again."""
    for path, mode, uid, gid in sorted(dirs, key=lambda d: len(d[0]), reverse=True):
        full = os.path.join(upper, path.lstrip("/"))
        with contextlib.suppress(OSError):
            st = os.lstat(full)
            if not stat.S_ISDIR(st.st_mode) or os.listdir(full):
                continue
            if (st.st_mode, st.st_uid, st.st_gid) != (mode, uid, gid):
                continue
            if any(os.getxattr(full, x, follow_symlinks=False) for x in _opaque_xattrs(full)):
                continue
            os.rmdir(full)


def _opaque_xattrs(path: str) -> list[str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []
    return [n for n in names if n.endswith("overlay.opaque")]


def _missing_stubs(rootfs: str, extra: list[str]) -> list[str]:
    """The first missing component of each mount point, to remove after the step."""
    missing: list[str] = []
    for path in [*_STUB_PATHS, *extra]:
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            if not os.path.lexists(os.path.join(rootfs, sub.lstrip("/"))):
                if sub not in missing:
                    missing.append(sub)
                break
            if os.path.islink(os.path.join(rootfs, sub.lstrip("/"))):
                break
    return missing


def _remove_stubs(rootfs: str, stubs: list[str]) -> None:
    for path in sorted(stubs, key=len, reverse=True):
        full = os.path.join(rootfs, path.lstrip("/"))
        with contextlib.suppress(OSError):
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                _remove_empty_tree(full)
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(full)


def _remove_empty_tree(path: str) -> None:
    for name in os.listdir(path):
        child = os.path.join(path, name)
        if os.path.isdir(child) and not os.path.islink(child):
            _remove_empty_tree(child)
        elif os.path.isfile(child) and not os.path.islink(child) and os.path.getsize(child) == 0:
            os.unlink(child)
    os.rmdir(path)


# ----------------------------------------------------------------- RUN


def run_process(engine: Engine, work: StepWork, spec: RunSpec, output: Output) -> None:
    """Run ``spec.argv`` in a container on ``work``'s root; RunFailed on a non-zero exit."""
    rootfs = work.rootfs
    stubs = _missing_stubs(rootfs, [m.target for m in spec.mounts])
    for stub in stubs:
        parent = posixpath.dirname(stub)
        if parent != "/":
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(rootfs, parent.lstrip("/")))
                work.stub_parents.append((parent, st.st_mode, st.st_uid, st.st_gid))
    for m in spec.mounts:  # mount points the image lacks (removed again as stubs)
        target = os.path.join(rootfs, m.target.lstrip("/"))
        if not os.path.lexists(target):
            if m.type == "bind" and m.source and not os.path.isdir(m.source):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "a").close()
            else:
                os.makedirs(target, exist_ok=True)
    network = {"default": "default", "": "default", "none": "none", "host": "host"}.get(
        spec.network
    )
    if network is None:
        raise InvalidArgument(f"unsupported network mode {spec.network!r}")
    with contextlib.ExitStack() as stack:
        plan = stack.enter_context(_step_network(engine, work, network))
        _run_in_container(engine, work, spec, output, network, plan, stubs)


def _run_in_container(
    engine: Engine,
    work: StepWork,
    spec: RunSpec,
    output: Output,
    network: str,
    plan: NetPlan | None,
    stubs: list[str],
) -> None:
    from dockyard.engine.lifecycle import read_in_root
    from dockyard.runtime.spec import EtcFiles, MountSpec, build_spec
    from dockyard.runtime.spec.etc_files import hostname_file, hosts_file, resolv_conf

    rootfs = work.rootfs
    hostname = "buildkitsandbox"
    gateway_ip = engine.options.daemon.get("host-gateway-ip")
    etc = {
        "hostname": hostname_file(hostname),
        "hosts": hosts_file(
            hostname=hostname,
            domainname="",
            extra_hosts=spec.extra_hosts,
            host_gateway=[gateway_ip] if gateway_ip else (plan.host_gateways[:1] if plan else []),
        ),
        "resolv.conf": resolv_conf(
            _read_host("/etc/resolv.conf"),
            dns=[],
            dns_search=[],
            dns_options=[],
            mode="host" if network == "host" else "legacy",
        ),
    }
    for name, text in etc.items():
        with open(os.path.join(work.dir, name), "w") as f:
            f.write(text)
    config: dict[str, Any] = {
        "Env": spec.env,
        "Cmd": spec.argv,
        "Entrypoint": None,
        "User": spec.user,
        "WorkingDir": spec.workdir or "/",
        "Hostname": hostname,
    }
    host_config: dict[str, Any] = {
        "NetworkMode": network,
        "IpcMode": "private",
        "CgroupnsMode": "private"
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        else "host",
        "ShmSize": spec.shm_size or 64 * 1024 * 1024,
        "Ulimits": spec.ulimits or None,
    }
    mounts = [
        MountSpec(
            destination=m.target,
            source=m.source,
            type="tmpfs" if m.type == "tmpfs" else "bind",
            read_only=m.readonly,
        )
        for m in spec.mounts
    ]
    if any(m.type == "tmpfs" for m in spec.mounts):
        host_config["Tmpfs"] = {m.target: "" for m in spec.mounts if m.type == "tmpfs"}
        mounts = [m for m in mounts if m.type != "tmpfs"]
    cid = f"dockyard-build-{work.token}"
    oci = build_spec(
        config,
        host_config,
        {},
        rootfs=rootfs,
        cgroups_path=f"/dockyard/{cid}",
        mounts=mounts,
        etc_files=EtcFiles(
            resolv_conf=os.path.join(work.dir, "resolv.conf"),
            hostname=os.path.join(work.dir, "hostname"),
            hosts=os.path.join(work.dir, "hosts"),
        ),
        passwd=read_in_root(rootfs, "etc", "passwd"),
        group=read_in_root(rootfs, "etc", "group"),
        netns_path=plan.netns_path if plan is not None else None,
    )
    bundle = os.path.join(work.dir, "bundle")
    os.makedirs(bundle)
    import json

    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(oci, f)
    runtime_name = engine.options.daemon.get("default-runtime") or "runc"
    binary = engine.lifecycle.runtime_binary(runtime_name)
    state_root = engine.lifecycle.runtime_root(runtime_name)
    os.makedirs(state_root, exist_ok=True)
    argv = [binary, "--root", state_root, "run", "--bundle", bundle, cid]
    code = _run_foreground(argv, output, binary, state_root, cid)
    _remove_stubs(rootfs, stubs)
    if code != 0:
        raise RunFailed(spec.argv, code)


def step_container_id(token: str) -> str:
    """The id a RUN step's endpoint is recorded under on the default bridge."""
    return hashlib.sha256(f"dockyard-build-{token}".encode()).hexdigest()


def _step_container(token: str, network: str) -> Container:
    """A container record for the network service: a RUN step is not a container
    users see, but it gets the endpoint a ``docker run`` container gets."""
    from dockyard.engine.containers import Container

    cid = step_container_id(token)
    endpoints: dict[str, dict[str, str]] = {"bridge": {}} if network == "default" else {}
    spec = {
        "Config": {},
        "HostConfig": {"NetworkMode": network},
        "NetworkingConfig": {"EndpointsConfig": endpoints},
    }
    return Container(cid, f"buildkit-{token}", "", time.time(), spec, {})


@contextlib.contextmanager
def _step_network(engine: Engine, work: StepWork, network: str) -> Iterator[NetPlan | None]:
    """The step's network namespace: on the default bridge (with outbound access, as
    BuildKit's ``default`` network in dockerd), or none of ours (``none``: runc's new
    namespace with only loopback; ``host``: the host's)."""
    if network != "default":
        yield None
        return
    container = _step_container(work.token, "default")
    plan = engine.networks.attach(container)
    try:
        yield plan
    finally:
        engine.networks.detach(container)


def _read_host(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()


def kill_running() -> None:
    """Kill the RUN steps in progress (a cancelled build); their threads clean up."""
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _run_foreground(argv: list[str], output: Output, binary: str, root: str, cid: str) -> int:
    """``runc run`` with stdin from /dev/null and output relayed; always deleted after."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's Ctrl-C reaches us, not the container
    )
    with _running_lock:
        _running.add(proc)
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            output(chunk)
        return proc.wait()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                subprocess.run(
                    [binary, "--root", root, "kill", cid, "KILL"], capture_output=True, timeout=10
                )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        with _running_lock:
            _running.discard(proc)
        subprocess.run(
            [binary, "--root", root, "delete", "--force", cid], capture_output=True, timeout=30
        )


# ----------------------------------------------------------------- COPY / ADD sources


@dataclass
class Source:
    """A COPY source: ``rel`` ("" for the root itself) inside the tree ``root``
    (the context, a stage's or image's files, or a download directory)."""

    root: str
    rel: str
    target: str | None = None  # COPY --parents: its path below the destination
    context: bool = True  # False: not from the context, so .dockerignore does not apply


def _walk(root: str, rel: str, matcher: Matcher | None) -> Iterator[tuple[str, str]]:
    """(path below the source, real path) of everything a directory source holds,
    parents first; ignored files left out."""
    from dockyard.build.context import resolve_in_root
    from dockyard.build.dockerignore import Matcher

    real = resolve_in_root(root, rel)
    if real != (os.path.join(root, rel) if rel else root):
        rel = os.path.relpath(real, root)
        rel = "" if rel == "." else rel
    prefix = rel + "/" if rel else ""
    for path, _is_dir in (matcher or Matcher([])).walk(root, rel):
        yield path[len(prefix) :], os.path.join(root, path)


def file_digests(
    root: str, rels: list[str], matcher: Matcher | None, memo: dict[str, str]
) -> dict[str, str]:
    """What the copied files are, for telling which one changed: path -> mode,
    owner and content digest (never times). ``memo`` maps a file's identity and
    times to its content hash, in :func:`dockyard.build.context.checksum_paths`'
    format, so that its digest of the same files reads nothing again."""
    from dockyard.build.context import resolve_in_root

    out: dict[str, str] = {}
    for rel in rels:
        real = resolve_in_root(root, rel)
        out[rel or "."] = _describe(real, os.lstat(real), memo)
        if os.path.isdir(real):
            for sub, full in _walk(root, rel, matcher):
                out[f"{rel}/{sub}" if rel else sub] = _describe(full, os.lstat(full), memo)
    return out


def _describe(path: str, st: os.stat_result, memo: dict[str, str]) -> str:
    head = f"{stat.S_IMODE(st.st_mode):o}:{st.st_uid}:{st.st_gid}"
    if stat.S_ISDIR(st.st_mode):
        return "dir:" + head
    if stat.S_ISLNK(st.st_mode):
        return f"link:{head}:{os.readlink(path)}"
    if not stat.S_ISREG(st.st_mode):
        return f"special:{head}:{st.st_rdev}"
    key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    digest = memo.get(key)
    if digest is None:
        h = hashlib.sha256()
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
        finally:
            os.close(fd)
        digest = memo[key] = h.hexdigest()
    return f"file:{head}:{digest}"


# ----------------------------------------------------------------- COPY into a root


@dataclass
class CopySpec:
    sources: list[Source]
    dest: str  # absolute in the image, after WORKDIR
    dest_is_dir: bool  # ends with "/" or several sources
    uid: int = 0
    gid: int = 0
    chmod: int | None = None
    matcher: Matcher | None = None  # the context's ignore rules (None: copy everything)
    excludes: Matcher | None = None  # COPY --exclude, relative to each source
    unpack: bool = False  # ADD: extract local archives


def copy_into(work: StepWork, spec: CopySpec) -> None:
    """Docker's COPY rules, applied through a tar into the mounted snapshot."""
    from dockyard.build.context import resolve_in_root
    from dockyard.engine.fsops import apply_tar, pipe_through

    rootfs = work.rootfs
    dest = posixpath.normpath(spec.dest) if spec.dest not in ("", "/") else "/"
    dest_dir = spec.dest_is_dir
    if not dest_dir:
        with contextlib.suppress(OSError):
            dest_dir = os.path.isdir(resolve_in_root(rootfs, dest.lstrip("/")))
    archives: list[str] = []
    plain: list[tuple[Source, str, os.stat_result]] = []
    for src in spec.sources:
        real = resolve_in_root(src.root, src.rel)
        st = os.stat(real)
        if spec.unpack and stat.S_ISREG(st.st_mode) and _is_archive(real):
            archives.append(real)
        else:
            plain.append((src, real, st))

    def produce(out: BinaryIO) -> None:
        writer = TarWriter(out)
        seen: dict[tuple[int, int], bytes] = {}
        for src, real, st in plain:
            base = posixpath.join(dest, src.target) if src.target else dest
            if stat.S_ISDIR(st.st_mode):
                if src.target:
                    _write(writer, spec, real, base, seen, follow=True)
                for sub, full in _walk(src.root, src.rel, spec.matcher if src.context else None):
                    if spec.excludes is not None and spec.excludes.excluded(sub):
                        continue
                    _write(writer, spec, full, posixpath.join(base, sub), seen)
            elif src.target is not None:
                _write(writer, spec, real, base, seen, follow=True)
            else:
                name = posixpath.basename(src.rel) or posixpath.basename(real)
                target = posixpath.join(dest, name) if dest_dir else dest
                _write(writer, spec, real, target, seen, follow=True)
        writer.close()

    def owner(_uid: int, _gid: int) -> tuple[int, int]:
        return spec.uid, spec.gid

    root_fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if plain:
            pipe_through(produce, lambda inp: apply_tar(inp, root_fd, owner))
        if archives:
            target = dest
            make_dir(work, target, spec.uid, spec.gid)
            target_fd = os.open(
                resolve_in_root(rootfs, target.lstrip("/")), os.O_RDONLY | os.O_DIRECTORY
            )
            try:
                for real in archives:
                    with open(real, "rb") as archive:
                        apply_tar(archive, target_fd, None)
            finally:
                os.close(target_fd)
    finally:
        os.close(root_fd)


def _is_archive(path: str) -> bool:
    from dockyard.store.layers.compression import detect_compression

    with open(path, "rb") as f:
        head = f.read(512)
    if detect_compression(head) != "none":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _arc(path: str) -> bytes:
    return os.fsencode(path.lstrip("/"))


def _write(
    writer: TarWriter,
    spec: CopySpec,
    path: str,
    target: str,
    seen: dict[tuple[int, int], bytes],
    *,
    follow: bool = False,
) -> None:
    st = os.stat(path) if follow else os.lstat(path)
    mode = stat.S_IMODE(st.st_mode) if spec.chmod is None else spec.chmod
    e = Entry(_arc(target), REG, mode=mode, mtime_ns=st.st_mtime_ns)
    if stat.S_ISDIR(st.st_mode):
        e.type = DIR
        e.name = _arc(target) + b"/"
        writer.add(e)
    elif stat.S_ISLNK(st.st_mode):
        e.type, e.linkname = SYM, os.fsencode(os.readlink(path))
        e.mode = stat.S_IMODE(st.st_mode)
        writer.add(e)
    elif stat.S_ISREG(st.st_mode):
        if st.st_nlink > 1:
            first = seen.get((st.st_dev, st.st_ino))
            if first is not None:
                e.type, e.linkname = LNK, first
                writer.add(e)
                return
            seen[(st.st_dev, st.st_ino)] = e.name
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
        try:
            e.size = st.st_size
            writer.add(e)
            left = st.st_size
            while left:
                chunk = os.read(fd, min(1 << 20, left)) or bytes(min(1 << 20, left))
                writer.write_data(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)


# ----------------------------------------------------------------- WORKDIR


def make_dir(work: StepWork, path: str, uid: int = 0, gid: int = 0) -> None:
    """``mkdir -p`` inside the root (symlinks resolved within it)."""
    from dockyard.build.context import resolve_in_root
    from dockyard.engine.fsops import apply_tar, pipe_through

    if posixpath.normpath(path) == "/":
        return
    with contextlib.suppress(OSError):
        resolve_in_root(work.rootfs, path.lstrip("/"))
        return

    def produce(out: BinaryIO) -> None:
        writer = TarWriter(out)
        import time

        writer.add(Entry(_arc(path) + b"/", DIR, mode=0o755, mtime_ns=time.time_ns()))
        writer.close()

    root_fd = os.open(work.rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pipe_through(produce, lambda inp: apply_tar(inp, root_fd, lambda u, g: (uid, gid)))
    finally:
        os.close(root_fd)


# ----------------------------------------------------------------- users


def user_ids(rootfs: str, user: str) -> tuple[int, int]:
    """``--chown`` / USER names to ids through the image's /etc/passwd and /etc/group."""
    from dockyard.engine.fsops import container_user_ids

    try:
        return container_user_ids(rootfs, user)
    except DockyardError as err:
        raise InvalidArgument(
            f"unable to convert uid/gid chown string to host mapping: {err}"
        ) from None


def temp_dir(engine: Engine, prefix: str) -> str:
    from dockyard.store.procs import self_identity

    base = os.path.join(engine.options.run_root, "build")
    os.makedirs(base, mode=0o700, exist_ok=True)
    path = tempfile.mkdtemp(prefix=prefix, dir=base)
    pid, start = self_identity()
    with open(os.path.join(path, "owner"), "w") as f:  # for reap_stale
        f.write(f"{pid} {start}\n")
    return path


__all__ = [
    "CopySpec",
    "RunFailed",
    "RunMount",
    "RunSpec",
    "Source",
    "StepWork",
    "copy_into",
    "file_digests",
    "make_dir",
    "run_process",
    "temp_dir",
    "user_ids",
]
