"""README's "A live board": a subscriber block and a mover block, run as written.

The blocks run as subprocesses against the app under uvicorn on the demo data (only the port
differs from README's 8000); every wait is bounded (STEP per step, WHOLE for the run) and the
scripts are killed at the end, so the test fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

from app.cli import DEMO_ADMIN, DEMO_ORGANIZATION
from app.demo import seed_demo
from app.enums import Role
from tests.live import live_server
from tests.support import make_tenant

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def live_board_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## A live board\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


def test_the_live_board_has_a_subscriber_and_a_mover() -> None:
    subscriber, mover = live_board_blocks()
    assert "opportunityChanged(filter:" in subscriber and "graphql-transport-ws" in subscriber
    assert "moveOpportunity(" in mover


# every wait of the run below is bounded: a hang fails the test, it never stalls the suite
STEP = 30.0
WHOLE = 120.0


async def _kill(process: asyncio.subprocess.Process) -> None:
    """The script and the python it started (its own process group), which holds the pipe too."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    async with asyncio.timeout(STEP):
        await process.wait()


async def _line(stream: asyncio.StreamReader) -> str:
    async with asyncio.timeout(STEP):
        raw = await stream.readline()
    assert raw, "the subscriber script ended"
    return raw.decode().strip()


async def _started(live: Any, organization_id: int) -> None:
    """The subscription has taken its starting position (its feed's first read is done), so a
    move made now is delivered: the script says "listening" before the server has read it."""
    async with asyncio.timeout(STEP):
        while (feed := live.fanout.feeds.get(organization_id)) is None or feed.head is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _script(block: str, port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    """A README block run by bash as written, pointed at this server's port, in its own group."""
    return await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        block.replace(":8000/", f":{port}/"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def test_the_live_board_runs_as_written(database_url: str) -> None:
    subscriber, mover = live_board_blocks()
    async with asyncio.timeout(WHOLE), live_server(database_url) as server:
        engine = server.app.state.engine
        await seed_demo(engine, opportunities=200, seed=0, progress=False)  # what `serve --demo` seeds
        demo = await make_tenant(engine, DEMO_ORGANIZATION, Role.ADMIN, email=DEMO_ADMIN)
        env = {**os.environ, "KEY": demo.key}
        listening = await _script(subscriber, server.port, env)
        try:
            assert listening.stdout is not None
            assert await _line(listening.stdout) == "listening"
            await _started(server.app.state.live, demo.organization_id)
            moving = await _script(mover, server.port, env)
            try:
                async with asyncio.timeout(STEP):
                    out, _ = await moving.communicate()
            finally:
                await _kill(moving)
            assert moving.returncode == 0, out.decode()
            moved = json.loads(out.decode().strip().splitlines()[-1])
            assert moved["errors"] == [] and moved["opportunity"]["position"] >= 1, moved
            title = moved["opportunity"]["title"]
            # the moved card's event (the cards that closed ranks behind it come in the same commit)
            events: list[dict[str, Any]] = []
            while not any(e["opportunity"] and e["opportunity"]["title"] == title for e in events):
                events.append(json.loads(await _line(listening.stdout)))
            event = next(e for e in events if e["opportunity"]["title"] == title)
            assert event["kind"] == "UPDATED"
            assert event["opportunity"]["stage"]["name"] == moved["opportunity"]["stage"]["name"]
            assert "stage" in {c["field"] for c in event["changes"]}
            assert all(e["kind"] == "UPDATED" for e in events)
        finally:
            await _kill(listening)
        # the subscriber is gone: its operation ends and gives its connection back, before shutdown
        live = server.app.state.live
        async with asyncio.timeout(STEP):
            while live.databases:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
