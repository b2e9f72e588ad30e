"""Lead conversion and merges, as the sync sees them through queries."""

from __future__ import annotations

from datetime import date

import pytest
from sandbox_org.errors import SandboxError


def test_convert_into_new_contact_and_account(org, sf):
    lead = org.create("Lead", {"FirstName": "Grace", "LastName": "Hopper", "Company": "Navy", "Email": "g@navy.mil",
                               "Title": "Admiral", "City": "Arlington", "Country": "USA", "Website": "navy.mil"})
    before = org.get("Lead", lead)["SystemModstamp"]
    result = org.convert_lead(lead)
    row = sf.query(f"SELECT IsConverted, ConvertedDate, ConvertedAccountId, ConvertedContactId, Status, "
                   f"SystemModstamp, LastModifiedDate FROM Lead WHERE Id = '{lead}'")["records"][0]
    assert row["IsConverted"] is True and row["Status"] == "Closed - Converted"
    assert row["ConvertedDate"] == org.now().date().isoformat()
    assert (row["ConvertedAccountId"], row["ConvertedContactId"]) == (result["account_id"], result["contact_id"])
    assert org.get("Lead", lead)["SystemModstamp"] > before
    contact = sf.Contact.get(result["contact_id"])
    assert (contact["Name"], contact["Email"], contact["Title"], contact["MailingCity"], contact["AccountId"]) == (
        "Grace Hopper", "g@navy.mil", "Admiral", "Arlington", result["account_id"])
    account = sf.Account.get(result["account_id"])
    assert (account["Name"], account["Website"], account["BillingCountry"]) == ("Navy", "navy.mil", "USA")
    assert isinstance(org.get("Lead", lead)["ConvertedDate"], date)


def test_convert_into_existing_contact_fills_only_empty_fields(org):
    account = org.create("Account", {"Name": "Existing Co", "Industry": "Retail"})
    contact = org.create("Contact", {"LastName": "Known", "Email": "known@x.io", "AccountId": account})
    lead = org.create("Lead", {"LastName": "Lead Name", "Company": "Lead Co", "Email": "other@x.io",
                               "Title": "From lead", "Industry": "Banking", "Phone": "123"})
    result = org.convert_lead(lead, contact_id=contact)
    assert result == {"account_id": account, "contact_id": contact}
    merged = org.get("Contact", contact)
    assert (merged["LastName"], merged["Email"], merged["Title"]) == ("Known", "known@x.io", "From lead")
    assert org.get("Account", account)["Industry"] == "Retail" and org.get("Account", account)["Phone"] == "123"
    assert org.count("Account") == 1 and org.count("Contact") == 1


def test_convert_into_existing_account_creates_the_contact(org):
    account = org.create("Account", {"Name": "Target"})
    lead = org.create("Lead", {"LastName": "New", "Company": "Ignored"})
    result = org.convert_lead(lead, account_id=account)
    assert result["account_id"] == account
    assert org.get("Contact", result["contact_id"])["AccountId"] == account
    assert org.get("Account", account)["Name"] == "Target"
    with pytest.raises(SandboxError) as twice:
        org.convert_lead(lead)
    assert twice.value.code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_merge_accounts_reparents_contacts(org, sf):
    master = org.create("Account", {"Name": "Master"})
    loser1 = org.create("Account", {"Name": "Dup 1"})
    loser2 = org.create("Account", {"Name": "Dup 2"})
    moved = org.create("Contact", {"LastName": "Moves", "AccountId": loser1})
    before = org.get("Contact", moved)
    org.merge("Account", master, [loser1, loser2])
    rows = {r["Id"]: r for r in sf.query_all("SELECT Id, IsDeleted, MasterRecordId FROM Account",
                                              include_deleted=True)["records"]}
    assert rows[master]["IsDeleted"] is False
    assert rows[loser1]["IsDeleted"] is True and rows[loser1]["MasterRecordId"] == master
    assert rows[loser2]["MasterRecordId"] == master
    after = org.get("Contact", moved)
    assert after["AccountId"] == master
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    with pytest.raises(SandboxError):
        org.merge("Account", master, [loser1])  # already merged away
    with pytest.raises(SandboxError):
        org.merge("Account", master, [org.create("Account", {"Name": n}) for n in "abc"])


def test_merge_contacts(org, sf):
    master = org.create("Contact", {"LastName": "Keep", "Email": "dup@x.io"})
    loser = org.create("Contact", {"LastName": "Lose", "Email": "DUP@x.io"})
    org.merge("Contact", master, [loser])
    assert [r["Id"] for r in sf.query("SELECT Id FROM Contact WHERE Email = 'dup@x.io'")["records"]] == [master]
    rows = sf.query_all("SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true", include_deleted=True)
    assert [(r["Id"], r["MasterRecordId"]) for r in rows["records"]] == [(loser, master)]
