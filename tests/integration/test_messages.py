"""Expected failures end a command with ONE sentence on stderr that names the cause and what to do,
a documented exit code, and no traceback unless --verbose (SPEC §4; issue 8, finding 9). The
Dagster run records the same sentence as its error, and a push summary counts rejections per
Salesforce error code. Through the real CLI (`conversion_sync.cli.main`), the real sync job in
the Dagster instance of DAGSTER_HOME, and the sandbox org over HTTPS with injected faults."""

from __future__ import annotations

import logging
import re
import socket
import time
import types

import certifi
import dagster as dg
import pytest

from conversion_sync import cli
from conversion_sync import runner as cycle

STACK_MARKERS = ("Traceback", "Stack Trace", 'File "')


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def run_cli(harness, dagster_home, capsys):
    """conversion-sync ARGS in this process: (exit code, stdout, stderr)."""
    service_log = logging.getLogger("conversion_sync.service")
    level = service_log.level

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    service_log.setLevel(level)      # the CLI quiets these for its own process
    cycle.show_tracebacks(True)


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries still happen, one after another, without waiting out the backoff."""
    import conversion_sync.resources.salesforce_policy as policy

    monkeypatch.setattr(policy, "time", types.SimpleNamespace(sleep=lambda seconds: None,
                                                                 monotonic=time.monotonic))


def sentences(err: str) -> list[str]:
    return [line[len("conversion-sync: "):] for line in err.splitlines() if line.startswith("conversion-sync: ")]


def assert_one_sentence(out: str, err: str) -> str:
    for marker in STACK_MARKERS:
        assert marker not in out and marker not in err, f"{marker!r} printed:\n{err}"
    found = sentences(err)
    assert len(found) == 1, err
    assert err.rstrip().splitlines()[-1] == f"conversion-sync: {found[0]}"
    return found[0]


def run_id_of(out: str) -> str:
    return re.search(r"sync run ([0-9a-f-]{36})", out).group(1)


def access_token_mode(sandbox, monkeypatch, token: str | None = None) -> None:
    monkeypatch.delenv("SALESFORCE_CLIENT_ID")
    monkeypatch.delenv("SALESFORCE_CLIENT_SECRET")
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", token or sandbox.access_token)


def test_a_persistent_503_is_one_sentence_naming_it_and_the_dagster_run_carries_it(org, run_cli, no_backoff):
    org.inject_fault("http_503", path="/services/data/", times=None)
    code, out, err = run_cli("sync")
    assert code == 1                                                     # the run failed: try again
    message = assert_one_sentence(out, err)
    assert "503" in message and "SERVER_UNAVAILABLE" in message
    assert "status.salesforce.com" in message and "next cycle tries again" in message
    assert "Error occurred while executing op" not in out + err
    assert "FAILED in salesforce_accounts" in out

    instance = dg.DagsterInstance.get()
    run_id = run_id_of(out)
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    step_failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)[0].dagster_event
    assert step_failure.step_failure_data.error.message.split(": ", 1)[1].strip() == message
    assert step_failure.step_failure_data.user_failure_data.description == message
    run_failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    assert message in run_failure.event_specific_data.error.message


@pytest.mark.parametrize("auth", ["access_token", "client_credentials"])
def test_an_untrusted_certificate_is_one_sentence_and_is_never_retried(sandbox, run_cli, monkeypatch, auth):
    if auth == "access_token":          # the login sends nothing: the first API call meets the certificate
        access_token_mode(sandbox, monkeypatch)
    monkeypatch.setenv("SALESFORCE_CA_BUNDLE", certifi.where())     # public CAs: not the sandbox's
    before = sandbox.handshakes_started
    code, out, err = run_cli("sync")
    assert code == 2                                                     # a setting to fix
    message = assert_one_sentence(out, err)
    assert "TLS certificate" in message and "SALESFORCE_CA_BUNDLE" in message
    assert sandbox.handshakes_started - before == 1                     # one attempt, no retries
    assert "retry" not in err


def test_a_refused_port_is_one_sentence_naming_the_url(run_cli, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]                                   # closed again below: nobody listens
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", f"https://127.0.0.1:{port}")
    code, out, err = run_cli("sync")
    assert code == 1
    message = assert_one_sentence(out, err)
    assert f"Could not reach Salesforce at https://127.0.0.1:{port}" in message
    assert "SALESFORCE_INSTANCE_URL" in message


def test_a_bad_token_is_one_sentence_saying_what_to_set(sandbox, run_cli, monkeypatch):
    access_token_mode(sandbox, monkeypatch, token="00Dnot-a-real-token")
    code, out, err = run_cli("sync")
    assert code == 2
    message = assert_one_sentence(out, err)
    assert "SALESFORCE_ACCESS_TOKEN" in message and "00Dnot-a-real-token" not in out + err


def test_a_wrong_client_secret_is_one_sentence_without_the_secret(run_cli, monkeypatch):
    monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "wrong-secret-value-123")
    code, out, err = run_cli("sync")
    assert code == 2
    message = assert_one_sentence(out, err)
    assert "SALESFORCE_CLIENT_SECRET" in message and "wrong-secret-value-123" not in out + err


def test_verbose_shows_the_traceback_and_still_ends_with_the_sentence(sandbox, run_cli, monkeypatch):
    access_token_mode(sandbox, monkeypatch, token="00Dnot-a-real-token")
    code, _out, err = run_cli("sync", "--verbose")
    assert code == 2
    assert "Stack Trace" in err and "SalesforceAuthError" in err
    assert "SALESFORCE_ACCESS_TOKEN" in err.rstrip().splitlines()[-1]


def test_the_org_s_request_limit_stops_the_cycle_with_one_sentence_and_exit_3(org, run_cli):
    org.inject_fault("request_limit", path="/services/data/", times=None)
    code, out, err = run_cli("sync")
    assert code == 3                                                     # stopped cleanly, resumes later
    message = assert_one_sentence(out, err)
    assert "request limit" in message and "resumes" in message


def test_an_unreachable_database_is_one_sentence(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVERSION_DATABASE_URL", "postgresql://sync:secret-pw@127.0.0.1:1/conversion")
    code, out, err = run_cli("status")
    assert code == 1
    message = assert_one_sentence(out, err)
    assert "Conversion database" in message and "CONVERSION_DATABASE_URL" in message
    assert "secret-pw" not in out + err


def test_a_push_summary_counts_rejections_per_salesforce_error_code(harness, org, run_cli, no_backoff):
    """Two linked contacts edited in Conversion whose Leads are locked, three new contacts whose
    creates lose their answer: the output, the exit code and the asset's metadata say which is which."""
    leads = [org.create("Lead", {"LastName": f"Locked {i}", "Company": "Acme", "Email": f"locked{i}@example.com"})
             for i in range(2)]
    assert run_cli("sync")[0] == 0
    for contact in harness.contacts():
        assert run_cli("contacts", "set", str(contact.id), "title", "Buyer")[0] == 0
    for lead in leads:
        org.lock_record(lead, times=100)
    for i in range(3):
        assert run_cli("contacts", "add", "--email", f"new{i}@example.com", "--sync-to-salesforce")[0] == 0
    org.inject_fault("drop_after_write", path="/composite/sobjects/Lead/", times=None)   # the upsert of new Leads

    code, out, err = run_cli("sync")
    assert code == 3
    assert "rejected=5 (connection dropped 3, UNABLE_TO_LOCK_ROW 2)" in out
    message = assert_one_sentence(out, err)
    assert message.startswith("5 contacts were not sent to Salesforce (connection dropped 3, UNABLE_TO_LOCK_ROW 2); "
                              "they are retried from ")
    assert "conversion-sync status" in message

    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey("salesforce_push"))
    metadata = event.asset_materialization.metadata
    assert metadata["rejected"].value == 5
    assert metadata["rejected/UNABLE_TO_LOCK_ROW"].value == 2
    assert metadata["rejected/connection dropped"].value == 3
