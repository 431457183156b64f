"""Cluster IP and node port allocation, kept in the store itself.

Each allocated address is a key (``/registry/ranges/serviceips/10.96.0.12``)
created with the store's create-if-absent, so two API servers on one etcd can
never hand out the same address: the loser of a race sees ``KeyExists`` and
tries the next one. The search starts at a random offset so that concurrent
allocators rarely collide. Release deletes the key.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from orchestrator.api.errors import Invalid, ServiceUnavailable
from orchestrator.store.base import KeyExists, KeyNotFound, Store

IP_PREFIX = "/registry/ranges/serviceips/"
PORT_PREFIX = "/registry/ranges/servicenodeports/"


@dataclass(frozen=True)
class AllocatorSettings:
    service_cidr: str = "10.96.0.0/16"  # cluster IPs (DESIGN.md, root mode)
    node_port_range: tuple[int, int] = (30000, 32767)  # Kubernetes' default
    reserved_ips: int = 10  # .1 is the API service, .10 the cluster DNS: never handed out


class Allocators:
    def __init__(self, store: Store, settings: AllocatorSettings) -> None:
        self._store = store
        self._net = ipaddress.ip_network(settings.service_cidr)
        self._ports = settings.node_port_range
        self._reserved = settings.reserved_ips

    @property
    def dns_ip(self) -> str:
        return str(self._net.network_address + 10)

    def in_range(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self._net
        except ValueError:
            return False

    async def reserve_ip(self, ip: str, owner: str) -> None:
        if not self.in_range(ip):
            raise Invalid(
                f'spec.clusterIP: Invalid value: "{ip}": provided IP is not in the valid range.'
                f" The range of valid IPs is {self._net}",
                details={
                    "causes": [
                        {
                            "field": "spec.clusterIP",
                            "reason": "FieldValueInvalid",
                            "message": f"provided IP is not in the valid range {self._net}",
                        }
                    ]
                },
            )
        try:
            await self._store.create(IP_PREFIX + ip, owner.encode())
        except KeyExists:
            raise Invalid(
                f'spec.clusterIP: Invalid value: "{ip}": provided IP is already allocated',
                details={
                    "causes": [
                        {
                            "field": "spec.clusterIP",
                            "reason": "FieldValueInvalid",
                            "message": "provided IP is already allocated",
                        }
                    ]
                },
            ) from None

    async def allocate_ip(self, owner: str) -> str:
        size = self._net.num_addresses - 2  # network and broadcast
        first = self._reserved + 1
        span = size - first + 1
        start = random.randrange(span)
        for i in range(span):
            ip = str(self._net.network_address + first + (start + i) % span)
            try:
                await self._store.create(IP_PREFIX + ip, owner.encode())
                return ip
            except KeyExists:
                continue
        raise ServiceUnavailable(f"no cluster IP left in {self._net}")

    async def reserve_port(self, port: int, owner: str, field: str) -> None:
        low, high = self._ports
        if not low <= port <= high:
            raise Invalid(
                f"{field}: Invalid value: {port}: provided port is not in the valid range."
                f" The range of valid ports is {low}-{high}",
                details={
                    "causes": [
                        {
                            "field": field,
                            "reason": "FieldValueInvalid",
                            "message": f"provided port is not in the valid range {low}-{high}",
                        }
                    ]
                },
            )
        try:
            await self._store.create(PORT_PREFIX + str(port), owner.encode())
        except KeyExists:
            raise Invalid(
                f"{field}: Invalid value: {port}: provided port is already allocated",
                details={
                    "causes": [
                        {
                            "field": field,
                            "reason": "FieldValueInvalid",
                            "message": "provided port is already allocated",
                        }
                    ]
                },
            ) from None

    async def allocate_port(self, owner: str) -> int:
        low, high = self._ports
        span = high - low + 1
        start = random.randrange(span)
        for i in range(span):
            port = low + (start + i) % span
            try:
                await self._store.create(PORT_PREFIX + str(port), owner.encode())
                return port
            except KeyExists:
                continue
        raise ServiceUnavailable("no node port left")

    async def release_ip(self, ip: str) -> None:
        await _delete_quietly(self._store, IP_PREFIX + ip)

    async def release_port(self, port: int) -> None:
        await _delete_quietly(self._store, PORT_PREFIX + str(port))


async def _delete_quietly(store: Store, key: str) -> None:
    try:
        await store.delete(key)
    except KeyNotFound:
        pass
