"""README's "A live board" runs as written: its subscriber in one process, its mover in another.

Both blocks run verbatim through bash against a real uvicorn server on the demo data (only
the port differs from README's 8000), with KEY set to the demo admin's key as `serve --demo`
prints it; the subscriber must print the move the mover made.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

from app.cli import DEMO_ADMIN, DEMO_ORGANIZATION
from app.demo import seed_demo
from app.enums import Role
from tests.live import WAIT, live_server
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


async def test_the_live_board_runs_as_written(database_url: str) -> None:
    subscriber, mover = live_board_blocks()
    async with live_server(database_url) as server:
        engine = server.app.state.engine
        await seed_demo(engine, opportunities=120, seed=0, progress=False)
        demo = await make_tenant(engine, DEMO_ORGANIZATION, Role.ADMIN, email=DEMO_ADMIN)
        env = {**os.environ, "KEY": demo.key, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

        def run(block: str) -> str:
            return block.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}")

        listening = await asyncio.create_subprocess_exec(
            "bash", "-c", run(subscriber), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert listening.stdout is not None
            async with asyncio.timeout(WAIT):
                assert await listening.stdout.readline() == b"listening\n"
            await asyncio.sleep(0.5)  # the subscription takes its starting position
            moving = await asyncio.create_subprocess_exec(
                "bash", "-c", run(mover), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await moving.communicate()
            assert moving.returncode == 0
            moved = json.loads(out)
            assert moved["errors"] == []
            async with asyncio.timeout(WAIT):
                event = json.loads(await listening.stdout.readline())
            assert event["kind"] == "UPDATED"
            assert event["opportunity"] == moved["opportunity"]
            assert "stage" in {c["field"] for c in event["changes"]}
        finally:
            listening.kill()
            await listening.wait()
