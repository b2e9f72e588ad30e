"""Standalone continuous-operation soak (issue 8): the very driver tests/soak runs in CI, on its
own sandbox org, a temporary Conversion database and a temporary DAGSTER_HOME; prints the
figures and exits 1 when a check finds a lost, duplicated or diverged person, a contact stuck
queued, a run left STARTED or a sensor that stopped scheduling.

    python bench/soak.py                      # the CI profile on SQLite, a random seed
    python bench/soak.py --seed 42            # reproduce a run
    python bench/soak.py --long               # 400 cycles, 40 sync kills (about half an hour)
    python bench/soak.py --cycles 1000 --database-url postgresql+psycopg2://.../soak
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox_org.testing import running_sandbox

from tests.soak import checks
from tests.soak.driver import Profile, SoakDriver, seed_from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="the seed to reproduce (default: CONVERSION_SOAK_SEED or random)")
    parser.add_argument("--long", action="store_true", help="the long profile (also CONVERSION_SOAK_LONG=1)")
    parser.add_argument("--cycles", type=int, help="number of sync cycles before settling")
    parser.add_argument("--kills", type=int, help="number of SIGKILLed `conversion-sync sync` runs")
    parser.add_argument("--edit-beside-unsent", action="store_true",
                        help="Salesforce users also edit a record while a Conversion edit of another of its fields "
                             "is unsent (also CONVERSION_SOAK_EDIT_BESIDE_UNSENT=1)")
    parser.add_argument("--database-url", help="an EMPTY Conversion database (default: a temporary SQLite file)")
    parser.add_argument("--verbose", action="store_true", help="Dagster's progress lines too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    profile = Profile.from_env(long=args.long)
    if args.cycles:
        profile.cycles = args.cycles
    if args.edit_beside_unsent:
        profile.edit_beside_unsent = True
    if args.kills is not None:
        profile.sync_kills = args.kills
    seed = args.seed if args.seed is not None else seed_from_env()
    work = Path(tempfile.mkdtemp(prefix="conversion-soak-"))
    url = args.database_url or f"sqlite:///{work / 'conversion.db'}"
    started = time.time()
    with running_sandbox() as sandbox:
        driver = SoakDriver(sandbox.org, sandbox.env(), url, work, seed=seed, profile=profile)
        os.environ.update(driver.env)
        try:
            driver.run()
            problems = checks.compare(driver)
        finally:
            driver.close()
    for line in checks.figure_lines(driver, problems):
        print(line)
    print(f"elapsed: {time.time() - started:.0f} s (work files in {work})")
    for name, items in problems.items():
        for item in items:
            print(f"  {name}: {item}  [likely {checks.HINTS[name]}]")
    return 1 if any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
