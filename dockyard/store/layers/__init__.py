"""Layer tars and directories: apply a layer to a directory, compute a layer from one.

- :func:`apply_layer` — unpack a (possibly compressed) layer tar into a snapshot
  directory, OCI or overlay whiteouts, refusing archives that reach outside it.
- :func:`write_diff` / :func:`changes` — the layer tar (or ``docker diff`` list) of an
  overlay upper directory, or of a tree compared with its parent.
- :func:`open_decompressed`, :func:`detect_compression`, :func:`compressing_writer`.
"""

from dockyard.store.layers.apply import ApplyStats, apply_layer
from dockyard.store.layers.compression import (
    CompressingWriter,
    Compression,
    DecompressedStream,
    compressing_writer,
    detect_compression,
    detect_format,
    open_decompressed,
)
from dockyard.store.layers.diff import Change, DiffStats, changes, write_diff

__all__ = [
    "ApplyStats",
    "Change",
    "CompressingWriter",
    "Compression",
    "DecompressedStream",
    "DiffStats",
    "apply_layer",
    "changes",
    "compressing_writer",
    "detect_compression",
    "detect_format",
    "open_decompressed",
    "write_diff",
]
