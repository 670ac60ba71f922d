"""Networks: list, inspect, create, delete, connect, disconnect, prune."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dockyard.api.http import (
    Router,
    bool_param,
    ctx,
    expect_type,
    filters_param,
    json_object,
    json_response,
    no_content,
    str_param,
    string_map,
)
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine import Engine


def setup(router: Router) -> None:
    router.get("/networks", list_networks)
    router.post("/networks/create", create)
    router.post("/networks/prune", prune)
    router.get("/networks/{id}", inspect)
    router.delete("/networks/{id}", remove)
    router.post("/networks/{id}/connect", connect)
    router.post("/networks/{id}/disconnect", disconnect)


def _string(body: dict[str, Any], key: str, what: str | None = None) -> str:
    value = expect_type(body.get(key), str, what or key)
    return value or ""


def _bool(body: dict[str, Any], key: str) -> bool:
    return bool(expect_type(body.get(key), bool, key))


def _object(value: Any, what: str) -> dict[str, Any]:
    return expect_type(value, dict, what) or {}


async def list_networks(request: web.Request) -> web.Response:
    filters = filters_param(request)

    def run(e: Engine) -> list[dict[str, Any]]:
        return [n.inspect() for n in e.networks.list(filters)]

    return json_response(await ctx(request).run(run))


async def inspect(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    bool_param(request, "verbose")  # accepted; there is no more to tell for a local network
    scope = str_param(request, "scope")
    if scope not in ("", "local", "global", "swarm"):
        raise InvalidArgument(f"invalid scope {scope!r}")

    def run(e: Engine) -> dict[str, Any]:
        network = e.networks.get(ref)
        if scope in ("global", "swarm"):
            from dockyard.errors import NotFound

            raise NotFound(f"network {ref} not found")
        return e.networks.inspect(network)

    return json_response(await ctx(request).run(run))


def _ipam_request(ipam: dict[str, Any]) -> dict[str, Any]:
    """The create keywords from the body's IPAM section."""
    configs = expect_type(ipam.get("Config"), list, "IPAM.Config") or []
    subnets: list[str] = []
    gateways: list[str] = []
    ranges: list[str] = []
    aux: dict[str, str] = {}
    for item in configs:
        cfg = _object(item, "IPAM.Config")
        subnet = _string(cfg, "Subnet", "IPAM.Config.Subnet")
        gateway = _string(cfg, "Gateway", "IPAM.Config.Gateway")
        ip_range = _string(cfg, "IPRange", "IPAM.Config.IPRange")
        if (gateway or ip_range) and not subnet:
            raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
        if subnet:
            subnets.append(subnet)
        if gateway:
            gateways.append(gateway)
        if ip_range:
            ranges.append(ip_range)
        aux.update(string_map(cfg.get("AuxiliaryAddresses"), "IPAM.Config.AuxiliaryAddresses"))
    return {
        "subnets": subnets,
        "gateways": gateways,
        "ip_ranges": ranges,
        "aux_addresses": aux,
        "ipam_driver": _string(ipam, "Driver", "IPAM.Driver") or "default",
        "ipam_options": string_map(ipam.get("Options"), "IPAM.Options"),
    }


async def create(request: web.Request) -> web.Response:
    body = await json_object(request, required=True)
    name = _string(body, "Name")
    if not name:
        raise InvalidArgument("network name must be given")  # dockerd: a bare 400
    driver = _string(body, "Driver") or "bridge"
    scope = _string(body, "Scope")
    if scope not in ("", "local"):
        raise InvalidArgument(f'scope "{scope}" is not supported by the {driver} driver')
    if _bool(body, "Ingress"):
        raise InvalidArgument("ingress networks need swarm mode")
    if _bool(body, "ConfigOnly") or _object(body.get("ConfigFrom"), "ConfigFrom"):
        raise InvalidArgument("config-only networks are not supported")
    _bool(body, "CheckDuplicate")  # always checked, as by dockerd since API 1.44
    keywords = _ipam_request(_object(body.get("IPAM"), "IPAM"))
    kwargs: dict[str, Any] = dict(
        driver=driver,
        internal=_bool(body, "Internal"),
        attachable=_bool(body, "Attachable"),
        ipv6=_bool(body, "EnableIPv6"),
        labels=string_map(body.get("Labels"), "Labels"),
        options=string_map(body.get("Options"), "Options"),
        **keywords,
    )

    def run(e: Engine) -> str:
        return e.networks.create(name, **kwargs).id

    network_id = await ctx(request).run(run)
    return json_response({"Id": network_id, "Warning": ""}, status=201)


async def remove(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    await ctx(request).run(lambda e: e.networks.remove(ref))
    return no_content()


async def connect(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    body = await json_object(request, required=True)
    container = _string(body, "Container")
    if not container:
        raise InvalidArgument("no container given to connect")
    endpoint = _object(body.get("EndpointConfig"), "EndpointConfig")
    aliases = expect_type(endpoint.get("Aliases"), list, "EndpointConfig.Aliases") or []
    if not all(isinstance(a, str) for a in aliases):
        raise InvalidArgument("invalid type for EndpointConfig.Aliases")
    ipam = _object(endpoint.get("IPAMConfig"), "EndpointConfig.IPAMConfig")
    ip = _string(ipam, "IPv4Address", "EndpointConfig.IPAMConfig.IPv4Address")
    ip6 = _string(ipam, "IPv6Address", "EndpointConfig.IPAMConfig.IPv6Address")

    def run(e: Engine) -> None:
        e.networks.connect(ref, container, ip=ip, ip6=ip6, aliases=list(aliases))

    await ctx(request).run(run)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    body = await json_object(request, required=True)
    container = _string(body, "Container")
    if not container:
        raise InvalidArgument("no container given to disconnect")
    force = _bool(body, "Force")
    await ctx(request).run(lambda e: e.networks.disconnect(ref, container, force=force))
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    filters = filters_param(request)

    def run(e: Engine) -> dict[str, Any]:
        return {"NetworksDeleted": e.networks.prune(filters) or None}

    return json_response(await ctx(request).run(run))
