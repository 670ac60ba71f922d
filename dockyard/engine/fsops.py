"""A container's files: ``cp``, ``diff``, ``export`` and ``commit``.

The container's root is its writable snapshot on the image's layers: while it
runs, the merged view mounted at ``lifecycle.rootfs_dir``; otherwise this module
mounts the snapshot itself for the operation (:func:`container_root`).

Paths inside a container are resolved one component at a time through directory
descriptors (:class:`~dockyard.store.layers.saferoot.SafeRoot`), symlinks
resolved as in a chroot, as Docker's ``FollowSymlinkInScope``: nothing the
container holds can lead a copy to the host's files. A path under a named or
anonymous volume's destination is looked up in the volume's directory instead
(volumes are mounted only in the container's namespace, not on the host's view
of its root); bind mounts are not mapped.

Copies go through a tar stream either way, written by :func:`write_tree` and
applied with :func:`~dockyard.store.layers.apply.apply_layer` (safe against
symlinks, ``..`` and the like in the archive).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, SystemFailure
from dockyard.store.layers.diff import Change, xattrs_of
from dockyard.store.layers.saferoot import Blocked, SafeRoot
from dockyard.store.layers.tarformat import (
    BLK,
    CHR,
    DIR,
    FIFO,
    LNK,
    REG,
    SYM,
    Entry,
    TarWriter,
    Writable,
)

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.engine.containers import Container

T = TypeVar("T")
IdMap = Callable[[int, int], tuple[int, int]]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CHUNK = 1 << 20
_MAX_HOPS = 40
_LIVE = ("running", "paused", "restarting")
# What Docker's init layer holds (mount points of the files it bind-mounts):
# ``docker diff`` never lists them.
_INIT_PATHS = frozenset(
    (
        "/etc/hostname",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/mtab",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/console",
        "/proc",
        "/sys",
        "/.dockerenv",
    )
)


# ---------------------------------------------------------------- the root


@contextlib.contextmanager
def container_root(engine: Engine, container: Container) -> Iterator[str]:
    """The container's merged root: its running mount, or a temporary one."""
    rootfs = engine.lifecycle.rootfs_dir(container.id)
    if container.status in _LIVE and os.path.ismount(rootfs):
        yield rootfs
        return
    # One temporary mount at a time per container: two overlay mounts sharing an
    # upper and work directory are undefined behaviour. The lock is an flock on
    # the container's directory, so nothing is left behind.
    import fcntl

    lock = os.open(engine.containers.container_dir(container.id), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.ismount(rootfs):  # started meanwhile
            yield rootfs
            return
        base = os.path.join(engine.options.run_root, "fsops")
        os.makedirs(base, mode=0o700, exist_ok=True)
        target = tempfile.mkdtemp(prefix=container.id[:12] + "-", dir=base)
        try:
            engine.snapshots.mount(container.snapshot_key, target)
            try:
                yield target
            finally:
                engine.snapshots.unmount(target)
        finally:
            with contextlib.suppress(OSError):
                os.rmdir(target)
    finally:
        os.close(lock)


@dataclass
class Located:
    """A resolved path: ``name`` in directory ``dir_fd`` (``b"."``: the directory
    itself). ``st`` is its lstat, None when it does not exist."""

    dir_fd: int
    name: bytes
    st: os.stat_result | None
    path: str  # the resolved path inside the root, for messages

    @property
    def is_dir(self) -> bool:
        return self.st is not None and stat.S_ISDIR(self.st.st_mode)


class InRoot:
    """Looks paths up inside one root directory without ever leaving it."""

    def __init__(self, root: str) -> None:
        self._safe = SafeRoot(root, layer_symlinks=set(), on_mkdir=_never)

    @property
    def fd(self) -> int:
        """The root directory's descriptor."""
        return self._safe.fd

    def close(self) -> None:
        self._safe.close()

    def __enter__(self) -> InRoot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def locate(self, path: str, *, follow: bool) -> Located:
        """Resolve ``path`` (absolute inside the root); the last component's symlink
        is followed when ``follow``. FileNotFoundError when a parent is missing,
        NotADirectoryError when one is not a directory."""
        clean = _clean(path)
        for _ in range(_MAX_HOPS):
            parent, base = posixpath.split(clean)
            try:
                fd, phys = self._safe.dir(os.fsencode(parent.lstrip("/")), create=False)
            except Blocked:
                raise SystemFailure(f"{path}: too many levels of symbolic links") from None
            name = os.fsencode(base) if base else b"."
            try:
                st: os.stat_result | None = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            shown = "/" + os.fsdecode(phys + b"/" + name if phys else name)
            if st is None or not follow or not stat.S_ISLNK(st.st_mode):
                return Located(fd, name, st, "/" if name == b"." else shown)
            target = os.fsdecode(os.readlink(name, dir_fd=fd))
            here = "/" + os.fsdecode(phys)
            clean = _clean(posixpath.join(here, target))
        raise SystemFailure(f"{path}: too many levels of symbolic links")


def _clean(path: str) -> str:
    """``path`` made absolute and normalised (``..`` stops at the root)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def _never(fd: int, name: bytes, phys: bytes) -> None:
    raise AssertionError("lookups never create directories")


def volume_for(container: Container, path: str) -> tuple[str, str] | None:
    """(volume directory, path inside it) when ``path`` lies in a named or anonymous
    volume of the container."""
    clean = _clean(path)
    best: tuple[str, str] | None = None
    longest = -1
    for m in container.spec.get("Mounts") or []:
        if m.get("Type") != "volume" or not m.get("Source"):
            continue
        dest = _clean(m["Destination"])
        if (clean == dest or clean.startswith(dest.rstrip("/") + "/")) and len(dest) > longest:
            best, longest = (m["Source"], "/" + clean[len(dest) :].lstrip("/")), len(dest)
    return best


# ---------------------------------------------------------------- tar streams


def write_tree(
    writer: TarWriter,
    dir_fd: int,
    name: bytes,
    arcname: bytes,
    *,
    seen: dict[tuple[int, int], bytes] | None = None,
) -> None:
    """Write ``name`` of ``dir_fd`` and, for a directory, everything below it as
    ``arcname...``; no symlink is followed. Sockets and ``.wh.`` names (which the
    extracting side would take for whiteouts) are skipped."""
    seen = {} if seen is None else seen
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    fmt = stat.S_IFMT(st.st_mode)
    where = b"/proc/self/fd/%d/%s" % (dir_fd, name)
    e = Entry(
        arcname,
        REG,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
        xattrs=_xattrs(where),
    )
    if fmt == stat.S_IFDIR:
        e.type = DIR
        e.name = arcname.rstrip(b"/") + b"/"
        writer.add(e)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            children = sorted(os.fsencode(n) for n in os.listdir(fd))
            for child in children:
                if child.startswith(b".wh."):
                    continue
                write_tree(writer, fd, child, e.name + child, seen=seen)
        finally:
            os.close(fd)
        return
    if fmt == stat.S_IFSOCK:
        return
    if st.st_nlink > 1 and fmt != stat.S_IFDIR:
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            e.type, e.linkname = LNK, first
            writer.add(e)
            return
        seen[(st.st_dev, st.st_ino)] = arcname
    if fmt == stat.S_IFREG:
        _write_file(writer, os.open(name, _FILE_FLAGS, dir_fd=dir_fd), e, st.st_size)
    elif fmt == stat.S_IFLNK:
        e.type, e.linkname = SYM, os.readlink(name, dir_fd=dir_fd)
        writer.add(e)
    elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
        e.type = CHR if fmt == stat.S_IFCHR else BLK
        e.devmajor, e.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        writer.add(e)
    elif fmt == stat.S_IFIFO:
        e.type = FIFO
        writer.add(e)


def _xattrs(path: bytes) -> dict[bytes, bytes] | None:
    try:
        return xattrs_of(path)
    except OSError:
        return None


def _write_file(writer: TarWriter, fd: int, e: Entry, size: int) -> None:
    """Exactly ``size`` bytes (zero-padded if the file shrank meanwhile); closes fd."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SystemFailure(f"{os.fsdecode(e.name)} changed while it was copied")
        e.size = size
        writer.add(e)
        left = size
        while left:
            chunk = os.read(fd, min(_CHUNK, left)) or bytes(min(_CHUNK, left))
            writer.write_data(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)


def pipe_through(produce: Callable[[BinaryIO], None], consume: Callable[[BinaryIO], T]) -> T:
    """Run ``produce(writer)`` in a thread, ``consume(reader)`` here, joined by a pipe."""
    r, w = os.pipe()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with open(w, "wb") as out:
                produce(out)
        except BrokenPipeError:
            pass  # the consumer stopped early; its error is the one to report
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        with open(r, "rb") as inp:
            result = consume(inp)
            while inp.read(_CHUNK):
                pass
    except BaseException:
        thread.join()
        if failures:  # a truncated stream: the producer's error says why
            raise failures[0] from None
        raise
    thread.join()
    if failures:
        raise failures[0]
    return result


def apply_tar(stream: BinaryIO, directory_fd: int, id_map: IdMap | None) -> None:
    """Extract a tar into an open directory (its symlinks resolved inside it)."""
    from dockyard.store.layers.apply import apply_layer

    apply_layer(stream, f"/proc/self/fd/{directory_fd}", whiteouts="oci", id_map=id_map)


# ---------------------------------------------------------------- diff


def changes(engine: Engine, container: Container) -> list[Change]:
    """``docker diff``: the writable layer against the image, sorted by path, without
    the files Docker keeps in its init layer."""
    from dockyard.store.layers import diff

    snaps = engine.snapshots
    key = container.snapshot_key
    top = _top_layer(engine, container)
    if engine.storage_driver == "vfs":
        parent = snaps.layer_dir(top) if top else None
        found = diff.changes(snaps.layer_dir(key), parent=parent, mode="compare")
    else:
        with _lower_view(engine, top) as lower:
            found = diff.changes(snaps.layer_dir(key), parent=lower, mode="overlay")
    return _hide_init(found)


def _hide_init(found: list[Change]) -> list[Change]:
    kept = [c for c in found if c.path not in _INIT_PATHS]
    # A directory listed only because an init file changed in it is dropped too.
    hidden_parents = {posixpath.dirname(p) for p in _INIT_PATHS}
    result = [
        c
        for c in kept
        if not (c.kind == "C" and c.path in hidden_parents and not _has_child(c.path, kept))
    ]
    return sorted(result, key=lambda c: c.path.split("/"))


def _has_child(path: str, found: list[Change]) -> bool:
    prefix = path.rstrip("/") + "/"
    return any(c.path.startswith(prefix) for c in found)


def _top_layer(engine: Engine, container: Container) -> str | None:
    chain = engine.images.get(container.image_id).chain
    return chain[-1] if chain else None


@contextlib.contextmanager
def _lower_view(engine: Engine, top: str | None) -> Iterator[str | None]:
    """A read-only mount of the image's layers (to tell added from changed)."""
    if top is None:
        yield None
        return
    key = f"fsops-view-{secrets.token_hex(8)}"
    base = os.path.join(engine.options.run_root, "fsops")
    os.makedirs(base, mode=0o700, exist_ok=True)
    target = tempfile.mkdtemp(prefix="view-", dir=base)
    try:
        engine.snapshots.view(key, top)
        try:
            engine.snapshots.mount(key, target)
            try:
                yield target
            finally:
                engine.snapshots.unmount(target)
        finally:
            engine.snapshots.remove(key)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(target)


# ---------------------------------------------------------------- export


def export(engine: Engine, container: Container, out: Writable) -> None:
    """The container's whole filesystem as one tar (``docker export``)."""
    from dockyard.store.layers.diff import write_diff

    with container_root(engine, container) as root:
        write_diff(root, out, parent=None, mode="compare")


# ---------------------------------------------------------------- commit


def commit(
    engine: Engine,
    container: Container,
    *,
    reference: str | None,
    author: str,
    message: str,
    changes: list[str],
    pause: bool,
) -> str:
    """A new image: the container's image plus its writable layer; returns its ID."""
    from dockyard import __version__
    from dockyard.engine.changes import apply_changes
    from dockyard.oci import reference as refs
    from dockyard.store.layers.diff import write_diff
    from dockyard.timeutil import rfc3339_nano

    tag = str(refs.parse_reference(reference).with_default_tag()) if reference else None
    new_config = apply_changes(dict(container.config), changes) if changes else container.config
    image = engine.images.get(container.image_id)
    base_config: dict[str, Any] = json.loads(engine.images.content.read(container.image_id))
    top = image.chain[-1] if image.chain else None
    snaps = engine.snapshots
    upper = snaps.layer_dir(container.snapshot_key)
    vfs = engine.storage_driver == "vfs"
    parent_dir = snaps.layer_dir(top) if vfs and top else None
    lease = engine.leases.create()
    made: set[str] = set()
    try:
        with _paused(engine, container, pause):

            def produce(out: BinaryIO) -> None:
                write_diff(upper, out, parent=parent_dir, mode="compare" if vfs else "overlay")

            layer = pipe_through(produce, lambda inp: engine.layers.unpack_stream(lease, inp, top))
        made.add(layer.chain_id)
        created = rfc3339_nano(time.time())
        history = list(base_config.get("history") or [])
        entry: dict[str, Any] = {
            "created": created,
            "created_by": " ".join(container.config.get("Cmd") or []),
        }
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        history.append(entry)
        config = {
            k: v
            for k, v in base_config.items()
            if k not in ("history", "rootfs", "config", "container_config")
        }
        config.update(
            {
                "author": author,
                "comment": message,
                "config": new_config,
                "container": container.id,
                "container_config": container.config,
                "created": created,
                "docker_version": f"dockyard-{__version__}",
                "history": history,
                "rootfs": {
                    "type": "layers",
                    "diff_ids": [
                        *(base_config.get("rootfs") or {}).get("diff_ids", []),
                        layer.diff_id,
                    ],
                },
            }
        )
        if not author:
            config.pop("author")
        if not message:
            config.pop("comment")
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        image_id, _ = engine.images.create(
            config_bytes,
            [*image.chain, layer.chain_id],
            tags=[tag] if tag else [],
            parent=container.image_id,
            lease=lease,
        )
    except BaseException:
        engine.layers.abandon(lease, made)
        raise
    finally:
        engine.leases.release(lease)
    engine.events.record(
        "container", "commit", container.id, {"name": container.name, "imageID": image_id}
    )
    return image_id


@contextlib.contextmanager
def _paused(engine: Engine, container: Container, wanted: bool) -> Iterator[None]:
    """Freeze a running container while its layer is read (``commit --pause``)."""
    if not wanted or container.status != "running":
        yield
        return
    import subprocess

    runtime = container.host_config.get("Runtime") or "runc"
    argv = engine.lifecycle.runtime_argv(runtime)
    done = subprocess.run([*argv, "pause", container.id], capture_output=True, check=False)
    if done.returncode != 0:
        text = done.stderr.decode(errors="replace").strip()
        raise Conflict(f"Cannot pause container {container.id}: {text}")
    try:
        yield
    finally:
        subprocess.run([*argv, "resume", container.id], capture_output=True, check=False)


# ---------------------------------------------------------------- users


def container_user_ids(root: str, user: str) -> tuple[int, int]:
    """The uid and gid of a container's ``User`` (``name|uid[:group|gid]``), looked up
    in its /etc/passwd and /etc/group; root when empty."""
    name, _, group = user.partition(":")
    uid = gid = 0
    if name:
        entry = _lookup(root, "/etc/passwd", name)
        if entry is not None:
            uid, gid = int(entry[2]), int(entry[3])
        elif name.isdigit():
            uid = int(name)
        else:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        found = _lookup(root, "/etc/group", group)
        if found is not None:
            gid = int(found[2])
        elif group.isdigit():
            gid = int(group)
        else:
            raise InvalidArgument(
                f"unable to find group {group}: no matching entries in group file"
            )
    return uid, gid


def _lookup(root: str, path: str, key: str) -> list[str] | None:
    try:
        with InRoot(root) as r:
            loc = r.locate(path, follow=True)
            if loc.st is None or not stat.S_ISREG(loc.st.st_mode):
                return None
            fd = os.open(loc.name, _FILE_FLAGS, dir_fd=loc.dir_fd)
            with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
                text = f.read(1 << 20)
    except (OSError, SystemFailure):
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and key in (fields[0], fields[2]) and fields[2].isdigit():
            return fields
    return None


def not_found(path: str, container_name: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {container_name}")


class LocalError(DockyardError):
    """An error Docker's CLI reports itself, about the local side of a copy
    (printed without the daemon prefix)."""


# ---------------------------------------------------------------- cp


@dataclass
class Source:
    """What a copy reads: ``name`` in ``dir_fd``, written to the tar as ``arcname``."""

    dir_fd: int
    name: bytes
    is_dir: bool
    arcname: bytes


def _contents_only(path: str) -> bool:
    return path == "." or path.endswith("/.")


def _trailing(path: str) -> bool:
    return path.endswith("/") or _contents_only(path)


def _arcname(path: str, is_dir: bool) -> bytes:
    base = posixpath.basename(_clean(path))
    if (_contents_only(path) and is_dir) or not base:
        return b"."
    return os.fsencode(base)


@contextlib.contextmanager
def _lookup_in(engine: Engine, container: Container, path: str) -> Iterator[tuple[InRoot, str]]:
    """An :class:`InRoot` for ``path`` (the volume's, or the container root's) and the
    path to look up in it."""
    vol = volume_for(container, path)
    if vol is not None:
        with InRoot(vol[0]) as r:
            yield r, vol[1]
        return
    with container_root(engine, container) as root, InRoot(root) as r:
        yield r, path


def _container_source(r: InRoot, inner: str, path: str, follow: bool, cname: str) -> Source:
    try:
        loc = r.locate(inner, follow=follow or _trailing(path))
    except FileNotFoundError:
        raise not_found(path, cname) from None
    except NotADirectoryError:
        raise SystemFailure(f"lstat {path}: not a directory") from None
    if loc.st is None:
        raise not_found(path, cname)
    if _trailing(path) and not loc.is_dir:
        raise SystemFailure(f"lstat {path}: not a directory")
    return Source(loc.dir_fd, loc.name, loc.is_dir, _arcname(path, loc.is_dir))


def _produce(src: Source, sizes: list[int]) -> Callable[[BinaryIO], None]:
    def run(out: BinaryIO) -> None:
        writer = TarWriter(out)
        write_tree(writer, src.dir_fd, src.name, src.arcname)
        writer.close()
        sizes.append(writer.size)

    return run


def copy_out(engine: Engine, container: Container, path: str, dest: str, *, follow: bool) -> int:
    """``docker cp CONTAINER:PATH DEST``; the files become the caller's. Returns the
    size of the tar copied."""
    with _lookup_in(engine, container, path) as (r, inner):
        src = _container_source(r, inner, path, follow, container.name)
        directory, arcname = _local_dest(dest, src)
        src.arcname = arcname
        sizes: list[int] = []
        uid, gid = os.getuid(), os.getgid()
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        problem = _overwrite_problem(dfd, arcname, src.is_dir, directory)
        if problem:
            os.close(dfd)
            raise LocalError(problem)
        try:
            pipe_through(
                _produce(src, sizes), lambda inp: apply_tar(inp, dfd, lambda u, g: (uid, gid))
            )
        finally:
            os.close(dfd)
    return sizes[0] if sizes else 0


def copy_out_stream(
    engine: Engine, container: Container, path: str, out: Writable, *, follow: bool
) -> int:
    """``docker cp CONTAINER:PATH -``: the tar to ``out``. A symlink followed with
    ``-L`` is named as its target is (Docker rebases the name only for a local copy)."""
    with _lookup_in(engine, container, path) as (r, inner):
        src = _container_source(r, inner, path, follow, container.name)
        if follow and src.arcname != b"." and src.name != b".":
            src.arcname = src.name
        writer = TarWriter(out)
        write_tree(writer, src.dir_fd, src.name, src.arcname)
        writer.close()
        return writer.size


def _overwrite_problem(dir_fd: int, name: bytes, src_is_dir: bool, where: str) -> str:
    """Docker's refusal to replace a directory by a non-directory or the reverse (the
    top entry only; below it, the tar's entries replace what they meet)."""
    if name == b".":
        return ""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return ""
    existing = posixpath.join(where, os.fsdecode(name))
    if stat.S_ISDIR(st.st_mode) and not src_is_dir:
        return f'cannot overwrite directory "{existing}" with non-directory "{where}"'
    if src_is_dir and not stat.S_ISDIR(st.st_mode):
        return f'cannot overwrite non-directory "{existing}" with directory "{where}"'
    return ""


def _local_dest(dest: str, src: Source) -> tuple[str, bytes]:
    """Where a copy out lands: the directory to extract into and the top name."""
    try:
        st: os.stat_result | None = os.stat(dest)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise LocalError(f"stat {dest}: not a directory") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        return dest, src.arcname
    if st is not None:
        if src.is_dir:
            raise LocalError("cannot copy directory")
        if _trailing(dest):
            raise LocalError(f"stat {dest}: not a directory")
        return os.path.dirname(os.path.abspath(dest)), os.fsencode(os.path.basename(dest))
    if _trailing(dest) and not src.is_dir:
        raise LocalError("no such directory")
    full = os.path.abspath(dest)
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise LocalError(f"lstat {parent}: no such file or directory")
    return parent, os.fsencode(os.path.basename(full))


def copy_in(
    engine: Engine,
    container: Container,
    source: str,
    path: str,
    *,
    follow: bool,
    archive: bool,
) -> int:
    """``docker cp SRC CONTAINER:PATH``. Owners are kept as they are, or with
    ``archive`` set to the container user's (what dockerd does). Returns the tar size."""
    src = _local_source(source, follow)
    try:
        id_map = _archive_ids(engine, container) if archive else None
        with _lookup_in(engine, container, path) as (r, inner):
            where, arcname = _container_dest(r, inner, path, src, container.name)
            src.arcname = _under(where, [arcname])
            sizes: list[int] = []
            pipe_through(_produce(src, sizes), lambda inp: apply_tar(inp, r.fd, id_map))
    finally:
        os.close(src.dir_fd)
    return sizes[0] if sizes else 0


def copy_in_stream(
    engine: Engine,
    container: Container,
    stream: BinaryIO,
    path: str,
    display: str,
    *,
    archive: bool,
) -> None:
    """``docker cp - CONTAINER:DIR``: extract a tar from ``stream`` into the directory."""
    id_map = _archive_ids(engine, container) if archive else None
    with _lookup_in(engine, container, path) as (r, inner):
        try:
            loc = r.locate(inner, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            loc = None
        if loc is None or not loc.is_dir:
            raise LocalError(f'destination "{display}" must be a directory')
        where = os.fsencode(loc.path.lstrip("/"))
        pipe_through(_rebased(stream, where), lambda inp: apply_tar(inp, r.fd, id_map))


def _under(where: bytes, parts: list[bytes]) -> bytes:
    return b"/".join([where, *parts] if where else parts) or b"."


def _rebased(stream: BinaryIO, where: bytes) -> Callable[[BinaryIO], None]:
    """A tar's entries moved under directory ``where`` (refusing names that climb out
    of it), so that it is extracted relative to the container's root, as Docker
    extracts chrooted into it: symlinks met on the way resolve inside the container."""
    from dockyard.store.layers.apply import clean_name
    from dockyard.store.layers.compression import open_decompressed
    from dockyard.store.layers.tarformat import TarReader

    def run(out: BinaryIO) -> None:
        reader = TarReader(open_decompressed(stream))
        writer = TarWriter(out)
        while (e := reader.next()) is not None:
            e.name = _under(where, clean_name(e.name)) + (b"/" if e.type == DIR else b"")
            if e.type == LNK:
                e.linkname = _under(where, clean_name(e.linkname))
            writer.add(e)
            if e.type == REG and e.size:
                for chunk in reader.chunks():
                    writer.write_data(chunk)
        writer.close()

    return run


def _archive_ids(engine: Engine, container: Container) -> IdMap:
    with container_root(engine, container) as root:
        uid, gid = container_user_ids(root, container.config.get("User") or "")
    return lambda u, g: (uid, gid)


def _local_source(source: str, follow: bool) -> Source:
    """The local file or directory copied in (opened; the caller closes ``dir_fd``)."""
    trailing = _trailing(source)
    try:
        st = os.stat(source) if follow or trailing else os.lstat(source)
    except FileNotFoundError:
        raise LocalError(f"lstat {source}: no such file or directory") from None
    except NotADirectoryError:
        raise LocalError("not a directory") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    if trailing and not is_dir:
        raise LocalError("not a directory")
    full = os.path.realpath(source) if follow or trailing else os.path.abspath(source)
    parent, name = os.path.split(full)
    fd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return Source(fd, os.fsencode(name) if name else b".", is_dir, _arcname(source, is_dir))


def _container_dest(
    r: InRoot, inner: str, path: str, src: Source, cname: str
) -> tuple[bytes, bytes]:
    """The directory a copy in extracts into (its path from the root, symlinks
    resolved) and the name of the top entry."""
    try:
        loc = r.locate(inner, follow=True)
    except FileNotFoundError:
        raise not_found(posixpath.dirname(_clean(path)), cname) from None
    except NotADirectoryError:
        raise LocalError("no such directory") from None
    if loc.is_dir:
        fd = os.open(loc.name, _DIR_FLAGS, dir_fd=loc.dir_fd)
        try:
            problem = _overwrite_problem(fd, src.arcname, src.is_dir, loc.path)
        finally:
            os.close(fd)
        if problem:
            raise SystemFailure(f"Error processing tar file(exit status 1): {problem}")
        return os.fsencode(loc.path.lstrip("/")), src.arcname
    if loc.st is not None and src.is_dir:
        raise LocalError("cannot copy directory")
    if _trailing(path) and (loc.st is not None or not src.is_dir):
        raise LocalError("no such directory")
    return os.fsencode(posixpath.dirname(loc.path).lstrip("/")), loc.name
