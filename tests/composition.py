"""Apollo's composition and query planner from the npm registry, for the federation tests.

Installed with npm at test time into a cache directory (`OG_NPM_CACHE`, else the temp dir),
once per pinned set of versions; never shipped. The tests skip, saying why, only when the
registry cannot be reached, or when node and npm are missing outside CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

PACKAGES = ("@apollo/composition@2.14.4", "@apollo/query-planner@2.14.4", "graphql@16.15.0")
SCRIPT = Path(__file__).resolve().parent / "federation" / "compose.js"
# a guard against a hung install or script, not a measurement
INSTALL_SECONDS = 300
RUN_SECONDS = 120


def _modules() -> Path:
    """The node_modules holding PACKAGES: installed on first use, then reused."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = "node and npm are needed for Apollo composition (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs them (.ci/run): missing there is a broken set-up
        pytest.skip(missing)
    digest = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    root = Path(os.environ.get("OG_NPM_CACHE") or tempfile.gettempdir()) / f"og-apollo-composition-{digest}"
    modules = root / "node_modules"
    if (modules / ".complete").exists():
        return modules
    # installed beside, then renamed into place: a concurrent or interrupted run never sees half
    staging = Path(tempfile.mkdtemp(prefix="og-apollo-npm-", dir=root.parent))
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(staging), *PACKAGES],
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            if any(
                s in line for line in tail for s in ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT")
            ):
                pytest.skip("the npm registry cannot be reached: " + " / ".join(tail))
            raise RuntimeError("npm install failed:\n" + "\n".join(tail))
        (staging / "node_modules" / ".complete").touch()
        root.mkdir(exist_ok=True)
        if modules.exists() and not (modules / ".complete").exists():
            shutil.rmtree(modules, ignore_errors=True)  # an interrupted install's leftovers
        try:
            (staging / "node_modules").rename(modules)
        except OSError:
            if not (modules / ".complete").exists():  # not another run's complete install
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return modules


def compose(subgraphs: list[dict[str, str]], queries: list[str]) -> dict[str, Any]:
    """Compose `subgraphs` ({name, url, sdl}) and plan `queries`, as Apollo Router does.

    `{"errors": [...]}` when composition fails, else `{"supergraphSdl", "plans"}`, a plan being
    its fetches in order: `{serviceName, operation, requires, path}`.
    """
    modules = _modules()
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"subgraphs": subgraphs, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result
