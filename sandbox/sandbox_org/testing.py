"""Run a sandbox org in the current process: `running_sandbox(**options)` / `Sandbox`.

    with running_sandbox() as sandbox:
        sf = sandbox.salesforce()            # simple_salesforce.Salesforce over verified TLS
        sandbox.org.create("Lead", {...})    # operator API, in-process
        os.environ.update(sandbox.env())     # SALESFORCE_* for the product's own client

Starting one takes a few milliseconds (new CA and certificate, a server thread), so a
session-scoped fixture plus `sandbox.org.reset()` per test is the intended pattern.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from .admin_client import SandboxAdminClient
from .certs import mint
from .org import SandboxOrg
from .server import SandboxHTTPServer, ServerThread
from .usage import DEFAULT_DAILY_LIMIT

logger = logging.getLogger(__name__)

CA_FILE = "ca.pem"


class Sandbox:
    """A sandbox org served over HTTPS from a background thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, state_dir: str | Path | None = None,
                 daily_api_limit: int = DEFAULT_DAILY_LIMIT, org: SandboxOrg | None = None,
                 credentials: dict[str, str] | None = None, admin_token: str | None = None,
                 accounts: int = 0, contacts: int = 0, leads: int = 0, seed: int = 1, history_days: int = 30) -> None:
        self.host = host
        self.port = port
        self._own_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="sandbox-org-"))
        self.org = org or SandboxOrg(daily_api_limit=daily_api_limit, credentials=credentials,
                                     admin_token=admin_token)
        self._demo = {"accounts": accounts, "contacts": contacts, "leads": leads, "seed": seed,
                      "history_days": history_days}
        self._thread: ServerThread | None = None
        self.ca_path = ""
        self.instance_url = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        """Mint TLS material, write the CA file, start serving; optionally seed demo data."""
        tls = mint((self.host,) if self.host not in ("127.0.0.1", "localhost", "0.0.0.0", "::") else ())
        self.ca_path = str(tls.write_ca(self.state_dir / CA_FILE))
        server = SandboxHTTPServer((self.host, self.port), self.org, tls.server_context())
        self.instance_url = server.instance_url
        self._thread = ServerThread(server).start()
        if any(self._demo[k] for k in ("accounts", "contacts", "leads")):
            from .generator import generate_demo_org
            generate_demo_org(self.org, **self._demo)
        logger.info("sandbox org serving at %s", self.instance_url)
        return self

    def stop(self) -> None:
        """Stop serving (idempotent) and remove a temporary state directory."""
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ credentials
    @property
    def access_token(self) -> str:
        """The token minted at start (valid again after `org.reset()`)."""
        return self.org.auth.primary_token

    @property
    def admin_token(self) -> str:
        return self.org.admin_token

    @property
    def client_id(self) -> str:
        return self.org.auth.client_id

    @property
    def client_secret(self) -> str:
        return self.org.auth.client_secret

    @property
    def username(self) -> str:
        return self.org.auth.username

    @property
    def password(self) -> str:
        return self.org.auth.password

    @property
    def security_token(self) -> str:
        return self.org.auth.security_token

    def env(self) -> dict[str, str]:
        """SALESFORCE_* settings for client-credentials auth, and the CA bundle."""
        return {"SALESFORCE_INSTANCE_URL": self.instance_url, "SALESFORCE_CLIENT_ID": self.client_id,
                "SALESFORCE_CLIENT_SECRET": self.client_secret, "SALESFORCE_CA_BUNDLE": self.ca_path}

    # ------------------------------------------------------------------ clients
    def session(self) -> requests.Session:
        """A requests session that trusts only the sandbox CA (ignores REQUESTS_CA_BUNDLE)."""
        session = requests.Session()
        session.verify = self.ca_path
        session.trust_env = False
        return session

    def login(self, session: requests.Session | None = None) -> str:
        """A new access token via OAuth 2.0 client credentials, over HTTPS."""
        response = (session or self.session()).post(
            f"{self.instance_url}/services/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": self.client_id,
                  "client_secret": self.client_secret}, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]

    def salesforce(self, session_id: str | None = None, **kwargs: Any) -> Any:
        """A `simple_salesforce.Salesforce` built the way production builds it."""
        from simple_salesforce import Salesforce

        session = kwargs.pop("session", None) or self.session()
        token = session_id or self.login(session)
        return Salesforce(instance_url=self.instance_url, session_id=token, session=session, **kwargs)

    @property
    def connections_accepted(self) -> int:
        """TLS connections accepted so far (keep-alive reuses one per client session)."""
        return self._thread.server.connections_accepted if self._thread else 0

    @property
    def handshakes_started(self) -> int:
        """TLS handshakes begun, including those the client broke off (an untrusted certificate)."""
        return self._thread.server.handshakes_started if self._thread else 0

    def admin_client(self) -> SandboxAdminClient:
        return SandboxAdminClient(self.instance_url, self.admin_token, self.ca_path)


@contextmanager
def running_sandbox(**options: Any) -> Iterator[Sandbox]:
    """Start a sandbox for the duration of a `with` block (options: see `Sandbox`)."""
    sandbox = Sandbox(**options).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
