"""dockyard's own registry server: the OCI distribution API on aiohttp.

Modules, bottom-up: ``errors`` (the spec's error codes), ``names`` (name, tag and
digest rules), ``driver`` (storage drivers; the filesystem one), ``store``
(distribution's on-disk layout), ``uploads`` (upload sessions hashed while
streaming), ``manifests`` (manifest checks), ``auth`` (htpasswd and bearer
tokens), ``app`` (the HTTP API), ``config`` (config.yml), ``serve`` (the
process), ``gc`` (garbage collection).
"""
