"""Content descriptors (mediaType, digest, size, …) and the JSON checks image documents share."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import Corrupt, InvalidArgument
from dockyard.oci.digest import parse_digest, verify
from dockyard.oci.platform import Platform

Json = bytes | str | Mapping[str, Any]
"""A JSON document: raw bytes, text, or already decoded."""


def load_json(data: Json, what: str) -> Mapping[str, Any]:
    """Decode ``data`` (bytes, text or an already-decoded dict) as a JSON object."""
    if isinstance(data, Mapping):
        return data
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise Corrupt(f"invalid {what}: not valid JSON: {e}") from None
    return expect_object(doc, f"invalid {what}")


def expect_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Corrupt(f"{where}: expected a JSON object")
    return value


def optional_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    """``d[key]`` if it is a string, None if absent or null; Corrupt otherwise."""
    v = d.get(key)
    if v is None or isinstance(v, str):
        return v
    raise Corrupt(f"{where}: {key} must be a string")


def required_str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = optional_str(d, key, where)
    if v is None:
        raise Corrupt(f"{where}: missing {key}")
    return v


def string_map(d: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    """A ``map[string]string`` field (annotations, labels); absent or null gives ``{}``."""
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, Mapping) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()
    ):
        raise Corrupt(f"{where}: {key} must map strings to strings")
    return dict(v)


def string_list(d: Mapping[str, Any], key: str, where: str) -> list[str]:
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise Corrupt(f"{where}: {key} must be a list of strings")
    return list(v)


def checked_digest(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Corrupt(f"{where}: digest must be a string")
    try:
        parse_digest(value)
    except InvalidArgument as e:
        raise Corrupt(f"{where}: {e.message}") from None
    return value


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor. Hashes by (media_type, digest, size)."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None
    data: str | None = None  # base64 of the content, when embedded

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, keys in the order of Go's ``ocispec.Descriptor``; empty fields omitted."""
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            d["urls"] = list(self.urls)
        if self.annotations:
            d["annotations"] = dict(sorted(self.annotations.items()))
        if self.data is not None:
            d["data"] = self.data
        if self.platform is not None:
            d["platform"] = self.platform.to_dict()
        if self.artifact_type:
            d["artifactType"] = self.artifact_type
        return d

    @classmethod
    def from_dict(cls, value: Any, where: str = "descriptor") -> Descriptor:
        """Validate and read a descriptor object; Corrupt names ``where`` on bad shapes."""
        d = expect_object(value, where)
        media_type = required_str(d, "mediaType", where)
        if "digest" not in d:
            raise Corrupt(f"{where}: missing digest")
        digest = checked_digest(d["digest"], where)
        size = d.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise Corrupt(f"{where}: size must be an integer")
        if size < 0:
            raise Corrupt(f"{where}: size must not be negative")
        platform = None
        if d.get("platform") is not None:
            try:
                platform = Platform.from_dict(d["platform"])
            except Corrupt as e:
                raise Corrupt(f"{where}: {e.message}") from None
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=string_map(d, "annotations", where),
            platform=platform,
            urls=tuple(string_list(d, "urls", where)),
            artifact_type=optional_str(d, "artifactType", where),
            data=optional_str(d, "data", where),
        )

    def embedded_data(self) -> bytes | None:
        """The ``data`` field decoded and checked against size and digest; None if absent."""
        if self.data is None:
            return None
        try:
            raw = base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise Corrupt("descriptor data is not valid base64") from None
        if len(raw) != self.size or not verify(raw, self.digest):
            raise Corrupt(f"descriptor data does not match {self.digest}")
        return raw
