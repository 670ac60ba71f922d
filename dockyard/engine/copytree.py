"""Copy a directory tree with all of its metadata (continuity's ``fs.CopyDir``).

Used to fill a new volume from an image: owners, modes (setuid and sticky bits
too), nanosecond timestamps, extended attributes, hardlinks (kept as links within
the copy), symlinks (not followed), fifos and device nodes are all reproduced.
The destination root takes the metadata of the source root.
"""

from __future__ import annotations

import errno
import os
import stat


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of directory *src* into the existing directory *dst*."""
    inodes: dict[tuple[int, int], str] = {}
    st = os.lstat(src)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), src)
    _copy_dir(src, dst, inodes)
    _copy_metadata(src, dst, st)


def _copy_dir(src: str, dst: str, inodes: dict[tuple[int, int], str]) -> None:
    with os.scandir(src) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        source = entry.path
        target = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(target, 0o700)
            _copy_dir(source, target, inodes)
            _copy_metadata(source, target, st)
            continue
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = inodes.get(key)
            if first is not None:
                os.link(first, target)
                continue
            inodes[key] = target
        if stat.S_ISREG(mode):
            _copy_file(source, target)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), target)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(target, 0o600)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            os.mknod(target, stat.S_IFMT(mode) | 0o600, st.st_rdev)
        elif stat.S_ISSOCK(mode):
            continue  # a socket cannot be copied (continuity skips them too)
        else:
            continue
        _copy_metadata(source, target, st)


def _copy_file(src: str, dst: str) -> None:
    in_fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        out_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            size = os.fstat(in_fd).st_size
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(in_fd, out_fd, size - copied)
                    if n == 0:
                        break
                    copied += n
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                os.lseek(in_fd, copied, os.SEEK_SET)
                os.lseek(out_fd, copied, os.SEEK_SET)
                while chunk := os.read(in_fd, 1 << 20):
                    os.write(out_fd, chunk)
        finally:
            os.close(out_fd)
    finally:
        os.close(in_fd)


def _copy_metadata(src: str, dst: str, st: os.stat_result) -> None:
    """Owner, then mode (chown clears setuid bits), xattrs, then times."""
    link = stat.S_ISLNK(st.st_mode)
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not link:
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for name in names:
        try:
            value = os.getxattr(src, name, follow_symlinks=False)
            os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError as exc:
            # user.* xattrs are not allowed on symlinks; a target filesystem may
            # refuse a namespace (security.selinux): what Docker also skips.
            if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                continue
            raise
