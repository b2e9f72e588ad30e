"""R4c set-based (issue 10): the records of a batch that only create a contact are written from
the mirror in a few statements (store/first_load.py), and the store is exactly the one the
ordered walk of every record gives (R4e): contacts with their values, stamps, companies and ids,
events with their ids, warnings, and the mirror's applied state, over two cycles, on SQLite and
PostgreSQL, through the sandbox org."""

import datetime as dt
import shutil

import pytest
from sqlalchemy import make_url, select

from conversion_sync.config import load_sync_settings
from conversion_sync.service.apply import apply_accounts, apply_people
from conversion_sync.store import database as store_database
from conversion_sync.store.schema import (
    companies,
    contacts,
    lone_records,
    salesforce_records,
    sync_events,
    sync_warnings,
)
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


def test_r4b_a_contact_that_takes_a_lone_records_email_before_its_batch_is_linked_not_duplicated(harness, org):
    """The records alone in the mirror are found once per step, but what Conversion holds is
    asked batch by batch: a contact that gets a lone Lead's email after the step started (a form,
    a push between batches) is the one the Lead links to (R4b), as one-by-one apply would."""
    leads = [org.create("Lead", {"LastName": f"L{i}", "Company": "X", "Email": f"lone{i}@example.com"})
             for i in range(3)]
    harness.pull(apply=False)
    settings = load_sync_settings().model_copy(update={"apply_batch_size": 1})
    added = []

    def between_batches(line):
        if not added:       # after the first batch: a form brings the last Lead's person in
            added.append(add_conversion_contact(harness, "Lone2@Example.com", first_name="Form"))

    counts = apply_people(harness.engine, settings, run_id="r", now=dt.datetime.now(UTC), progress=between_batches)
    assert counts["created_set_based"] == 2 and counts["linked_by_email"] == 1
    assert sorted(c.email_key for c in harness.contacts()) == ["lone0@example.com", "lone1@example.com",
                                                                "lone2@example.com"]
    linked = harness.contact(added[0])
    assert linked.salesforce_id == to_18(leads[2]) and linked.first_name == "Form"


def test_what_a_killed_people_step_left_is_never_taken_for_records_alone(harness, sandbox, org, tmp_path):
    """A step killed after it found the records alone in the mirror leaves them in
    `lone_records`; the next step finds them again rather than trusting what is there (here:
    every record, as if all were alone), so records sharing an email still become one contact,
    and a step that stops on an error leaves nothing behind."""
    with _copy_of(harness.url, tmp_path, "walked") as walked_url:
        walked = SyncHarness(walked_url, sandbox)
        org.create("Lead", {"LastName": "Shared", "Company": "X", "Email": "shared@example.com"})
        org.create("Contact", {"LastName": "Shared", "Email": "Shared@example.com"})
        org.create("Lead", {"LastName": "Alone", "Company": "X", "Email": "alone@example.com"})
        harness.pull(apply=False)
        walked.pull(apply=False)
        with harness.engine.begin() as conn:
            conn.execute(lone_records.insert().from_select(["salesforce_id"],
                                                           select(salesforce_records.c.salesforce_id)))
        now = dt.datetime.now(UTC)
        counts = _apply(harness.url, now, set_based=True)
        _apply(walked_url, now, set_based=False)
        _assert_same(_store(harness.url), _store(walked_url))
        assert counts["created_set_based"] == 1

        org.create("Lead", {"LastName": "Next", "Company": "X", "Email": "next@example.com"})
        harness.pull(apply=False)

        def stop(line):
            raise RuntimeError("the step stops here")

        with pytest.raises(RuntimeError):
            apply_people(harness.engine, load_sync_settings(), run_id="r", now=dt.datetime.now(UTC), progress=stop)
        with harness.engine.connect() as conn:
            assert conn.execute(select(lone_records)).all() == []
