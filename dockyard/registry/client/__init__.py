"""The registry client: the distribution API as Docker's engine speaks it.

``hosts`` decides where a registry is reached (mirrors, https or http, TLS trust),
``challenge`` and ``auth`` answer a registry's ``WWW-Authenticate``, ``credentials``
reads and writes ``~/.docker/config.json`` as the docker CLI does, ``session`` is
the HTTP transport with retries, ``repository`` the API calls on one repository,
``blobs`` the verified, resumable blob download, ``search`` the v1 search API.
"""
