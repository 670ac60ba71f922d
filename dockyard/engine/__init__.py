"""The Engine facade: the one way in for the CLI, the API server, the builder and Compose.

Services are built on first use, so a command pays only for what it touches.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property

from dockyard.config import Options

TYPE_CHECKING = False  # typing costs every command ~2 ms to import
if TYPE_CHECKING:
    from typing import BinaryIO

    from dockyard.engine.archive import ImageArchive
    from dockyard.engine.containers import ContainerService
    from dockyard.engine.events import EventLog
    from dockyard.engine.images import ImageService
    from dockyard.engine.layerstore import Layer, LayerStore
    from dockyard.engine.lifecycle import Lifecycle
    from dockyard.engine.system import SystemService
    from dockyard.engine.volumes import VolumeService
    from dockyard.store.content import ContentStore
    from dockyard.store.metadata import Database, Leases
    from dockyard.store.snapshots.base import Snapshotter


class Engine:
    def __init__(self, options: Options) -> None:
        self.options = options

    # ------------------------------------------------------------- the store

    @cached_property
    def db(self) -> Database:
        from dockyard.store.metadata import Database

        os.makedirs(self.options.root, mode=0o711, exist_ok=True)
        return Database(os.path.join(self.options.root, "dockyard.db"))

    @cached_property
    def content(self) -> ContentStore:
        from dockyard.store.content import ContentStore

        return ContentStore(os.path.join(self.options.root, "blobs"))

    @cached_property
    def leases(self) -> Leases:
        from dockyard.store.metadata import Leases

        return Leases(self.db)

    @cached_property
    def storage_driver(self) -> str:
        """The driver the root was made with; for a new root the configured one, or
        overlay when this filesystem supports it, else vfs (with a warning)."""
        from dockyard import log
        from dockyard.errors import Conflict
        from dockyard.store.snapshots import check_overlay, recorded_driver

        path = os.path.join(self.options.root, "snapshots")
        os.makedirs(path, exist_ok=True)
        recorded = recorded_driver(path)
        wanted = self.options.storage_driver
        if recorded is not None:
            recorded = "overlay" if recorded.startswith("overlay") else recorded
            if wanted and wanted != recorded:
                raise Conflict(
                    f"error initializing graphdriver: {self.options.root} holds images of the"
                    f" {recorded} driver; use --storage-driver {recorded} or another --root"
                )
            return recorded
        if wanted:
            return wanted
        supported, reason = check_overlay(path)
        if supported:
            return "overlay"
        log.warn(f"overlay is not supported here ({reason}); using the vfs storage driver")
        return "vfs"

    @cached_property
    def snapshots(self) -> Snapshotter:
        from dockyard.store.snapshots import create_snapshotter

        return create_snapshotter(
            self.storage_driver, os.path.join(self.options.root, "snapshots"), self.db
        )

    @cached_property
    def layers(self) -> LayerStore:
        from dockyard.engine.layerstore import LayerStore

        return LayerStore(self.db, self.content, self.snapshots, self.leases)

    @cached_property
    def events(self) -> EventLog:
        from dockyard.engine.events import EventLog

        return EventLog(self.db)

    # ------------------------------------------------------------- services

    @cached_property
    def images(self) -> ImageService:
        from dockyard.engine.images import ImageService

        return ImageService(self.db, lambda: self.content, lambda: self.layers, self.events.record)

    @cached_property
    def archive(self) -> ImageArchive:
        from dockyard.engine.archive import ImageArchive

        return ImageArchive(self.images, self.layers, self.content, self.leases)

    @cached_property
    def volumes(self) -> VolumeService:
        from dockyard.engine.volumes import VolumeService

        os.makedirs(self.options.root, mode=0o711, exist_ok=True)
        return VolumeService(self.db, self.options.root, self.events.record)

    @cached_property
    def containers(self) -> ContainerService:
        from dockyard.engine.containers import ContainerService

        return ContainerService(self)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        from dockyard.engine.lifecycle import Lifecycle

        return Lifecycle(self)

    @cached_property
    def system(self) -> SystemService:
        from dockyard.engine.system import SystemService

        return SystemService(self)

    if TYPE_CHECKING:
        from dockyard.engine.networks import NetworkService

    @cached_property
    def networks(self) -> NetworkService:
        from dockyard.engine.networks import NetworkService

        return NetworkService(self)

    if TYPE_CHECKING:
        from dockyard.engine.builds import BuildService

    @cached_property
    def builds(self) -> BuildService:
        from dockyard.engine.builds import BuildService

        return BuildService(self)

    if TYPE_CHECKING:
        from dockyard.engine.distribution import DistributionService

    @cached_property
    def distribution(self) -> DistributionService:
        from dockyard.engine.distribution import DistributionService

        return DistributionService(self)

    # ------------------------------------------------------------- image verbs

    def load_images(
        self, stream: BinaryIO, progress: Callable[[Layer], None] | None = None
    ) -> list[str]:
        return self.archive.load(stream, progress)

    def save_images(self, names: list[str], out: BinaryIO) -> None:
        self.archive.save(names, out)

    def import_image(
        self,
        stream: BinaryIO,
        *,
        source: str,
        reference: str | None,
        changes: list[str],
        message: str,
        platform: str | None = None,
    ) -> str:
        from dockyard.engine.importer import import_image

        image_id = import_image(
            self.images,
            self.layers,
            self.leases,
            stream,
            source=source,
            reference=reference,
            changes=changes,
            message=message,
            platform_spec=platform,
        )
        self.events.record("image", "import", image_id, {"name": image_id})
        return image_id

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()
