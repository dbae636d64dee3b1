"""Batch scoring: order with any --jobs, errors mid-batch, --expect, --fail-on, progress."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbp_assess.base.text import counted
from lbp_assess.batch import chunks as work
from lbp_assess.cli.score_table import show_progress
from lbp_assess.inputs.cases import expand

from helpers import EXAMPLES, examples

CASES = EXAMPLES / "cases"


@pytest.fixture
def many(tmp_path, monkeypatch):
    """Several chunks of YAML files and JSON Lines, with bad input in the middle of each."""
    monkeypatch.setattr(work, "FILES_PER_CHUNK", 4)
    monkeypatch.setattr(work, "LINES_PER_CHUNK", 5)
    monkeypatch.setattr(work, "BYTES_PER_CHUNK", 200)  # a JSON Lines file in many byte ranges
    folder = tmp_path / "cases"
    folder.mkdir()
    sources = sorted(CASES.glob("*.yaml"))
    for i, src in enumerate(sources):
        shutil.copy(src, folder / f"{i:02d}-{src.name}")
    (folder / "08-bad.yaml").write_text("format: lbp-case/1\nid: bad\npatient:\n  age: [1, 2\n")
    lines = [json.dumps({"format": "lbp-case/1", "id": f"j{i}", "patient": {"age": 20 + i}}) for i in range(23)]
    lines[7] = '{"format": "lbp-case/1", "id": "broken"'
    lines[12] = json.dumps({"format": "lbp-case/1", "id": "typo", "cauda_equina": {"saddle_numness": True}})
    (folder / "bulk.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def rows_of(run):
    return [json.loads(line) for line in run.out.splitlines()]


def test_json_lines_byte_ranges_cover_every_line_once(many):
    chunks = list(work.file_spans(str(many / "bulk.jsonl")))
    assert len(chunks) > 5
    starts = [c.span[0] for c in chunks]
    ends = [c.span[1] for c in chunks]
    assert starts[0] == 0 and starts[1:] == ends[:-1] and ends[-1] == (many / "bulk.jsonl").stat().st_size
    assert [c.span[2] for c in chunks] == sorted(c.span[2] for c in chunks)


def test_output_order_is_the_same_whatever_the_jobs(cli, many):
    one = cli("score", str(many), "--jobs", "1", "-f", "jsonl")
    two = cli("score", str(many), "--jobs", "2", "-f", "jsonl")
    assert one.code == two.code == 1
    assert one.out == two.out
    files = [r["file"].rsplit("/", 1)[-1] for r in rows_of(one)]
    assert files[:2] == ["00-aortic-aneurysm.yaml", "01-bilateral-sciatica-ces-at-risk.yaml"]
    assert files.index("08-bad.yaml") == 8 and files[-1] == "bulk.jsonl:23"


def test_errors_mid_batch_are_reported_and_the_rest_scored(cli, many):
    run = cli("score", str(many), "--jobs", "2", "-f", "jsonl")
    rows = rows_of(run)
    errors = {r["file"].rsplit("/", 1)[-1]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"08-bad.yaml", "bulk.jsonl:8", "bulk.jsonl:13"}
    assert "08-bad.yaml:5:1: YAML syntax error" in errors["08-bad.yaml"]
    assert errors["bulk.jsonl:8"].endswith("bulk.jsonl:8: JSON syntax error: Expecting ',' delimiter (column 40)")
    assert "bulk.jsonl:13: cauda_equina.saddle_numness: unknown field `saddle_numness` " \
           "(did you mean `saddle_numbness`?)" in errors["bulk.jsonl:13"]
    assert len([r for r in rows if not r["error"]]) == len(rows) - 3
    assert "scored" in run.err and "3 errors," in run.err


def test_expect_reports_agreement_and_exits_0_when_all_agree(cli):
    run = cli("score", str(CASES), "--expect", "-f", "jsonl")
    assert run.code == 0
    assert "classification 17/17 (100.0%)" in run.err and "urgency        17/17 (100.0%)" in run.err
    assert "confusion matrix" in run.err and "disagreement" not in run.err.replace("disagreeing", "")


def test_expect_lists_disagreements_matrix_and_rule_counts(cli, tmp_path):
    shutil.copytree(CASES, tmp_path / "cases")
    path = tmp_path / "cases" / "radicular-l5.yaml"
    path.write_text(path.read_text().replace("classification: radicular\n  urgency: routine",
                                             "classification: stenosis\n  urgency: soon"))
    run = cli("score", str(tmp_path / "cases"), "--expect", "-f", "jsonl")
    assert run.code == 1
    assert "classification 16/17 (94.1%)" in run.err
    assert "1 disagreement:" in run.err
    assert "radicular-l5.yaml (radicular-l5): classification: expected stenosis, got radicular; " \
           "urgency: expected soon, got routine" in run.err
    matrix = run.err[run.err.index("confusion matrix"):run.err.index("rules: fired on")]
    stenosis_row = next(line for line in matrix.splitlines() if line.startswith("stenosis "))
    assert stenosis_row.split()[1:] == ["0", "1", "1", "0"]  # expected stenosis: 1 radicular, 1 stenosis
    assert "  msk.radicular.likely: 6 / 1" in run.err


def _expected_reaching(level: str) -> int:
    from lbp_assess.inputs.cases import load_case

    labels = [load_case(p).expected for p in sorted(CASES.glob("*.yaml"))]
    if level == "red_flag":
        return sum(e.classification == "red_flag" for e in labels)
    levels = {"emergency": ("emergency",), "urgent": ("emergency", "urgent")}[level]
    return sum(e.urgency in levels for e in labels)


@pytest.mark.parametrize("level", ["emergency", "urgent", "red_flag"])
def test_fail_on_exits_3_when_a_case_reaches_the_level(cli, level):
    run = cli("score", str(CASES), "--fail-on", level, "-f", "jsonl")
    reached = _expected_reaching(level)
    assert reached > 0 and run.code == 3
    assert f"--fail-on {level}: reached by {counted(reached, 'case')}," in run.err


def test_fail_on_passes_when_nothing_reaches_it(cli):
    run = cli("score", str(CASES / "radicular-l5.yaml"), "--fail-on", "urgent")
    assert run.code == 0


def test_no_progress_bar_unless_stderr_is_a_terminal(cli, monkeypatch):
    assert not show_progress()  # pytest captures stderr: not a terminal
    run = cli("score", str(CASES), "-f", "jsonl")
    assert "scoring" not in run.err and "\r" not in run.err and "\x1b[" not in run.err
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setenv("CI", "true")
    assert not show_progress()  # never in CI


def test_hostile_files_in_a_batch_get_error_rows(cli, tmp_path):
    (tmp_path / "deep.yaml").write_text("a:\n" + "".join("  " * i + "- \n" for i in range(1, 60)))
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "twice.yaml").write_text("format: lbp-case/1\nid: x\ncauda_equina:\n  saddle_numbness: true\n"
                                         "  saddle_numbness: false\n")
    rows = {r["file"].rsplit("/", 1)[-1]: r["error"] for r in rows_of(cli("score", str(tmp_path), "-f", "jsonl"))}
    assert "nesting is deeper than 32 levels" in rows["deep.yaml"]
    assert "more than 20,000 values once YAML aliases are expanded" in rows["bomb.yaml"]
    assert rows["twice.yaml"].endswith("twice.yaml:5:3: duplicate key 'saddle_numbness': each field may be given once")


def test_a_directory_lists_its_case_files_in_path_order_recursively(tmp_path):
    # Path order compares folder by folder: "a/z.yaml" comes before "a-b.yaml" although "-" < "/".
    for name in ["a-b.yaml", "a/z.yaml", "a/b/c.json", "b.yml", "notes.txt", ".yaml", "B.yaml", "a/0.jsonl"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "dir.yaml").mkdir()  # a folder named like a case file is walked, not read
    (tmp_path / "dir.yaml" / "in.yaml").write_text("{}")
    listed = [p.removeprefix(str(tmp_path) + "/") for p in expand([str(tmp_path) + "/"])]
    assert listed == ["B.yaml", "a/0.jsonl", "a/b/c.json", "a/z.yaml", "a-b.yaml", "b.yml", "dir.yaml/in.yaml"]


def test_a_folder_that_cannot_be_read_is_an_error_row_not_a_silent_gap(tmp_path, cli, monkeypatch):
    # (Tests may run as root, which reads anything: the refusal is simulated.)
    import os

    for name in ["a.yaml", "private/b.yaml", "z.yaml"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(CASES / "radicular-l5.yaml", tmp_path / name)
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    run = cli("score", str(tmp_path), "-f", "jsonl", "-q")
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["file"].removeprefix(str(tmp_path) + "/") for r in rows] == ["a.yaml", "private/", "z.yaml"]
    assert rows[1]["error"].endswith("private/: folder cannot be read; its case files were not scored")
    assert rows[0]["error"] is None and rows[2]["error"] is None
    assert run.code == 1


@settings(max_examples=examples(200), deadline=None)
@given(lengths=st.lists(st.integers(0, 700), min_size=1, max_size=25), last_newline=st.booleans(),
       carry=st.booleans())
def test_byte_ranges_are_whole_lines_numbered_from_the_file_whatever_the_line_lengths(tmp_path_factory, lengths,
                                                                                      last_newline, carry):
    """Lines shorter and longer than a chunk, a last line with or without its line end: the ranges tile
    the file, each ends at a line end (or the file's end), each starts on the line number it claims,
    and bytes carried to the scorer begin with the range's bytes."""
    text = b"\n".join(b"x" * n for n in lengths) + (b"\n" if last_newline else b"")
    path = tmp_path_factory.mktemp("spans") / "lines.jsonl"
    path.write_bytes(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(work, "BYTES_PER_CHUNK", 256)
        chunks = list(work.file_spans(str(path), carry=carry))
    spans = [c.span for c in chunks if c.span is not None and c.span[1] > c.span[0]]
    errors = [c.error for c in chunks if c.error]  # a file of blank lines only holds no case: said, not skipped
    assert errors == ([f"{path}: no case in this file (it is empty or blank)"] if not text.strip() else [])
    chunks = [c for c in chunks if not c.error]
    starts, ends = [s for s, _, _ in spans], [e for _, e, _ in spans]
    assert starts == ([0] + ends[:-1] if spans else []) and (ends[-1] if spans else 0) == len(text)
    for chunk in chunks:
        start, stop, line = chunk.span
        assert stop == len(text) or text[stop - 1:stop] == b"\n"
        assert line == text[:start].count(b"\n") + 1
        assert (chunk.data is not None) == carry and (not carry or chunk.data.startswith(text[start:stop]))


def test_a_huge_job_count_starts_at_most_four_workers_a_core(monkeypatch, tmp_path, ruleset):
    """`score -j 20000` (any count under the option's limit) started every worker at once: thousands
    of processes, killed after a minute. Workers are capped at four a core."""
    import concurrent.futures

    from lbp_assess.batch.pool import WORKERS_PER_CORE, score_stream

    started: list[int] = []

    class Recording(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, max_workers=None, *args, **kwargs):
            started.append(max_workers)
            super().__init__(max_workers, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Recording)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    line = json.dumps({"format": "lbp-case/1", "id": "x", "neuro": {"weakness_progressing": True}}) + "\n"
    paths = []
    for name in ("a.jsonl", "b.jsonl"):  # two chunks: scored by the pool
        (tmp_path / name).write_text(line)
        paths.append(str(tmp_path / name))
    results = list(score_stream(paths, ruleset, jobs=200))
    assert started == [WORKERS_PER_CORE] and sum(r.cases for r in results) == 2


def test_a_consultations_draft_in_a_scored_folder_is_an_error_row_saying_how_to_finish_it(cli, tmp_path):
    """The folder an interview writes to holds its draft until the note is saved. Its answers may
    raise a red flag that no saved case or note holds yet (a cauda equina emergency, the interview
    stopped at the save-now offer), so it is never skipped unseen: an error row saying how to finish
    it, so that `--fail-on` and every script see it - not "format 'lbp-draft/1' is not supported"."""
    from lbp_assess.consult.interview import Interview
    from generated import RULESET

    shutil.copy(CASES / "radicular-l5.yaml", tmp_path / "radicular-l5.yaml")
    interview = Interview(RULESET)
    interview.answer("n60")
    draft = tmp_path / "lbp-draft-n60-20261207.json"
    interview.save_draft(draft)
    run = cli("score", str(tmp_path), "-f", "jsonl", "--fail-on", "emergency")
    assert run.code == 1, run
    rows = {json.loads(line)["file"]: json.loads(line) for line in run.out.splitlines()}
    assert rows[str(tmp_path / "radicular-l5.yaml")]["error"] is None
    error = rows[str(draft)]["error"]
    assert "a consultation's draft (lbp-draft/1), not a case: an unfinished consultation" in error
    assert f"finish it with `lbp-assess assess --resume {draft}`" in error and "skipped" not in run.err
