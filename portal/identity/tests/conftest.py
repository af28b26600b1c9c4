"""The test OpenID Connect provider: node-oidc-provider run with Node on loopback (no mock of
the protocol), configured per test through a JSON file it reads at every lookup."""

from __future__ import annotations

import json
from pathlib import Path
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from portal.identity import oidc

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID, CLIENT_SECRET = "portal", "portal-secret-for-tests"


class Provider:
    def __init__(self, tmp_path: Path, bases: list[str]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "oidc.json"
        self.accounts: dict[str, dict] = {}
        self.tamper = ""
        self.redirect_uris = [f"{base}/login/oidc/callback/" for base in bases]
        self.logout_uris = [f"{base}/login/" for base in bases]
        self.write()
        node = shutil.which("node")
        if node is None:
            pytest.fail("Node.js is needed for the test identity provider (scripts/setup.sh installs it)")
        self.process = subprocess.Popen(
            [node, str(SCRIPT), str(self.port), str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.issuer}/.well-known/openid-configuration", timeout=1).read()
                return
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"the test identity provider stopped: {self.process.stdout.read()}")
                time.sleep(0.1)
        self.stop()
        pytest.fail("the test identity provider did not start within 20 s")

    def write(self) -> None:
        client = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.logout_uris,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        self.config.write_text(json.dumps({"clients": [client], "accounts": self.accounts, "tamper": self.tamper}))

    def account(self, login: str, *, email: str, name: str, groups: list[str]) -> None:
        self.accounts[login] = {"email": email, "name": name, "groups": groups}
        self.write()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


@pytest.fixture
def provider(request, tmp_path, settings):
    """The provider, its client registered for the test client's host and (in browser tests)
    the live server's."""
    bases = ["http://testserver"]
    if "live_server" in request.fixturenames:
        bases.append(request.getfixturevalue("live_server").url)
    idp = Provider(tmp_path, bases)
    settings.OIDC_ISSUER, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET = idp.issuer, CLIENT_ID, CLIENT_SECRET
    settings.OIDC_SCOPES = "openid email profile groups"
    settings.OIDC_NAME = "Acme ID"
    settings.OIDC_ROLE_GROUPS = "leader=pom-leaders,product owner=pom-owners,viewer=pom-readers"
    oidc.forget()
    yield idp
    oidc.forget()
    idp.stop()
