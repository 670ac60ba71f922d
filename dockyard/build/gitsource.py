"""``ADD <git repository> <dest>``: which sources are git refs, and fetching them.

A source is a git reference by BuildKit's rules (``gitutil.ParseGitRef``): a URL
with the ``git``, ``ssh``, ``http`` or ``https`` scheme (http(s) only when the
path ends in ``.git``) or an scp-like ``user@host:path``, each with an optional
``#ref[:subdir]`` fragment. The step's cache key is the commit the ref names
(``git ls-remote``, asked on every build as BuildKit does; a full commit id is
taken as it is), so a moved branch misses and an unchanged one hits without
fetching. Fetching runs the ``git`` CLI with no system or global config, no
credential helper and no prompt; the result has no ``.git`` directory unless
``--keep-git-dir`` asks for one (and the source has no subdirectory), as in
BuildKit: then ``.git`` is a shallow clone with ``origin`` set to the remote
and the commit checked out (detached). Submodules are checked out too
(``submodule update --init --recursive --depth=1``, as BuildKit does).

Over ssh, host keys are checked as BuildKit checks them: the client scans the
server's keys when it reads the Dockerfile (``sshutil.SSHKeyScan``; here
``ssh-keyscan``) and git's ssh accepts only those; when the scan fails, ssh runs
with ``StrictHostKeyChecking=no``. The host's own known_hosts files are never
read or written. ``--checksum`` pins the commit (a prefix of it, or of an
annotated tag's object id) the ref must resolve to.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.build import gitproc
from dockyard.build.gitproc import GitRunner
from dockyard.errors import DockyardError

_PROTO = re.compile(r"^[a-zA-Z0-9]+://")
_SCP = re.compile(r"^([a-zA-Z0-9\-_]+)@([a-zA-Z0-9\-.]+):(.*?)(?:#(.*))?$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
_HEX = re.compile(r"^[a-fA-F0-9]+$")
SCHEMES = ("http", "https", "ssh", "git")


class GitError(DockyardError):
    """Resolving or fetching a git source failed."""

    exit_code = 1


@dataclass(frozen=True)
class GitRef:
    remote: str  # the URL without its fragment
    ref: str = ""  # branch, tag or commit ("" = the remote's HEAD)
    subdir: str = ""
    scheme: str = ""  # http, https, ssh, git

    @property
    def uses_ssh(self) -> bool:
        return self.scheme == "ssh"

    @property
    def ssh_server(self) -> tuple[str, int] | None:
        """The host and port ssh connects to (None for other schemes)."""
        if not self.uses_ssh:
            return None
        if "://" in self.remote:
            parts = urllib.parse.urlsplit(self.remote)
            try:
                port = parts.port or 22
            except ValueError:
                return None
            return (parts.hostname, port) if parts.hostname else None
        m = _SCP.match(self.remote)
        return (m.group(2), 22) if m else None


def parse_git_ref(source: str) -> GitRef | None:
    """The git reference ``source`` names, or None when it is not one (a local
    path, a plain http(s) download, ``github.com/…`` without a scheme)."""
    if source.startswith(("./", "../")):
        return None
    proto = _PROTO.match(source)
    if proto:
        scheme = proto.group(0)[:-3].lower()
        if scheme not in SCHEMES:
            return None
        parts = urllib.parse.urlsplit(source)
        if scheme in ("http", "https") and not parts.path.endswith(".git"):
            return None
        remote = urllib.parse.urlunsplit(parts._replace(fragment=""))
        ref, _, subdir = parts.fragment.partition(":")
        return GitRef(remote, ref, subdir, scheme)
    m = _SCP.match(source)
    if m is None:
        return None
    ref, _, subdir = (m.group(4) or "").partition(":")
    return GitRef(f"{m.group(1)}@{m.group(2)}:{m.group(3)}", ref, subdir, "ssh")


def is_commit(ref: str) -> bool:
    return bool(_COMMIT.match(ref))


def git_env(home: str, ssh_sock: str = "", known_hosts: str = "") -> dict[str, str]:
    """What ``git`` runs with: nothing from the host's git configuration or
    credential store, never a prompt; ssh through the forwarded agent only,
    trusting the host keys in the file ``known_hosts`` (any key without one)."""
    ssh = "ssh -F /dev/null -o BatchMode=yes -o GlobalKnownHostsFile=/dev/null"
    if known_hosts:
        # double quotes for ssh (which splits the value on blanks), then for the shell
        ssh += " -o StrictHostKeyChecking=yes -o "
        ssh += shlex.quote(f'UserKnownHostsFile="{known_hosts}"')
    else:
        ssh += " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_SSH_COMMAND": ssh,
        "LC_ALL": "C",
    }
    if ssh_sock:
        env["SSH_AUTH_SOCK"] = ssh_sock
    return env


def _git(
    env: dict[str, str],
    *args: str,
    cwd: str | None = None,
    timeout: int = 600,
    runner: GitRunner | None = None,
) -> str:
    argv = ["git", "-c", "credential.helper=", "-c", "core.askPass=/bin/false", *args]
    command = next((a for a in args if not a.startswith("-") and "=" not in a), "")
    try:
        proc = (runner or gitproc.DEFAULT).run(argv, env, cwd, timeout)
    except FileNotFoundError:
        raise GitError("failed to run git: git is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {command} timed out after {timeout}s") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise GitError(f"git {' '.join(_redacted(args))} failed: {detail}")
    return proc.stdout


def _redacted(args: tuple[str, ...]) -> list[str]:
    """Arguments with any password in a URL replaced (BuildKit redacts them too)."""
    out = []
    for a in args:
        parts = urllib.parse.urlsplit(a) if "://" in a else None
        if parts is not None and parts.password:
            netloc = f"{parts.username}:xxxxx@{parts.hostname}"
            netloc += f":{parts.port}" if parts.port else ""
            a = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        out.append(a)
    return out


def scan_host_keys(ref: GitRef, timeout: int = 10) -> str:
    """The ssh server's host keys as known_hosts lines (``[host]:port`` for a port
    other than 22, as ssh looks them up), or "" when they cannot be had: BuildKit's
    best-effort scan, made when the Dockerfile is read."""
    server = ref.ssh_server
    if server is None:
        return ""
    host, port = server
    try:
        proc = subprocess.run(
            ["ssh-keyscan", "-T", str(timeout), "-p", str(port), "--", host],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout + 5,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")]
    return "".join(ln + "\n" for ln in lines)


def check_checksum(checksum: str) -> None:
    """``ADD --checksum`` of a git source is (a prefix of) a commit id."""
    if checksum and not _HEX.match(checksum):
        raise GitError(f"invalid checksum {checksum} for Git URL, expected hex commit hash")


def resolve_commit(
    ref: GitRef, env: dict[str, str], checksum: str = "", runner: GitRunner | None = None
) -> tuple[str, str]:
    """The commit ``ref`` names now and the remote's full name for it
    (``refs/heads/…``, ``refs/tags/…``, ``HEAD``; "" for a commit id), from
    ``git ls-remote``, an annotated tag peeled to its commit. With ``checksum``,
    that commit (or the annotated tag's object) must start with it, as in BuildKit."""
    check_checksum(checksum)
    if is_commit(ref.ref):
        if checksum and not ref.ref.startswith(checksum):
            raise GitError(f"expected checksum to match {checksum}, got {ref.ref}")
        return ref.ref, ""
    want = ref.ref or "HEAD"
    out = _git(env, "ls-remote", "--", ref.remote, want, f"{want}^{{}}", timeout=120, runner=runner)
    found: dict[str, str] = {}
    order: list[str] = []
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name:
            found[name] = sha
            order.append(name)
    peeled = f"refs/tags/{want}^{{}}"
    chosen = ""
    for name in (want + "^{}", want, f"refs/heads/{want}", peeled, f"refs/tags/{want}"):
        if name in found:
            chosen = name
            break
    else:
        if not order:
            raise GitError(f"repository does not contain ref {want}, output: {out!r}")
        chosen = order[0]
    refname = chosen.removesuffix("^{}")
    commit = found[chosen]
    if checksum:
        # BuildKit compares with the ref's object and, for an annotated tag, its commit
        tag_object = found.get(refname, commit) if chosen.endswith("^{}") else commit
        if not (commit.startswith(checksum) or tag_object.startswith(checksum)):
            got = commit if tag_object == commit else f"{tag_object} or {commit}"
            raise GitError(f"expected checksum to match {checksum}, got {got}")
    return commit, refname


def fetch(
    ref: GitRef,
    commit: str,
    refname: str,
    where: str,
    env: dict[str, str],
    *,
    keep_git_dir: bool,
    runner: GitRunner | None = None,
) -> str:
    """Check ``commit`` (which ``refname`` named) of ``ref.remote`` out below
    ``where``; returns the directory to copy (the checkout, or its ``subdir``),
    which has ``.git`` only when kept."""

    def git(*args: str, cwd: str | None = None) -> str:
        return _git(env, *args, cwd=cwd, runner=runner)

    bare = os.path.join(where, "repo.git")
    checkout = os.path.join(where, "checkout")
    os.makedirs(checkout)
    git("-c", "init.defaultBranch=master", "init", "-q", "--bare", bare)
    git(f"--git-dir={bare}", "remote", "add", "origin", ref.remote)
    if refname:
        local = refname if refname.startswith("refs/") else "refs/buildkit/head"
        git(
            f"--git-dir={bare}", "fetch", "-q", "--depth=1", "--no-tags", "--force", "origin",
            f"{refname}:{local}",
        )  # fmt: skip
    else:  # a commit id: servers need not allow asking for one, so fetch everything
        git(f"--git-dir={bare}", "fetch", "-q", "--tags", "--force", "origin")
        local = ""
    try:
        got = git(f"--git-dir={bare}", "rev-parse", "--verify", "-q", f"{commit}^{{commit}}")
    except GitError:
        got = ""
    if got.strip() != commit:
        raise GitError(
            f"failed to fetch {ref.ref or 'HEAD'} of {_redacted((ref.remote,))[0]}:"
            f" commit {commit} is not there (did the ref move?)"
        )
    subdir = ref.subdir.strip("/")
    if keep_git_dir and subdir in ("", "."):
        _checkout_with_git_dir(ref, commit, local, bare, checkout, git)
        if os.path.exists(os.path.join(checkout, ".gitmodules")):
            git("submodule", "update", "--init", "--recursive", "--depth=1", cwd=checkout)
    else:
        at = (f"--git-dir={bare}", f"--work-tree={checkout}")
        git(*at, "checkout", "-q", commit, "--", ".")
        if os.path.exists(os.path.join(checkout, ".gitmodules")):
            # as BuildKit: submodules too; their ``.git`` files (pointers into our
            # temporary repository) are left out like the top one
            git(*at, "submodule", "update", "--init", "--recursive", "--depth=1",
                 cwd=checkout)  # fmt: skip
            _drop_git_files(checkout)
    if subdir in ("", "."):
        return checkout
    from dockyard.build.context import OutsideContext, resolve_in_root

    try:
        path = resolve_in_root(checkout, subdir)
    except (OSError, OutsideContext):
        path = ""
    if not path or not os.path.isdir(path):
        raise GitError(f"subdirectory {ref.subdir} not found in {ref.ref or 'HEAD'}")
    return path


def _drop_git_files(top: str) -> None:
    for path, dirs, files in os.walk(top):
        if ".git" in files:
            os.unlink(os.path.join(path, ".git"))
        if ".git" in dirs:
            import shutil

            shutil.rmtree(os.path.join(path, ".git"))
            dirs.remove(".git")


def _checkout_with_git_dir(
    ref: GitRef, commit: str, local: str, bare: str, checkout: str, git: Callable[..., str]
) -> None:
    """BuildKit's ``--keep-git-dir`` checkout: a shallow ``.git`` of its own whose
    ``origin`` is the remote, the branch or tag fetched under its name, the commit
    checked out (detached)."""
    git_dir = os.path.join(checkout, ".git")
    at = (f"--git-dir={git_dir}", f"--work-tree={checkout}")
    git(*at, "-c", "init.defaultBranch=master", "init", "-q")
    git(*at, "remote", "add", "origin", "file://" + bare)
    if local.startswith(("refs/heads/", "refs/tags/")):
        pull = f"{local}:{local}"
    else:
        pull = "refs/buildkit/fetch"
        git(f"--git-dir={bare}", "update-ref", pull, commit)
    git(*at, "fetch", "-q", "-u", "--depth=1", "origin", pull)
    git(*at, "checkout", "-q", commit)
    git(*at, "remote", "set-url", "origin", _redacted((ref.remote,))[0])
    git(*at, "reflog", "expire", "--all", "--expire=now")


__all__ = [
    "GitError",
    "GitRef",
    "check_checksum",
    "fetch",
    "git_env",
    "is_commit",
    "parse_git_ref",
    "resolve_commit",
    "scan_host_keys",
]
