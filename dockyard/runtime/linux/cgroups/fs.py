"""Reading the host's cgroup layout and reading/writing cgroup files.

Every write goes through :func:`write`, so a refusal by the kernel always
surfaces as a SystemFailure naming the file and the value.
"""

from __future__ import annotations

import errno
import os
import posixpath
import time
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, SystemFailure

CGROUP_ROOT = "/sys/fs/cgroup"

_MOUNT_FLAGS = {"rw", "ro"}


@dataclass(frozen=True)
class CgroupMount:
    """One cgroup hierarchy mount: where it is, which part of the tree it shows."""

    point: str
    root: str
    version: int  # 1 or 2
    controllers: frozenset[str]  # v1: subsystems and name=...; v2: empty


def _unescape(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup and cgroup2 mounts listed in a /proc/<pid>/mountinfo text."""
    found: list[CgroupMount] = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        rfields = right.split()
        if len(fields) < 5 or len(rfields) < 1:
            continue
        fstype = rfields[0]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            found.append(CgroupMount(point, root, 2, frozenset()))
            continue
        superopts = rfields[2].split(",") if len(rfields) > 2 else []
        ctrls = frozenset(o for o in superopts if o and o not in _MOUNT_FLAGS and "=" not in o)
        ctrls |= frozenset(o for o in superopts if o.startswith("name="))
        ctrls -= {"relatime", "noatime", "nosuid", "nodev", "noexec", "xattr", "clone_children"}
        ctrls = frozenset(c for c in ctrls if not c.startswith("release_agent"))
        found.append(CgroupMount(point, root, 1, ctrls))
    return found


def read_mounts() -> list[CgroupMount]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return parse_mountinfo(f.read())


def mode_from_mounts(mounts: list[CgroupMount], root: str = CGROUP_ROOT) -> str:
    """ "v2" when the unified tree is the cgroup root, "hybrid" when it sits beside v1
    hierarchies, else "v1"."""
    if any(m.version == 2 and m.point == root for m in mounts):
        return "v2"
    has_v1 = any(m.version == 1 and m.controllers - {"name=systemd"} for m in mounts)
    has_v2 = any(m.version == 2 for m in mounts)
    if has_v1 and has_v2:
        return "hybrid"
    if has_v1:
        return "v1"
    if has_v2:
        return "v2"
    raise SystemFailure("no cgroup filesystem is mounted (looked in /proc/self/mountinfo)")


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controller: path}; the v2 entry has the key ""."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if not ctrls:
            own[""] = path
            continue
        for c in ctrls.split(","):
            own[c] = path
    return own


def read_own_cgroups() -> dict[str, str]:
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        return parse_proc_cgroup(f.read())


def resolve(cgroups_path: str, mount: CgroupMount, own: str | None) -> str:
    """The absolute directory for ``cgroups_path`` in one mounted hierarchy.

    Absolute paths are taken from the hierarchy's root; relative ones from the
    caller's own cgroup in that hierarchy (runc's rule).
    """
    if not cgroups_path:
        raise InvalidArgument("empty cgroups path")
    if ".." in cgroups_path.split("/"):
        raise InvalidArgument(f"cgroups path {cgroups_path!r} must not contain '..'")
    if cgroups_path.startswith("/"):
        inner = cgroups_path
    else:
        inner = posixpath.join(own or "/", cgroups_path)
    inner = posixpath.normpath(inner)
    # The mount may show only a subtree (cgroup namespace, bind mount).
    if mount.root != "/" and (inner == mount.root or inner.startswith(mount.root + "/")):
        inner = inner[len(mount.root) :] or "/"
    return posixpath.normpath(mount.point + "/" + inner.lstrip("/"))


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_opt(path: str) -> str | None:
    """The file's text, or None if it does not exist."""
    try:
        return read(path)
    except FileNotFoundError:
        return None


def write(path: str, value: str) -> None:
    """Write one value in a single write(2), as the kernel wants."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise SystemFailure(f"cgroup: cannot open {path} to write {value!r}: {e.strerror}") from e
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise SystemFailure(f"cgroup: writing {value!r} to {path} failed: {e.strerror}") from e
    finally:
        os.close(fd)


def procs(directory: str, recursive: bool = True) -> list[int]:
    """Process ids in ``directory``'s cgroup.procs (and its descendants')."""
    found: list[int] = []
    if not os.path.isdir(directory):
        return found
    walker = os.walk(directory) if recursive else [(directory, [], [])]
    for dirpath, _, _ in walker:
        text = read_opt(os.path.join(dirpath, "cgroup.procs"))
        if text:
            found.extend(int(x) for x in text.split())
    return sorted(set(found))


def makedirs(directory: str) -> list[str]:
    """mkdir -p; returns the directories it created, top first."""
    made: list[str] = []
    missing: list[str] = []
    d = directory
    while not os.path.isdir(d):
        missing.append(d)
        d = os.path.dirname(d)
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
            made.append(d)
        except FileExistsError:
            continue
        except OSError as e:
            raise SystemFailure(f"cgroup: cannot create {d}: {e.strerror}") from e
    return made


def remove_tree(directory: str, attempts: int = 50) -> None:
    """rmdir ``directory`` and its sub-cgroups, deepest first; missing is fine.

    A cgroup whose last process just exited can stay busy for a moment, so
    EBUSY is retried briefly.
    """
    if not os.path.isdir(directory):
        return
    dirs = [dp for dp, _, _ in os.walk(directory)]
    for d in sorted(dirs, key=lambda p: p.count("/"), reverse=True):
        for attempt in range(attempts):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno == errno.EBUSY and attempt + 1 < attempts:
                    time.sleep(0.01 * (attempt + 1))
                    continue
                raise SystemFailure(f"cgroup: cannot remove {d}: {e.strerror}") from e
