"""The `import` and `export` commands: report lines, exit status, dry run, --filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main

SAMPLE = Path(__file__).parent / "samples" / "nexudus.json"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def test_import_reports_each_record_and_export_filters_by_external_id(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(
        ["create-api-key", "--organization", "Coworking", "--user", "host@coworking.test", "--role", "admin"]
    )
    capsys.readouterr()
    args = ["import", "--format", "nexudus", str(SAMPLE), "--organization", "Coworking", "--no-progress"]
    code, out, err = _run(capsys, *args, "--dry-run")
    dry = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # a refused record
    assert [(r["index"], r["id"], r["result"]) for r in dry] == [
        (0, "1001", "created"),
        (1, "1002", "created"),
        (2, "1003", "refused"),
    ]
    assert dry[2]["errors"][0]["property"] == "Status"
    assert err.strip().endswith("dry run: 2 created, 0 updated, 0 unchanged, 1 refused")
    code, out, _ = _run(capsys, *args)
    assert [json.loads(line) for line in out.splitlines()] == dry
    code, out, err = _run(capsys, *args)
    assert [json.loads(line)["result"] for line in out.splitlines()] == ["unchanged", "unchanged", "refused"]
    target = tmp_path / "out.json"
    flt = json.dumps({"externalId": {"source": {"eq": "nexudus"}, "externalId": {"in": ["1002"]}}})
    code, _, err = _run(
        capsys,
        "export",
        "--format",
        "nexudus",
        "--organization",
        "Coworking",
        "--filter",
        flt,
        "--output",
        str(target),
    )
    assert code == 0 and "exported 1 deals" in err
    doc = json.loads(target.read_text())
    assert doc["TotalItems"] == 1
    assert [(r["Id"], r["Status"], r["LossReason"], r["Value"]) for r in doc["Records"]] == [
        ("1002", "Lost", "Price", "200")
    ]


def test_export_refuses_a_filter_the_schema_does_not_take(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "oro", "--organization", "Nobody", "--filter", '{"titel": {"eq": "x"}}'])
    assert "--filter" in str(exit_info.value.code)
