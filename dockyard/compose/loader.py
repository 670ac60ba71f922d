"""Loading a compose project the way Docker Compose v2 does: find the files, read the
environment, parse, interpolate, validate, include, merge, extend, select profiles,
normalise and check the references between services and resources."""

from __future__ import annotations

import os
import posixpath
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.compose import schema
from dockyard.compose.envfile import read_env_file
from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate
from dockyard.compose.merge import merge, strip_tags
from dockyard.compose.paths import absolute, resolve_model, resolve_service
from dockyard.compose.schemacheck import SchemaViolation
from dockyard.compose.yamlfile import parse_documents

CONFIG_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_NAMES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
)
RESOURCE_SECTIONS = ("services", "networks", "volumes", "secrets", "configs", "models")
_PROJECT_NAME_OK = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class InvalidProject(ComposeError):
    """Compose's ``invalid compose project`` errors (exit code 15 in Docker Compose)."""

    exit_code = 15

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}: invalid compose project")


@dataclass
class ProjectOptions:
    """What the command line and environment say about the project to load."""

    config_files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: str = field(default_factory=os.getcwd)
    interpolate: bool = True
    normalize: bool = True
    resolve_paths: bool = True
    consistency: bool = True
    read_stdin: Callable[[], str] = field(default=lambda: sys.stdin.read())


@dataclass
class Project:
    """A loaded project: its name, directories, environment and the model as a plain
    mapping (compose-go's shape after normalisation; see :mod:`dockyard.compose.model`
    for typed access)."""

    name: str
    working_dir: str
    config_files: list[str]
    environment: dict[str, str]
    model: dict[str, Any]
    disabled_services: dict[str, Any]
    profiles: list[str]
    warnings: list[str]

    @property
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = self.model.get("services", {})
        return services

    def all_profiles(self) -> list[str]:
        names: set[str] = set()
        for service in [*self.services.values(), *self.disabled_services.values()]:
            names.update(service.get("profiles") or [])
        return sorted(names)


# ------------------------------------------------------------------- names and files


def normalize_project_name(name: str) -> str:
    """Compose's rule for a directory name: lower case, keep ``[a-z0-9_-]``, no leading
    ``_`` or ``-``."""
    kept = "".join(re.findall(r"[a-z0-9_-]", name.lower()))
    return kept.lstrip("_-")


def check_project_name(name: str) -> str:
    if not _PROJECT_NAME_OK.match(name):
        raise ComposeError(
            f"invalid project name {_quote(name)}: must consist only of lowercase "
            "alphanumeric characters, hyphens, and underscores as well as start with a "
            "letter or number"
        )
    return name


def _quote(text: str) -> str:
    import json

    return json.dumps(text)


def find_config_files(start: str, warnings: list[str]) -> list[str]:
    """The compose file found in ``start`` or its nearest parent, plus its override."""
    directory = posixpath.abspath(start)
    while True:
        found = [n for n in CONFIG_NAMES if os.path.isfile(posixpath.join(directory, n))]
        if found:
            if len(found) > 1:
                warnings.append(
                    f"Found multiple config files with supported names: "
                    f"{', '.join(posixpath.join(directory, n) for n in found)}\n"
                    f"Using {posixpath.join(directory, found[0])}"
                )
            files = [posixpath.join(directory, found[0])]
            overrides = [n for n in OVERRIDE_NAMES if os.path.isfile(posixpath.join(directory, n))]
            if overrides:
                files.append(posixpath.join(directory, overrides[0]))
            return files
        parent = posixpath.dirname(directory)
        if parent == directory:
            raise ComposeError("no configuration file provided: not found").with_code(14)
        directory = parent


def _read_dotenv(paths: list[str], environ: dict[str, str], explicit: bool) -> dict[str, str]:
    values: dict[str, str] = {}
    for path in paths:
        if not os.path.isfile(path):
            if explicit:
                raise ComposeError(f"couldn't find env file: {path}")
            continue
        try:
            values.update(read_env_file(path, {**values, **environ}))
        except OSError as exc:
            raise ComposeError(f"failed to read {path}: {exc.strerror}") from None
    return values


def project_environment(
    directory: str, env_files: list[str], environ: dict[str, str], cwd: str
) -> dict[str, str]:
    """The variables for interpolation: ``.env`` (or the ``--env-file`` files) under the
    OS environment, which wins."""
    if env_files:
        dotenv = _read_dotenv([absolute(cwd, f) for f in env_files], environ, True)
    else:
        dotenv = _read_dotenv([posixpath.join(directory, ".env")], environ, False)
    return {**dotenv, **environ}


# ------------------------------------------------------------------- one file


@dataclass
class _Context:
    env: dict[str, str]
    options: ProjectOptions
    unset: list[str]
    warnings: list[str]
    include_stack: list[str] = field(default_factory=list)


def _read(path: str, ctx: _Context) -> str:
    if path == "-":
        return ctx.options.read_stdin()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ComposeError(f"open {path}: no such file or directory").with_code(14) from None
    except IsADirectoryError:
        raise ComposeError(f"read {path}: is a directory") from None
    except OSError as exc:
        raise ComposeError(f"open {path}: {exc.strerror}") from None


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            (k if isinstance(k, str) else _scalar_text(k)): _stringify_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def load_file(path: str, ctx: _Context, display: str | None = None) -> dict[str, Any]:
    """One compose file parsed, interpolated, validated and with its includes applied
    (paths are still relative, except those of included files and ``extends.file``)."""
    filename = display or path
    documents = parse_documents(_read(path, ctx), filename)
    model: dict[str, Any] = {}
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ComposeError(f"validating {filename}: (root) Top-level object must be a mapping")
        for key in document:
            if not isinstance(key, str):
                raise ComposeError(f"non-string key at top level: {_scalar_text(key)}")
        document = _stringify_keys(document)
        if ctx.options.interpolate:
            document = interpolate(document, ctx.env, ctx.unset)
        try:
            schema.validate(strip_tags(document))
        except SchemaViolation as exc:
            raise ComposeError(f"validating {filename}: {exc}").with_code(15) from None
        model = merge(model, document) if model else document
    if (not model and not documents) or all(d is None for d in documents):
        raise ComposeError(f"empty compose file: {filename}")
    if "version" in model:
        ctx.warnings.append(
            f"{filename}: the attribute `version` is obsolete, it will be ignored, "
            "please remove it to avoid potential confusion"
        )
        model.pop("version")
    base = posixpath.dirname(path) if path != "-" else ctx.options.cwd
    services = model.get("services")
    if isinstance(services, dict):
        for name, service in services.items():
            extends = service.get("extends") if isinstance(service, dict) else None
            if isinstance(extends, dict) and isinstance(extends.get("file"), str):
                service["extends"] = {**extends, "file": absolute(base, extends["file"])}
                services[name] = service
    includes = model.pop("include", None)
    if includes:
        model = _apply_includes(model, includes, base, ctx)
    return model


# ------------------------------------------------------------------- include


def _apply_includes(
    model: dict[str, Any], includes: list[Any], base: str, ctx: _Context
) -> dict[str, Any]:
    for entry in includes:
        if isinstance(entry, str):
            entry = {"path": entry}
        paths = entry.get("path")
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        paths = [absolute(base, p) for p in paths]
        if not paths:
            continue
        project_dir = (
            absolute(base, entry["project_directory"])
            if entry.get("project_directory")
            else posixpath.dirname(paths[0])
        )
        env_files = entry.get("env_file")
        env_files = [env_files] if isinstance(env_files, str) else list(env_files or [])
        if env_files:
            dotenv = _read_dotenv([absolute(base, f) for f in env_files], ctx.env, True)
        else:
            dotenv = _read_dotenv([posixpath.join(project_dir, ".env")], ctx.env, False)
        for path in paths:
            if path in ctx.include_stack:
                chain = " -> ".join([*ctx.include_stack, path])
                raise ComposeError(f"include cycle detected:\n{chain}")
        sub = _Context(
            env={**dotenv, **ctx.env},
            options=ctx.options,
            unset=ctx.unset,
            warnings=ctx.warnings,
            include_stack=[*ctx.include_stack, *paths],
        )
        included: dict[str, Any] = {}
        for path in paths:
            loaded = load_file(path, sub)
            included = merge(included, loaded) if included else loaded
        included = apply_extends(included, sub)
        included = resolve_model(included, project_dir)
        for section in RESOURCE_SECTIONS:
            imported = included.get(section) or {}
            if not imported:
                continue
            target = dict(model.get(section) or {})
            for name, value in imported.items():
                if name in target and target[name] != value:
                    raise ComposeError(f"{section}.{name} conflicts with imported resource")
                target[name] = value
            model[section] = target
    return model


# ------------------------------------------------------------------- extends


def apply_extends(model: dict[str, Any], ctx: _Context, filename: str = "") -> dict[str, Any]:
    services = model.get("services")
    if not isinstance(services, dict):
        return model
    cache: dict[tuple[str, str], dict[str, Any]] = {}
    resolved = {name: _extended(name, services, filename, ctx, [], cache) for name in services}
    return {**model, "services": resolved}


def _extended(
    name: str,
    services: dict[str, Any],
    filename: str,
    ctx: _Context,
    chain: list[tuple[str, str]],
    cache: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    key = (filename, name)
    if key in cache:
        return cache[key]
    service = services[name] or {}
    extends = service.get("extends")
    if extends is None:
        return service
    if key in chain:
        names = " -> ".join(n for _, n in [*chain, key])
        raise ComposeError(f"circular reference with extends: {names}")
    if isinstance(extends, str):
        extends = {"service": extends}
    ref = extends["service"]
    ref_file = extends.get("file")
    if ref_file:
        other = load_file(ref_file, ctx)
        other_services = other.get("services") or {}
        if ref not in other_services:
            raise ComposeError(
                f"cannot extend service {_quote(name)} in {filename or 'compose file'}: "
                f"service {_quote(ref)} not found in {ref_file}"
            )
        base = _extended(ref, other_services, ref_file, ctx, [*chain, key], cache)
        base = resolve_service(base, posixpath.dirname(ref_file))
    else:
        if ref not in services:
            raise ComposeError(
                f"cannot extend service {_quote(name)} in {filename or 'compose file'}: "
                f"service {_quote(ref)} not found"
            )
        base = _extended(ref, services, filename, ctx, [*chain, key], cache)
    local = {k: v for k, v in service.items() if k != "extends"}
    base = {k: v for k, v in base.items() if k != "extends"}
    result: dict[str, Any] = merge(base, local, ("services", name))
    cache[key] = result
    return result


# ------------------------------------------------------------------- profiles


def select_profiles(
    model: dict[str, Any], profiles: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(enabled, disabled) services for the active profiles (``*`` enables all)."""
    services = model.get("services") or {}
    enabled: dict[str, Any] = {}
    disabled: dict[str, Any] = {}
    for name, service in services.items():
        wanted = service.get("profiles") or []
        if not wanted or "*" in profiles or any(p in profiles for p in wanted):
            enabled[name] = service
        else:
            disabled[name] = service
    for name, service in enabled.items():
        for dep, spec in _depends_on(service).items():
            if dep in disabled and spec.get("required", True):
                needed = disabled[dep].get("profiles") or []
                raise ComposeError(
                    f"service {_quote(dep)} is required by {_quote(name)} but is disabled. "
                    f"Can be enabled by profiles [{' '.join(needed)}]"
                )
    return enabled, disabled


def _depends_on(service: dict[str, Any]) -> dict[str, Any]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: {} for d in deps}
    return {k: (v or {}) for k, v in deps.items()}


# ------------------------------------------------------------------- the whole project


def load_project(options: ProjectOptions) -> Project:
    """Load the project; on failure the error's ``warnings`` lists what Compose would
    have printed before failing (unset variables, obsolete keys)."""
    warnings: list[str] = []
    unset: list[str] = []
    try:
        return _load_project(options, warnings, unset)
    except ComposeError as exc:
        exc.warnings = warnings + _unset_warnings(unset)
        raise


def _unset_warnings(unset: list[str]) -> list[str]:
    return [
        f'The "{variable}" variable is not set. Defaulting to a blank string.'
        for variable in dict.fromkeys(unset)
    ]


def _load_project(options: ProjectOptions, warnings: list[str], unset: list[str]) -> Project:
    from dockyard.compose.normalize import check_consistency, normalize

    environ = dict(options.environ)
    explicit_files = list(options.config_files)
    if options.project_directory:
        env_dir = absolute(options.cwd, options.project_directory)
    elif explicit_files and explicit_files[0] != "-":
        env_dir = posixpath.dirname(absolute(options.cwd, explicit_files[0]))
    else:
        env_dir = options.cwd
    env = project_environment(env_dir, options.env_files, environ, options.cwd)
    if not explicit_files and env.get("COMPOSE_FILE"):
        separator = env.get("COMPOSE_PATH_SEPARATOR", ":")
        explicit_files = [f for f in env["COMPOSE_FILE"].split(separator) if f]
    if explicit_files:
        files = [f if f == "-" else absolute(options.cwd, f) for f in explicit_files]
    else:
        files = find_config_files(env_dir, warnings)
        found_dir = posixpath.dirname(files[0])
        if found_dir != env_dir and not options.env_files and not options.project_directory:
            env_dir = found_dir
            env = project_environment(env_dir, options.env_files, environ, options.cwd)
    if options.project_directory:
        working_dir = absolute(options.cwd, options.project_directory)
    elif files[0] == "-":
        working_dir = options.cwd
    else:
        working_dir = posixpath.dirname(files[0])

    explicit_name = options.project_name or env.get("COMPOSE_PROJECT_NAME") or ""
    if explicit_name:
        check_project_name(explicit_name)
    provisional = explicit_name or normalize_project_name(posixpath.basename(working_dir))
    if provisional and "COMPOSE_PROJECT_NAME" not in env:
        env["COMPOSE_PROJECT_NAME"] = provisional

    ctx = _Context(env=env, options=options, unset=unset, warnings=warnings)
    model: dict[str, Any] = {}
    for path in files:
        loaded = load_file(path, ctx)
        model = merge(model, loaded) if model else loaded
    model = strip_tags(model)
    model = apply_extends(model, ctx, files[0])

    name = explicit_name
    if not name and isinstance(model.get("name"), str) and model["name"]:
        name = check_project_name(model["name"])
    if not name:
        name = provisional
    if not name:
        raise ComposeError("project name must not be empty")
    env.setdefault("COMPOSE_PROJECT_NAME", name)
    if env.get("COMPOSE_PROJECT_NAME") != name and not explicit_name:
        env["COMPOSE_PROJECT_NAME"] = name

    profiles = list(options.profiles)
    if not profiles and env.get("COMPOSE_PROFILES"):
        profiles = [p.strip() for p in env["COMPOSE_PROFILES"].split(",") if p.strip()]
    enabled, disabled = select_profiles(model, profiles)
    model = {**model, "services": enabled}
    if options.resolve_paths:
        model = resolve_model(model, working_dir)

    warnings.extend(_unset_warnings(unset))
    unset.clear()
    if options.normalize:
        model = normalize(model, name, working_dir, env)
        if options.consistency:
            check_consistency(model)
    else:
        model = {"name": name, **{k: v for k, v in model.items() if k != "name"}}
    return Project(
        name=name,
        working_dir=working_dir,
        config_files=files,
        environment=env,
        model=model,
        disabled_services=disabled,
        profiles=profiles,
        warnings=warnings,
    )
