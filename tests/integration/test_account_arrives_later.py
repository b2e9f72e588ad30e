"""R6 (issue 8, finding 10): a Contact whose AccountId names an Account the sync has not seen gets no
nameless company; it stays without a company until that Account is pulled, which then links it."""

from conversion_sync.sync.ids import to_18

NO_SUCH_ACCOUNT = to_18("001000000000XYZ")


def test_an_account_that_never_exists_makes_no_company(harness, org):
    contact = org.seed("Contact", [{"LastName": "Lee", "Email": "lee@example.com", "AccountId": NO_SUCH_ACCOUNT}])[0]
    harness.cycle()
    harness.cycle()
    assert harness.contact_of(contact).company_id is None
    assert harness.companies() == []                       # no nameless company, now or later
    assert not harness.staged(contact).pending              # nothing waits: the contact synced


def test_an_account_seen_after_its_contacts_links_them(harness, org, sync_config):
    account = org.create("Account", {"Name": "Acme", "Website": "acme.example"})
    first = org.create("Contact", {"LastName": "Lee", "Email": "lee@example.com", "AccountId": account})
    second = org.create("Contact", {"LastName": "Ray", "Email": "ray@example.com", "AccountId": account,
                                    "Title": "Boss"})
    sync_config("pull_accounts: false\n")                  # Accounts are not pulled (yet)
    harness.cycle()
    assert harness.companies() == [] and harness.contact_of(first).company_id is None
    sync_config("pull_accounts: true\n")
    harness.cycle()                                         # now the Account arrives
    company = harness.company_of(account)
    assert company is not None and company.name == "Acme"
    for contact_id in (first, second):
        contact = harness.contact_of(contact_id)
        assert contact.company_id == company.id and contact.company_name == "Acme"
    assert harness.contact_of(second).title == "Boss"
    assert len(harness.companies()) == 1
    moved = [e for e in harness.events() if e.kind == "company_moved"]
    assert len(moved) == 2 and all(e.rule == "R6" for e in moved)
    before = harness.snapshot()
    harness.cycle()                                         # and nothing changes after that
    assert harness.snapshot() == before


def test_a_conversion_edit_survives_the_account_arriving_later(harness, org, sync_config):
    from conversion_sync.config import load_sync_settings
    from conversion_sync.store.editing import set_contact_field
    from tests.integration.harness import utcnow

    account = org.create("Account", {"Name": "Acme"})
    contact = org.create("Contact", {"LastName": "Lee", "Email": "lee@example.com", "AccountId": account,
                                     "Title": "Old"})
    sync_config("pull_accounts: false\n")
    harness.cycle()
    sync_config("pull_accounts: true\n")
    with harness.engine.begin() as conn:
        set_contact_field(conn, load_sync_settings().custom_fields, harness.contact_of(contact).id, "title", "New", now=utcnow())
    harness.cycle()                                         # re-applying the Contact takes no old value back
    row = harness.contact_of(contact)
    assert row.title == "New" and row.company_id == harness.company_of(account).id
