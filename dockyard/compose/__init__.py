"""Docker Compose projects: loading, validation, normalisation and planning.

Pipeline (:func:`dockyard.compose.loader.load_project`): find the files and the
environment → ``yamlfile`` (go-yaml v3 scalar rules) → ``interpolate``/``template`` →
``schema`` (the specification's structure, checked per file) → ``include`` and ``merge``
→ ``extends`` → profiles → ``paths`` → ``normalize`` (long syntax, compose-go's order via
``order``) → consistency checks and ``planner`` (cycles, start order, config hash).
``model`` gives a typed view; ``output`` prints ``compose config``.
"""
