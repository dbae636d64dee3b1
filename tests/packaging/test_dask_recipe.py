"""docs/batch.md's recipe for scoring a large JSON Lines collection with Dask, on Dask's
local process scheduler: the same rows as `lbp-assess score`."""

from __future__ import annotations

import json

import pytest

from lbp_assess import score_record
from lbp_assess.inputs.cases import load_case

from helpers import EXAMPLES

db = pytest.importorskip("dask.bag", reason="the [dask] extra is not installed")


def test_dask_bag_recipe_matches_lbp_assess_score(tmp_path, cli):
    cases = [load_case(p).to_data() for p in sorted((EXAMPLES / "cases").glob("*.yaml"))]
    parts = []
    for part in range(3):  # a collection of JSON Lines files
        path = tmp_path / f"part-{part}.jsonl"
        lines = [json.dumps(dict(c, id=f"{part}-{c['id']}")) for c in cases]
        if part == 1:
            lines.insert(3, '{"format": "lbp-case/1", "id": "bad", "patient": {"age": 12}}')
        path.write_text("\n".join(lines) + "\n")
        parts.append(path)

    # The recipe, as in docs/batch.md:
    bag = db.read_text(str(tmp_path / "part-*.jsonl")).filter(str.strip).map(score_record)
    rows = bag.compute(scheduler="processes", num_workers=2)

    expected = [json.loads(line) for line in cli("score", *map(str, parts), "-f", "jsonl").out.splitlines()]
    strip = lambda r: {k: v for k, v in r.items() if k not in ("file", "error")}  # noqa: E731
    assert [strip(r) for r in rows] == [strip(r) for r in expected]
    (bad,) = [r for r in rows if r["error"]]
    assert "lbp-assess is for adults" in bad["error"]
    assert sum(r["classification"] == "red_flag" for r in rows) == 3 * sum(
        c["expected"]["classification"] == "red_flag" for c in cases)
