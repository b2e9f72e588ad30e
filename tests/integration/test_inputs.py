"""What a user types (issue 8, finding 10; SPEC P1, §4): every wrong input stops with one sentence
naming the cause and what to do, exit 2 (1 for an import with rejected rows), never a traceback;
good input beside it still goes in."""

import json
import os
import subprocess
import sys

import pytest

from conversion_sync import api
from conversion_sync.cli import main


def one_sentence(capsys, expected_code, argv, *words):
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == expected_code, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    message = err.strip()
    assert message.startswith("conversion-sync: ") and len(message.splitlines()) == 1, err
    for word in words:
        assert word in message, message
    assert len(message) < 600
    return message


@pytest.fixture
def db(database_url, monkeypatch):
    monkeypatch.setenv("CONVERSION_DATABASE_URL", database_url)
    return database_url


# -- contacts import ---------------------------------------------------------------------------

def test_import_of_a_folder_an_empty_file_or_a_file_without_an_identifier_column(db, tmp_path, capsys):
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path)], "is a folder", "CSV file")
    (tmp_path / "empty.csv").write_text("")
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path / "empty.csv")], "is empty")
    (tmp_path / "blank.csv").write_text(" , \n")
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path / "blank.csv")], "is empty")
    (tmp_path / "names.csv").write_text("first_name,title\nAnn,Boss\n")
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path / "names.csv")], "has no email", "first_name, title")
    (tmp_path / "latin1.csv").write_bytes("email,first_name\nj@example.com,J\xf6rg\n".encode("latin-1"))
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path / "latin1.csv")], "not UTF-8")
    one_sentence(capsys, 2, ["contacts", "import", str(tmp_path / "nope.csv")], "does not exist")


def test_a_csv_with_10_mb_in_one_cell_rejects_that_row_and_imports_the_others(db, tmp_path, capsys):
    path = tmp_path / "big.csv"
    big = "t" * (10 * 1024 * 1024)
    path.write_text(f"email,title\nbig@example.com,{big}\nok@example.com,Boss\n{'a' * 295}@example.com,X\n"
                    f"nul@example.com,A\x00B\n")
    capsys.readouterr()
    assert main(["--json", "contacts", "import", str(path), "--skip-salesforce"]) == 1
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert payload["created"] == 1 and payload["success"] is False
    rejected = {row["line"]: row["error"] for row in payload["rejected"]}
    assert set(rejected) == {2, 4, 5}
    assert "title is 10,485,760 characters long" in rejected[2]
    assert "307 characters long" in rejected[4] and "title holds a NUL" in rejected[5]
    assert all(len(error) < 200 for error in rejected.values()) and len(out) < 2000
    assert "Traceback" not in err


# -- contacts add / set / api.identify -----------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["--email", "a" * 295 + "@example.com"], ["307 characters long"]),
    (["--email", "ann@example.com", "--title", "t" * 200_000], ["title is 200,000 characters long"]),
    (["--email", "ann@example.com", "--salesforce-id", "00Q000000000001XYZ"], ["not the checksum", "copy the id"]),
    (["--email", "ann@example.com", "--salesforce-id", "00Q00000000001"], ["not a Salesforce id"]),
    (["--email", "ann@example.com", "--salesforce-id", "001000000000001AAA"], ["not a Lead or Contact id"]),
    (["--user-id", "u" * 600], ["user_id is 600 characters long"]),
    ([], ["needs an email"]),
])
def test_contacts_add_refuses_bad_entries(db, capsys, argv, words):
    one_sentence(capsys, 2, ["contacts", "add", *argv], *words)
    assert main(["--json", "contacts", "list"]) == 0 and json.loads(capsys.readouterr().out) == []


def test_a_wrong_checksum_is_refused_and_a_lower_cased_id_is_matched(harness, org, capsys):
    lead = org.create("Lead", {"LastName": "Lee", "Company": "X", "Email": "lee@example.com"})
    other = org.create("Lead", {"LastName": "Ray", "Company": "X", "Email": "ray@example.com"})
    harness.pull()
    assert lead[:15].lower() != lead[:15]           # the sandbox's ids carry upper-case letters
    # Same first 15 characters, another checksum: refused, never matched to the Lead.
    wrong = lead[:15] + ("AAB" if lead[15:] != "AAB" else "AAC")
    one_sentence(capsys, 2, ["contacts", "add", "--email", "x@example.com", "--salesforce-id", wrong],
                 "not the checksum")
    # The whole id lower-cased by a spreadsheet: the suffix restores the case.
    capsys.readouterr()
    assert main(["--json", "contacts", "add", "--email", "someone@example.com", "--salesforce-id",
                 lead.lower(), "--skip-salesforce"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["matched_by"] == "salesforce_id" and payload["contact_id"] == harness.contact_of(lead).id
    assert harness.contact_of(other).email == "ray@example.com"


def test_contacts_set_refuses_values_that_cannot_be_stored(harness, capsys):
    contact = harness.identify("ann@example.com", sync="skip").contact_id
    one_sentence(capsys, 2, ["contacts", "set", str(contact), "email", "a" * 295 + "@example.com"],
                 "307 characters long")
    one_sentence(capsys, 2, ["contacts", "set", str(contact), "email", "a b@example.com"], "not an email address")
    one_sentence(capsys, 2, ["contacts", "set", str(contact), "title", "t" * 200_000], "Title is 200,000")
    one_sentence(capsys, 2, ["contacts", "set", str(contact), "nope", "x"], "not a contact field")
    assert harness.contact(contact).email == "ann@example.com" and harness.contact(contact).title is None


@pytest.mark.parametrize("kwargs, words", [
    ({"email": "a" * 399 + "@example.com"}, "411 characters long"),
    ({"email": "ann@example.com", "traits": {"title": {"nested": 1}}}, "title must be text"),
    ({"email": "ann@example.com", "traits": {"first_name": "A\x00"}}, "first_name holds a NUL"),
    ({"email": "ann@example.com", "traits": {"last_name": "L\udc80"}}, "surrogate"),
    ({"email": 12345}, "not an email address"),
    ({"email": ["ann@example.com"]}, "email is not text"),
])
def test_api_identify_reports_a_refused_entry_on_its_outcome(db, kwargs, words):
    outcome = api.identify(**kwargs)
    assert outcome.contact_id is None and words in outcome.error
    assert api.identify("ok@example.com").contact_id is not None      # the next good entry goes in


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize("content, words", [
    ("lookback_seconds: 300\n# caf\xe9\n".encode("latin-1"), ["not UTF-8", "CONVERSION_SYNC_CONFIG"]),
    (b"- lookback_seconds\n- 300\n", ["must hold a mapping"]),
    (b"lookback_seconds: -5\n", ["lookback_seconds must be at least 0"]),
    (b"lookback_seconds: 1e999\n", ["lookback_seconds must be a whole number"]),
    (b"lookback_seconds: 99999999999999999999\n", ["lookback_seconds must be at most"]),
    (b"settle_seconds: true\n", ["settle_seconds must be a whole number"]),
    (b"1: 2\nlookback_seconds: 3\n", ["unknown setting '1'"]),
    (b"fields: {title: {salesforce: Title, 7: x}}\n", ["unknown key '7'"]),
    (b"lookback_seconds: [300\n", ["not valid YAML"]),
], ids=["latin-1", "list", "negative", "inf", "huge", "bool", "int-key", "int-subkey", "broken"])
def test_a_bad_config_file_stops_with_one_sentence(db, tmp_path, monkeypatch, capsys, content, words):
    path = tmp_path / "sync.yaml"
    path.write_bytes(content)
    monkeypatch.setenv("CONVERSION_SYNC_CONFIG", str(path))
    one_sentence(capsys, 2, ["contacts", "add", "--email", "ann@example.com"], *words)


@pytest.mark.parametrize("value, words", [("-5", "at least 0"), ("1.5", "whole number"), ("10" * 30, "at most")])
def test_bad_lookback_variable(db, monkeypatch, capsys, value, words):
    monkeypatch.setenv("CONVERSION_SYNC_LOOKBACK_SECONDS", value)
    one_sentence(capsys, 2, ["contacts", "add", "--email", "ann@example.com"], "CONVERSION_SYNC_LOOKBACK_SECONDS",
                 words)


def test_a_config_path_that_is_a_folder(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVERSION_SYNC_CONFIG", str(tmp_path))
    one_sentence(capsys, 2, ["contacts", "add", "--email", "ann@example.com"], "not a readable file")


# -- the database URL ----------------------------------------------------------------------------

def test_a_database_url_in_a_missing_folder_is_refused_and_nothing_is_created(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "typo" / "deeper" / "conversion.db"
    monkeypatch.setenv("CONVERSION_DATABASE_URL", f"sqlite:///{missing}")
    one_sentence(capsys, 2, ["status"], str(missing.parent), "does not exist", "create the folder")
    one_sentence(capsys, 2, ["contacts", "add", "--email", "ann@example.com"], "does not exist")
    assert not (tmp_path / "typo").exists()


def test_a_sync_into_a_missing_folder_pulls_nothing(sandbox, org, tmp_path):
    """The issue's reproduction: `sync` with the URL in a missing folder made it and pulled the org."""
    org.create("Lead", {"LastName": "Lee", "Company": "X", "Email": "lee@example.com"})
    missing = tmp_path / "typo" / "conversion.db"
    env = {**os.environ, "CONVERSION_DATABASE_URL": f"sqlite:///{missing}",
           "DAGSTER_HOME": str(tmp_path / "dagster")}
    (tmp_path / "dagster").mkdir()
    done = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "sync"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "typo").exists()


def test_the_default_data_folder_is_still_created(tmp_path, monkeypatch, capsys):
    data = tmp_path / "fresh-data"
    monkeypatch.setenv("CONVERSION_SYNC_DATA_DIR", str(data))
    capsys.readouterr()
    assert main(["--json", "contacts", "list"]) == 0
    assert (data / "conversion.db").is_file()


# -- numbers on the command line ---------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["contacts", "list", "--limit", "-5"],
    ["contacts", "list", "--offset", "-1"],
    ["warnings", "list", "--limit", "-1"],
    ["contacts", "show", "99999999999999999999"],
    ["contacts", "set", "99999999999999999999", "title", "x"],
    ["contacts", "set", "0", "title", "x"],
    ["contacts", "merge", "1", "-2"],
])
def test_out_of_range_numbers_are_refused_before_the_database_sees_them(db, capsys, argv):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    _out, err = capsys.readouterr()
    assert stopped.value.code == 2 and "Traceback" not in err
    assert "must be between" in err.strip().splitlines()[-1]
