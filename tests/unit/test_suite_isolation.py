"""The suite never writes into the checkout's own state (scripts/demo's Dagster instance in
.dagster_home, its data/ folder): every process a test starts has the test's DAGSTER_HOME and data
folder, and one started without them is refused (tests/conftest.py's guard)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import CHECKOUT

PRINT_HOMES = "import os; print(os.environ['DAGSTER_HOME']); print(os.environ['CONVERSION_SYNC_DATA_DIR'])"


def test_a_process_a_test_starts_gets_the_tests_dagster_home_and_data_folder(tmp_path):
    done = subprocess.run([sys.executable, "-c", PRINT_HOMES], capture_output=True, text=True, check=True)
    home, data = done.stdout.split()
    assert home.startswith(str(tmp_path)) and data.startswith(str(tmp_path))


@pytest.mark.parametrize("name", ["DAGSTER_HOME", "CONVERSION_SYNC_DATA_DIR"])
def test_a_process_started_without_its_own_home_is_refused(name):
    env = {k: v for k, v in os.environ.items() if k != name}
    with pytest.raises(RuntimeError, match=f"without {name}"):
        subprocess.run([sys.executable, "-c", "pass"], env=env)


def test_a_process_started_on_the_checkouts_own_state_is_refused():
    env = {**os.environ, "DAGSTER_HOME": str(CHECKOUT / ".dagster_home")}
    with pytest.raises(RuntimeError, match="inside the checkout's own state"):
        subprocess.run([sys.executable, "-c", "pass"], env=env)
