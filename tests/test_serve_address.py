"""--serve-address and --advertise-host: the suite's Git server and OIDC issuer listen where
they are told and name themselves as the cluster reaches them."""

from __future__ import annotations

import requests

from receiver_conformance.gitserver import GitServer
from receiver_conformance.senders.oidc import TestOIDCIssuer


def test_the_git_server_listens_on_all_addresses_and_names_the_advertised_host() -> None:
    with GitServer("0.0.0.0", "localhost") as git:
        url = git.create_repository("webapp")
        assert url.startswith(f"http://localhost:{git.port}/")
        answer = requests.get(f"{url}/info/refs", params={"service": "git-upload-pack"},
                              timeout=10)
        assert answer.status_code == 200


def test_the_oidc_issuer_names_itself_by_the_advertised_host() -> None:
    with TestOIDCIssuer("0.0.0.0", "localhost") as issuer:
        assert issuer.url.startswith("http://localhost:")
        discovery = requests.get(issuer.url + "/.well-known/openid-configuration",
                                 timeout=10).json()
        assert discovery["issuer"] == issuer.url
        assert requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]


def test_by_default_both_stay_on_the_loopback() -> None:
    with GitServer() as git, TestOIDCIssuer() as issuer:
        assert git.url.startswith("http://127.0.0.1:")
        assert issuer.url.startswith("http://127.0.0.1:")
