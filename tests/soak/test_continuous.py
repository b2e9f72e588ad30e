"""Continuous operation (issue 8): many real sync cycles through a life of edits, conversions,
merges, deletes, CLI and CSV entries, SIGKILLs of the sync and of the CLI, a drifting org clock
and injected faults; then both sides must agree (see tests/soak/checks.py for each check).

The CI profile runs on SQLite and on PostgreSQL (production): a few minutes in all. The seed is
printed; CONVERSION_SOAK_SEED=N reproduces a run, CONVERSION_SOAK_LONG=1 (or
CONVERSION_SOAK_CYCLES=N) soaks longer, CONVERSION_SOAK_EDIT_BESIDE_UNSENT=1 lets Salesforce users
edit a record while a Conversion edit of another of its fields is unsent, and
`python bench/soak.py --long` runs it standalone.
"""

from __future__ import annotations

import pytest

from tests.soak import checks
from tests.soak.driver import Profile, SoakDriver, seed_from_env


@pytest.mark.slow
def test_continuous_operation_leaves_both_sides_in_step(sandbox, database_url, monkeypatch, tmp_path, capsys):
    seed = seed_from_env()
    driver = SoakDriver(sandbox.org, sandbox.env(), database_url, tmp_path / "soak", seed=seed,
                        profile=Profile.from_env(), log=lambda line: print(line, flush=True))
    for name, value in driver.env.items():
        monkeypatch.setenv(name, value)
    try:
        driver.run()
        problems = checks.compare(driver)
    finally:
        sandbox.org.clear_faults()
        driver.close()
    lines = checks.figure_lines(driver, problems)
    with capsys.disabled():
        print("\n" + "\n".join(f"soak[{database_url.split(':')[0]}] {line}" for line in lines))
    failures = [f"{name} = {len(items)} (likely {checks.HINTS[name]}; seed {seed}):\n    " + "\n    ".join(items[:15])
                for name, items in problems.items() if items]
    assert not failures, "continuous operation diverged:\n" + "\n".join(failures)
