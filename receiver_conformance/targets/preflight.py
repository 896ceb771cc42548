"""What an external target must offer before any scenario runs, checked in order, each
failure one line that says the cause and, where there is one, the way out:

1. the kubeconfig is readable and its API server answers (refused, TLS, DNS, timeout, 401);
2. Flux's CRDs serve every kind and version the scenarios use (the missing ones named, with
   the command that installs the suite's pinned bundle);
3. the kubeconfig's user has the rights the scenarios use (SelfSubjectAccessReview);
4. something answers at the receiver URL.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import yaml

from receiver_conformance.flux.objects import API_VERSIONS, RECEIVER_API

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

TIMEOUT_SECONDS = 5.0
INSTALL_CRDS = "receiver-conformance crds | kubectl apply --server-side -f -"
# Every kind the scenarios create, with the apiVersion they use.
SERVED_KINDS: dict[str, str] = {"Receiver": RECEIVER_API, **API_VERSIONS}


@dataclass(frozen=True)
class Right:
    """Verbs on one resource the scenarios use."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    cluster_wide: bool = False  # namespaces: asked without a namespace

    def named(self, verb: str) -> str:
        return f"{verb} {self.resource}" + (f".{self.group}" if self.group else "")


_OBJECT_VERBS = ("create", "get", "list", "patch", "delete")
# What every scenario does: a namespace of its own (unless --namespace), a token Secret
# (rotated by update), a Receiver, and the sources it points at.
RIGHTS: tuple[Right, ...] = (
    Right("", "namespaces", ("create", "get", "list", "delete"), cluster_wide=True),
    Right("", "secrets", ("create", "get", "update", "patch", "delete")),
    Right("notification.toolkit.fluxcd.io", "receivers", _OBJECT_VERBS),
    Right("source.toolkit.fluxcd.io", "gitrepositories", _OBJECT_VERBS),
    Right("source.toolkit.fluxcd.io", "ocirepositories", _OBJECT_VERBS),
    Right("source.toolkit.fluxcd.io", "helmrepositories", _OBJECT_VERBS),
    Right("source.toolkit.fluxcd.io", "buckets", _OBJECT_VERBS),
    Right("image.toolkit.fluxcd.io", "imagerepositories", _OBJECT_VERBS),
)


class Unreachable(Exception):
    """The target cannot be used; the message is one line for the user."""


def check_external(kubeconfig: Path | None, receiver_url: str | None,
                   namespace: str | None = None) -> None:
    """Raise Unreachable unless the API server answers, serves Flux's kinds, lets the
    kubeconfig's user do what the scenarios do (in `namespace` when one is given, else
    anywhere), and something answers at the receiver URL."""
    if kubeconfig is None:
        raise Unreachable("--target external needs --kubeconfig (or KUBECONFIG)")
    if not receiver_url:
        raise Unreachable("--target external needs --receiver-url")
    with api_client_for(kubeconfig) as api:
        check_api_server(api)
        check_crds(api)
        check_rights(api, namespace)
    check_receiver_url(receiver_url)


@contextmanager
def api_client_for(path: Path) -> Iterator[ApiClient]:
    """An API client for a kubeconfig file, or Unreachable saying why there is none."""
    from kubernetes import config  # imported here: slow, and only external runs need it
    from kubernetes.config.config_exception import ConfigException

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Unreachable(f"kubeconfig {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        if not isinstance(yaml.safe_load(text), dict):
            raise Unreachable(f"kubeconfig {path} is not a kubeconfig file")
        api = config.new_client_from_config(config_file=str(path))
    except (yaml.YAMLError, ConfigException, ValueError, TypeError, KeyError) as exc:
        raise Unreachable(f"kubeconfig {path} is not usable: {_first_line(exc)}") from exc
    with api:
        yield api


def check_api_server(api: ApiClient) -> None:
    """The API server answers /version; otherwise the cause, in words."""
    from kubernetes import client

    host = api.configuration.host
    try:
        client.VersionApi(api).get_code(_request_timeout=TIMEOUT_SECONDS)
    except client.ApiException as exc:
        if exc.status == 403:
            return  # it answered; what this user may do is checked next
        if exc.status == 401:
            raise Unreachable(f"Kubernetes API at {host} refused the kubeconfig's credentials "
                              "(401 Unauthorized)") from exc
        raise Unreachable(f"Kubernetes API at {host} answered {exc.status} to /version") from exc
    except Exception as exc:  # urllib3 raises many kinds; say which one it was in words
        raise Unreachable(f"Kubernetes API at {host} is unreachable: {connection_cause(exc)}") \
            from exc


def connection_cause(exc: BaseException) -> str:
    """Why a connection failed, in words: refused, TLS, name resolution, timeout."""
    chain = list(_causes(exc))
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or \
            "certificate verify failed" in text:
        return "TLS: its certificate is not trusted by the kubeconfig's CA (certificate " \
               "verify failed)"
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text:
        return "TLS handshake failed (is the scheme right, https or http?)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused (nothing listens there)"
    if "name or service not known" in text or "nodename nor servname" in text or \
            "name resolution" in text or "failed to resolve" in text:
        return "its host name does not resolve"
    if any(isinstance(e, TimeoutError) for e in chain) or "timed out" in text:
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    return type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (current.__cause__, current.__context__,
                       getattr(current, "reason", None)):
            if isinstance(nested, BaseException):
                stack.append(nested)


def check_crds(api: ApiClient, kinds: dict[str, str] = SERVED_KINDS) -> None:
    """Every kind the scenarios use is served at the version they use."""
    missing = missing_kinds(api, kinds)
    if missing:
        raise Unreachable(f"Flux's CRDs are missing or serve other versions: "
                          f"{', '.join(missing)}; install the suite's: {INSTALL_CRDS}")


def missing_kinds(api: ApiClient, kinds: dict[str, str]) -> list[str]:
    """`Kind (group/version)` for each kind the API server does not serve."""
    from kubernetes import client

    served: dict[str, set[str]] = {}
    for api_version in sorted(set(kinds.values())):
        group, _, version = api_version.rpartition("/")
        try:
            found = client.CustomObjectsApi(api).get_api_resources(
                group, version, _request_timeout=TIMEOUT_SECONDS)
        except client.ApiException as exc:
            if exc.status != 404:
                raise Unreachable(f"Kubernetes API discovery of {api_version} answered "
                                  f"{exc.status}") from exc
            found = None
        served[api_version] = {r.kind for r in (found.resources if found else [])}
    return [f"{kind} ({version})" for kind, version in kinds.items()
            if kind not in served[version]]


def check_rights(api: ApiClient, namespace: str | None,
                 rights: Iterable[Right] = RIGHTS) -> None:
    """The kubeconfig's user may do what the scenarios do (SelfSubjectAccessReview)."""
    denied = denied_rights(api, namespace, rights)
    if denied:
        where = f"in namespace {namespace}" if namespace else "in every namespace"
        raise Unreachable(f"the kubeconfig's user may not {', '.join(denied)} ({where}); "
                          "the scenarios need these rights")


def denied_rights(api: ApiClient, namespace: str | None,
                  rights: Iterable[Right] = RIGHTS) -> list[str]:
    from kubernetes import client

    review_api = client.AuthorizationV1Api(api)
    denied = []
    for right in rights:
        if right.cluster_wide and namespace:
            continue  # a given namespace is used as it is: none is created
        for verb in right.verbs:
            attributes = client.V1ResourceAttributes(
                verb=verb, group=right.group, resource=right.resource,
                namespace=None if right.cluster_wide else namespace)
            review = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes))
            try:
                answer = review_api.create_self_subject_access_review(
                    review, _request_timeout=TIMEOUT_SECONDS)
            except client.ApiException as exc:
                raise Unreachable(f"the API server answered {exc.status} to a "
                                  "SelfSubjectAccessReview; the suite cannot check its "
                                  "rights") from exc
            if not answer.status.allowed:
                denied.append(right.named(verb))
    return denied


def check_receiver_url(url: str) -> None:
    """The receiver URL is http(s) and something answers there (any HTTP status will do)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unreachable(f"receiver URL {url!r} is not an http(s) URL")
    try:
        requests.get(url, timeout=TIMEOUT_SECONDS, allow_redirects=False).close()
    except requests.RequestException as exc:
        raise Unreachable(f"receiver URL {url} is unreachable: {connection_cause(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
