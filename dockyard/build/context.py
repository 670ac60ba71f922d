"""Build contexts: where the files a build may COPY come from, and their digest.

:func:`load_context` accepts what ``docker build`` accepts as its PATH argument:
a directory (used in place); ``-`` (stdin: a tar, plain or gzip/bzip2/xz/zstd,
else a Dockerfile alone with an empty context); an http(s) URL (a tar archive,
else a Dockerfile alone). Archives are unpacked into a private temporary
directory by the layer applier (names cleaned, nothing written outside, symlinks
never followed out). ``dockerfile`` is ``-f``: ``-`` reads stdin; for a directory
context a relative path is looked up from the current directory first (as
Docker's CLI does), then inside the context; for archives and URLs it is a path
inside the context. The ignore file (``<Dockerfile>.dockerignore`` or
``.dockerignore``) gives :attr:`BuildContext.matcher`.

:func:`checksum_paths` is the content digest the builder's cache keys use for
COPY/ADD sources: file contents, modes, owners and symlink targets, never
times; sources resolved as BuildKit does (rooted at the context, ``*``/``?``/
``[...]`` wildcards per path component, symlinks resolved inside the context,
excluded files invisible).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from dockyard.build.dockerignore import (
    Matcher,
    clean_path,
    has_wildcards,
    load_patterns,
    path_match,
)
from dockyard.errors import DockyardError, InvalidArgument, NotFound

DEFAULT_DOCKERFILE = "Dockerfile"
MAX_DOCKERFILE = 16 << 20  # a Dockerfile alone larger than this is not a Dockerfile
_HOPS = 255


class SourceNotFound(NotFound):
    """A COPY/ADD source that does not exist or is excluded (BuildKit's wording)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f'failed to compute cache key: "{path}": not found')


class OutsideContext(InvalidArgument):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"forbidden path outside the build context: {path} ()")


@dataclass
class BuildContext:
    root: str  # directory with the context's files (empty for a Dockerfile alone)
    dockerfile: bytes  # the Dockerfile's text
    dockerfile_name: str  # its path as the user named it (for messages)
    ignore_patterns: list[str] = field(default_factory=list)
    temporary: bool = False  # root is ours to delete
    matcher: Matcher = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = Matcher(self.ignore_patterns)

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.root, ignore_errors=True)
            self.temporary = False

    def __enter__(self) -> BuildContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def checksum(self, sources: Sequence[str], copy_excludes: Sequence[str] = ()) -> str:
        return checksum_paths(self.root, sources, self.ignore_patterns, copy_excludes=copy_excludes)


def _prepare_error(msg: str) -> InvalidArgument:
    return InvalidArgument(f"unable to prepare context: {msg}")


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def load_context(
    spec: str,
    *,
    dockerfile: str | None = None,
    stdin: BinaryIO | None = None,
    tmp_dir: str | None = None,
    cwd: str | None = None,
) -> BuildContext:
    """Load the context named by ``docker build``'s PATH argument (see module doc)."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    if spec == "-" and dockerfile == "-":
        raise InvalidArgument(
            "invalid argument: can't use stdin for both build context and dockerfile"
        )
    dockerfile_text: bytes | None = None
    if dockerfile == "-":
        dockerfile_text = stdin.read()
    if spec == "-":
        return _from_stream(stdin, dockerfile, tmp_dir)
    if is_url(spec):
        return _from_url(spec, dockerfile, dockerfile_text, tmp_dir)
    return _from_directory(spec, dockerfile, dockerfile_text, cwd)


def _from_directory(
    spec: str, dockerfile: str | None, text: bytes | None, cwd: str | None
) -> BuildContext:
    root = os.path.abspath(spec)
    if not os.path.exists(root):
        raise _prepare_error(f'path "{spec}" not found')
    if not os.path.isdir(root):
        raise _prepare_error(f"context must be a directory: {root}")
    if text is not None:
        return BuildContext(root, text, "-", load_patterns(root, None))
    name = dockerfile or DEFAULT_DOCKERFILE
    if dockerfile is None:
        path = os.path.join(root, DEFAULT_DOCKERFILE)
    elif os.path.isabs(name):
        path = name
    else:
        path = os.path.join(cwd or os.getcwd(), name)
        if not os.path.lexists(path) and os.path.lexists(os.path.join(root, name)):
            path = os.path.join(root, name)
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as err:
        raise _prepare_error(
            f"unable to evaluate symlinks in Dockerfile path: lstat {path}: "
            f"{(err.strerror or 'no such file or directory').lower()}"
        ) from None
    if os.path.isdir(real):
        raise _prepare_error(f"the Dockerfile ({name}) cannot be a directory")  # pragma: no cover
    with open(real, "rb") as f:
        data = f.read()
    return BuildContext(root, data, name, load_patterns(root, real))


def _from_stream(stream: BinaryIO, dockerfile: str | None, tmp_dir: str | None) -> BuildContext:
    from dockyard.store.layers.compression import peek

    head, rest = peek(stream, 1024)
    if _looks_like_archive(head):
        return _from_archive(rest, dockerfile, tmp_dir)
    data = _read_limited(rest, MAX_DOCKERFILE)  # rest replays head first
    return _dockerfile_alone(data, tmp_dir)


def _read_limited(stream: object, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(1 << 20)  # type: ignore[attr-defined]
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise InvalidArgument("unable to prepare context: Dockerfile is too large")
        chunks.append(chunk)


def _dockerfile_alone(data: bytes, tmp_dir: str | None) -> BuildContext:
    root = tempfile.mkdtemp(prefix="dockyard-build-", dir=tmp_dir)
    return BuildContext(root, data, DEFAULT_DOCKERFILE, [], temporary=True)


def _looks_like_archive(head: bytes) -> bool:
    from dockyard.store.layers.compression import detect_format

    if detect_format(head) != "unknown":
        return True
    return len(head) >= 512 and _tar_checksum_ok(head[:512])


def _tar_checksum_ok(block: bytes) -> bool:
    field_ = block[148:156].strip(b" \x00")
    try:
        want = int(field_, 8)
    except ValueError:
        return False
    total = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return want == total and block[:100].strip(b"\x00") != b""


def _from_archive(stream: object, dockerfile: str | None, tmp_dir: str | None) -> BuildContext:
    from dockyard.store.layers.apply import apply_layer

    root = tempfile.mkdtemp(prefix="dockyard-build-", dir=tmp_dir)
    try:
        if os.geteuid() == 0:
            apply_layer(stream, root, whiteouts="oci")  # type: ignore[arg-type]
        else:
            me = (os.getuid(), os.getgid())
            apply_layer(stream, root, whiteouts="oci", id_map=lambda _u, _g: me)  # type: ignore[arg-type]
        os.chmod(root, 0o755)
        name = dockerfile or DEFAULT_DOCKERFILE
        rel = clean_path("/" + name).lstrip("/")
        try:
            path = resolve_in_root(root, rel)
        except (FileNotFoundError, NotADirectoryError):
            raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}") from None
        if not os.path.isfile(path):
            raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
        with open(path, "rb") as f:
            data = f.read()
        return BuildContext(root, data, name, load_patterns(root, path), temporary=True)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _from_url(
    url: str, dockerfile: str | None, text: bytes | None, tmp_dir: str | None
) -> BuildContext:
    import httpx

    with tempfile.TemporaryFile(dir=tmp_dir) as spool:
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as resp:
                if resp.status_code >= 400:
                    body = resp.read()[:512].decode("utf-8", "replace").strip()
                    raise InvalidArgument(
                        f"unable to prepare context: unable to download remote context {url}: "
                        f"failed to GET {url} with status {resp.status_code} "
                        f"{resp.reason_phrase}: {body}"
                    )
                for chunk in resp.iter_bytes():
                    spool.write(chunk)
        except httpx.HTTPError as err:
            raise InvalidArgument(
                f"unable to prepare context: unable to download remote context {url}: {err}"
            ) from None
        spool.seek(0)
        if text is not None:
            # -f -: the URL must be a context archive.
            ctx = _from_stream(spool, None, tmp_dir)
            ctx.dockerfile, ctx.dockerfile_name = text, "-"
            return ctx
        return _from_stream(spool, dockerfile, tmp_dir)


# ---------------------------------------------------------------------------
# Paths inside the context


def resolve_in_root(root: str, rel: str, *, follow_last: bool = True) -> str:
    """The real path of ``rel`` inside ``root``, symlinks resolved as if ``root``
    were ``/`` (``..`` stops at the root). FileNotFoundError when a component
    is missing, NotADirectoryError when a non-directory is in the way."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        cur = os.path.join(root, *done, part)
        st = os.lstat(cur)
        if stat.S_ISLNK(st.st_mode) and (parts or follow_last):
            hops += 1
            if hops > _HOPS:
                raise FileNotFoundError(f"too many levels of symbolic links: {rel}")
            target = os.readlink(cur)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        if parts and not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(cur)
        done.append(part)
    return os.path.join(root, *done)


def _rooted(src: str, strict_outside: bool) -> str:
    """A source as a path relative to the context root."""
    cleaned = clean_path(src)
    if strict_outside and (cleaned == ".." or cleaned.startswith("../")):
        raise OutsideContext(src)
    return clean_path("/" + src).lstrip("/")


def resolve_sources(
    root: str,
    sources: Sequence[str],
    ignore_patterns: Sequence[str] | Matcher = (),
    *,
    strict_outside: bool = True,
    double_star: bool = False,
) -> list[str]:
    """The context paths (relative, "" for the root) the sources name, wildcards
    expanded in sorted order. Raises SourceNotFound for a source that names
    nothing visible, OutsideContext for one that climbs out (``../x``).
    ``double_star``: a ``**`` component matches any number of directories (as
    ``COPY --parents`` allows); otherwise it is ``*``, as in Go's filepath.Match."""
    matcher = ignore_patterns if isinstance(ignore_patterns, Matcher) else Matcher(ignore_patterns)
    out: list[str] = []
    for src in sources:
        rel = _rooted(src, strict_outside)
        if has_wildcards(rel):
            found = _glob(root, rel, matcher, double_star)
            if not found:
                raise SourceNotFound("/" + rel)
            out.extend(p for p in found if p not in out)
            continue
        if (
            rel
            and matcher
            and matcher.excluded(rel)
            and not _has_included_below(root, rel, matcher)
        ):
            raise SourceNotFound("/" + rel)
        try:
            resolve_in_root(root, rel)
        except (FileNotFoundError, NotADirectoryError):
            raise SourceNotFound("/" + rel) from None
        if rel not in out:
            out.append(rel)
    return out


def _has_included_below(root: str, rel: str, matcher: Matcher) -> bool:
    try:
        real = resolve_in_root(root, rel)
    except OSError:
        return False
    if not os.path.isdir(real) or os.path.islink(real):
        return False
    return next(iter(matcher.walk(root, rel)), None) is not None


def _glob(root: str, pattern: str, matcher: Matcher, double_star: bool = False) -> list[str]:
    parts = pattern.split("/")
    current = [""]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: list[str] = []
        if double_star and part == "**":
            for base in current:
                # zero or more directories; last, everything below
                for found in [*([] if last else [base]), *_below(root, base, dirs_only=not last)]:
                    if found not in nxt:
                        nxt.append(found)
            current = nxt
            continue
        for base in current:
            if not has_wildcards(part):
                cand = f"{base}/{part}" if base else part
                try:
                    resolve_in_root(root, cand)
                except OSError:
                    continue
                nxt.append(cand)
                continue
            try:
                d = resolve_in_root(root, base) if base else root
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for name in names:
                try:
                    ok = path_match(part, name)
                except ValueError:
                    raise InvalidArgument(f"syntax error in pattern: {pattern}") from None
                if ok:
                    nxt.append(f"{base}/{name}" if base else name)
        current = nxt
        if not last:
            current = [c for c in current if _is_dir_in_root(root, c)]
    return [
        c
        for c in current
        if not matcher or not matcher.excluded(c) or _has_included_below(root, c, matcher)
    ]


def _below(root: str, base: str, *, dirs_only: bool) -> list[str]:
    """Everything below ``base`` (symlinks not followed), sorted, parents first."""
    try:
        top = resolve_in_root(root, base) if base else root
    except OSError:
        return []
    out: list[str] = []
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        rel = os.path.relpath(dirpath, top)
        prefix = base if rel == "." else (f"{base}/{rel}" if base else rel)
        names = dirs if dirs_only else sorted([*dirs, *files])
        out += [f"{prefix}/{n}" if prefix else n for n in names]
    return sorted(out)


def _is_dir_in_root(root: str, rel: str) -> bool:
    try:
        return os.path.isdir(resolve_in_root(root, rel))
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Content digest


def _file_digest(path: str, st: os.stat_result, cache: MutableMapping[str, str] | None) -> str:
    key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
    finally:
        os.close(fd)
    digest = h.hexdigest()
    if cache is not None:
        cache[key] = digest
    return digest


def _record(
    name: str, path: str, st: os.stat_result, cache: MutableMapping[str, str] | None
) -> bytes:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        kind, extra = "f", _file_digest(path, st, cache)
    elif stat.S_ISDIR(mode):
        kind, extra = "d", ""
    elif stat.S_ISLNK(mode):
        kind, extra = "l", os.readlink(path)
    else:
        kind, extra = "o", f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}"
    line = f"{kind}\0{name}\0{stat.S_IMODE(mode):o}\0{st.st_uid}\0{st.st_gid}\0{extra}\n"
    return line.encode("utf-8", "surrogateescape")


def _entries(
    root: str, rel: str, matcher: Matcher, copy_matcher: Matcher | None
) -> Iterator[tuple[str, str, os.stat_result]]:
    """(name relative to the source, real path, lstat) of a resolved source and,
    for a directory, of what it contains (the source itself first)."""
    real = resolve_in_root(root, rel)
    st = os.lstat(real)
    yield "", real, st
    if not stat.S_ISDIR(st.st_mode):
        return
    if real != (os.path.join(root, rel) if rel else root):
        # the source (or a parent) was a symlink: walk the directory it leads to
        rel = os.path.relpath(real, root)
        rel = "" if rel == "." else rel
    prefix = rel + "/" if rel else ""
    for path, _is_dir in matcher.walk(root, rel):
        sub = path[len(prefix) :]
        if copy_matcher and copy_matcher.excluded(sub):
            continue
        full = os.path.join(root, path)
        yield sub, full, os.lstat(full)


def checksum_paths(
    root: str,
    sources: Sequence[str],
    excludes: Sequence[str] | Matcher = (),
    *,
    copy_excludes: Sequence[str] = (),
    cache: MutableMapping[str, str] | None = None,
    strict_outside: bool = True,
    double_star: bool = False,
) -> str:
    """``sha256:<hex>`` of the COPY/ADD sources under ``root``.

    ``excludes``: the context's ignore patterns (or a Matcher); ``copy_excludes``:
    ``--exclude`` patterns, relative to each source. ``cache`` maps a file's
    (dev, ino, size, mtime, ctime) to its content hash, so unchanged files are not
    read again; times only decide whether to re-read, never enter the digest.
    Raises SourceNotFound / OutsideContext as :func:`resolve_sources`.
    """
    matcher = excludes if isinstance(excludes, Matcher) else Matcher(excludes)
    copy_matcher = Matcher(copy_excludes) if copy_excludes else None
    total = hashlib.sha256()
    for rel in resolve_sources(
        root, sources, matcher, strict_outside=strict_outside, double_star=double_star
    ):
        h = hashlib.sha256()
        try:
            for name, full, st in _entries(root, rel, matcher, copy_matcher):
                h.update(_record(name, full, st, cache))
        except (FileNotFoundError, NotADirectoryError):
            raise SourceNotFound("/" + rel) from None
        except OSError as err:
            raise DockyardError(f"failed to read {rel or '.'}: {err.strerror}") from None
        total.update(f"{rel}\0{h.hexdigest()}\n".encode("utf-8", "surrogateescape"))
    return "sha256:" + total.hexdigest()
