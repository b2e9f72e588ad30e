"""Fixtures for the sandbox org tests: one HTTPS sandbox per session, reset before every test, and
a simple-salesforce client built the way production builds it (verified TLS, OAuth token)."""

from __future__ import annotations

import pytest
import requests
from sandbox_org.testing import Sandbox, running_sandbox
from simple_salesforce import Salesforce


@pytest.fixture(scope="session")
def sandbox_server():
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.org.reset()
    return sandbox_server


@pytest.fixture
def org(sandbox: Sandbox):
    return sandbox.org


def client_session(sandbox: Sandbox) -> requests.Session:
    """Exactly the production recipe: verify against the sandbox CA, ignore REQUESTS_CA_BUNDLE."""
    session = requests.Session()
    session.verify = sandbox.ca_path
    session.trust_env = False
    return session


def oauth_token(sandbox: Sandbox, session: requests.Session) -> str:
    response = session.post(f"{sandbox.instance_url}/services/oauth2/token",
                            data={"grant_type": "client_credentials", "client_id": sandbox.client_id,
                                  "client_secret": sandbox.client_secret})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def sf(sandbox: Sandbox) -> Salesforce:
    session = client_session(sandbox)
    return Salesforce(instance_url=sandbox.instance_url, session_id=oauth_token(sandbox, session), session=session)
