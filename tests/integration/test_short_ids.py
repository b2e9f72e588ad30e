"""R4d: a 15-character id from any input is converted before comparing. Salesforce hands ids out
in their 15-character form in places (reports, formula fields, older integrations); the sandbox
org does so when asked (`answer_short_ids`). A record pulled with 15-character ids (Id,
AccountId, ConvertedContactId, ConvertedAccountId) is the same record as its 18-character form:
it updates the same contact and company, and a conversion re-links the same contact, on the REST
and on the Bulk 2.0 path, whichever form came first."""

import datetime as dt

import pytest

from conversion_sync.partitions import partition_key_for
from conversion_sync.sync.ids import to_18


@pytest.mark.parametrize("api", ["rest", "bulk"])
@pytest.mark.parametrize("short_first", [False, True], ids=["18 then 15", "15 then 18"])
def test_a_record_pulled_with_15_character_ids_is_the_same_record(harness, org, sync_config, api, short_first):
    if api == "bulk":
        sync_config("bulk_query_threshold: 1\n")
    acme = org.create("Account", {"Name": "Acme"})
    globex = org.create("Account", {"Name": "Globex"})
    person = org.create("Contact", {"LastName": "Cole", "Email": "cole@example.com", "AccountId": acme})
    lead = org.create("Lead", {"LastName": "Lee", "Company": "Lee Inc", "Email": "lee@example.com"})
    org.answer_short_ids(short_first)
    first = harness.pull()
    assert (first["api_calls"]["bulk_query"] > 0) == (api == "bulk")
    contact, lead_contact = harness.contact_of(person), harness.contact_of(lead)
    assert contact.salesforce_id == to_18(person) and lead_contact.salesforce_id == to_18(lead)
    assert contact.company_id == harness.company_of(acme).id
    companies_before = len(harness.companies())

    org.answer_short_ids(not short_first)
    org.update("Contact", person, {"Title": "CFO", "AccountId": globex})    # moves company (R6)
    org.update("Lead", lead, {"Title": "Buyer"})
    converted = org.convert_lead(lead, account_id=acme)                     # a new Contact, at Acme (R7)
    if api == "bulk":     # Bulk 2.0 serves wide windows: a backfill of yesterday and today
        now = dt.datetime.now(dt.UTC)
        second = harness.backfill(days=[partition_key_for(now - dt.timedelta(days=1)), partition_key_for(now)])
    else:
        second = harness.pull()
    assert (second["api_calls"]["bulk_query"] > 0) == (api == "bulk")
    assert len(harness.contacts()) == 2                    # nothing created: both matched by id
    assert [w.kind for w in harness.warnings()] == []      # no duplicate_email, no duplicate
    moved = harness.contact(contact.id)
    assert (moved.salesforce_id, moved.title) == (to_18(person), "CFO")
    assert moved.company_id == harness.company_of(globex).id
    relinked = harness.contact(lead_contact.id)
    assert (relinked.salesforce_id, relinked.salesforce_object) == (to_18(converted["contact_id"]), "Contact")
    assert relinked.company_id == harness.company_of(acme).id
    assert len(harness.companies()) == companies_before    # no company for a 15-character Account id
    assert all(len(c.salesforce_account_id) == 18 for c in harness.companies())
