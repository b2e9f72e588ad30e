"""A throwaway PostgreSQL cluster for the benchmarks (bench/run.py, bench/push_during_pull.py), as
scripts/_postgres.sh starts one for the tests: its URL, a second database for the floor, its
statement log and plans on request, and the CPU its processes used."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class Postgres:
    """A throwaway cluster, as scripts/_postgres.sh starts one for the tests."""

    def __init__(self, log_ms: int | None = None, log_to: str = "", explain_ms: int | None = None,
                 settings: list[str] | None = None) -> None:
        self.log_to = log_to
        base = Path("/usr/lib/postgresql")
        version = sorted(os.listdir(base), key=lambda v: [int(p) for p in v.split(".") if p.isdigit()])[-1]
        self.bin = base / version / "bin"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = tempfile.mkdtemp(prefix="bench-pg-")
        self.as_user: list[str] = []
        if os.getuid() == 0:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.data, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.data, 0o700)
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", self.data, "-l", f"{self.data}/server.log",
                        "-w", "-t", "60", "-o", f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c max_connections=50"
                        + "".join(f" -c {setting}" for setting in settings or [])
                        + (f" -c log_min_duration_statement={log_ms}" if log_ms is not None else "")
                        + (" -c session_preload_libraries=auto_explain -c auto_explain.log_analyze=on"
                           f" -c auto_explain.log_buffers=on -c auto_explain.log_min_duration={explain_ms}"
                           if explain_ms is not None else ""), "start"],
                       check=True, capture_output=True)
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run([*self.as_user, str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "postgres", "-c", "CREATE DATABASE floor"], check=True, capture_output=True)
        self.floor_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/floor"

    def cpu_seconds(self) -> float:
        """CPU seconds the cluster's processes used so far: the postmaster, its live children, and
        the children it has reaped (each backend that ended). Less noisy than wall time on a
        shared machine: what the database did for a workload, whatever else ran beside it."""
        tick = os.sysconf("SC_CLK_TCK")
        with open(f"{self.data}/postmaster.pid") as handle:
            postmaster = int(handle.readline())
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, parent = int(entry), int(fields[1])
            if pid == postmaster:
                total += sum(int(v) for v in fields[11:15])    # utime, stime, cutime, cstime
            elif parent == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def create_database(self, name: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "postgres", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop"],
                       capture_output=True)
        if self.log_to:
            shutil.copy(f"{self.data}/server.log", self.log_to)
        shutil.rmtree(self.data, ignore_errors=True)
