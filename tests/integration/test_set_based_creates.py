"""R4c set-based (issue 10): the records of a batch that only create a contact are written from
the mirror in a few statements (store/first_load.py), and the store is exactly the one the
ordered walk of every record gives (R4e): contacts with their values, stamps, companies and ids,
events with their ids, warnings, and the mirror's applied state, over two cycles, on SQLite and
PostgreSQL, through the sandbox org."""

import datetime as dt
import shutil

from sqlalchemy import make_url, select

from conversion_sync.config import load_sync_settings
from conversion_sync.service.apply import apply_accounts, apply_people
from conversion_sync.store import database as store_database
from conversion_sync.store.schema import companies, contacts, salesforce_records, sync_events, sync_warnings
from conversion_sync.sync.ids import to_18
from tests.conftest import _new_postgres_database
from tests.integration.harness import SyncHarness
from tests.integration.test_pull_matching import add_conversion_contact

UTC = dt.UTC


def _copy_of(url: str, tmp_path, name: str):
    """A copy of the database at `url` (a file copy, or a PostgreSQL database made from it)."""
    store_database.dispose_engines()
    if url.startswith("sqlite"):
        path = tmp_path / f"{name}.db"
        shutil.copyfile(make_url(url).database, path)
        return _Plain(f"sqlite:///{path}")
    return _new_postgres_database(template=make_url(url).database)


class _Plain:
    def __init__(self, url):
        self.url = url

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        store_database.dispose_engines()


def _apply(url, now, *, set_based):
    engine = store_database.open_engine(url)
    settings = load_sync_settings()
    apply_accounts(engine, settings, run_id="r", now=now)
    return apply_people(engine, settings, run_id="r", now=now, set_based_creates=set_based)


def _store(url):
    engine = store_database.open_engine(url)
    with engine.connect() as conn:
        return {
            "contacts": [tuple(r) for r in conn.execute(select(contacts).order_by(contacts.c.id))],
            "companies": [tuple(r) for r in conn.execute(select(companies).order_by(companies.c.id))],
            "events": [tuple(r) for r in conn.execute(select(sync_events).order_by(sync_events.c.id))],
            "warnings": [tuple(r) for r in conn.execute(
                select(sync_warnings.c.kind, sync_warnings.c.contact_id, sync_warnings.c.related_contact_ids,
                       sync_warnings.c.salesforce_id, sync_warnings.c.message).order_by(sync_warnings.c.id))],
            "mirror": [tuple(r) for r in conn.execute(
                select(salesforce_records.c.salesforce_id, salesforce_records.c.pending,
                       salesforce_records.c.applied_fields, salesforce_records.c.applied_modstamp,
                       salesforce_records.c.attempts, salesforce_records.c.last_error)
                .order_by(salesforce_records.c.salesforce_id))],
        }


def _without_set_based(counts):
    return {k: v for k, v in counts.items() if k not in ("created_set_based",)}


def test_r4c_new_records_created_set_based_give_the_store_the_ordered_walk_gives(harness, sandbox, org, tmp_path):
    with _copy_of(harness.url, tmp_path, "walked") as walked_url:   # the same empty store
        walked = SyncHarness(walked_url, sandbox)
        acme = org.create("Account", {"Name": "Acme"})
        org.create("Account", {"Name": "Globex"})
        moment = dt.datetime(2026, 1, 1, tzinfo=UTC)
        existing = [add_conversion_contact(h, "taken@example.com", first_name="Tess", updated_at=moment)
                    for h in (harness, walked)]
        # Only create a contact: a Lead, a Contact in a company, a Contact without one.
        lead = org.create("Lead", {"FirstName": "Ann", "LastName": "New", "Company": "Initech",
                                   "Email": "New1@Example.com", "Title": "CEO"})
        in_company = org.create("Contact", {"LastName": "Cy", "Email": "c1@example.com", "AccountId": acme})
        alone = org.create("Contact", {"LastName": "Di", "Email": "c2@example.com", "Phone": "+1 555"})
        # Not only a create: a shared email, an existing contact's email, a conversion and its
        # Contact, no email, an invalid email.
        org.create("Lead", {"LastName": "Shared", "Company": "X", "Email": "  Shared@Example.com "})
        org.create("Contact", {"LastName": "Shared", "Email": "shared@example.com", "AccountId": acme})
        org.create("Lead", {"LastName": "Taken", "Company": "X", "Email": "taken@example.com"})
        converted = org.create("Lead", {"LastName": "Conv", "Company": "X", "Email": "conv@example.com"})
        org.convert_lead(converted)
        org.create("Lead", {"LastName": "NoMail", "Company": "X"})
        org.seed("Lead", [{"LastName": "Bad", "Company": "X", "Email": "not an email"}])

        results = []
        for cycle in range(2):
            if cycle == 1:      # the created contacts then live on as any other (R4a, R5, R6)
                org.update("Contact", in_company, {"Title": "CTO", "AccountId": None})
                org.update("Lead", lead, {"Email": "moved@example.com"})
                org.create("Lead", {"LastName": "Later", "Company": "Y", "Email": "later@example.com"})
            harness.pull(apply=False)
            walked.pull(apply=False)
            now = dt.datetime.now(UTC)
            results.append((_apply(harness.url, now, set_based=True), _apply(walked_url, now, set_based=False)))
            _assert_same(_store(harness.url), _store(walked_url))
            created, walk = results[-1]
            assert _without_set_based(created) == _without_set_based(walk)
        (first, first_walk), (second, _) = results
        assert first["created_set_based"] == 3 and "created_set_based" not in first_walk
        assert first["failed"] == 1 and first["skipped_no_email"] == 1 and first["linked_by_email"] == 1
        assert second["created_set_based"] == 1      # the Lead created in the second cycle
        ann = harness.contact_of(lead)
        assert (ann.email, ann.first_name, ann.title, ann.company_name) == ("moved@example.com", "Ann", "CEO",
                                                                              "Initech")
        cy = harness.contact_of(in_company)
        assert cy.title == "CTO" and cy.company_id is None and cy.salesforce_id == to_18(in_company)
        assert [e.kind for e in harness.events(cy.id)] == ["contact_created", "company_moved", "contact_updated",
                                                           "company_unlinked"]
        assert harness.contact_of(alone).phone == "+1 555"
        assert harness.contact(existing[0]).salesforce_id is not None


def _assert_same(created, walked):
    for part in created:
        for mine, theirs in zip(created[part], walked[part], strict=False):
            assert mine == theirs, f"{part}: {mine} != {theirs}"
        assert len(created[part]) == len(walked[part]), part
