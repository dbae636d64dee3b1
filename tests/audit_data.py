"""Inputs for the audit report tests: every example case under several assessors and dates, as
case files and JSON Lines, with hostile text, located errors and a file score does not read."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from helpers import EXAMPLES
from lbp_assess.inputs.cases import load_case

ASSESSORS = ("A. Physio", "B. Physio", "C. Physio")
#: Text that would run as script, break out of the note's <pre> or of an attribute if not escaped.
HOSTILE_ID = "<script>window.pwned=1</script>"
HOSTILE_ASSESSOR = '"><img src=x onerror="window.pwned=2">'
HOSTILE_NOTE = "</pre><script>window.pwned=3</script><a href='https://example.org/x'>x</a>"
BAD_LINE = '{"format": "lbp-case/1", "id": "bad-age", "patient": {"age": "old"}}'


def make_inputs(where: Path) -> list[str]:
    """A folder of case files and a JSON Lines file; returns the paths to give `score`/`audit`."""
    folder = where / "cases"
    folder.mkdir()
    for path in sorted((EXAMPLES / "cases").glob("*.yaml")):
        shutil.copy(path, folder / path.name)
    shutil.copy(EXAMPLES / "fhir" / "radicular-l5.response.json", folder / "fhir-response.json")  # FHIR, as score reads it
    (folder / "README.txt").write_text("not a case\n")
    (folder / "broken.yaml").write_text("format: lbp-case/1\nid: broken\npatient: {age: -4}\n")
    lines = []
    cases = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))
    for i, path in enumerate(cases):
        data = load_case(path).to_data()
        data.pop("expected", None)
        data["id"] = f"line-{i:02d}"
        data["assessor"] = ASSESSORS[i % len(ASSESSORS)]
        data["assessed_on"] = (dt.date(2026, 9, 1) + dt.timedelta(days=3 * i)).isoformat()
        lines.append(json.dumps(data))
    hostile = load_case(EXAMPLES / "cases" / "ces-saddle-numbness.yaml").to_data()
    hostile.pop("expected", None)
    hostile.update(id=HOSTILE_ID, assessor=HOSTILE_ASSESSOR)
    hostile.setdefault("notes", {})["presenting"] = HOSTILE_NOTE
    lines.insert(3, json.dumps(hostile))
    lines.insert(7, BAD_LINE)
    lines.insert(9, "this is not JSON")
    jsonl = where / "more.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    return [str(folder), str(jsonl)]
