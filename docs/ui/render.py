"""Screenshots of the Dagster UI for docs/ui.md, rendered with headless Chromium (Debian's
`chromium` package). Reuses a UI already serving at --url; otherwise starts `scripts/demo` on free
ports, waits for its first sync run, renders, and stops the demo. Run it as `scripts/screenshots`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent

RUNS = """query($job: String!) { runsOrError(filter: {pipelineName: $job, statuses: [SUCCESS]}, limit: 1) {
  ... on Runs { results { runId startTime } } } }"""
NUX_SEEN = "mutation { setNuxSeen }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(str(body["errors"])[:500])
    return body["data"]


def _serving(url: str) -> bool:
    try:
        return requests.get(f"{url}/server_info", timeout=3).ok
    except requests.RequestException:
        return False


def _last_sync_run(url: str, since: float) -> str | None:
    """The last successful sync run that started after `since` (a fresh one: the pages show a
    sync that just ran, not an hour-old one that reads as stale)."""
    results = _graphql(url, RUNS, {"job": "sync_job"})["runsOrError"].get("results") or []
    return results[0]["runId"] if results and (results[0]["startTime"] or 0) >= since else None


def _start_demo(log: Path, fresh: bool) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "CONVERSION_SYNC_UI_PORT": str(port), "CONVERSION_SYNC_SANDBOX_PORT": str(_free_port())}
    handle = open(log, "w")  # noqa: SIM115 (the demo's output, open while it runs; closed when it stops)
    process = subprocess.Popen([str(ROOT / "scripts" / "demo"), *(["--fresh"] if fresh else [])], cwd=ROOT, env=env, stdout=handle,
                               stderr=subprocess.STDOUT, start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def _wait(what: str, check, seconds: float, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process is not None and process.poll() is not None:
            sys.exit(f"render.py: the demo stopped while waiting for {what}; see logs/")
        if time.monotonic() > deadline:
            sys.exit(f"render.py: no {what} within {int(seconds)} s")
        time.sleep(3)


def render(browser: str, url: str, path: Path, *, width: int = 1600, height: int = 1000) -> None:
    """One page, after its scripts and queries had time to finish (virtual time budget)."""
    with_profile = OUT / ".chromium-profile"
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--no-first-run", f"--user-data-dir={with_profile}", f"--window-size={width},{height}",
                    "--virtual-time-budget=40000", "--run-all-compositor-stages-before-draw",
                    f"--screenshot={path}", url], check=True, capture_output=True, timeout=180)
    shutil.rmtree(with_profile, ignore_errors=True)
    path = path.resolve()
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  <-  {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("CONVERSION_SYNC_UI_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--fresh", action="store_true",
                        help="start the demo with --fresh (a new org and empty database: what a newcomer sees)")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("render.py: needs Chromium (Debian: apt-get install -y chromium)")
    process, url, since = None, args.url.rstrip("/"), time.time()
    if not _serving(url):
        (ROOT / "logs").mkdir(exist_ok=True)
        process, url = _start_demo(ROOT / "logs" / "screenshots-demo.log", args.fresh)
        print(f"started scripts/demo (UI on {url}); waiting for its first sync run")
    try:
        _wait("Dagster UI", lambda: _serving(url), 300, process)
        _wait("successful sync run", lambda: _last_sync_run(url, since) is not None, 900, process)
        _graphql(url, NUX_SEEN)          # the "Join the Dagster community" dialog stays closed
        run_id = _last_sync_run(url, since)
        time.sleep(20)                   # the freshness daemon and the checks' history catch up
        args.out.mkdir(parents=True, exist_ok=True)
        pages = [("catalog.png", f"{url}/assets"),
                 ("asset_contacts.png", f"{url}/assets/contacts"),
                 ("asset_contacts_checks.png", f"{url}/assets/contacts?view=checks&checkDetail=duplicate_emails"),
                 ("asset_contacts_events.png", f"{url}/assets/contacts?view=events"),
                 ("run.png", f"{url}/runs/{run_id}"),
                 ("resync_launchpad.png", f"{url}/locations/conversion_sync/jobs/resync_job/playground")]
        for name, page in pages:
            render(browser, page, args.out / name)
    finally:
        if process is not None:
            os.killpg(process.pid, signal.SIGINT)          # the demo stops what it started on Ctrl-C
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
