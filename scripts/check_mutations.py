"""Re-check that the suite kills the one-line mutations listed in docs/testing.md.

Each mutation replaces one exact piece of product code, runs each test meant to kill it on its
own (SQLite only, for speed: `-k "not postgres"`), and restores the file, also when interrupted.
A mutation that a listed test survives is a rule that test no longer guards. Run it alone: it
edits files of the worktree while it runs.

    .venv/bin/python scripts/check_mutations.py            # every mutation
    .venv/bin/python scripts/check_mutations.py R4e H2     # those whose name starts so
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    # -- H2: push backoff -----------------------------------------------------------------------------
    Mutation("H2 push: ignore next attempt", "conversion_sync/store/push.py",
             "or_(contacts.c.push_next_attempt_at.is_(None), contacts.c.push_next_attempt_at <= now))",
             "or_(contacts.c.push_next_attempt_at.is_(None), contacts.c.push_next_attempt_at.is_not(None)))",
             ("tests/store/test_backoff.py::test_a_rejected_new_contact_waits_until_due_then_is_picked_up",
              "tests/integration/test_retry_backoff.py::test_a_rejected_push_waits_out_its_backoff_then_gives_up")),
    Mutation("H2 push: constant delay", "conversion_sync/store/push.py",
             "delay = min(base_seconds * 2 ** (tries - 1), 24 * 3600)", "delay = min(base_seconds, 24 * 3600)",
             ("tests/store/test_backoff.py::test_push_delays_double_from_the_base_and_are_capped_at_a_day",
              "tests/integration/test_retry_backoff.py::test_a_rejected_push_waits_out_its_backoff_then_gives_up")),
    Mutation("H2 push: no cap", "conversion_sync/store/push.py",
             "delay = min(base_seconds * 2 ** (tries - 1), 24 * 3600)", "delay = base_seconds * 2 ** (tries - 1)",
             ("tests/store/test_backoff.py::test_push_delays_double_from_the_base_and_are_capped_at_a_day",)),
    Mutation("H2 push: every push due", "conversion_sync/store/push.py",
             '    return and_(or_(contacts.c.push_state.is_(None), contacts.c.push_state != GAVE_UP),',
             '    return contacts.c.id.is_not(None)\n    return and_(or_(contacts.c.push_state.is_(None), contacts.c.push_state != GAVE_UP),',
             ("tests/store/test_backoff.py::test_a_push_gives_up_after_the_maximum_and_waits_for_a_person",
              "tests/integration/test_retry_backoff.py::test_a_rejected_push_waits_out_its_backoff_then_gives_up"),
             ),
    Mutation("H2 push: never give up", "conversion_sync/store/push.py",
             "gave_up = tries >= max_attempts", "gave_up = False",
             ("tests/store/test_backoff.py::test_a_push_gives_up_after_the_maximum_and_waits_for_a_person",)),
    # -- H2: pulled records ---------------------------------------------------------------------------
    Mutation("H2 pull: ignore next attempt", "conversion_sync/store/staging.py",
             "or_(sr.c.next_attempt_at.is_(None), sr.c.next_attempt_at <= now))",
             "or_(sr.c.next_attempt_at.is_(None), sr.c.next_attempt_at.is_not(None)))",
             ("tests/store/test_backoff.py::test_a_pulled_record_that_fails_backs_off_doubling_to_a_cap",
              "tests/integration/test_retry_backoff.py::test_a_pulled_record_that_fails_waits_until_due_and_a_fix_goes_through_at_once")),
    Mutation("H2 pull: constant delay", "conversion_sync/store/staging.py",
             "delay = min(max_seconds, base_seconds * 2 ** (tries - 1))", "delay = min(max_seconds, base_seconds)",
             ("tests/store/test_backoff.py::test_a_pulled_record_that_fails_backs_off_doubling_to_a_cap",
              "tests/integration/test_retry_backoff.py::test_a_pulled_record_that_fails_waits_until_due_and_a_fix_goes_through_at_once")),
    Mutation("H2 pull: no fresh start on change", "conversion_sync/store/staging.py",
             "attempts=0, last_error=None, next_attempt_at=None), updates)", "), updates)",
             ("tests/store/test_backoff.py::test_a_pulled_record_changed_in_salesforce_gets_a_fresh_start",
              "tests/integration/test_retry_backoff.py::test_a_pulled_record_that_fails_waits_until_due_and_a_fix_goes_through_at_once")),
    Mutation("H2 pull: a re-pull resets the backoff", "conversion_sync/store/staging.py",
             "        if row.fields == record.fields and row.system_modstamp == record.system_modstamp:\n"
             "            counts[\"unchanged\"] += 1\n            continue",
             "        if False:\n            continue",
             ("tests/store/test_backoff.py::test_re_pulling_the_same_failing_record_keeps_its_backoff",
              "tests/integration/test_retry_backoff.py::test_a_pulled_record_that_fails_waits_until_due_and_a_fix_goes_through_at_once")),
    # -- R4e: (SystemModstamp, Id) order ---------------------------------------------------------------
    Mutation("R4e: applier sorts by Id", "conversion_sync/sync/pull.py",
             "for record in sorted(records, key=lambda r: r.order_key):",
             "for record in sorted(records, key=lambda r: r.salesforce_id):",
             ("tests/integration/test_apply_order.py",)),
    Mutation("R4e: store hands out pending records by Id", "conversion_sync/store/staging.py",
             ".order_by(sr.c.system_modstamp, sr.c.salesforce_id).limit(batch_size))",
             ".order_by(sr.c.salesforce_id).limit(batch_size))",
             ("tests/integration/test_apply_order.py",)),
    Mutation("R4e: order key is the Id", "conversion_sync/sync/records.py",
             "return (self.system_modstamp, self.salesforce_id)",
             "return (self.salesforce_id, self.salesforce_id)",
             ("tests/integration/test_apply_order.py",)),
    # -- R4d: 15-character ids from Salesforce -----------------------------------------------------------
    Mutation("R4d: pulled Id kept as given", "conversion_sync/sync/records.py",
             'salesforce_id=to_18(raw["Id"]),', 'salesforce_id=raw["Id"],',
             ("tests/integration/test_short_ids.py",)),
    Mutation("R4d: pulled AccountId kept as given", "conversion_sync/sync/records.py",
             'account_id=to_18_or_none(raw.get("AccountId")),', 'account_id=raw.get("AccountId"),',
             ("tests/integration/test_short_ids.py",)),
    Mutation("R4d: pulled ConvertedContactId kept as given", "conversion_sync/sync/records.py",
             'converted_contact_id=to_18_or_none(raw.get("ConvertedContactId")),',
             'converted_contact_id=raw.get("ConvertedContactId"),',
             ("tests/integration/test_short_ids.py",)),
    Mutation("R4d: pulled ConvertedAccountId kept as given", "conversion_sync/sync/records.py",
             'converted_account_id=to_18_or_none(raw.get("ConvertedAccountId")),',
             'converted_account_id=raw.get("ConvertedAccountId"),',
             ("tests/integration/test_short_ids.py",)),
    Mutation("R4d: to_18 returns its input", "conversion_sync/sync/ids.py",
             "    return id15 + checksum_suffix(id15)", "    return candidate",
             ("tests/integration/test_short_ids.py",)),
    # -- P5: a converted Lead is never written -----------------------------------------------------------
    Mutation("P5: converted Leads are push candidates", "conversion_sync/store/push.py",
             "sr.c.is_converted.is_(False), _due(now)))", "_due(now)))",
             ("tests/integration/test_push_converted_lead.py",)),
    # -- found by hunting: rules the existing suite already guards --------------------------------------
    Mutation("R4b: ties go to the highest id", "conversion_sync/sync/model.py",
             "return (self.updated_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), -self.key)",
             "return (self.updated_at or dt.datetime.min.replace(tzinfo=dt.timezone.utc), self.key)",
             ("tests/integration/test_pull_matching.py::test_r4b_the_most_recently_updated_candidate_wins_ties_to_the_lowest_id",)),
    Mutation("R4b: the least recently updated wins", "conversion_sync/sync/pull.py",
             "contact = max(candidates, key=ContactState.recency)", "contact = min(candidates, key=ContactState.recency)",
             ("tests/integration/test_pull_matching.py::test_r4b_the_most_recently_updated_candidate_wins_ties_to_the_lowest_id",)),
    Mutation("R5: unless-empty takes an empty value", "conversion_sync/sync/fields.py",
             "    if preference is Preference.PREFER_SALESFORCE_UNLESS_EMPTY and sf_value is None:\n        return False\n",
             "",
             ("tests/unit/test_fields.py::test_pull_preferences_once_the_gate_is_open",)),
    Mutation("R5: always_prefer_conversion overwritten on pull", "conversion_sync/sync/fields.py",
             "    if preference in (Preference.DO_NOT_SYNC, Preference.ALWAYS_PREFER_CONVERSION):\n        return False\n    if not gate_open",
             "    if preference in (Preference.DO_NOT_SYNC,):\n        return False\n    if not gate_open",
             ("tests/unit/test_fields.py::test_pull_preferences_once_the_gate_is_open",)),
    Mutation("R5: the gate ignored", "conversion_sync/sync/fields.py",
             "    return field_updated_at is None or record_modified > field_updated_at",
             "    return True",
             ("tests/unit/test_fields.py::test_the_gate_keeps_a_newer_conversion_edit",)),
    Mutation("R5: the mirror ignored on pull", "conversion_sync/sync/fields.py",
             "    if mirror_value is not _UNSEEN and normalize_value(mirror_value) == sf_value:\n        return False\n",
             "",
             ("tests/unit/test_fields.py::test_a_value_salesforce_did_not_change_is_never_taken",)),
    Mutation("R5: unless-empty pushes over a value", "conversion_sync/sync/fields.py",
             "        return is_empty(salesforce_value) and value is not None",
             "        return value is not None",
             ("tests/unit/test_fields.py::test_push_preferences_for_a_newer_conversion_edit",)),
    Mutation("R6: a cleared AccountId keeps the company", "conversion_sync/sync/pull.py",
             "        target = self.companies.get(record.account_id) if record.account_id else None\n",
             "        if not record.account_id:\n            return\n        target = self.companies.get(record.account_id)\n",
             ("tests/integration/test_pull_lifecycle.py::test_r6_each_account_is_a_company_and_contacts_follow_their_account",)),
    Mutation("R6: a changed AccountId does not move", "conversion_sync/sync/pull.py",
             "        if contact.company_id == target_key:\n            return\n        self._move",
             "        if contact.company_id is not None:\n            return\n        self._move",
             ("tests/integration/test_pull_lifecycle.py::test_r6_each_account_is_a_company_and_contacts_follow_their_account",)),
    Mutation("R8: a delete does not unlink", "conversion_sync/sync/pull.py",
             '            self._unlink(contact, record, reason=f"{record.sobject} deleted in Salesforce")',
             "            pass",
             ("tests/integration/test_pull_lifecycle.py::test_r8_a_deleted_record_unlinks_its_contact_which_is_kept",)),
    Mutation("R2: no lookback", "conversion_sync/sync/windows.py",
             "live_watermark - dt.timedelta(seconds=lookback_seconds)", "live_watermark",
             ("tests/unit/test_windows.py::test_an_incremental_window_starts_a_lookback_before_the_watermark",)),
    Mutation("R2: applied state ignores the modstamp", "conversion_sync/store/staging.py",
             "already_applied = (row.applied_modstamp == record.system_modstamp and row.applied_fields == record.fields)",
             "already_applied = row.applied_fields == record.fields",
             ("tests/integration/test_pull_lifecycle.py::test_r6_each_account_is_a_company_and_contacts_follow_their_account",
              "tests/integration/test_pull_lifecycle.py::test_r8_a_deleted_record_unlinks_its_contact_which_is_kept")),
]


def _pytest(tests: tuple[str, ...] | list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           "-k", "not postgres", *tests], cwd=ROOT, capture_output=True, text=True)


def run(mutation: Mutation) -> bool:
    """True when every test listed for the mutation fails with it applied."""
    path = ROOT / mutation.path
    original = path.read_text()
    if original.count(mutation.old) != 1:
        print(f"?? {mutation.name}: the code to mutate is not in {mutation.path} exactly once (moved?)")
        return False
    survived_by = []
    try:
        path.write_text(original.replace(mutation.old, mutation.new))
        for test in mutation.tests:
            if _pytest([test]).returncode == 0:
                survived_by.append(test)
    finally:
        path.write_text(original)
    killed = not survived_by
    print(f"{'killed  ' if killed else 'SURVIVED'} {mutation.name}"
          + "".join(f"\n    passes anyway: {test}" for test in survived_by))
    return killed


def main(prefixes: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not prefixes or any(m.name.startswith(p) for p in prefixes)]
    clean = _pytest(sorted({test for m in chosen for test in m.tests}))
    if clean.returncode != 0:
        print("the tests fail without any mutation; fix them first\n" + clean.stdout[-3000:])
        return 2
    survived = [m.name for m in chosen if not run(m)]
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
