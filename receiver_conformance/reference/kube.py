"""A thin asynchronous Kubernetes client on kubernetes_asyncio: JSON in, dicts out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config

from .ratelimit import TokenBucket

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class KubeError(Exception):
    """The API server refused a request."""

    def __init__(self, status: int, reason: str, message: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


class Kube:
    """GET, LIST, PATCH and WATCH on raw API paths, within a client-side rate limit."""

    def __init__(self, api_client: client.ApiClient, limiter: TokenBucket | None = None) -> None:
        self._api = api_client
        self._limiter = limiter or TokenBucket(-1, 0)

    @classmethod
    async def connect(cls, kubeconfig: Path | None, pool_size: int = 64,
                      qps: float = -1, burst: int = 0) -> Kube:
        """Load a kubeconfig file, or the in-cluster configuration when None; at most `qps`
        requests per second after a burst of `burst` (negative: no limit)."""
        configuration = client.Configuration()
        if kubeconfig is None:
            config.load_incluster_config(client_configuration=configuration)
        else:
            await config.load_kube_config(
                config_file=str(kubeconfig), client_configuration=configuration
            )
        configuration.connection_pool_maxsize = pool_size
        return cls(client.ApiClient(configuration), TokenBucket(qps, burst))

    async def close(self) -> None:
        await self._api.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        resp = await self._call(method, path, params, body, content_type, timeout)
        try:
            data = await resp.read()
        finally:
            resp.release()
        payload = _json(data)
        if not 200 <= resp.status <= 299:
            raise KubeError(
                resp.status, str(payload.get("reason") or resp.reason), str(payload.get("message"))
            )
        return payload

    async def get(self, path: str) -> dict[str, Any]:
        return await self.request("GET", path)

    async def list(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.request("GET", path, params=params or None)

    async def patch(
        self, path: str, body: Any, content_type: str = MERGE_PATCH
    ) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, content_type=content_type)

    async def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 300, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Events ({type, object}) from `resource_version` until the server ends the watch.

        An ERROR event is raised as KubeError (410 Gone means: list again).
        """
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            **params,
        }
        idle = aiohttp.ClientTimeout(sock_connect=30, sock_read=timeout_seconds + 30)
        resp = await self._call("GET", path, query, None, "application/json", idle)
        try:
            if not 200 <= resp.status <= 299:
                payload = _json(await resp.read())
                raise KubeError(resp.status, str(payload.get("reason") or resp.reason),
                                str(payload.get("message")))
            while True:
                line = await resp.content.readline()
                if not line:
                    return
                event = _json(line)
                if event.get("type") == "ERROR":
                    obj = event.get("object") or {}
                    raise KubeError(int(obj.get("code") or 500), str(obj.get("reason")),
                                    str(obj.get("message")))
                if "type" in event:
                    yield event
        finally:
            resp.release()

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        content_type: str,
        timeout: float | aiohttp.ClientTimeout,
    ) -> Any:
        query = list(params.items()) if params else None
        await self._limiter.acquire()
        return await self._api.call_api(
            path,
            method,
            query_params=query,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=timeout,
        )


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"message": data[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}
