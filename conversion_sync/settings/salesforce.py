"""How to reach the org (SPEC §4): the SALESFORCE_* variables as a typed model whose secrets are
`SecretStr` (they print as stars in repr, str, logs and dumps), one sentence for whatever is
missing or wrong."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from conversion_sync.errors import ConfigError
from conversion_sync.settings.env_file import DEMO_ENV_FILE, ENV_FILE_VARIABLE, with_named_env_file

_URL = re.compile(r"^https://[A-Za-z0-9.\-]+(:\d{1,5})?/?$")


def reveal(secret: SecretStr | None) -> str:
    """The secret's value, for the one place that sends it (the login); empty when unset."""
    return secret.get_secret_value() if secret is not None else ""


class SalesforceSettings(BaseModel):
    """How to reach the org. Secrets are `SecretStr`: read them with `reveal`, never print them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_url: str
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    ca_bundle: str | None = None

    @property
    def auth_mode(self) -> str:
        if self.client_id and self.client_secret:
            return "password" if self.username and self.password else "client_credentials"
        if self.username and self.password:
            return "soap_password"
        return "access_token"


def salesforce_settings_from_env(environ: Mapping[str, str] | None = None) -> SalesforceSettings:
    """Read the SALESFORCE_* variables; one clear sentence for whatever is missing or wrong.

    They come from the environment, or from an env file only when CONVERSION_SYNC_ENV_FILE names
    one: there is no fallback to the sandbox org's files (scripts/demo exports them itself)."""
    env = with_named_env_file(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    url = get("SALESFORCE_INSTANCE_URL")
    if not url:
        raise ConfigError(
            "Salesforce is not configured: set SALESFORCE_INSTANCE_URL to your org's URL and its login "
            "(SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, SALESFORCE_USERNAME and SALESFORCE_PASSWORD, or "
            f"SALESFORCE_ACCESS_TOKEN), or name an env file of them in {ENV_FILE_VARIABLE} (for the demo's "
            f"sandbox org: {DEMO_ENV_FILE}).")
    if not _URL.match(url):
        raise ConfigError(
            f"SALESFORCE_INSTANCE_URL must be an https:// address like https://yourorg.my.salesforce.com (got {url!r}).")
    settings = SalesforceSettings(
        instance_url=url.rstrip("/"),
        access_token=get("SALESFORCE_ACCESS_TOKEN"),
        client_id=get("SALESFORCE_CLIENT_ID"),
        client_secret=get("SALESFORCE_CLIENT_SECRET"),
        username=get("SALESFORCE_USERNAME"),
        password=get("SALESFORCE_PASSWORD"),
        security_token=get("SALESFORCE_SECURITY_TOKEN"),
        ca_bundle=get("SALESFORCE_CA_BUNDLE"),
    )
    if bool(settings.client_id) != bool(settings.client_secret):
        have, missing = (("SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET") if settings.client_id
                         else ("SALESFORCE_CLIENT_SECRET", "SALESFORCE_CLIENT_ID"))
        raise ConfigError(f"{have} is set but {missing} is not; set both for OAuth client credentials.")
    if bool(settings.username) != bool(settings.password):
        have, missing = (("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD") if settings.username
                         else ("SALESFORCE_PASSWORD", "SALESFORCE_USERNAME"))
        raise ConfigError(f"{have} is set but {missing} is not; set both (and SALESFORCE_SECURITY_TOKEN if your org needs one).")
    if not (settings.access_token or settings.client_id or settings.username):
        raise ConfigError(
            "Set SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, or SALESFORCE_USERNAME, "
            "SALESFORCE_PASSWORD and SALESFORCE_SECURITY_TOKEN, so the sync can log in to Salesforce.")
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        raise ConfigError(f"SALESFORCE_CA_BUNDLE names {settings.ca_bundle}, which is not a readable file.")
    return settings
