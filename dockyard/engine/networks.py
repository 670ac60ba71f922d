"""The network service: Docker's networks (bridge, host, none and user-defined
bridges) and each container's endpoints on them.

A network is a row in ``networks`` whose ``config`` JSON holds the fields of
``docker network inspect`` (IPAM, Options, Labels, Internal, ...) plus the
bridge device's name. The predefined ``bridge``, ``host`` and ``none`` networks
are made on first use. An endpoint (a container on a network, with its address)
is a row in ``network_endpoints`` while the container runs; the kernel objects
(namespace, bridge, veth, iptables rules) are made by :meth:`attach` before the
container starts and removed by :meth:`detach` when it ends.

Which networks a container belongs to is its ``NetworkingConfig.EndpointsConfig``
(keyed by network name, the NetworkMode network included): ``connect`` and
``disconnect`` change it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator

from dockyard.engine.filters import Filters
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, Unsupported
from dockyard.timeutil import rfc3339_nano

# ipaddress, hashlib, secrets, typing, dataclasses and the IPAM module are imported
# where they are used: every container start imports this module, and `run
# --network none` needs none of them (~15 ms of imports).
TYPE_CHECKING = False

if TYPE_CHECKING:
    import ipaddress
    from typing import Any

    from dockyard.engine import Engine
    from dockyard.engine.containers import Container
    from dockyard.network import ipam
    from dockyard.network.firewall import Firewall

PREDEFINED = ("bridge", "host", "none")
DEFAULT_BRIDGE_DEVICE = "dockyard0"
OPT_PREFIX = "com.docker.network."
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_MTU = "com.docker.network.driver.mtu"
_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_IFNAME_MAX = 15
_List = list  # NetworkService.list shadows the builtin in its class body


def _truthy(text: str | None, default: bool = True) -> bool:
    if text is None or text == "":
        return default
    return text.lower() in ("1", "t", "true", "yes", "on")


class Network:
    __slots__ = ("config", "created", "driver", "id", "name")

    def __init__(self, id: str, name: str, driver: str, created: float, config: dict[str, Any]):
        self.id = id
        self.name = name
        self.driver = driver
        self.created = created
        self.config = config

    @property
    def options(self) -> dict[str, str]:
        return dict(self.config.get("Options") or {})

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("Labels") or {})

    @property
    def internal(self) -> bool:
        return bool(self.config.get("Internal"))

    @property
    def is_bridge(self) -> bool:
        return self.driver == "bridge"

    @property
    def user_defined(self) -> bool:
        return self.name not in PREDEFINED

    @property
    def bridge_device(self) -> str:
        return str(self.config.get("BridgeDevice") or "")

    @property
    def pools(self) -> list[ipam.PoolConfig]:
        """The IPv4 pools (one for a bridge network)."""
        from dockyard.network import ipam

        return [
            ipam.PoolConfig.from_api(c)
            for c in (self.config.get("IPAM") or {}).get("Config") or []
            if not ipam.is_v6(c)
        ]

    @property
    def pool6(self) -> ipam.Pool6 | None:
        """The IPv6 pool of an ``--ipv6`` network."""
        from dockyard.network import ipam

        if not self.config.get("EnableIPv6"):
            return None
        for c in (self.config.get("IPAM") or {}).get("Config") or []:
            if ipam.is_v6(c):
                return ipam.Pool6.from_api(c)
        return None

    @property
    def mtu(self) -> int:
        try:
            return int(self.options.get(OPT_MTU) or 1500)
        except ValueError:
            return 1500

    def inspect(self, containers: dict[str, Any] | None = None) -> dict[str, Any]:
        cfg = self.config
        ipam_doc = cfg.get("IPAM") or {}
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": rfc3339_nano(self.created),
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv6": bool(cfg.get("EnableIPv6")),
            "IPAM": {
                "Driver": ipam_doc.get("Driver") or "default",
                "Options": ipam_doc.get("Options"),
                "Config": ipam_doc.get("Config") or [],
            },
            "Internal": self.internal,
            "Attachable": bool(cfg.get("Attachable")),
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers or {},
            "Options": self.options,
            "Labels": self.labels,
        }


class NetPlan:
    """What the lifecycle needs to start a container once its networking is ready."""

    __slots__ = (
        "addresses",
        "host_gateways",
        "hostname",
        "hosts_text",
        "netns_path",
        "resolv_mode",
        "resolv_text",
    )

    def __init__(
        self,
        netns_path: str | None = None,  # join this namespace (prepared or another container's)
        addresses: list[str] | None = None,
        resolv_mode: str = "legacy",  # etc_files.resolv_conf mode
        host_gateways: list[str] | None = None,
        hosts_text: str | None = None,  # a whole /etc/hosts to use (container: mode)
        resolv_text: str | None = None,
        hostname: str | None = None,
    ) -> None:
        self.netns_path = netns_path
        self.addresses = addresses if addresses is not None else []
        self.resolv_mode = resolv_mode
        self.host_gateways = host_gateways if host_gateways is not None else []
        self.hosts_text = hosts_text
        self.resolv_text = resolv_text
        self.hostname = hostname

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"NetPlan({fields})"


class NetworkService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = engine.db
        self._defaults_ready = False

    # ------------------------------------------------------------- places

    @property
    def run_dir(self) -> str:
        return os.path.join(self.engine.options.run_root, "network")

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.engine.options.run_root, "netns", container_id[:12])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time changes bridges and iptables rules."""
        os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
        fd = os.open(
            os.path.join(self.run_dir, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @property
    def firewall(self) -> Firewall:
        from dockyard.network.firewall import Firewall

        return Firewall()

    @property
    def firewall6(self) -> Firewall:
        from dockyard.network.firewall import Firewall

        return Firewall("ip6tables")

    @property
    def _has_ip6tables(self) -> bool:
        """Whether ip6tables is installed: an IPv6 network's isolation rules need it,
        unless daemon.json ``ip6tables`` asks for its NAT too (then it must be)."""
        import shutil

        return self.ip6tables_enabled or shutil.which("ip6tables-restore") is not None

    @property
    def iptables_enabled(self) -> bool:
        return self.engine.options.daemon.get("iptables", True) is not False

    # ------------------------------------------------------------- records

    def _row(self, row: Any) -> Network:
        return Network(
            row["id"], row["name"], row["driver"], row["created"], json.loads(row["config"])
        )

    def ensure_defaults(self) -> None:
        """The predefined networks, made on first use (dockerd makes them at startup)."""
        if self._defaults_ready:
            return
        names = {r["name"] for r in self.db.conn.execute("SELECT name FROM networks")}
        missing = [n for n in PREDEFINED if n not in names]
        if missing:
            with self.db.transaction() as conn:
                names = {r["name"] for r in conn.execute("SELECT name FROM networks")}
                for name in PREDEFINED:
                    if name in names:
                        continue
                    config = self._default_config(name, conn)
                    driver = {"bridge": "bridge", "host": "host", "none": "null"}[name]
                    conn.execute(
                        "INSERT INTO networks (id, name, driver, created, config)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (os.urandom(32).hex(), name, driver, time.time(), json.dumps(config)),
                    )
        self._defaults_ready = True

    def _default_config(self, name: str, conn: Any) -> dict[str, Any]:
        import ipaddress

        from dockyard.network import ipam

        if name != "bridge":
            return {
                "IPAM": {"Driver": "default", "Options": None, "Config": []},
                "Options": {},
                "Labels": {},
            }
        daemon = self.engine.options.daemon
        device = str(daemon.get("bridge") or DEFAULT_BRIDGE_DEVICE)
        bip = str(daemon.get("bip") or "")
        if bip:
            try:
                iface = ipaddress.IPv4Interface(bip)
            except ValueError:
                raise InvalidArgument(f"invalid bip: {bip}") from None
            pool = ipam.PoolConfig(subnet=iface.network, gateway=iface.ip)
        else:
            from dockyard.network import bridge

            existing = bridge.ipv4_addresses(device)
            if existing:  # adopt the device's address, as dockerd does with docker0
                pool = ipam.PoolConfig(subnet=existing[0].network, gateway=existing[0].ip)
            else:
                subnet = ipam.choose_subnet(
                    ipam.parse_pools(daemon.get("default-address-pools")),
                    self._subnets_in_use(conn),
                    ipam.host_routes(),
                )
                pool = ipam.PoolConfig(subnet=subnet, gateway=subnet[1])
        mtu = str(daemon.get("mtu") or 1500)
        icc = "false" if daemon.get("icc") is False else "true"
        masq = "false" if daemon.get("ip-masq") is False else "true"
        configs = [pool.to_api()]
        cidr6 = str(daemon.get("fixed-cidr-v6") or "")
        if daemon.get("ipv6") is True and cidr6:  # dockerd --ipv6 --fixed-cidr-v6
            gateway6 = str(daemon.get("default-gateway-v6") or "")
            config6 = ipam.pool6_from_request(cidr6, gateway6).to_api()
            if not gateway6:  # dockerd shows the subnet alone (the gateway is its ::1)
                config6.pop("Gateway")
            configs.append(config6)
        return {
            "IPAM": {"Driver": "default", "Options": None, "Config": configs},
            "EnableIPv6": len(configs) > 1,
            "Options": {
                "com.docker.network.bridge.default_bridge": "true",
                OPT_ICC: icc,
                OPT_MASQ: masq,
                "com.docker.network.bridge.host_binding_ipv4": str(daemon.get("ip") or "0.0.0.0"),
                OPT_BRIDGE_NAME: device,
                OPT_MTU: mtu,
            },
            "Labels": {},
            "BridgeDevice": device,
        }

    def _engine_id(self) -> str:
        from dockyard.engine.system import _engine_id

        return _engine_id(self.engine.options.root)

    def _subnets_in_use(self, conn: Any) -> list[ipaddress.IPv4Network]:
        import ipaddress

        nets = []
        for row in conn.execute("SELECT config FROM networks"):
            for c in (json.loads(row["config"]).get("IPAM") or {}).get("Config") or []:
                with contextlib.suppress(ValueError, KeyError):
                    nets.append(ipaddress.IPv4Network(c["Subnet"], strict=False))
        return nets

    def _subnets6_in_use(self, conn: Any) -> list[ipaddress.IPv6Network]:
        import ipaddress

        from dockyard.network import ipam

        nets = []
        for row in conn.execute("SELECT config FROM networks"):
            for c in (json.loads(row["config"]).get("IPAM") or {}).get("Config") or []:
                if ipam.is_v6(c):
                    with contextlib.suppress(ValueError, KeyError):
                        nets.append(ipaddress.IPv6Network(c["Subnet"], strict=False))
        return nets

    def all(self) -> list[Network]:
        self.ensure_defaults()
        return [
            self._row(r) for r in self.db.conn.execute("SELECT * FROM networks ORDER BY created")
        ]

    def try_get(self, ref: str) -> Network | None:
        """By full id, then name, then unique id prefix (dockerd's order)."""
        self.ensure_defaults()
        conn = self.db.conn
        row = conn.execute("SELECT * FROM networks WHERE id = ?", (ref,)).fetchone()
        if row is None:
            row = conn.execute("SELECT * FROM networks WHERE name = ?", (ref,)).fetchone()
        if row is None and ref and re.fullmatch(r"[0-9a-f]+", ref):
            rows = conn.execute("SELECT * FROM networks WHERE id LIKE ?", (ref + "%",)).fetchall()
            if len(rows) > 1:
                raise NotFound(
                    f"network {ref} is ambiguous ({len(rows)} matches found based on ID prefix)"
                )
            row = rows[0] if rows else None
        return self._row(row) if row is not None else None

    def get(self, ref: str) -> Network:
        network = self.try_get(ref)
        if network is None:
            raise NotFound(f"network {ref} not found")
        return network

    # ------------------------------------------------------------- create / remove

    def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnets: list[str] | None = None,
        gateways: list[str] | None = None,
        ip_ranges: list[str] | None = None,
        aux_addresses: dict[str, str] | None = None,
        internal: bool = False,
        attachable: bool = False,
        ipv6: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        ipam_driver: str = "default",
        ipam_options: dict[str, str] | None = None,
    ) -> Network:
        from dockyard.network import ipam

        self.ensure_defaults()
        if not _NAME_RE.fullmatch(name or ""):
            raise InvalidArgument(
                f'invalid network name "{name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
            )
        driver = driver or "bridge"
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if ipam_driver not in ("default", ""):
            raise NotFound(f'plugin "{ipam_driver}" not found')
        if name in PREDEFINED:
            raise Conflict(f"network with name {name} already exists")
        subnets, gateways, ip_ranges = subnets or [], gateways or [], ip_ranges or []
        subnets6 = [n for n in subnets if ":" in n]
        gateways6 = [g for g in gateways if ":" in g]
        subnets = [n for n in subnets if ":" not in n]
        gateways = [g for g in gateways if ":" not in g]
        pool6: ipam.Pool6 | None = None
        if subnets6 and not ipv6:
            raise InvalidArgument("an IPv6 subnet needs an IPv6 network (--ipv6)")
        if len(subnets6) > 1:
            raise Unsupported("dockyard supports one IPv6 subnet per network")
        if ipv6 and subnets6:
            pool6 = ipam.pool6_from_request(subnets6[0], gateways6[0] if gateways6 else "")
        elif gateways6:
            raise InvalidArgument(f"no matching subnet for gateway {gateways6[0]}")
        if len(subnets) > 1:
            raise Unsupported("dockyard supports one IPv4 subnet per network")
        if (gateways or ip_ranges or aux_addresses) and not subnets:
            raise InvalidArgument("gateway, ip-range and aux-address need a subnet (--subnet)")
        options = dict(options or {})
        network_id = os.urandom(32).hex()
        device = options.get(OPT_BRIDGE_NAME) or f"br-{network_id[:12]}"
        if len(device) > _IFNAME_MAX:
            raise InvalidArgument(f"bridge name {device} is longer than {_IFNAME_MAX} characters")
        if OPT_MTU in options and not options[OPT_MTU].isdigit():
            raise InvalidArgument(f"invalid mtu {options[OPT_MTU]}")
        with self._locked(), self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"network with name {name} already exists")
            in_use = self._subnets_in_use(conn)
            if subnets:
                pool = ipam.pool_from_request(
                    subnets[0],
                    gateways[0] if gateways else "",
                    ip_ranges[0] if ip_ranges else "",
                    aux_addresses,
                )
                if ipam.overlaps(pool.subnet, in_use):
                    raise Conflict("Pool overlaps with other one on this address space")
                user_pool = True
            else:
                subnet = ipam.choose_subnet(
                    ipam.parse_pools(self.engine.options.daemon.get("default-address-pools")),
                    in_use,
                    ipam.host_routes(),
                )
                pool = ipam.PoolConfig(subnet=subnet, gateway=subnet[1])
                user_pool = False
            for other in conn.execute("SELECT config FROM networks"):
                if json.loads(other["config"]).get("BridgeDevice") == device:
                    raise Conflict(f"bridge name {device} is already in use by another network")
            if pool6 is not None and (
                ipam.overlaps(pool6.subnet, self._subnets6_in_use(conn))
                or ipam.overlaps(pool6.subnet, ipam.host_routes6())
            ):
                raise Conflict("Pool overlaps with other one on this address space")
            if ipv6 and pool6 is None:  # docker's default IPv6 pools (a ULA /48 of its own)
                daemon_pools = self.engine.options.daemon.get("default-address-pools")
                subnet6 = ipam.choose_subnet6(
                    ipam.parse_pools6(daemon_pools) or [ipam.ula_pool(self._engine_id())],
                    self._subnets6_in_use(conn),
                    ipam.host_routes6(),
                )
                pool6 = ipam.Pool6(subnet=subnet6, gateway=subnet6[1])
            configs = [pool.to_api(), *([pool6.to_api()] if pool6 else [])]
            # As dockerd keeps them: a subnet given without --gateway shows no Gateway
            # (an allocated one shows the gateway it got).
            if subnets and not gateways:
                configs[0].pop("Gateway")
            if pool6 is not None and subnets6 and not gateways6:
                configs[-1].pop("Gateway")
            config = {
                "IPAM": {
                    "Driver": "default",
                    "Options": dict(ipam_options or {}),
                    "Config": configs,
                },
                "Internal": internal,
                "Attachable": attachable,
                "EnableIPv6": pool6 is not None,
                "Options": options,
                "Labels": dict(labels or {}),
                "BridgeDevice": device,
                "UserPool": user_pool,
                "UserPool6": bool(subnets6),
            }
            now = time.time()
            conn.execute(
                "INSERT INTO networks (id, name, driver, created, config) VALUES (?, ?, ?, ?, ?)",
                (network_id, name, driver, now, json.dumps(config)),
            )
            network = Network(network_id, name, driver, now, config)
            # Inside the transaction: a failure here leaves neither row nor device.
            try:
                self._setup_bridge(network)
            except BaseException:
                self._teardown_bridge(network)
                raise
        self.engine.events.record("network", "create", network_id, {"name": name, "type": driver})
        return network

    def _setup_bridge(self, network: Network) -> None:
        import ipaddress

        from dockyard.network import bridge

        pool = network.pools[0]
        gateway = ipaddress.IPv4Interface(f"{pool.gateway}/{pool.subnet.prefixlen}")
        more: list[ipaddress.IPv6Interface] = []
        pool6 = network.pool6
        if pool6 is not None:
            more.append(ipaddress.IPv6Interface(f"{pool6.gateway}/{pool6.subnet.prefixlen}"))
        bridge.ensure_bridge(network.bridge_device, gateway, network.mtu, *more)
        if pool6 is not None:
            _write_sysctl(f"/proc/sys/net/ipv6/conf/{network.bridge_device}/disable_ipv6", "0")
        _write_sysctl(f"/proc/sys/net/ipv4/conf/{network.bridge_device}/route_localnet", "1")
        if self.engine.options.daemon.get("ip-forward", True) is not False:
            _write_sysctl("/proc/sys/net/ipv4/ip_forward", "1", only_if_not="1")
        if self.iptables_enabled:
            from dockyard.network.firewall import BridgeNet, net_tag, network_rules, network_rules6

            opts = network.options
            net = BridgeNet(
                id=network.id,
                bridge=network.bridge_device,
                subnet=str(pool.subnet),
                internal=network.internal,
                masquerade=_truthy(opts.get(OPT_MASQ)),
                icc=_truthy(opts.get(OPT_ICC)),
            )
            self.firewall.add(net_tag(network.bridge_device), network_rules(net))
            if pool6 is not None and self._has_ip6tables:
                net6 = BridgeNet(
                    net.id, net.bridge, str(pool6.subnet), net.internal, net.masquerade, net.icc
                )
                rules6 = network_rules6(net6, nat=self.ip6tables_enabled)
                self.firewall6.add(net_tag(network.bridge_device), rules6)
                if self.ip6tables_enabled and self.engine.options.daemon.get("ip-forward", True):
                    self._enable_ipv6_forwarding()
            self._mark_rules(network, present=True)

    def _enable_ipv6_forwarding(self) -> None:
        """As dockerd for an IPv6 bridge with ip6tables on: IPv6 forwarding on, and
        when it was off, ip6tables' FORWARD policy DROP (only the bridges forward)."""
        path = "/proc/sys/net/ipv6/conf/all/forwarding"
        if (_read(path) or "").strip() in ("", "1"):
            return
        self.firewall6.drop_forwarding()
        _write_sysctl(path, "1")

    def _rules_marker(self, network: Network) -> str:
        return os.path.join(self.run_dir, f"rules.{network.bridge_device}")

    def _mark_rules(self, network: Network, present: bool) -> None:
        """Remember (in the run dir, which goes with a reboot as the rules do) that the
        bridge's rules are in place, so a container start need not run iptables-save."""
        marker = self._rules_marker(network)
        if present:
            os.makedirs(self.run_dir, mode=0o700, exist_ok=True)
            with open(marker, "w"):
                pass
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(marker)

    def _teardown_bridge(self, network: Network) -> None:
        from dockyard.network import bridge
        from dockyard.network.firewall import net_tag

        self._mark_rules(network, present=False)
        if self.iptables_enabled:
            with contextlib.suppress(DockyardError):
                self.firewall.remove(net_tag(network.bridge_device))
            if network.pool6 is not None and self._has_ip6tables:
                with contextlib.suppress(DockyardError):
                    self.firewall6.remove(net_tag(network.bridge_device))
        if network.user_defined:
            bridge.delete_link(network.bridge_device)

    def release_default_bridge(self) -> None:
        """Remove the default bridge's device and rules, for a root that is going away
        (a demo, a benchmark): dockerd keeps docker0, but a private root must not
        leave its bridge behind. A no-op while any container, of any root sharing the
        device, is on it (the kernel lists its ports)."""
        from dockyard.network import bridge

        network = self.try_get("bridge")
        if network is None or not os.path.isdir(f"/sys/class/net/{network.bridge_device}"):
            return
        with contextlib.suppress(FileNotFoundError):
            if os.listdir(f"/sys/class/net/{network.bridge_device}/brif"):
                return
        self._teardown_bridge(network)
        bridge.delete_link(network.bridge_device)

    def _ensure_bridge_ready(self, network: Network) -> None:
        """Before an endpoint goes on it: the device (made again after a reboot) and rules."""
        from dockyard.network import bridge

        if not bridge.link_exists(network.bridge_device):
            self._setup_bridge(network)
        elif self.iptables_enabled and not os.path.exists(self._rules_marker(network)):
            from dockyard.network.firewall import net_tag

            if self.firewall.tagged_rules(net_tag(network.bridge_device)):
                self._mark_rules(network, present=True)
            else:
                self._setup_bridge(network)

    def endpoints(self, network_id: str) -> list[Any]:
        return self.db.conn.execute(
            "SELECT * FROM network_endpoints WHERE network_id = ? ORDER BY address", (network_id,)
        ).fetchall()

    def _containers_on(self, network: Network) -> list[Container]:
        """Containers configured for the network (running or not)."""
        out = []
        for c in self.engine.containers.all():
            if any(self._matches(network, key, ep) for key, ep in _endpoints_config(c).items()):
                out.append(c)
        return out

    @staticmethod
    def _matches(network: Network, key: str, endpoint: dict[str, Any]) -> bool:
        if endpoint.get("NetworkID"):
            return bool(endpoint["NetworkID"] == network.id)
        return key in (network.name, network.id)

    def remove(self, ref: str) -> Network:
        network = self.get(ref)
        if not network.user_defined:
            raise Conflict(f"{network.name} is a pre-defined network and cannot be removed")
        with self._locked():
            active = self.endpoints(network.id)
            running = [
                c
                for c in self._containers_on(network)
                if c.status in ("running", "paused", "restarting")
            ]
            if active or running:
                raise Conflict(
                    f"error while removing network: network {network.name} id {network.id} has"
                    " active endpoints"
                )
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM networks WHERE id = ?", (network.id,))
                self._teardown_bridge(network)
        self.engine.events.record(
            "network", "destroy", network.id, {"name": network.name, "type": network.driver}
        )
        return network

    def prune(self, filters: Filters | None = None) -> list[str]:
        filters = filters or Filters()
        filters.validate(("until", "label", "label!"))
        removed = []
        for network in self.all():
            if not network.user_defined or not _label_filter(network.labels, filters):
                continue
            if any(network.created >= filters.timestamp(v) for v in filters.get("until")):
                continue
            if self._containers_on(network) or self.endpoints(network.id):
                continue
            with contextlib.suppress(Conflict, NotFound):
                self.remove(network.id)
                removed.append(network.name)
        return removed

    def list(self, filters: Filters | None = None) -> list[Network]:
        filters = filters or Filters()
        filters.validate(("driver", "id", "label", "name", "scope", "type", "dangling"))
        out = []
        for n in self.all():
            if filters.has("driver") and n.driver not in filters.get("driver"):
                continue
            if filters.has("id") and not any(n.id.startswith(v) for v in filters.get("id")):
                continue
            if filters.has("name") and not any(v in n.name for v in filters.get("name")):
                continue
            if filters.has("scope") and "local" not in filters.get("scope"):
                continue
            if filters.has("type"):
                kinds = filters.get("type")
                for kind in kinds:
                    if kind not in ("custom", "builtin"):
                        raise InvalidArgument(f"invalid filter: 'type'='{kind}'")
                if ("custom" if n.user_defined else "builtin") not in kinds:
                    continue
            if filters.has("dangling"):
                want = filters.get("dangling")[0].lower() in ("1", "true")
                dangling = n.user_defined and not self._containers_on(n)
                if want != dangling:
                    continue
            if not _label_filter(n.labels, filters):
                continue
            out.append(n)
        return out

    def inspect(self, network: Network) -> dict[str, Any]:
        containers: dict[str, Any] = {}
        everyone = {c.id: c for c in self.engine.containers.all()}
        names = {cid: c.name for cid, c in everyone.items()}
        prefix = network.pools[0].subnet.prefixlen if network.pools else 0
        for row in sorted(self.endpoints(network.id), key=lambda r: str(r["container_id"])):
            owner = everyone.get(row["container_id"])  # in ID order, as dockerd's JSON map
            v6 = _settings6(owner.spec, network) if owner is not None else None
            containers[row["container_id"]] = {
                "Name": names.get(row["container_id"], ""),
                "EndpointID": _endpoint_id(network.id, row["container_id"]),
                "MacAddress": row["mac"],
                "IPv4Address": f"{row['address']}/{prefix}",
                "IPv6Address": str(v6) if v6 else "",
            }
        return network.inspect(containers)

    # ------------------------------------------------------------- container requests

    def normalize_request(self, host_config: dict[str, Any], networking: dict[str, Any]) -> None:
        """At create: check the networks exist and the endpoint settings make sense, and
        record the NetworkMode network in EndpointsConfig (with its id)."""
        mode = host_config.get("NetworkMode") or "default"
        endpoints: dict[str, Any] = dict((networking or {}).get("EndpointsConfig") or {})
        if mode.startswith("container:"):
            if endpoints or host_config.get("PortBindings") or host_config.get("PublishAllPorts"):
                if endpoints:
                    raise InvalidArgument(
                        "conflicting options: container type network can't be used with other"
                        " networks"
                    )
                raise InvalidArgument(
                    "conflicting options: port publishing and the container type network mode"
                )
            self.engine.containers.get(mode.partition(":")[2])
            networking["EndpointsConfig"] = {}
            return
        primary = "bridge" if mode == "default" else mode
        if "default" in endpoints:
            endpoints[primary] = endpoints.pop("default")
        if (
            primary in ("host", "none")
            and (host_config.get("PortBindings") or host_config.get("PublishAllPorts"))
            and primary == "host"
        ):
            host_config["PortBindings"] = {}  # docker ignores -p with host networking (a warning)
        result: dict[str, Any] = {}
        for key in [primary, *[k for k in endpoints if k != primary]]:
            network = self.get(key)
            ep = dict(endpoints.get(key) or {})
            ipam_cfg = ep.get("IPAMConfig") or {}
            if ipam_cfg:  # docker's EndpointIPAMConfig leaves empty fields out
                ep["IPAMConfig"] = {k: v for k, v in ipam_cfg.items() if v} or None
            want4, want6 = ipam_cfg.get("IPv4Address"), ipam_cfg.get("IPv6Address")
            if (want4 or want6) and not network.user_defined:
                raise InvalidArgument(
                    "user specified IP address is supported on user defined networks only"
                )
            if (want4 and not network.config.get("UserPool")) or (
                want6 and not (network.pool6 is not None and network.config.get("UserPool6", True))
            ):
                raise InvalidArgument(
                    "user specified IP address is supported only when connecting to networks"
                    " with user configured subnets"
                )
            if ep.get("Aliases") and not network.user_defined:
                raise InvalidArgument(
                    "network-scoped alias is supported only for containers in user defined networks"
                )
            if want6:
                addr6 = _ip6(str(want6))
                pool6 = network.pool6
                if pool6 is None or addr6 not in pool6.subnet:
                    raise InvalidArgument(
                        f"Invalid address {addr6}: It does not belong to any of this network's"
                        " subnets"
                    )
            if ipam_cfg.get("IPv4Address"):
                from dockyard.network import ipam

                addr = ipam._ip(ipam_cfg["IPv4Address"], "IPv4")
                if addr not in network.pools[0].subnet:
                    raise InvalidArgument(
                        f"Invalid address {addr}: It does not belong to any of this network's"
                        " subnets"
                    )
            if network.name in ("host", "none") and len(endpoints) > 1:
                raise InvalidArgument(
                    "container cannot be disconnected from host network or connected to host"
                    " network"
                )
            ep["NetworkID"] = network.id
            result[network.name] = ep
        networking["EndpointsConfig"] = result

    # ------------------------------------------------------------- lifecycle

    def attach(self, container: Container) -> NetPlan:
        """Make the container's networking before it starts: its namespace, an endpoint
        per network, published ports, and the DNS resolver for user networks."""
        mode = container.host_config.get("NetworkMode") or "default"
        if mode == "host":
            return NetPlan(netns_path=None, resolv_mode="host")
        if mode.startswith("container:"):
            return self._attach_to_container(container, mode.partition(":")[2])
        path = self.netns_path(container.id)
        from dockyard.network import netns

        netns.remove(path)  # a leftover from a crash
        netns.create(path)
        plan = NetPlan(netns_path=path)
        try:
            networks = [
                (self._network_for(key, ep), ep) for key, ep in _endpoints_config(container).items()
            ]
            if not networks or networks[0][0].name == "none":
                netns.lo_up(path)  # no netlink (and none of its imports) for --network none
                return plan
            import ipaddress

            from dockyard.network import bridge

            settings_networks: dict[str, Any] = {}
            first: tuple[Network, str, str] | None = None
            with self._locked():
                for index, (network, ep) in enumerate(networks):
                    if not network.is_bridge:
                        continue
                    self._ensure_bridge_ready(network)
                    address, mac, v6 = self._allocate(network, container, ep)
                    pool = network.pools[0]
                    # docker's gateway endpoint: the first network that is not internal
                    # gives the default routes and publishes the ports
                    is_gateway = first is None and not network.internal
                    bridge.add_endpoint(
                        bridge=network.bridge_device,
                        netns_path=path,
                        host_name=_veth_name(network.id, container.id),
                        container_name=f"eth{index}",
                        address=ipaddress.IPv4Interface(f"{address}/{pool.subnet.prefixlen}"),
                        gateway=pool.gateway if is_gateway else None,
                        mac=mac,
                        mtu=network.mtu,
                        more=(v6,) if v6 else (),
                        gateway6=_gateway6(network) if is_gateway else None,
                    )
                    plan.addresses.append(str(address))
                    if v6:
                        plan.addresses.append(str(v6.ip))
                    if network.user_defined:
                        plan.resolv_mode = "internal"
                    plan.host_gateways.append(str(pool.gateway))
                    if is_gateway:
                        first = (network, str(address), str(v6.ip) if v6 else "")
                    settings_networks[network.name] = _endpoint_settings(
                        network, container, str(address), mac, ep, v6
                    )
                # No gateway endpoint (internal networks only): nothing published, and
                # dockerd 20.10 then lists no ports at all, exposed ones included.
                ports: dict[str, Any] = {}
                proxied: _List[dict[str, Any]] = []
                if first is not None:
                    ports, proxied = self._publish(container, first[0], first[1], first[2])
            self._store_settings(container, settings_networks, ports, path)
            if proxied:
                from dockyard.network import portd

                portd.publish(self.engine.options.run_root, container.id, path, proxied)
            if plan.resolv_mode == "internal":
                from dockyard.network import dnsd

                dnsd.notify_attach(
                    self.engine.options.root, self.engine.options.run_root, container.id, path
                )
        except BaseException:
            self.detach(container)
            raise
        return plan

    def _attach_to_container(self, container: Container, ref: str) -> NetPlan:
        other = self.engine.containers.get(ref)
        if other.status != "running":
            raise Conflict(f"cannot join network of a non running container: {other.id}")
        pid = self.engine.lifecycle.container_pid(other)
        directory = self.engine.containers.container_dir(other.id)
        self._take_hostname(container, other)
        return NetPlan(
            netns_path=f"/proc/{pid}/ns/net",
            hosts_text=_read(os.path.join(directory, "hosts")),
            resolv_text=_read(os.path.join(directory, "resolv.conf")),
            hostname=(_read(os.path.join(directory, "hostname")) or "").strip() or None,
        )

    def _take_hostname(self, container: Container, other: Container) -> None:
        """As docker: a container joining another's network namespace takes its
        hostname and domain name (kept in its Config, so inspect shows them)."""
        names = {k: other.config.get(k) or "" for k in ("Hostname", "Domainname")}
        if all(container.config.get(k, "") == v for k, v in names.items()):
            return
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT config FROM containers WHERE id = ?", (container.id,)
            ).fetchone()
            if row is not None:
                spec = json.loads(row["config"])
                spec.setdefault("Config", {}).update(names)
                conn.execute(
                    "UPDATE containers SET config = ? WHERE id = ?",
                    (json.dumps(spec), container.id),
                )
        container.spec.setdefault("Config", {}).update(names)

    def _network_for(self, key: str, ep: dict[str, Any]) -> Network:
        if ep.get("NetworkID"):
            network = self.try_get(ep["NetworkID"])
            if network is not None:
                return network
        return self.get(key)

    def _allocate(
        self, network: Network, container: Container, ep: dict[str, Any]
    ) -> tuple[ipaddress.IPv4Address, str, ipaddress.IPv6Interface | None]:
        """The endpoint's addresses (IPv4, and IPv6 on an ``--ipv6`` network) and MAC,
        allocated and recorded in one transaction: the IPv4 address in its
        ``network_endpoints`` row, the IPv6 one in the container's
        ``NetworkSettings`` entry for the network (where inspect and the DNS server
        read it), so two processes never hand out the same address of either."""
        import ipaddress

        from dockyard.network import ipam

        pool = network.pools[0]
        requested = (ep.get("IPAMConfig") or {}).get("IPv4Address") or ""
        requested6 = str((ep.get("IPAMConfig") or {}).get("IPv6Address") or "")
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM network_endpoints WHERE network_id = ? AND container_id = ?",
                (network.id, container.id),
            )
            taken = {
                ipaddress.IPv4Address(r["address"])
                for r in conn.execute(
                    "SELECT address FROM network_endpoints WHERE network_id = ?", (network.id,)
                )
            }
            try:
                address = ipam.pick_address(pool, taken, requested)
            except Conflict as exc:
                if "no available" in exc.message:
                    raise Conflict(f"{exc.message}: {network.name} ({network.id[:12]})") from None
                raise
            mac = (
                ep.get("MacAddress") or container.config.get("MacAddress") or ipam.mac_for(address)
            )
            v6 = self._allocate6(conn, network, container.id, requested6, mac)
            aliases = list(ep.get("Aliases") or [])
            conn.execute(
                "INSERT INTO network_endpoints"
                " (network_id, container_id, address, mac, aliases, host_if)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    network.id,
                    container.id,
                    str(address),
                    mac,
                    json.dumps(aliases),
                    _veth_name(network.id, container.id),
                ),
            )
            entry = _endpoint_settings(network, container, str(address), mac, ep, v6)
            _record_endpoint_settings(conn, container.id, network.name, entry)
        return address, mac, v6

    def _allocate6(
        self, conn: Any, network: Network, container_id: str, requested: str, mac: str
    ) -> ipaddress.IPv6Interface | None:
        """The IPv6 address, with prefix: the free one asked for, else on the default
        bridge the one derived from the MAC (dockerd's, with ``fixed-cidr-v6``), else
        the lowest free one."""
        import ipaddress

        from dockyard.network import ipam

        pool6 = network.pool6
        if pool6 is None:
            return None
        preferred = ipam.address6_from_mac(pool6, mac) if network.name == "bridge" else None
        taken = self._taken6(conn, network, container_id)
        try:
            ip6 = ipam.pick_address6(pool6, taken, requested, preferred)
        except Conflict as exc:
            if "no available" in exc.message:
                raise Conflict(f"{exc.message}: {network.name} ({network.id[:12]})") from None
            raise
        return ipaddress.IPv6Interface(f"{ip6}/{pool6.subnet.prefixlen}")

    def _taken6(self, conn: Any, network: Network, container_id: str) -> set[ipaddress.IPv6Address]:
        """The IPv6 addresses of the network's other endpoints (recorded with them)."""
        taken: set[ipaddress.IPv6Address] = set()
        rows = conn.execute(
            "SELECT c.config FROM network_endpoints e JOIN containers c"
            " ON c.id = e.container_id WHERE e.network_id = ? AND e.container_id != ?",
            (network.id, container_id),
        )
        for row in rows:
            v6 = _settings6(json.loads(row["config"]), network)
            if v6 is not None:
                taken.add(v6.ip)
        return taken

    @property
    def userland_proxy(self) -> bool:
        """daemon.json ``userland-proxy`` (default true): the port proxy holds the
        published host ports and carries IPv6 to them."""
        return self.engine.options.daemon.get("userland-proxy", True) is not False

    @property
    def ip6tables_enabled(self) -> bool:
        """daemon.json ``ip6tables`` (opt-in, as dockerd 20.10's): IPv6 NAT and DNAT."""
        return self.iptables_enabled and self.engine.options.daemon.get("ip6tables") is True

    def _publish(
        self, container: Container, network: Network, address: str, address6: str
    ) -> tuple[dict[str, Any], _List[dict[str, Any]]]:
        """Choose and record the host ports, add their DNAT rules; return the
        NetworkSettings.Ports map and what the port proxy is to hold."""
        from dockyard.network import ports as portlib
        from dockyard.network.firewall import PortRule

        hc = container.host_config
        bindings = portlib.bindings_from_host_config(
            hc.get("PortBindings"),
            (container.config.get("ExposedPorts") or {}).keys(),
            bool(hc.get("PublishAllPorts")),
        )
        result: dict[str, Any] = {k: None for k in (container.config.get("ExposedPorts") or {})}
        if not bindings:
            return result, []
        proxy = self.userland_proxy
        # docker publishes an unspecified host address on 0.0.0.0 and, where the host
        # has IPv6 and something can carry it (the proxy, or DNAT to the container's
        # own IPv6 address), on :: too, with the same host port.
        also_v6 = portlib.host_has_ipv6() and (proxy or bool(address6 and self.ip6tables_enabled))
        rules: _List[PortRule] = []
        rules6: _List[PortRule] = []
        proxied: _List[dict[str, Any]] = []
        with self.db.transaction() as conn:
            taken = [
                (r["proto"], r["host_ip"], r["host_port"])
                for r in conn.execute(
                    "SELECT proto, host_ip, host_port FROM published_ports WHERE container_id != ?",
                    (container.id,),
                )
            ]
            conn.execute("DELETE FROM published_ports WHERE container_id = ?", (container.id,))
            for b in bindings:
                if b.host_ip:
                    _ip_of_binding(b.host_ip)
                hosts = [b.host_ip] if b.host_ip else ["0.0.0.0", *(["::"] if also_v6 else [])]
                host_port = 0
                for host_ip in hosts:
                    if host_port:  # the :: twin of 0.0.0.0 gets the same port
                        host_port = portlib.choose_host_port(
                            portlib.Binding(b.proto, b.container_port, host_ip, host_port), taken
                        )
                    else:
                        host_port = portlib.choose_host_port(
                            portlib.Binding(
                                b.proto, b.container_port, host_ip, b.host_port, b.host_port_end
                            ),
                            taken,
                        )
                    taken.append((b.proto, host_ip, host_port))
                    conn.execute(
                        "INSERT INTO published_ports"
                        " (container_id, proto, host_ip, host_port, container_port)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (container.id, b.proto, host_ip, host_port, b.container_port),
                    )
                    v6 = ":" in host_ip
                    if not v6:
                        rules.append(
                            PortRule(
                                b.proto,
                                host_ip,
                                host_port,
                                address,
                                b.container_port,
                                network.bridge_device,
                            )
                        )
                    elif address6 and host_ip != "::1":  # the kernel cannot DNAT ::1
                        rules6.append(
                            PortRule(
                                b.proto,
                                host_ip,
                                host_port,
                                address6,
                                b.container_port,
                                network.bridge_device,
                            )
                        )
                    # SCTP too where the kernel has it (else by its DNAT rules alone)
                    if b.proto != "sctp" or portlib.sctp_supported():
                        proxied.append(
                            {
                                "proto": b.proto,
                                "host_ip": host_ip,
                                "host_port": host_port,
                                "target_ip": address6 if v6 and address6 else address,
                                "target_port": b.container_port,
                            }
                        )
                    result[b.key] = [
                        *(result.get(b.key) or []),
                        {"HostIp": host_ip, "HostPort": str(host_port)},
                    ]
            if self.iptables_enabled:
                from dockyard.network.firewall import ctr_tag, port_rules

                self.firewall.add(ctr_tag(container.id), port_rules(container.id, rules))
                if rules6 and self.ip6tables_enabled:
                    self.firewall6.add(ctr_tag(container.id), port_rules(container.id, rules6))
        return result, (proxied if proxy and hc.get("NetworkMode") != "host" else [])

    def _store_settings(
        self, container: Container, networks: dict[str, Any], ports: dict[str, Any], sandbox: str
    ) -> None:
        settings = _network_settings(container.id, networks, ports, sandbox)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT config FROM containers WHERE id = ?", (container.id,)
            ).fetchone()
            if row is None:
                return
            spec = json.loads(row["config"])
            spec["NetworkSettings"] = settings
            conn.execute(
                "UPDATE containers SET config = ? WHERE id = ?", (json.dumps(spec), container.id)
            )
        container.spec["NetworkSettings"] = settings

    def detach(self, container: Container) -> None:
        """Undo :meth:`attach` (the container ended or failed to start). Safe to repeat."""
        from dockyard.network import netns

        cid = container.id
        rows = self.db.conn.execute(
            "SELECT * FROM network_endpoints WHERE container_id = ?", (cid,)
        ).fetchall()
        path = self.netns_path(cid)
        published = self.db.conn.execute(
            "SELECT 1 FROM published_ports WHERE container_id = ? LIMIT 1", (cid,)
        ).fetchone() is not None or bool(
            container.host_config.get("PortBindings")
            or container.host_config.get("PublishAllPorts")
        )
        if not rows and not published and not os.path.exists(path):
            self._clear_settings(container)
            return
        if published and os.path.exists(os.path.join(self.run_dir, "ports", f"{cid}.json")):
            from dockyard.network import portd

            portd.unpublish(self.engine.options.run_root, cid)  # the host ports are free again
        with self._locked():
            if self.iptables_enabled and published:
                from dockyard.network.firewall import ctr_tag

                with contextlib.suppress(DockyardError):
                    self.firewall.remove(ctr_tag(cid))
                v6_rows = self.db.conn.execute(
                    "SELECT 1 FROM published_ports WHERE container_id = ? AND host_ip LIKE '%:%'",
                    (cid,),
                ).fetchone()
                if v6_rows is not None and self.ip6tables_enabled:
                    with contextlib.suppress(DockyardError):
                        self.firewall6.remove(ctr_tag(cid))
            if rows:
                from dockyard.network import bridge

                for row in rows:
                    bridge.delete_link(row["host_if"])
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM network_endpoints WHERE container_id = ?", (cid,))
                conn.execute("DELETE FROM published_ports WHERE container_id = ?", (cid,))
        if os.path.exists(path):
            if os.path.exists(os.path.join(self.run_dir, "dnsd.sock")):  # skip the import
                from dockyard.network import dnsd

                dnsd.notify_detach(self.engine.options.run_root, cid)
            netns.remove(path)
        self._clear_settings(container)

    def _clear_settings(self, container: Container) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT config FROM containers WHERE id = ?", (container.id,)
            ).fetchone()
            if row is None:
                return
            spec = json.loads(row["config"])
            settings = spec.get("NetworkSettings")
            if not settings:
                return
            cleared = {  # docker's cleanOperationalData: the addresses go with the endpoint
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": "",
            }
            for ep in (settings.get("Networks") or {}).values():
                if ep:
                    ep.update(cleared)
            settings.update(SandboxID="", SandboxKey="", Ports={}, **cleared)
            conn.execute(
                "UPDATE containers SET config = ? WHERE id = ?", (json.dumps(spec), container.id)
            )

    # ------------------------------------------------------------- connect / disconnect

    def connect(
        self,
        ref: str,
        container_ref: str,
        *,
        ip: str = "",
        ip6: str = "",
        aliases: _List[str] | None = None,
    ) -> None:
        network = self.get(ref)
        container = self.engine.containers.get(container_ref)
        mode = container.host_config.get("NetworkMode") or "default"
        if mode == "host" or network.name == "host":
            raise Conflict(
                "container cannot be disconnected from host network or connected to host network"
            )
        if mode.startswith("container:"):
            raise Conflict(
                "container sharing network namespace with another container or host cannot be"
                " connected to any other network"
            )
        current = _endpoints_config(container)
        if any(self._matches(network, k, ep) for k, ep in current.items()):
            raise Conflict(
                f"endpoint with name {container.name} already exists in network {network.name}"
            )
        if network.name == "none" or "none" in current:
            raise Conflict(
                "container cannot be connected to multiple networks with one of the networks in"
                " private (none) mode"
            )
        endpoint: dict[str, Any] = {}
        if ip or ip6:
            endpoint["IPAMConfig"] = {"IPv4Address": ip, "IPv6Address": ip6}
        if aliases:
            endpoint["Aliases"] = list(aliases)
        probe = {"EndpointsConfig": {network.name: endpoint}}
        self.normalize_request({"NetworkMode": network.name}, probe)
        endpoint = probe["EndpointsConfig"][network.name]
        running = container.status in ("running", "paused")
        if running:
            self._connect_running(container, network, endpoint, index=len(current))
        self._update_endpoints(container.id, lambda eps: {**eps, network.name: endpoint})
        self.engine.events.record(
            "network",
            "connect",
            network.id,
            {"container": container.id, "name": network.name, "type": network.driver},
        )

    def _connect_running(
        self, container: Container, network: Network, endpoint: dict[str, Any], index: int
    ) -> None:
        import ipaddress

        from dockyard.network import bridge

        path = self.netns_path(container.id)
        if not os.path.exists(path):
            raise Conflict(f"container {container.id} has no network namespace to connect")
        names = bridge.container_link_names(path)
        while f"eth{index}" in names:
            index += 1
        with self._locked():
            self._ensure_bridge_ready(network)
            address, mac, v6 = self._allocate(network, container, endpoint)
            pool = network.pools[0]
            try:
                bridge.add_endpoint(
                    bridge=network.bridge_device,
                    netns_path=path,
                    host_name=_veth_name(network.id, container.id),
                    container_name=f"eth{index}",
                    address=ipaddress.IPv4Interface(f"{address}/{pool.subnet.prefixlen}"),
                    gateway=None,
                    mac=mac,
                    mtu=network.mtu,
                    more=(v6,) if v6 else (),
                )
            except BaseException:
                with self.db.transaction() as conn:
                    conn.execute(
                        "DELETE FROM network_endpoints WHERE network_id = ? AND container_id = ?",
                        (network.id, container.id),
                    )
                    _record_endpoint_settings(conn, container.id, network.name, None)
                raise
        fresh = self.engine.containers.get(container.id)
        settings = fresh.spec.get("NetworkSettings") or {}
        nets = dict(settings.get("Networks") or {})
        nets[network.name] = _endpoint_settings(network, container, str(address), mac, endpoint, v6)
        self._store_settings(fresh, nets, settings.get("Ports") or {}, path)
        if network.user_defined:
            from dockyard.network import dnsd

            dnsd.notify_attach(
                self.engine.options.root, self.engine.options.run_root, container.id, path
            )

    def disconnect(self, ref: str, container_ref: str, *, force: bool = False) -> None:
        container = self.engine.containers.try_get(container_ref)
        network = self.try_get(ref)
        if network is None:
            raise NotFound(f"network {ref} not found")
        if container is None:
            if force:
                with self.db.transaction() as conn:
                    conn.execute(
                        "DELETE FROM network_endpoints"
                        " WHERE network_id = ? AND container_id LIKE ?",
                        (network.id, container_ref + "%"),
                    )
                return
            raise NotFound(f"No such container: {container_ref}")
        if network.name == "host" or (container.host_config.get("NetworkMode") == "host"):
            raise Conflict(
                "container cannot be disconnected from host network or connected to host network"
            )
        current = _endpoints_config(container)
        keys = [k for k, ep in current.items() if self._matches(network, k, ep)]
        if not keys:
            raise Conflict(f"container {container.id} is not connected to network {network.name}")
        row = self.db.conn.execute(
            "SELECT * FROM network_endpoints WHERE network_id = ? AND container_id = ?",
            (network.id, container.id),
        ).fetchone()
        if row is not None:
            from dockyard.network import bridge

            with self._locked():
                bridge.delete_link(row["host_if"])
                with self.db.transaction() as conn:
                    conn.execute(
                        "DELETE FROM network_endpoints WHERE network_id = ? AND container_id = ?",
                        (network.id, container.id),
                    )
        self._update_endpoints(
            container.id, lambda eps: {k: v for k, v in eps.items() if k not in keys}
        )
        fresh = self.engine.containers.get(container.id)
        settings = fresh.spec.get("NetworkSettings")
        if settings:
            nets = {k: v for k, v in (settings.get("Networks") or {}).items() if k not in keys}
            self._store_settings(
                fresh, nets, settings.get("Ports") or {}, settings.get("SandboxKey") or ""
            )
        self.engine.events.record(
            "network",
            "disconnect",
            network.id,
            {"container": container.id, "name": network.name, "type": network.driver},
        )

    def _update_endpoints(self, container_id: str, change: Any) -> None:
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT config FROM containers WHERE id = ?", (container_id,)
            ).fetchone()
            spec = json.loads(row["config"])
            networking = spec.setdefault("NetworkingConfig", {})
            networking["EndpointsConfig"] = change(dict(networking.get("EndpointsConfig") or {}))
            conn.execute(
                "UPDATE containers SET config = ? WHERE id = ?", (json.dumps(spec), container_id)
            )

    # ------------------------------------------------------------- DNS records

    def resolve_name(self, container_id: str, name: str) -> _List[str]:
        """Addresses of ``name`` (container name, alias, short id) on the networks the
        querying container shares with it (the embedded resolver's A records)."""
        from dockyard.network.records import resolve_name

        return resolve_name(self.db.conn, container_id, name)


def _endpoints_config(container: Container) -> dict[str, Any]:
    """The container's networks: create records them all (normalize_request), so an
    empty map means none left (a created container disconnected from its last one)."""
    eps = dict((container.spec.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
    if "default" in eps:
        eps["bridge"] = eps.pop("default")
    return eps


def _settings6(spec: dict[str, Any], network: Network) -> ipaddress.IPv6Interface | None:
    """A container's recorded IPv6 address (with prefix) on ``network``, if any."""
    import ipaddress

    nets = (spec.get("NetworkSettings") or {}).get("Networks") or {}
    for name, ep in nets.items():
        if not ep or (ep.get("NetworkID") or name) not in (network.id, network.name):
            continue
        address = str(ep.get("GlobalIPv6Address") or "")
        if address:
            with contextlib.suppress(ValueError):
                prefix = int(ep.get("GlobalIPv6PrefixLen") or 128)
                return ipaddress.IPv6Interface(f"{address}/{prefix}")
    return None


def _record_endpoint_settings(
    conn: Any, container_id: str, network_name: str, entry: dict[str, Any] | None
) -> None:
    """Put one network's endpoint settings in the container's record (inside the
    allocating transaction; the rest of NetworkSettings follows when the start is
    done), or take them out again (``entry`` None: the endpoint was not made)."""
    row = conn.execute("SELECT config FROM containers WHERE id = ?", (container_id,)).fetchone()
    if row is None:
        return
    spec = json.loads(row["config"])
    settings = spec.get("NetworkSettings") or _network_settings(container_id, {}, {}, "")
    nets = {k: v for k, v in (settings.get("Networks") or {}).items() if k != network_name}
    settings["Networks"] = nets if entry is None else {**nets, network_name: entry}
    spec["NetworkSettings"] = settings
    conn.execute("UPDATE containers SET config = ? WHERE id = ?", (json.dumps(spec), container_id))


def _ip_of_binding(text: str) -> None:
    """A -p host address must be an IP address (docker's message otherwise)."""
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid IP address: {text}") from None


def _ip6(text: str) -> ipaddress.IPv6Address:
    import ipaddress

    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise InvalidArgument(f"invalid IPv6 address: {text}") from None


def _gateway6(network: Network) -> ipaddress.IPv6Address | None:
    """The IPv6 default route's gateway (none on an internal network)."""
    pool6 = network.pool6
    return pool6.gateway if pool6 is not None and not network.internal else None


def _veth_name(network_id: str, container_id: str) -> str:
    import hashlib

    digest = hashlib.sha256(f"{network_id}/{container_id}".encode()).hexdigest()
    return "veth" + digest[:7]


def _endpoint_id(network_id: str, container_id: str) -> str:
    import hashlib

    return hashlib.sha256(f"endpoint/{network_id}/{container_id}".encode()).hexdigest()


def _endpoint_settings(
    network: Network,
    container: Container,
    address: str,
    mac: str,
    ep: dict[str, Any],
    v6: ipaddress.IPv6Interface | None,
) -> dict[str, Any]:
    pool = network.pools[0]
    aliases = list(ep.get("Aliases") or []) or None
    dns_names = None
    if network.user_defined:
        hostname = str(container.config.get("Hostname") or "")
        names = [container.name, *(ep.get("Aliases") or []), container.id[:12], hostname]
        dns_names = list(dict.fromkeys(n for n in names if n))  # docker's order, deduplicated
    return {
        "IPAMConfig": ep.get("IPAMConfig") or None,
        "Links": None,
        "Aliases": aliases,
        "MacAddress": mac,
        "DriverOpts": None,
        "NetworkID": network.id,
        "EndpointID": _endpoint_id(network.id, container.id),
        "Gateway": "" if network.internal else str(pool.gateway),
        "IPAddress": address,
        "IPPrefixLen": pool.subnet.prefixlen,
        "IPv6Gateway": str(_gateway6(network) or ""),
        "GlobalIPv6Address": str(v6.ip) if v6 else "",
        "GlobalIPv6PrefixLen": v6.network.prefixlen if v6 else 0,
        "DNSNames": dns_names,
    }


def _network_settings(
    container_id: str, networks: dict[str, Any], ports: dict[str, Any], sandbox: str
) -> dict[str, Any]:
    import hashlib

    default = networks.get("bridge") or {}
    return {
        "Bridge": "",
        "SandboxID": hashlib.sha256(f"sandbox/{container_id}".encode()).hexdigest()
        if sandbox
        else "",
        "SandboxKey": sandbox,
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": default.get("EndpointID", ""),
        "Gateway": default.get("Gateway", ""),
        "GlobalIPv6Address": default.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": default.get("GlobalIPv6PrefixLen", 0),
        "IPAddress": default.get("IPAddress", ""),
        "IPPrefixLen": default.get("IPPrefixLen", 0),
        "IPv6Gateway": default.get("IPv6Gateway", ""),
        "MacAddress": default.get("MacAddress", ""),
        "Networks": networks,
    }


def _label_filter(labels: dict[str, str], filters: Filters) -> bool:
    def match(expr: str) -> bool:
        key, sep, value = expr.partition("=")
        return key in labels and (not sep or labels[key] == value)

    if not all(match(e) for e in filters.get("label")):
        return False
    return not any(match(e) for e in filters.get("label!"))


def _write_sysctl(path: str, value: str, only_if_not: str | None = None) -> None:
    with contextlib.suppress(OSError):
        if only_if_not is not None:
            with open(path) as f:
                if f.read().strip() == only_if_not:
                    return
        with open(path, "w") as f:
            f.write(value)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def container_filter_match(container: Container, filters: Filters) -> bool:
    """``ps -f network=`` (a network name, or a prefix of its ID) and ``publish=`` /
    ``expose=`` (a port, range, with /proto) with docker's semantics."""
    if filters.has("network"):
        endpoints = {} if _net_mode(container) == "container" else _endpoints_config(container)
        if not any(
            key == value or str(ep.get("NetworkID") or "").startswith(value)
            for value in filters.get("network")
            for key, ep in endpoints.items()
        ):
            return False
    if filters.has("publish") or filters.has("expose"):
        from dockyard.network.ports import filter_ports, ports_match

        publish = filter_ports("publish", filters.get("publish"))
        expose = filter_ports("expose", filters.get("expose"))
        ports = (container.spec.get("NetworkSettings") or {}).get("Ports")
        if not ports_match(ports, publish, expose):
            return False
    return True


def _net_mode(container: Container) -> str:
    mode = str(container.host_config.get("NetworkMode") or "default")
    return "container" if mode.startswith("container:") else mode
