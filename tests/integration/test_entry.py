"""P1 and P2: contacts entering Conversion (identify, CLI, CSV) and identity resolution."""

import datetime as dt
import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from conversion_sync.config import load_sync_settings
from conversion_sync.errors import InvalidInput
from conversion_sync.service.entry import import_csv
from conversion_sync.store.schema import contact_identifiers

UTC = dt.UTC


def identifiers(harness, contact_id):
    with harness.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(
            select(contact_identifiers.c.kind, contact_identifiers.c.value)
            .where(contact_identifiers.c.contact_id == contact_id)))


def test_strong_identifiers_come_before_email(harness):
    first = harness.identify("ann@example.com", user_id="u-1", traits={"first_name": "Ann"})
    assert first.created and first.matched_by == "new"
    # Same user, new email: matched by user_id, email updated.
    again = harness.identify("ann.new@example.com", user_id="u-1")
    assert (again.contact_id, again.matched_by) == (first.contact_id, "user_id")
    assert harness.contact(first.contact_id).email == "ann.new@example.com"
    # An anonymous visitor with a cookie, later identifying: the cookie's contact.
    visitor = harness.identify(cookie="c-9", traits={"title": "Buyer"})
    known = harness.identify("visitor@example.com", cookie="c-9", user_id="u-2")
    assert known.contact_id == visitor.contact_id and known.matched_by == "cookie"
    assert identifiers(harness, visitor.contact_id) == [("cookie", "c-9"), ("user_id", "u-2")]


def test_email_matches_the_most_recent_contact_without_a_conflicting_identifier(harness):
    a = harness.identify("shared@example.com", user_id="u-a")
    b = harness.identify("other@example.com", user_id="u-b")
    harness.identify("shared@example.com", user_id="u-b")          # b now also holds the shared email
    # An entry with only the email matches the most recently updated holder: b.
    assert harness.identify("shared@example.com").contact_id == b.contact_id
    # An entry whose user_id conflicts with both creates a separate contact, with a warning.
    c = harness.identify("shared@example.com", user_id="u-c")
    assert c.created and c.contact_id not in (a.contact_id, b.contact_id)
    warning = harness.warnings()[-1]
    assert warning.kind == "duplicate_email" and warning.contact_id == c.contact_id
    assert sorted(warning.related_contact_ids) == sorted([a.contact_id, b.contact_id])


def test_a_salesforce_id_matches_first_and_15_characters_are_accepted(harness, org):
    lead = org.create("Lead", {"LastName": "Lee", "Company": "X", "Email": "lee@example.com"})
    harness.pull()
    outcome = harness.identify("someone.else@example.com", salesforce_id=lead[:15])
    assert outcome.matched_by == "salesforce_id" and outcome.contact_id == harness.contact_of(lead).id


def test_entries_are_refused_with_a_reason(harness):
    from conversion_sync.service.entry import identify_entries
    from conversion_sync.sync.identity import Entry

    outcomes = identify_entries(harness.engine, load_sync_settings(), [
        Entry(email="not an email"), Entry(), Entry(email="ok@example.com", salesforce_id="001000000000001"),
        Entry(email="ok@example.com", traits={"shoe_size": "42"}), Entry(email="fine@example.com")])
    assert [bool(o.error) for o in outcomes] == [True, True, True, True, False]
    assert "not an email address" in outcomes[0].error and "needs an email" in outcomes[1].error
    assert "not a Lead or Contact id" in outcomes[2].error and "shoe_size" in outcomes[3].error


def test_csv_import_with_bom_header_aliases_and_bad_rows(harness, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes("\ufeffE-mail,First Name,Surname,Company,Favourite colour\n"
                     "zoe@example.com,Zoë,Ålund,Acme,blue\n"
                     "not-an-email,Bad,Row,X,red\n"
                     "\n"
                     "o'brien@example.com,Pat,O'Brien,,green\n"
                     "ZOE@example.com,Zoe,,,\n"
                     "too,many,values,here,x,y\n".encode("utf-8"))
    summary, ignored = import_csv(harness.engine, load_sync_settings(), path, sync="skip")
    assert ignored == ["Favourite colour"]
    assert [(o.line, bool(o.error)) for o in summary.outcomes] == [(2, False), (3, True), (5, False), (6, False), (7, True)]
    assert summary.created == 2 and summary.matched == 1          # line 6 is the contact of line 2
    zoe = harness.contact(summary.outcomes[0].contact_id)
    assert (zoe.first_name, zoe.last_name, zoe.company_name, zoe.push_state) == ("Zoe", "Ålund", "Acme", "skipped")


def test_csv_without_an_identifying_column_is_refused(harness, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("first_name,last_name\nAnn,Lee\n")
    with pytest.raises(InvalidInput, match="no email, user_id, cookie or salesforce_id column"):
        import_csv(harness.engine, load_sync_settings(), path)


def test_cli_contacts_add_and_import(harness, tmp_path, database_url, sandbox):
    import os

    env = {**os.environ, "CONVERSION_DATABASE_URL": database_url}
    add = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "--json", "contacts", "add", "--email",
                          "cli@example.com", "--first-name", "Cli", "--user-id", "u-cli", "--skip-salesforce"],
                         env=env, capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    payload = json.loads(add.stdout)
    assert payload["created"] and payload["push_state"] == "skipped"
    bad = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "add", "--email", "nope"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "not an email address" in bad.stderr and "Traceback" not in bad.stderr
    path = tmp_path / "in.csv"
    path.write_text("email,first_name\na@example.com,A\nbroken,B\n")
    imported = subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "import", str(path)],
                              env=env, capture_output=True, text=True)
    assert imported.returncode == 1
    assert "line 3: 'broken' is not an email address" in imported.stdout
    assert "2 rows: 1 contacts created, 0 matched existing contacts, 1 rejected" in imported.stdout
