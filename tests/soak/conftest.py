"""The soak reuses the integration fixtures (the sandbox org over HTTPS, database_url)."""

from tests.integration.conftest import harness, org, sandbox, sandbox_server, sync_config  # noqa: F401
