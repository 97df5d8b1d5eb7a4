"""The command line: migrate, seed, create-api-key, export-schema, and `python -m app`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.graphql.schema import build_schema
from tests.support import Api, running_app


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    main(list(argv))
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_create_api_key_prints_a_working_key_on_the_last_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    out, _ = _run(
        capsys,
        "create-api-key",
        "--organization",
        "Initech",
        "--user",
        "bill@initech.test",
        "--role",
        "viewer",
        "--role",
        "editor",
    )
    key = out.strip().splitlines()[-1]
    assert key.startswith("og_") and " " not in key
    again, _ = _run(
        capsys,
        "create-api-key",
        "--organization",
        "Initech",
        "--user",
        "bill@initech.test",
        "--role",
        "admin",
    )
    assert again.strip().splitlines()[-1] != key  # a second key for the same user, same organization

    async def ask() -> dict[str, object]:
        async with running_app(database_url) as (_, client):
            return await Api(client, key)("{ viewer { email } users { totalCount } }")

    assert asyncio.run(ask()) == {"viewer": {"email": "bill@initech.test"}, "users": {"totalCount": 1}}


def test_create_api_key_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["create-api-key", "--organization", "X", "--user", "a@b.c", "--role", "superuser"])
    assert exit_info.value.code == 2


def test_export_schema_writes_the_sdl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.graphql"
    _run(capsys, "export-schema", str(target))
    assert target.read_text(encoding="utf-8") == build_schema().as_str() + "\n"


def _seed_and_list(
    tmp_path: Path, name: str, seed: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    url = f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
    monkeypatch.setenv("DATABASE_URL", url)
    _, err = _run(capsys, "migrate")
    assert "migrated" in err
    _run(capsys, "seed", "--opportunities", "60", "--organization", "Seeded", "--seed", seed, "--no-progress")
    out, _ = _run(
        capsys, "create-api-key", "--organization", "Seeded", "--user", "qa@seeded.test", "--role", "admin"
    )
    key = out.strip().splitlines()[-1]

    async def titles() -> list[str]:
        async with running_app(url) as (_, client):
            data = await Api(client, key)(
                "{ opportunities(first: 100, orderBy: [{field: ID}]) { totalCount nodes { title amount } } }"
            )
        assert data["opportunities"]["totalCount"] == 60
        return [f"{n['title']} {n['amount']}" for n in data["opportunities"]["nodes"]]

    return asyncio.run(titles())


def test_migrate_then_seed_is_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _seed_and_list(tmp_path, "one", "7", monkeypatch, capsys)
    assert first == _seed_and_list(tmp_path, "two", "7", monkeypatch, capsys)
    assert first != _seed_and_list(tmp_path, "three", "8", monkeypatch, capsys)


def test_python_dash_m_app_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("serve", "migrate", "seed", "create-api-key", "export-schema"):
        assert command in result.stdout
