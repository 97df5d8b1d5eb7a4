"""Import benchmark: N demo deals exported in each format, then imported into an empty organization.

For each format, in fresh processes of the real command (`opportunity-gateway export` / `import`):
the export of N deals, the import of that file into an empty organization (every deal created,
with its related records matched or created), and the same import again (every deal unchanged).
Wall time and the peak RSS of each process (os.wait4), on SQLite (a file in a temporary
directory) and, with --pg-url, on a fresh PostgreSQL database.

    .venv/bin/python bench/bench_import.py --opportunities 100000 --out bench/results-import.md \\
        [--pg-url postgresql+asyncpg://postgres@127.0.0.1:55440/postgres [--no-sqlite]] [--formats apideck,oro]

A benchmark, not a test: it measures and records; nothing asserts a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "app"]
FORMATS = ("oro", "apideck", "overplane", "onlyoffice", "nexudus")


def run(args: list[str], url: str, out: Path | None = None) -> tuple[float, float]:
    """Run the command; (seconds, peak RSS in MB) of that one process."""
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    with open(out or os.devnull, "wb") as sink:
        proc = subprocess.Popen([*CLI, *args], env=env, cwd=ROOT, stdout=sink, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    sys.stderr.write(err.decode().splitlines()[-1] + "\n" if err else "")
    return seconds, usage.ru_maxrss / 1024


def _load() -> str:
    """The machine's 1-minute load average as the step ends (2 cores, shared)."""
    return f"{os.getloadavg()[0]:.1f}"


def bench(url: str, label: str, n: int, formats: list[str], tmp: Path) -> list[str]:
    rows = []
    t, rss = run(["seed", "--opportunities", str(n), "--organization", "Acme Demo", "--no-progress"], url)
    rows.append(f"| {label} | seed | {n} | {t:.1f} | {rss:.0f} | {n / t:.0f} | {_load()} |")
    for fmt in formats:
        path = tmp / f"{fmt}.json"
        t, rss = run(["export", "--format", fmt, "--output", str(path), "--no-progress"], url)
        size = path.stat().st_size / 1e6
        rows.append(
            f"| {label} | {fmt} export ({size:.0f} MB) | {n} | {t:.1f} | {rss:.0f} | {n / t:.0f} | {_load()} |"
        )
        imp = ["import", "--format", fmt, str(path), "--organization", f"Bench {fmt}", "--no-progress"]
        t, rss = run(imp, url)
        rows.append(
            f"| {label} | {fmt} import, all created | {n} | {t:.1f} | {rss:.0f} | {n / t:.0f} | {_load()} |"
        )
        t, rss = run(imp, url)
        rows.append(
            f"| {label} | {fmt} import again, all unchanged | {n} | {t:.1f} | {rss:.0f} | {n / t:.0f} | {_load()} |"
        )
        print("\n".join(rows[-3:]), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--opportunities", type=int, default=100_000)
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--pg-url", default=None)
    p.add_argument("--no-sqlite", action="store_true", help="only PostgreSQL (with --pg-url)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    formats = args.formats.split(",")
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            run(["migrate"], url)
            rows += bench(url, "SQLite", args.opportunities, formats, Path(tmp))
        if args.pg_url:
            import asyncio

            import asyncpg

            server = make_url(args.pg_url)
            name = f"og_bench_import_{os.getpid()}"

            async def admin(sql: str) -> None:
                conn = await asyncpg.connect(
                    host=server.host, port=server.port, user=server.username, database=server.database
                )
                try:
                    await conn.execute(sql)
                finally:
                    await conn.close()

            asyncio.run(admin(f'CREATE DATABASE "{name}"'))
            try:
                url = server.set(database=name).render_as_string(hide_password=False)
                run(["migrate"], url)
                rows += bench(url, "PostgreSQL", args.opportunities, formats, Path(tmp))
            finally:
                asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
    table = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}.",
        "",
        "| database | step | deals | seconds | peak RSS (MB) | deals/s | load avg |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    text_out = "\n".join(table) + "\n"
    print(text_out)
    if args.out:
        args.out.write_text(text_out)


if __name__ == "__main__":
    main()
