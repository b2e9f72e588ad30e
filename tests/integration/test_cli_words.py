"""What a user reads (issue 11, findings 8 and 6): plain words instead of rule codes, sync runs and
push runs apart, paging said, bad filter values refused, warnings closed by a person, a
preference that keeps an edit in Conversion said; and `conversion-sync sync` without
DAGSTER_HOME recorded in the instance the UI and the sensor read. Through the real CLI
(`conversion_sync.cli.main`) in this process, on SQLite and PostgreSQL, against the sandbox org."""

from __future__ import annotations

import json
import logging
import re

import dagster as dg
import pytest

from conversion_sync import cli, config
from conversion_sync import runner as cycle
from conversion_sync.definitions import defs
from conversion_sync.resources.database import ConversionDatabase

RULE_CODE = re.compile(r"\b[RPH]\d[a-e]?\b")


@pytest.fixture
def run_cli(harness, capsys, monkeypatch):
    """conversion-sync ARGS in this process, DAGSTER_HOME unset: (exit code, stdout, stderr)."""
    monkeypatch.delenv("DAGSTER_HOME")       # the default home (under the test's data folder here)
    service_log = logging.getLogger("conversion_sync.service")
    level = service_log.level

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:   # argparse refusing an argument
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    service_log.setLevel(level)
    cycle.show_tracebacks(True)


def _two_people_one_email(org):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "same@example.com"})
    org.create("Contact", {"LastName": "B", "Email": "same@example.com"})


def test_no_user_facing_text_speaks_in_rule_codes(harness, org, run_cli):
    _two_people_one_email(org)
    harness.identify("entered@example.com", traits={"last_name": "E"}, sync="immediate")
    code, out, err = run_cli("sync")
    assert code == 0, err
    texts = {"sync": out}
    for args in (("status",), ("warnings", "list"), ("warnings", "list", "--all"), ("contacts", "list"),
                 ("contacts", "show", "1"), ("contacts", "show", "2"), ("contacts", "show", "3"), ("--help",),
                 ("contacts", "--help"), ("warnings", "--help")):
        code, out, err = run_cli(*args)
        assert code == 0, (args, err)
        texts[" ".join(args)] = out + err
    for spec in defs().resolve_all_asset_specs():
        texts[f"asset {spec.key.to_user_string()}"] = spec.description or ""
    for check in defs().resolve_asset_graph().asset_check_keys:
        texts[f"check {check.name}"] = defs().resolve_asset_graph().get_check_spec(check).description or ""
    for job in defs().resolve_all_job_defs():
        texts[f"job {job.name}"] = job.description or ""
    for sensor in defs().sensors or []:
        texts[f"sensor {sensor.name}"] = sensor.description or ""
    spoken = {where: RULE_CODE.findall(text) for where, text in texts.items() if RULE_CODE.search(text)}
    assert spoken == {}
    assert "created: created from Lead" in texts["contacts show 1"] or "created:" in texts["contacts show 1"]


def test_status_shows_sync_runs_and_push_runs_apart_with_what_each_step_did(harness, org, run_cli):
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    assert run_cli("sync")[0] == 0
    for n in range(6):   # six push runs after it would crowd the one sync run out of "the last 5 runs"
        entered = harness.identify(f"p{n}@example.com", traits={"last_name": "P"}, sync="skip")
        assert run_cli("contacts", "push", str(entered.contact_id))[0] == 0
    code, out, err = run_cli("status")
    assert code == 0, err
    sync_part = out.split("last sync runs (pull, then push):\n", 1)[1].split("last push runs", 1)[0]
    push_part = out.split("last push runs (contacts sent to Salesforce between syncs):\n", 1)[1] \
        .split("latest sync run, in full:", 1)[0]
    assert len(sync_part.strip().splitlines()) == 1
    assert "salesforce_leads: 1 pulled" in sync_part and "contacts: 1 applied (1 created)" in sync_part
    assert "0 sent" not in sync_part.split("salesforce_push")[0]   # apply steps say what they applied
    assert len(push_part.strip().splitlines()) == 5 and "salesforce_push: 1 sent" in push_part
    assert "salesforce_leads" not in push_part
    payload = json.loads(run_cli("status", "--json")[1])
    assert len(payload["last_sync_runs"]) == 1 and len(payload["last_push_runs"]) == 5
    assert {run["kind"] for run in payload["last_push_runs"]} == {"push"}


def test_contacts_list_says_how_many_it_shows_of_how_many(harness, run_cli):
    for n in range(7):
        harness.identify(f"c{n}@example.com", traits={"last_name": "C"}, sync="skip")
    code, out, _ = run_cli("contacts", "list", "--limit", "3")
    assert code == 0 and out.strip().endswith("showing 1-3 of 7; --limit/--offset for more")
    assert len(out.strip().splitlines()) == 1 + 3 + 1
    out = run_cli("contacts", "list", "--limit", "3", "--offset", "6")[1]
    assert "showing 7-7 of 7" in out
    out = run_cli("contacts", "list", "--push-state", "skipped")[1]
    assert out.strip().endswith("showing 1-7 of 7")


def test_bad_filter_values_are_refused_naming_the_valid_ones(harness, run_cli):
    code, out, err = run_cli("contacts", "list", "--push-state", "bogus")
    assert code == 2 and out == ""
    assert "invalid choice: 'bogus'" in err and "'queued'" in err and "'needs_attention'" in err
    code, out, err = run_cli("warnings", "list", "--kind", "bogus")
    assert code == 2 and out == ""
    assert "invalid choice: 'bogus'" in err and "'duplicate_email'" in err and "'push_error'" in err
    assert "Traceback" not in err


def test_warnings_are_resolved_or_dismissed_by_someone_and_listed_with_all(harness, org, run_cli):
    _two_people_one_email(org)
    org.create("Lead", {"LastName": "C", "Company": "X", "Email": "other@example.com"})
    org.create("Contact", {"LastName": "D", "Email": "other@example.com"})
    assert run_cli("sync")[0] == 0
    rows = json.loads(run_cli("warnings", "list", "--json")[1])
    assert len(rows) == 2
    first, second = sorted(row["id"] for row in rows)
    code, out, err = run_cli("warnings", "resolve", str(first), "--by", "ann")
    assert code == 0, err
    assert out.strip() == f"warning {first} resolved by ann"
    code, out, err = run_cli("warnings", "dismiss", str(second), "999999")
    assert code == 2 and f"warning {second} dismissed by" in out
    assert "There is no warning with id 999999" in err
    assert run_cli("warnings", "list")[1].strip() == "No open warnings."
    listed = run_cli("warnings", "list", "--all")[1]
    resolved_line = next(line for line in listed.splitlines() if line.startswith(f"{first} "))
    assert "resolved" in resolved_line and resolved_line.rstrip().endswith("ann")
    assert "dismissed" in next(line for line in listed.splitlines() if line.startswith(f"{second} "))
    again = run_cli("warnings", "resolve", str(first))[1]
    assert f"already closed, left as they were: {first}" in again
    # A closed warning stays closed: the next sync does not write it again as new.
    assert run_cli("sync")[0] == 0
    assert run_cli("warnings", "list")[1].strip() == "No open warnings."


def test_contacts_set_says_when_a_preference_keeps_the_edit_from_salesforce(harness, org, run_cli, sync_config):
    sync_config("fields:\n  title: {salesforce: Title, preference: always_prefer_salesforce}\n")
    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    assert run_cli("sync")[0] == 0
    contact_id = harness.contacts()[0].id
    code, out, err = run_cli("contacts", "set", str(contact_id), "title", "CEO")
    assert code == 0, err
    assert out.strip() == (f"contact {contact_id}: title is set to 'CEO'; its preference (always_prefer_salesforce) "
                           "keeps it from being sent to Salesforce")
    out = run_cli("contacts", "set", str(contact_id), "last_name", "Ames")[1]
    assert out.strip() == f"contact {contact_id}: last_name is set to 'Ames'"


def test_a_cli_sync_without_dagster_home_is_the_last_sync_the_sensor_sees(harness, org, run_cli):
    from conversion_sync.jobs.sensors import sync_sensor

    org.create("Lead", {"LastName": "A", "Company": "X", "Email": "a@example.com"})
    code, out, err = run_cli("sync")
    assert code == 0, err
    run_id = out.split()[2].rstrip(":")
    home = config.default_dagster_home()
    assert (home / "dagster.yaml").is_file()            # the deployment's settings, as scripts/demo copies them
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        context = dg.build_sensor_context(instance=instance, resources={"database": ConversionDatabase()})
        skipped = sync_sensor(context)
    assert isinstance(skipped, dg.SkipReason) and skipped.skip_message.startswith("last sync started")


def test_the_default_dagster_home_is_the_one_the_demo_uses(monkeypatch):
    monkeypatch.undo()   # the checkout's own default, not the test's data folder
    root = config.PACKAGE_DIR.parent
    assert config.default_dagster_home() == root / ".dagster_home"
    demo = (root / "scripts" / "demo").read_text()
    assert "default_dagster_home()" in demo and '"$ROOT/.dagster_home"' not in demo


def test_push_job_with_retry_failed_sends_rejected_contacts_now(harness, org, sync_config):
    """Re-queue failed pushes from the UI: push_job's launchpad config `retry_failed: true`."""
    sync_config("external_id_field: null\npush_retry_base_seconds: 3600\n")
    entered = harness.identify("dropped@example.com", traits={"last_name": "Dropped"}, sync="immediate")
    org.inject_fault("drop_after_write", path="/composite/sobjects", times=1)
    assert harness.push()["rejected"] == 1
    assert harness.contact(entered.contact_id).push_state == "failed"
    assert harness.push().get("linked_in_salesforce", 0) == 0          # its retry is an hour away
    result = cycle.run_job("push_job", instance=dg.DagsterInstance.ephemeral(),
                           run_config={"ops": {"salesforce_push": {"config": {"retry_failed": True}}}})
    assert result.success, result.error
    assert result.steps["salesforce_push"]["linked_in_salesforce"] == 1
    assert harness.contact(entered.contact_id).push_state == "pushed"
