"""conversion-sync: a two-way sync between a Salesforce org and the Conversion contact database."""

import warnings as _warnings

# `backfill_policy` is marked beta in Dagster 1.13 but is what single-run range backfills need;
# the warning would otherwise print once per asset on every command.
_warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function `asset`")
