"""Container records: create, look up, list, inspect, rename, remove, prune.

A container is a row (``containers``) plus a writable snapshot on its image's top
layer (key ``container-<id>``) and a directory ``containers/<id>/`` for its
hostname, hosts, resolv.conf and logs. The row keeps what the Engine API calls
Config, HostConfig and NetworkingConfig in the ``config`` JSON and the State in
``state``, so ``inspect`` is Docker's shape without translation. Starting and
stopping (the runtime and the monitor) build on these records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

from dockyard.engine.filters import Filters
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.timeutil import rfc3339_nano

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine import Engine

ZERO_TIME = "0001-01-01T00:00:00Z"
CONTAINER_FILTERS = (
    "status",
    "name",
    "id",
    "label",
    "ancestor",
    "exited",
    "before",
    "since",
    "volume",
    "health",
    "network",
    "is-task",
    "publish",
    "expose",
)
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_NAME_RE = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+")

# Docker names containers adjective_surname; these lists are dockyard's own.
_ADJECTIVES = [
    "agile",
    "bold",
    "brave",
    "bright",
    "calm",
    "clever",
    "cool",
    "crisp",
    "daring",
    "eager",
    "fast",
    "fond",
    "gentle",
    "glad",
    "happy",
    "keen",
    "kind",
    "lively",
    "lucid",
    "merry",
    "mighty",
    "modest",
    "neat",
    "nimble",
    "noble",
    "patient",
    "plucky",
    "polite",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "ready",
    "serene",
    "sharp",
    "shy",
    "sleek",
    "smart",
    "snug",
    "solid",
    "spry",
    "steady",
    "stoic",
    "sunny",
    "swift",
    "tender",
    "tidy",
    "trusty",
    "upbeat",
    "vivid",
    "warm",
    "wise",
    "witty",
    "zealous",
]
_SURNAMES = [
    "agnesi",
    "archimedes",
    "babbage",
    "bardeen",
    "bohr",
    "boole",
    "cantor",
    "carson",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hertz",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "leakey",
    "liskov",
    "lovelace",
    "maxwell",
    "mcclintock",
    "meitner",
    "mendel",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "planck",
    "ritchie",
    "sagan",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "volta",
    "wilson",
    "wozniak",
    "yalow",
]


class Container:
    """One container's record, in the Engine API's vocabulary."""

    __slots__ = ("created", "id", "image_id", "name", "spec", "state")

    def __init__(
        self,
        id: str,
        name: str,
        image_id: str,
        created: float,
        spec: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        self.id = id
        self.name = name  # without the leading "/"
        self.image_id = image_id
        self.created = created
        self.spec = spec  # Config, HostConfig, NetworkingConfig, Path, Args, ...
        self.state = state

    @property
    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self.spec.get("Config") or {}
        return result

    @property
    def host_config(self) -> dict[str, Any]:
        result: dict[str, Any] = self.spec.get("HostConfig") or {}
        return result

    @property
    def status(self) -> str:
        return str(self.state.get("Status", "created"))

    @property
    def snapshot_key(self) -> str:
        return f"container-{self.id}"


def new_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


def merge_image_config(config: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The container's Config: what the user gave, completed from the image's (Docker's
    ``merge``): user env first then the image's other keys, labels and exposed ports
    and volumes unioned, entrypoint and cmd from the image unless overridden."""
    merged = dict(config)
    if not merged.get("User"):
        merged["User"] = image.get("User") or ""
    if not merged.get("WorkingDir"):
        merged["WorkingDir"] = image.get("WorkingDir") or ""
    env = list(merged.get("Env") or [])
    keys = {e.partition("=")[0] for e in env}
    env.extend(e for e in image.get("Env") or [] if e.partition("=")[0] not in keys)
    merged["Env"] = env or None
    for key in ("ExposedPorts", "Volumes"):
        union = dict(image.get(key) or {})
        union.update(merged.get(key) or {})
        merged[key] = union or None
    labels = dict(image.get("Labels") or {})
    labels.update(merged.get("Labels") or {})
    merged["Labels"] = labels
    entrypoint = merged.get("Entrypoint")
    if entrypoint is None:
        merged["Entrypoint"] = image.get("Entrypoint")
        if not merged.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
    elif entrypoint == [""]:
        merged["Entrypoint"] = None  # --entrypoint "" resets the image's
    for key in ("StopSignal", "OnBuild", "Shell"):
        if not merged.get(key) and image.get(key):
            merged[key] = image[key]
    user_check = merged.get("Healthcheck")
    image_check = image.get("Healthcheck")
    if image_check:
        combined = dict(image_check)
        combined.update({k: v for k, v in (user_check or {}).items() if v})
        merged["Healthcheck"] = combined
    return merged


class ContainerService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self._image_configs: dict[str, bytes] = {}

    # -------------------------------------------------------------- lookup

    def _row_to_container(self, row: Any) -> Container:
        return Container(
            row["id"],
            row["name"],
            row["image_id"] or "",
            row["created"],
            json.loads(row["config"]),
            json.loads(row["state"]),
        )

    def all(self) -> list[Container]:
        rows = self.db.query("SELECT * FROM containers ORDER BY created DESC, id")
        return [self._row_to_container(r) for r in rows]

    def try_get(self, name_or_id: str) -> Container | None:
        """Docker's lookup: full ID, exact name (with or without ``/``), then ID prefix."""
        name = name_or_id.removeprefix("/")
        row = self.db.query_one(
            "SELECT * FROM containers WHERE id = ? OR name = ?", (name_or_id, name)
        )
        if row is None and re.fullmatch(r"[0-9a-f]{1,64}", name_or_id):
            rows = self.db.query(
                "SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT 2",
                (name_or_id, name_or_id + "g"),
            )
            if len(rows) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {name_or_id}")
            row = rows[0] if rows else None
        return self._row_to_container(row) if row is not None else None

    def get(self, name_or_id: str) -> Container:
        container = self.try_get(name_or_id)
        if container is None:
            raise NotFound(f"No such container: {name_or_id}")
        self.engine.lifecycle.refresh(container)
        return container

    # -------------------------------------------------------------- create

    def create(
        self,
        image: str,
        config: dict[str, Any],
        host_config: dict[str, Any],
        networking: dict[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> Container:
        """Record a new container on a local image (pulling is the caller's job)."""
        images = self.engine.images
        image_id = images.resolve(image)
        image_config = self.image_config(image_id)
        merged = merge_image_config(config, image_config)
        merged["Image"] = image
        command = list(merged.get("Entrypoint") or []) + list(merged.get("Cmd") or [])
        if not command:
            raise InvalidArgument("No command specified")
        if name is not None and not _NAME_RE.fullmatch(name):
            raise InvalidArgument(
                f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        from dockyard.engine.mounts import resolve_mounts

        container_id = os.urandom(32).hex()  # what secrets.token_hex does, without its imports
        merged["Hostname"] = merged.get("Hostname") or container_id[:12]
        mounts, anonymous = resolve_mounts(self.engine.volumes, host_config, merged.get("Volumes"))
        spec = {
            "Config": merged,
            "HostConfig": _host_defaults(host_config, self.engine.options.daemon),
            "NetworkingConfig": networking or {"EndpointsConfig": {}},
            "Path": command[0],
            "Args": command[1:],
            "Platform": "linux",
            "RestartCount": 0,
            "Mounts": mounts,
        }
        self.engine.networks.normalize_request(spec["HostConfig"], spec["NetworkingConfig"])
        top = images.get(image_id).chain
        directory = self.container_dir(container_id)
        os.makedirs(directory, mode=0o710)
        try:
            self.engine.snapshots.prepare(f"container-{container_id}", top[-1] if top else None)
            try:
                created = self._insert(container_id, name, image_id, spec)
            except BaseException:
                self.engine.snapshots.remove(f"container-{container_id}")
                raise
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            for volume in anonymous:
                self.engine.volumes.remove(volume, force=True)
            raise
        self.engine.events.container("create", created)
        return created

    def _insert(
        self, container_id: str, name: str | None, image_id: str, spec: dict[str, Any]
    ) -> Container:
        now = time.time()
        state = new_state()
        with self.db.transaction() as conn:
            if name is not None:
                wanted = name.removeprefix("/")
                taken = conn.execute(
                    "SELECT id FROM containers WHERE name = ?", (wanted,)
                ).fetchone()
                if taken is not None:
                    raise Conflict(
                        f'Conflict. The container name "/{wanted}" is already in use by'
                        f' container "{taken["id"]}". You have to remove (or rename) that'
                        " container to be able to reuse that name."
                    )
            else:
                wanted = self._free_name(conn)
            spec["Created"] = rfc3339_nano(now)
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created, config, state)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (container_id, wanted, image_id, now, json.dumps(spec), json.dumps(state)),
            )
        return Container(container_id, wanted, image_id, now, spec, state)

    @staticmethod
    def _free_name(conn: Any) -> str:
        def pick(n: int) -> int:  # os.urandom: the random/secrets modules cost ~4 ms to import
            return int.from_bytes(os.urandom(4), "big") % n

        for attempt in range(100):
            name = f"{_ADJECTIVES[pick(len(_ADJECTIVES))]}_{_SURNAMES[pick(len(_SURNAMES))]}"
            if attempt > 10:
                name += str(pick(10))
            if conn.execute("SELECT 1 FROM containers WHERE name = ?", (name,)).fetchone() is None:
                return name
        raise Conflict("could not find a free container name")

    def image_config(self, image_id: str) -> dict[str, Any]:
        """The ``config`` section of an image's config blob, read once per process
        (``run`` needs it to create the container and again to start it)."""
        blob = self._image_configs.get(image_id)
        if blob is None:
            blob = self._image_configs[image_id] = self.engine.images.content.read(image_id)
        config: dict[str, Any] = json.loads(blob).get("config") or {}  # a fresh copy each call
        return config

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.engine.options.root, "containers", container_id)

    # -------------------------------------------------------------- change

    def rename(self, old: str, new: str) -> None:
        container = self.get(old)
        new_name = new.removeprefix("/")
        if not _NAME_RE.fullmatch(new_name):
            raise InvalidArgument(
                f"Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        if new_name == container.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        with self.db.transaction() as conn:
            taken = conn.execute("SELECT id FROM containers WHERE name = ?", (new_name,)).fetchone()
            if taken is not None:
                raise Conflict(
                    f'Error when allocating new name: Conflict. The container name "/{new_name}"'
                    f' is already in use by container "{taken["id"]}". You have to remove (or'
                    " rename) that container to be able to reuse that name."
                )
            conn.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, container.id))
        self.engine.events.container(
            "rename", container, {"name": new_name, "oldName": "/" + container.name}
        )

    def remove(self, name_or_id: str, *, force: bool = False, volumes: bool = False) -> Container:
        container = self.get(name_or_id)
        if container.status in ("running", "paused", "restarting"):
            if not force:
                raise Conflict(
                    f"You cannot remove a {container.status} container {container.id}. Stop the"
                    " container before attempting removal or force remove"
                )
            self.engine.lifecycle.kill_and_wait(container)
            container = self.get(container.id)
        key = container.snapshot_key
        self.engine.networks.detach(container)  # leftovers of a start that was cut short
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (container.id,))
            if self.engine.snapshots.exists(key):
                self.engine.snapshots.remove(key)
        shutil.rmtree(self.container_dir(container.id), ignore_errors=True)
        if volumes:
            self._remove_anonymous_volumes(container)
        self.engine.events.container("destroy", container)
        return container

    def _remove_anonymous_volumes(self, container: Container) -> None:
        """``rm -v``: the container's anonymous volumes go; named ones stay."""
        for mount in container.spec.get("Mounts") or []:
            if mount.get("Type") != "volume" or not mount.get("Name"):
                continue
            try:
                volume = self.engine.volumes.get(mount["Name"])
            except NotFound:
                continue
            if volume.anonymous:
                try:
                    self.engine.volumes.remove(volume.name)
                except Conflict:
                    continue  # another container still uses it

    def prune(self, filters: Filters | None = None) -> tuple[list[str], int]:
        filters = filters or Filters()
        filters.validate(("until", "label", "label!"))
        removed: list[str] = []
        reclaimed = 0
        for container in self.all():
            if container.status not in ("created", "exited", "dead"):
                continue
            if not _matches_prune(container, filters):
                continue
            reclaimed += self.size(container)
            self.remove(container.id)
            removed.append(container.id)
        return removed, reclaimed

    def size(self, container: Container) -> int:
        try:
            return self.engine.snapshots.usage(container.snapshot_key).size
        except NotFound:
            return 0

    # -------------------------------------------------------------- list

    def list_containers(
        self, *, show_all: bool = False, filters: Filters | None = None, limit: int = -1
    ) -> list[Container]:
        filters = filters or Filters()
        filters.validate(CONTAINER_FILTERS)
        containers = self.all()
        for container in containers:
            self.engine.lifecycle.refresh(container)
        if filters.has("status"):
            for status in filters.get("status"):
                if status not in STATUSES:
                    raise InvalidArgument(f"Invalid filter 'status={status}'")
        elif not show_all and limit < 0:
            containers = [c for c in containers if c.status in ("running", "paused", "restarting")]
        containers = [c for c in containers if _matches(c, filters, self)]
        if limit > 0:
            containers = containers[:limit]
        return containers

    def image_name(self, container: Container) -> str:
        """What ``ps`` shows as IMAGE: the name used, while it still names the image."""
        name = str(container.config.get("Image") or "")
        if name and self.engine.images.try_resolve(name) == container.image_id:
            return name
        return container.image_id.removeprefix("sha256:")[:12]


def _host_defaults(host: dict[str, Any], daemon: dict[str, Any]) -> dict[str, Any]:
    """The daemon's defaults for what the client left empty, as dockerd fills them."""
    result = dict(host)
    log = dict(result.get("LogConfig") or {})
    if not log.get("Type"):
        log["Type"] = daemon.get("log-driver", "json-file")
        log["Config"] = log.get("Config") or dict(daemon.get("log-opts") or {})
    result["LogConfig"] = {"Type": log["Type"], "Config": log.get("Config") or {}}
    result["NetworkMode"] = result.get("NetworkMode") or "default"
    result["RestartPolicy"] = result.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0}
    result["PortBindings"] = result.get("PortBindings") or {}
    result["IpcMode"] = result.get("IpcMode") or "private"
    result["CgroupnsMode"] = result.get("CgroupnsMode") or (
        "private" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "host"
    )
    result["ShmSize"] = result.get("ShmSize") or 64 * 1024 * 1024
    result["Runtime"] = result.get("Runtime") or daemon.get("default-runtime", "runc")
    for key in ("Dns", "DnsOptions", "DnsSearch"):
        result[key] = result.get(key) or []
    if not result.get("Privileged"):
        from dockyard.runtime.spec import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS

        result.setdefault("MaskedPaths", list(DEFAULT_MASKED_PATHS))
        result.setdefault("ReadonlyPaths", list(DEFAULT_READONLY_PATHS))
    return result


def _label_matches(labels: dict[str, str], expr: str) -> bool:
    key, sep, value = expr.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _matches_prune(container: Container, filters: Filters) -> bool:
    labels = container.config.get("Labels") or {}
    for value in filters.get("until"):
        if container.created >= filters.timestamp(value):
            return False
    if not all(_label_matches(labels, e) for e in filters.get("label")):
        return False
    return not any(_label_matches(labels, e) for e in filters.get("label!"))


def _matches(container: Container, filters: Filters, service: ContainerService) -> bool:
    labels = container.config.get("Labels") or {}
    if filters.has("status") and container.status not in filters.get("status"):
        return False
    if filters.has("name") and not any(
        re.search(pattern.removeprefix("/"), container.name) for pattern in filters.get("name")
    ):
        return False
    if filters.has("id") and not any(container.id.startswith(p) for p in filters.get("id")):
        return False
    if not all(_label_matches(labels, e) for e in filters.get("label")):
        return False
    if filters.has("ancestor"):
        wanted = set()
        for value in filters.get("ancestor"):
            resolved = service.engine.images.try_resolve(value)
            if resolved:
                wanted.add(resolved)
        if container.image_id not in wanted:
            return False
    if filters.has("exited"):
        if container.status != "exited":
            return False
        codes = {int(v) for v in filters.get("exited")}
        if int(container.state.get("ExitCode", 0)) not in codes:
            return False
    if filters.has("volume"):
        mounts = container.spec.get("Mounts") or []
        names = {m.get("Name") for m in mounts} | {m.get("Destination") for m in mounts}
        if not any(v in names for v in filters.get("volume")):
            return False
    if filters.has("health"):
        health = (container.state.get("Health") or {}).get("Status") or "none"
        if health not in filters.get("health"):
            return False
    if filters.has("network") or filters.has("publish") or filters.has("expose"):
        from dockyard.engine.networks import container_filter_match

        if not container_filter_match(container, filters):
            return False
    for value in filters.get("before"):
        if container.created >= service.get(value).created:
            return False
    return all(container.created > service.get(v).created for v in filters.get("since"))
