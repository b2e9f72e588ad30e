"""Push latency in the running demo (H3 target: 10 s on average): add a contact with
`--sync-to-salesforce` through the CLI and time until the sandbox org holds a record with its email.

    scripts/demo &            # in another shell
    .venv/bin/python bench/push_latency.py --samples 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

from simple_salesforce import format_soql

from conversion_sync.config import data_dir, read_env_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    env_file = data_dir() / "sandbox" / "sandbox.env"   # where scripts/demo's sandbox org writes its settings
    env = read_env_file(env_file)
    cli_env = {**os.environ, "CONVERSION_SYNC_ENV_FILE": str(env_file)}
    from sandbox_org.admin_client import SandboxAdminClient

    admin = SandboxAdminClient(env["SALESFORCE_INSTANCE_URL"], env["CONVERSION_SANDBOX_ADMIN_TOKEN"],
                               env["SALESFORCE_CA_BUNDLE"])
    latencies = []
    for sample in range(args.samples):
        email = f"latency-{uuid.uuid4().hex[:10]}@example.com"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "conversion_sync.cli", "contacts", "add", "--email", email,
                        "--last-name", "Latency", "--sync-to-salesforce"], check=True, capture_output=True,
                       env=cli_env)
        while not admin.query(format_soql("SELECT Id FROM Lead WHERE Email = {}", email)):
            if time.monotonic() - started > args.timeout:
                print(f"sample {sample}: not in Salesforce after {args.timeout:.0f} s", file=sys.stderr)
                return 1
            time.sleep(0.2)
        latencies.append(time.monotonic() - started)
        print(f"sample {sample + 1}: {latencies[-1]:.1f} s", flush=True)
        time.sleep(1)
    print(f"push latency over {len(latencies)} contacts: mean {statistics.mean(latencies):.1f} s, "
          f"median {statistics.median(latencies):.1f} s, max {max(latencies):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
