"""``registry garbage-collect``: distribution's mark and sweep.

Mark: in every repository, each kept manifest, the blobs it references and
(recursively) the manifests an index lists or that refer to it as ``subject``.
A manifest is kept when it is tagged, or always unless ``delete_untagged``.
Sweep: every blob nobody marked is deleted, with the repository links to it;
with ``delete_untagged`` unkept manifests lose their revision links first.
Run it while the registry is stopped or read-only, as distribution says:
an upload finishing during the sweep could lose its blob.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.registry.server import manifests
from dockyard.registry.server.store import RegistryStore, blob_data_path


@dataclass
class Result:
    marked: set[str] = field(default_factory=set)
    deleted_blobs: list[str] = field(default_factory=list)
    deleted_manifests: list[tuple[str, str]] = field(default_factory=list)


def collect(
    store: RegistryStore,
    *,
    dry_run: bool = False,
    delete_untagged: bool = False,
    emit: Callable[[str], None] = lambda line: None,
) -> Result:
    result = Result()
    for repo in store.repositories():
        emit(repo)
        revisions = set(store.revisions(repo))
        if delete_untagged:
            roots = {d for t in store.tags(repo) if (d := store.resolve_tag(repo, t))}
        else:
            roots = set(revisions)
        kept = _mark_repository(store, repo, roots & revisions, result.marked, emit)
        for digest in sorted(revisions - kept):
            emit(f"{repo}: manifest eligible for deletion: {digest}")
            result.deleted_manifests.append((repo, digest))
            if not dry_run:
                data = store.read_manifest(repo, digest) or b""
                try:
                    subject = manifests.parse(data, "").subject
                except Exception:
                    subject = None
                store.delete_manifest(repo, digest, subject)

    unmarked = sorted(set(store.all_blobs()) - result.marked)
    emit(
        f"\n{len(result.marked)} blobs marked, {len(unmarked)} blobs and "
        f"{len(result.deleted_manifests)} manifests eligible for deletion"
    )
    for digest in unmarked:
        emit(f"blob eligible for deletion: {digest}")
        result.deleted_blobs.append(digest)
        if not dry_run:
            emit(f"Deleting blob: {blob_data_path(digest).rsplit('/', 1)[0]}")
            store.delete_blob_data(digest)
    if not dry_run and unmarked:
        gone = set(unmarked)
        for repo in store.repositories():
            for digest in store.layer_links(repo):
                if digest in gone:
                    store.unlink_blob(repo, digest)
    return result


def _mark_repository(
    store: RegistryStore,
    repo: str,
    roots: set[str],
    marked: set[str],
    emit: Callable[[str], None],
) -> set[str]:
    """Mark from ``roots``; returns the manifests kept in ``repo``."""
    kept: set[str] = set()
    pending = sorted(roots)
    while pending:
        digest = pending.pop()
        if digest in kept:
            continue
        data = store.read_manifest(repo, digest)
        if data is None:
            continue
        kept.add(digest)
        marked.add(digest)
        emit(f"{repo}: marking manifest {digest}")
        for ref in manifests.all_references(data):
            if ref.is_manifest:
                pending.append(ref.digest)
            else:
                marked.add(ref.digest)
                emit(f"{repo}: marking blob {ref.digest}")
        pending.extend(store.referrers(repo, digest))
    return kept
