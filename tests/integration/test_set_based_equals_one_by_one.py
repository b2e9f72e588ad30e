"""R4e, as a property: applying a batch set-based gives exactly the store that applying its
records one by one, in (SystemModstamp, Id) order, gives, and so does the walk of every record
without the set-based create of new records (store/first_load.py). Random org histories (creates, email
changes, deletes, conversions, merges, Account moves) over two cycles, through the sandbox org."""

import contextlib
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_org.errors import SandboxError
from sqlalchemy import insert, select

from conversion_sync.config import load_sync_settings
from conversion_sync.partitions import first_partition_start, partition_bounds, partition_key_for
from conversion_sync.resources.salesforce import SalesforceResource
from conversion_sync.service.apply import apply_accounts, apply_people
from conversion_sync.service.extract import extract
from conversion_sync.store import watermarks
from conversion_sync.store.database import open_engine
from conversion_sync.store.schema import companies, contacts, sync_events, sync_warnings
from conversion_sync.sync.windows import plan_window

UTC = dt.UTC
EMAILS = ["ann@example.com", "ANN@example.com", "bob@example.com", "cy@example.com", None]
FREE_CONTACTS = ["ann@example.com", "bob@example.com", "bob@example.com"]

operation = st.one_of(
    st.tuples(st.just("lead"), st.sampled_from(EMAILS)),
    st.tuples(st.just("contact"), st.sampled_from(EMAILS), st.integers(0, 3)),
    st.tuples(st.just("email"), st.integers(0, 50), st.sampled_from(EMAILS)),
    st.tuples(st.just("title"), st.integers(0, 50), st.sampled_from(["CEO", "CTO", None])),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("convert"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("merge"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 3)),
    # Time passing between users' edits: an edit of an older record then carries a later
    # SystemModstamp than a newer record, so Id order and (SystemModstamp, Id) order disagree.
    st.tuples(st.just("wait"), st.integers(1, 90)),
)


class History:
    """Applies generated operations to the org, ignoring the ones Salesforce refuses."""

    def __init__(self, org):
        self.org = org
        self.accounts = [org.create("Account", {"Name": f"Account {i}"}) for i in range(3)]
        self.leads, self.people = [], []

    def apply(self, op):
        kind, *args = op
        with contextlib.suppress(SandboxError):
            getattr(self, f"_{kind}")(*args)

    def _pick(self, items, index):
        return items[index % len(items)] if items else None

    def _lead(self, email):
        self.leads.append(self.org.create("Lead", {"LastName": "L", "Company": "C", "Email": email}))

    def _contact(self, email, account):
        account_id = self.accounts[account] if account < len(self.accounts) else None
        self.people.append(self.org.create("Contact", {"LastName": "C", "Email": email, "AccountId": account_id}))

    def _record(self, index):
        everyone = [("Lead", i) for i in self.leads] + [("Contact", i) for i in self.people]
        return self._pick(everyone, index)

    def _email(self, index, email):
        if (target := self._record(index)):
            self.org.update(target[0], target[1], {"Email": email})

    def _title(self, index, title):
        if (target := self._record(index)):
            self.org.update(target[0], target[1], {"Title": title})

    def _delete(self, index):
        if (target := self._record(index)):
            self.org.delete(target[0], target[1])

    def _convert(self, index, into_existing):
        lead = self._pick(self.leads, index)
        contact = self._pick(self.people, index) if into_existing else None
        if lead:
            result = self.org.convert_lead(lead, contact_id=contact)
            if result["contact_id"] not in self.people:
                self.people.append(result["contact_id"])

    def _merge(self, first, second):
        a, b = self._record(first), self._record(second)
        if a and b and a[0] == b[0] and a[1] != b[1]:
            self.org.merge(a[0], a[1], [b[1]])

    def _wait(self, seconds):
        self.org.advance_clock(seconds)

    def _move(self, index, account):
        person = self._pick(self.people, index)
        if person:
            self.org.update("Contact", person, {"AccountId": self.accounts[account] if account < 3 else None})


def _pull(engine, batch_size, now, org_now, *, set_based_creates=True):
    sync_settings = load_sync_settings().model_copy(update={"apply_batch_size": batch_size})
    client = SalesforceResource(backoff_seconds=0.01).client()
    today = partition_bounds([partition_key_for(now)])
    for sobject in ("Account", "Contact", "Lead"):
        with engine.connect() as conn:
            live = watermarks.live_watermark(conn, sobject)
        window = plan_window(range_start=today[0][1], range_end=today[0][2],
                             first_partition_start=first_partition_start(), live_watermark=live, incremental=True,
                             now=org_now, lookback_seconds=300, settle_seconds=0)
        extract(engine, client, sync_settings, sobject, window, partitions=today, run_id="r",
                now=lambda: now)
    apply_accounts(engine, sync_settings, run_id="r", now=now)
    apply_people(engine, sync_settings, run_id="r", now=now, set_based_creates=set_based_creates)


def _store(engine):
    with engine.connect() as conn:
        return {
            "contacts": [tuple(r) for r in conn.execute(select(contacts).order_by(contacts.c.id))],
            "companies": [tuple(r) for r in conn.execute(select(companies).order_by(companies.c.id))],
            "events": [tuple(r) for r in conn.execute(
                select(sync_events.c.kind, sync_events.c.rule, sync_events.c.contact_id, sync_events.c.company_id,
                       sync_events.c.salesforce_id, sync_events.c.changes, sync_events.c.detail)
                .order_by(sync_events.c.id))],
            "warnings": [tuple(r) for r in conn.execute(
                select(sync_warnings.c.kind, sync_warnings.c.contact_id, sync_warnings.c.related_contact_ids,
                       sync_warnings.c.salesforce_id, sync_warnings.c.message).order_by(sync_warnings.c.id))],
        }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(st.lists(operation, min_size=1, max_size=20), min_size=2, max_size=2))
def test_set_based_apply_equals_one_by_one(sandbox, tmp_path_factory, rounds):
    sandbox.org.reset()
    folder = tmp_path_factory.mktemp("property")
    batch, single, walked = (open_engine(f"sqlite:///{folder / name}.db") for name in ("batch", "single", "walked"))
    moment = dt.datetime(2026, 1, 1, tzinfo=UTC)
    for engine in (batch, single, walked):
        with engine.begin() as conn:
            for email in FREE_CONTACTS:
                conn.execute(insert(contacts).values(email=email, email_key=email, origin="form",
                                                     salesforce_sync="skip", created_at=moment, updated_at=moment))
    history = History(sandbox.org)
    for round_number, operations in enumerate(rounds):
        for op in operations:
            history.apply(op)
        now = moment + dt.timedelta(days=round_number + 1)
        org_now = sandbox.org.now() + dt.timedelta(seconds=1)   # the window closes after the org's waits
        _pull(batch, 10_000, now, org_now)
        _pull(single, 1, now, org_now)
        _pull(walked, 10_000, now, org_now, set_based_creates=False)
    assert _store(batch) == _store(single)
    # The records that only create a contact, written set-based (issue 10), give the store the
    # ordered walk of every record gives: the same contacts, values, links, events, warnings
    # and ids.
    assert _store(batch) == _store(walked)
