"""Cheap checks that an external target can be reached before a run starts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml

TIMEOUT_SECONDS = 5.0


class Unreachable(Exception):
    """The target cannot be used; the message is one line for the user."""


def check_external(kubeconfig: Path | None, receiver_url: str | None) -> None:
    """Raise Unreachable unless the kubeconfig works and the receiver URL answers."""
    if kubeconfig is None:
        raise Unreachable("--target external needs --kubeconfig (or KUBECONFIG)")
    if not receiver_url:
        raise Unreachable("--target external needs --receiver-url")
    check_kubeconfig(kubeconfig)
    check_receiver_url(receiver_url)


def check_kubeconfig(path: Path) -> None:
    """The kubeconfig is readable and its API server answers /version."""
    from kubernetes import client, config  # imported here: slow, and only external runs need it
    from kubernetes.config.config_exception import ConfigException

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Unreachable(f"kubeconfig {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        if not isinstance(yaml.safe_load(text), dict):
            raise Unreachable(f"kubeconfig {path} is not a kubeconfig file")
        api_client = config.new_client_from_config(config_file=str(path))
    except (yaml.YAMLError, ConfigException, ValueError, TypeError, KeyError) as exc:
        raise Unreachable(f"kubeconfig {path} is not usable: {_first_line(exc)}") from exc
    with api_client:
        try:
            client.VersionApi(api_client).get_code(_request_timeout=TIMEOUT_SECONDS)
        except client.ApiException as exc:
            if exc.status in (401, 403):
                return  # the server answered; permissions are the scenarios' business
            raise Unreachable(
                f"Kubernetes API at {api_client.configuration.host} answered {exc.status}"
            ) from exc
        except Exception as exc:  # urllib3 raises many kinds; all mean "not reachable"
            raise Unreachable(
                f"Kubernetes API at {api_client.configuration.host} is unreachable: "
                f"{type(exc).__name__}"
            ) from exc


def check_receiver_url(url: str) -> None:
    """The receiver URL is http(s) and something answers there (any HTTP status will do)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unreachable(f"receiver URL {url!r} is not an http(s) URL")
    try:
        requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False).close()
    except requests.RequestException as exc:
        raise Unreachable(f"receiver URL {url} is unreachable: {type(exc).__name__}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
