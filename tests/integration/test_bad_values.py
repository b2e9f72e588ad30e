"""H2 (issue 8, finding 6): one bad value never stops a cycle, on SQLite or PostgreSQL, whatever its
length or encoding. Through the real sync job against the sandbox org: the good records arrive,
the bad one waits in the mirror with its error (shown by `status`), retried with backoff, and the
next cycle does not fail; a person fixing it in Salesforce lets it in."""

import datetime as dt
import json

import pytest

from conversion_sync.cli import main

UTC = dt.UTC
LONG_EMAIL = "a" * 399 + "@example.com"           # 411 characters: overflowed varchar(320)


def _good_leads(org, n=5):
    return [org.create("Lead", {"LastName": f"Good{i}", "Company": "X", "Email": f"good{i}@example.com"})
            for i in range(n)]


def _status(capsys) -> dict:
    capsys.readouterr()
    assert main(["--json", "status"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("bad_fields, error_words", [
    ({"Email": LONG_EMAIL}, "411 characters long"),
    ({"Email": "nul\x00@example.com"}, "NUL"),
    ({"Email": "ok@example.com", "FirstName": "Ann\x00"}, "FirstName holds a NUL"),
    ({"Email": "ok@example.com", "Title": "Boss\ud800"}, "Title holds an invalid character"),
    ({"Email": "ok@example.com", "Title": "t" * 200_000}, "Title is 200,000 characters long"),
], ids=["411-char-email", "nul-in-email", "nul-in-first-name", "lone-surrogate", "200k-title"])
def test_a_bad_value_waits_with_its_error_and_never_stops_the_cycle(harness, org, capsys, bad_fields, error_words):
    bad = org.seed("Lead", [{"LastName": "Bad", "Company": "X", **bad_fields}])[0]
    good = _good_leads(org)

    harness.cycle()                                      # the real sync job; asserts success
    assert all(harness.contact_of(lead) is not None for lead in good)
    assert harness.contact_of(bad) is None
    staged = harness.staged(bad)
    assert staged.pending and staged.attempts == 1 and error_words in staged.last_error
    first_retry = staged.next_attempt_at
    assert first_retry > dt.datetime.now(UTC)            # retried later, with backoff
    failed = {row["salesforce_id"]: row for row in _status(capsys)["failed_records"]}
    assert bad in failed and error_words in failed[bad]["last_error"]

    harness.cycle()                                      # the next cycle does not fail either ...
    again = harness.staged(bad)
    assert again.pending and again.attempts == 1 and again.next_attempt_at == first_retry   # ... nor reset the backoff
    assert len(harness.contacts()) == 5

    org.update("Lead", bad, {"Email": "fixed@example.com", "FirstName": "Fixed", "Title": "Fixed"})
    harness.cycle()                                      # a person fixed it in Salesforce
    contact = harness.contact_of(bad)
    assert contact is not None and (contact.email, contact.first_name, contact.title) == \
        ("fixed@example.com", "Fixed", "Fixed")
    assert not harness.staged(bad).pending and harness.staged(bad).last_error is None
    assert _status(capsys)["failed_records"] == []


def test_an_account_with_a_bad_name_waits_and_its_contacts_still_sync(harness, org):
    account = org.seed("Account", [{"Name": "Acme\x00"}])[0]
    contact = org.create("Contact", {"LastName": "Lee", "Email": "lee@example.com", "AccountId": account})
    harness.cycle()
    assert harness.contact_of(contact) is not None
    assert harness.company_of(account) is None and "Name holds a NUL" in harness.staged(account).last_error
    org.update("Account", account, {"Name": "Acme"})
    harness.cycle()
    company = harness.company_of(account)
    assert company.name == "Acme" and harness.contact_of(contact).company_id == company.id


def test_contacts_add_refuses_the_411_character_email_in_one_sentence(harness, capsys):
    assert main(["contacts", "add", "--email", LONG_EMAIL]) == 2
    err = capsys.readouterr().err
    assert "not an email address" in err and "411 characters long" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and len(err) < 300
    assert harness.contacts() == []
