"""`lbp-assess score`: formats, inputs, error rows that do not stop the batch, exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil

from helpers import EXAMPLES

SPEC_FIELDS = ["id", "file", "classification", "urgency", "conditions", "alerts", "unscreened",
               "warnings", "rules_fired", "rules_version", "error"]
RADICULAR = EXAMPLES / "cases" / "radicular-l5.yaml"


def test_jsonl_rows_have_the_spec_fields(cli):
    run = cli("score", str(RADICULAR), "--format", "jsonl")
    assert run.code == 0
    (row,) = [json.loads(line) for line in run.out.splitlines()]
    assert list(row)[:len(SPEC_FIELDS)] == SPEC_FIELDS
    assert row["classification"] == "radicular" and row["urgency"] == "routine"
    assert row["conditions"] == [] and row["error"] is None
    assert "msk.radicular.likely" in row["rules_fired"]
    assert row["rules_version"].startswith("lbp-default 2.0.0 sha256:")


def test_default_format_is_jsonl_when_not_a_terminal(cli):
    run = cli("score", str(RADICULAR))
    assert json.loads(run.out)["id"] == "radicular-l5"


def test_json_csv_and_table_formats_carry_the_same_results(cli):
    jsonl = [json.loads(line) for line in cli("score", str(EXAMPLES / "cases")).out.splitlines()]
    as_json = json.loads(cli("score", str(EXAMPLES / "cases"), "--format", "json").out)
    assert as_json == jsonl
    rows = list(csv.DictReader(io.StringIO(cli("score", str(EXAMPLES / "cases"), "-f", "csv").out)))
    assert [r["classification"] for r in rows] == [r["classification"] for r in jsonl]
    unscreened = next(r for r in rows if r["id"] == "unscreened-red-flags")
    assert unscreened["unscreened"].split(";")[0] == "cauda_equina.urinary_retention"
    table = cli("score", str(EXAMPLES / "cases"), "-f", "table").out
    assert "ces-saddle-numbness" in table and "emergency" in table


def test_bad_files_become_error_rows_and_the_batch_goes_on(tmp_path, cli):
    shutil.copy(RADICULAR, tmp_path / "a-good.yaml")
    (tmp_path / "b-bad.yaml").write_text("format: lbp-case/1\nid: x\npatient:\n  age: 12\n")
    (tmp_path / "c-more.jsonl").write_text(
        json.dumps({"format": "lbp-case/1", "id": "j1"}) + "\n"
        + "{not json\n"
        + json.dumps({"format": "lbp-case/1", "id": "j3", "pain": {"leg_side": "up"}}) + "\n"
        + json.dumps({"format": "lbp-case/1", "id": "j4"}) + "\n")
    (tmp_path / "notes.txt").write_text("ignored: not a case file suffix")
    run = cli("score", str(tmp_path), "-f", "jsonl")
    assert run.code == 1
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["id"] for r in rows] == ["radicular-l5", None, "j1", None, None, "j4"]
    bad = rows[1]
    assert bad["error"] == f"{tmp_path}/b-bad.yaml:4:8: patient.age: lbp-assess is for adults: age must be 16 " \
                           "or over (got 12)"
    assert all(bad[k] is None for k in SPEC_FIELDS if k not in ("file", "error"))
    assert rows[3]["file"] == f"{tmp_path}/c-more.jsonl:2"
    assert rows[3]["error"].startswith(f"{tmp_path}/c-more.jsonl:2: JSON syntax error")
    assert rows[4]["error"].startswith(f"{tmp_path}/c-more.jsonl:3: pain.leg_side: 'up' is not allowed")
    assert "b-bad.yaml:4:8" in run.err and "Traceback" not in run.err


def test_standard_input_yaml_and_jsonl(cli):
    run = cli("score", "-", stdin=RADICULAR.read_bytes())
    assert run.code == 0 and json.loads(run.out)["file"] == "<stdin>"
    lines = (json.dumps({"format": "lbp-case/1", "id": "s1"}) + "\n" + json.dumps({"format": "lbp-case/1",
             "id": "s2", "cauda_equina": {"saddle_numbness": True}}) + "\n").encode()
    rows = [json.loads(line) for line in cli("score", "-", stdin=lines).out.splitlines()]
    assert [(r["file"], r["urgency"]) for r in rows] == [("<stdin>:1", "routine"), ("<stdin>:2", "emergency")]


def test_output_file_is_never_overwritten_without_force(tmp_path, cli):
    out = tmp_path / "results.jsonl"
    assert cli("score", str(RADICULAR), "-o", str(out)).code == 0
    first = out.read_text()
    out.write_text("keep me")
    run = cli("score", str(RADICULAR), "-o", str(out))
    assert run.code == 1 and "already exists; use --force to overwrite" in run.err
    assert out.read_text() == "keep me"
    assert cli("score", str(RADICULAR), "-o", str(out), "--force").code == 0
    assert out.read_text() == first
    assert [p.name for p in tmp_path.iterdir()] == ["results.jsonl"]  # no temporary files left


def test_usage_errors_exit_2(cli):
    assert cli("score").code == 2
    assert cli("score", str(RADICULAR), "--format", "xml").code == 2
    assert cli("nonsense").code == 2


def test_missing_path_is_an_error_row(cli, tmp_path):
    run = cli("score", str(tmp_path / "missing.yaml"))
    assert run.code == 1 and json.loads(run.out)["error"].endswith("missing.yaml: no such file")


def test_version(cli):
    from lbp_assess import __version__

    run = cli("--version")
    assert run.code == 0 and run.out.strip() == f"lbp-assess {__version__}"


def test_scoring_to_a_machine_format_starts_without_rich_or_the_questionnaire():
    """Start-up is part of every `score` run (docs/performance.md): the JSON Lines, JSON and CSV
    paths import neither rich (the table and progress bar) nor the questionnaire (the interview),
    and still score. The table format does draw with rich. PyYAML, which keeps positions for
    messages, is not imported while the rules and the case have nothing to report."""
    import subprocess
    import sys

    probe = ("import sys\nfrom lbp_assess.cli.main import main\nsys.argv = ['lbp-assess', 'score', *sys.argv[1:]]\n"
             "try:\n    main()\nexcept SystemExit as end:\n    code = end.code\n"
             "print(code, *sorted(m for m in ('rich', 'lbp_assess.engine.questionnaire', 'lbp_assess.teach.practice', 'yaml')"
             " if m in sys.modules), file=sys.stderr)\n")
    for fmt, heavy in (("jsonl", []), ("csv", []), ("json", []), ("table", ["rich"])):
        run = subprocess.run([sys.executable, "-c", probe, str(RADICULAR), "-f", fmt, "-q", "--jobs", "1"],
                             capture_output=True, text=True, check=False)
        code, *imported = run.stderr.split()
        assert code == "0" and "radicular-l5" in run.stdout, (fmt, run.stderr)
        assert imported == heavy, fmt


def test_no_third_party_pydantic_plugin_hooks_into_validating_cases(tmp_path):
    """A pydantic plugin installed beside lbp-assess (an entry point in the `pydantic` group) would see
    and could alter the validation of every case and rule file: the command line runs without plugins.
    The same plugin does load in plain pydantic, so the test would notice one running."""
    import os
    import subprocess
    import sys

    marker = tmp_path / "plugin-ran"
    (tmp_path / "spy_plugin.py").write_text(
        "import pathlib\n"
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        f"        pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "        return None, None, None\n"
        "plugin = Spy()\n")
    dist = tmp_path / "spy_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"} | {"PYTHONPATH": str(tmp_path)}

    control = ("import pydantic\nclass M(pydantic.BaseModel):\n    x: int\nM(x=1)\n")
    subprocess.run([sys.executable, "-c", control], env=env, check=True)
    assert marker.exists(), "the spy plugin loads in plain pydantic"
    marker.unlink()
    for args in (["score", str(RADICULAR), "-f", "jsonl"], ["note", str(RADICULAR)], ["rules", "check"]):
        run = subprocess.run([sys.executable, "-m", "lbp_assess", *args], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert not marker.exists(), args


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_table_at_80_columns_hides_no_red_flag_and_no_id(cli, monkeypatch):
    """At 80 columns the table cut "cauda_equina (emergency), m…" (a second emergency, malignancy,
    hidden), "ces_safety_net, ces…" (the urgent alert that set the urgency) and ids to
    "v25-cancer-with-leg…". What was raised and the id now wrap onto more lines instead."""
    import pytest

    pytest.importorskip("rich")
    from lbp_assess.cli.score_table import render_table

    paths = [EXAMPLES / "vignettes" / "v25-cancer-with-leg-weakness.yaml",
             EXAMPLES / "vignettes" / "v31-progressive-weakness.yaml",
             EXAMPLES / "cases" / "bilateral-sciatica-ces-at-risk.yaml"]
    rows = [json.loads(line) for line in cli("score", *map(str, paths), "-f", "jsonl").out.splitlines()]
    assert any(len(row["conditions"]) > 1 for row in rows)
    for columns in (80, 120):
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("TERM", "dumb")
        out = _Terminal()
        render_table(rows, out)
        lines = out.getvalue().splitlines()
        assert all(len(line) <= columns for line in lines), out.getvalue()
        header = next(line for line in lines if line.strip())
        ids, raised = header.index("class"), header.index("conditions")
        body = lines[lines.index(header) + 2:]
        id_column = "".join(line[:ids].strip() for line in body)  # each column's wrapped cells, read back
        raised_column = "".join("".join(line[raised:].split()) for line in body)
        for row in rows:
            assert row["id"] in id_column, (columns, row["id"], out.getvalue())
            for name, tier in row["condition_tiers"].items():
                assert f"{name}({tier})" in raised_column, (columns, name, out.getvalue())
            for name in row["alerts"]:
                assert name in raised_column, (columns, name, out.getvalue())
        assert "…" not in out.getvalue()
