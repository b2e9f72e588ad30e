"""`sandbox-org` / `python -m sandbox_org` (also `conversion-sync sandbox`): run the sandbox org.

Starts the HTTPS server, fills the org with demo data (or loads a snapshot with `--persist`),
writes the CA file and an env file with the SALESFORCE_* settings, prints the credentials and then
the line `sandbox org ready at https://...`, and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from . import snapshot
from .activity import ActivitySimulator
from .generator import generate_demo_org
from .org import SandboxOrg
from .testing import Sandbox
from .usage import DEFAULT_DAILY_LIMIT

logger = logging.getLogger(__name__)

SNAPSHOT_FILE = "snapshot.json.gz"


def default_state_dir() -> Path:
    """`$CONVERSION_SYNC_DATA_DIR/sandbox` when set, else `./data/sandbox`."""
    base = os.environ.get("CONVERSION_SYNC_DATA_DIR", "").strip()
    return (Path(base) if base else Path("data")) / "sandbox"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox-org",
                                     description="Run the sandbox Salesforce org (a local HTTPS server that speaks "
                                                 "the Salesforce REST API subset conversion-sync uses).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks a free port)")
    parser.add_argument("--accounts", type=int, default=200, help="demo Accounts to generate (default 200)")
    parser.add_argument("--contacts", type=int, default=1000, help="demo Contacts to generate (default 1000)")
    parser.add_argument("--leads", type=int, default=1000, help="demo Leads to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the demo data (default 1)")
    parser.add_argument("--history-days", type=int, default=30, help="spread demo timestamps over this many days")
    parser.add_argument("--activity", action=argparse.BooleanOptionalAction, default=False,
                        help="simulate users creating, editing, converting, merging and deleting records")
    parser.add_argument("--activity-interval", type=float, default=5.0, help="seconds between activity bursts")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="CA file, env file and snapshot (default $CONVERSION_SYNC_DATA_DIR/sandbox or "
                             "./data/sandbox)")
    parser.add_argument("--env-file", type=Path, default=None, help="env file to write (default <state-dir>/sandbox.env)")
    parser.add_argument("--daily-api-limit", type=int, default=DEFAULT_DAILY_LIMIT,
                        help=f"daily API request allocation (default {DEFAULT_DAILY_LIMIT})")
    parser.add_argument("--persist", action="store_true",
                        help="load <state-dir>/snapshot.json.gz at start if present and save it on exit")
    parser.add_argument("--fresh", action="store_true", help="with --persist: ignore an existing snapshot")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return parser


def write_env_file(path: Path, sandbox: Sandbox) -> None:
    """KEY=value lines for the product (mode 600: it holds secrets)."""
    values = {**sandbox.env(), "CONVERSION_SANDBOX_ADMIN_TOKEN": sandbox.admin_token}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()), encoding="utf-8")
    path.chmod(0o600)


def _org(args: argparse.Namespace, state_dir: Path) -> tuple[SandboxOrg, str]:
    snap = state_dir / SNAPSHOT_FILE
    if args.persist and snap.is_file() and not args.fresh:
        return snapshot.load(snap, args.daily_api_limit), f"loaded from {snap}"
    org = SandboxOrg(daily_api_limit=args.daily_api_limit)
    summary = generate_demo_org(org, accounts=args.accounts, contacts=args.contacts, leads=args.leads,
                                seed=args.seed, history_days=args.history_days)
    return org, ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.items())


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox org until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state_dir = (args.state_dir or default_state_dir()).resolve()
    env_file = (args.env_file or state_dir / "sandbox.env").resolve()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        org, origin = _org(args, state_dir)
    except (OSError, ValueError) as exc:
        print(f"sandbox-org: cannot prepare the state directory {state_dir}: {exc}", file=sys.stderr)
        return 2
    try:
        sandbox = Sandbox(host=args.host, port=args.port, state_dir=state_dir, org=org).start()
    except OSError as exc:
        print(f"sandbox-org: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
              f"choose another --port (0 picks a free one).", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    simulator = ActivitySimulator(org, seed=args.seed, interval_seconds=args.activity_interval) if args.activity else None
    try:
        write_env_file(env_file, sandbox)
        print(f"instance URL:   {sandbox.instance_url}")
        print(f"client id:      {sandbox.client_id}")
        print(f"client secret:  {sandbox.client_secret}")
        print(f"username:       {sandbox.username}")
        print(f"password:       {sandbox.password}  (security token: {sandbox.security_token})")
        print(f"access token:   {sandbox.access_token}")
        print(f"admin token:    {sandbox.admin_token}")
        print(f"CA file:        {sandbox.ca_path}")
        print(f"env file:       {env_file}")
        print(f"data:           {origin}")
        if simulator:
            simulator.start()
            print(f"activity:       on, every {args.activity_interval:g}s")
        print(f"sandbox org ready at {sandbox.instance_url}", flush=True)
        stop.wait()
    finally:
        if simulator:
            simulator.stop()
        if args.persist:
            snapshot.save(org, state_dir / SNAPSHOT_FILE)
        sandbox.stop()
    print("sandbox org stopped", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
