"""The documentation is generated from the source of truth and cannot drift from it.

docs/lbp-case-1.schema.json, docs/clinical-rules.md and the generated tables of
docs/case-format.md are regenerated here and compared with the committed files;
every example validates against the schema; links and cited documents resolve;
the changelog names the rules version. The safety case has its own tests (test_safety_case.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

import lbp_assess.docs as all_docs
from helpers import EXAMPLES, REPO, RULES
from lbp_assess.tooling import docs
from lbp_assess.model import expr
from lbp_assess.model.case import FACTS, validate_case
from lbp_assess.base.errors import InputError
from lbp_assess.outputs.plainwords import PlainWords
from lbp_assess.base.yamlio import load_yaml

REGENERATE = "run `python -m lbp_assess.docs` and commit the result"


# --------------------------------------------------------------------------- currency


def test_generated_docs_match_the_code_and_rules():
    """Every generated document: tooling.docs's and the command-line reference (lbp_assess/docs.py)."""
    assert all_docs.stale(REPO) == [], f"generated documentation is out of date: {REGENERATE}"


def test_a_changed_rule_makes_the_committed_docs_stale(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(RULES, root / "rules")
    shutil.copytree(REPO / "docs", root / "docs")
    assert docs.stale(root) == []
    red_flags = root / "rules" / "red_flags.yaml"
    red_flags.write_text(red_flags.read_text().replace("onset_days > 14", "onset_days > 21"))
    assert docs.stale(root) == [root / docs.RULES_FILE]
    assert docs.main([str(root)]) == 0
    assert "| over 21 |" in (root / docs.RULES_FILE).read_text()
    assert docs.main(["--check", str(root)]) == 0


def test_schema_command_prints_the_committed_schema(cli, tmp_path):
    run = cli("schema")
    assert run.code == 0
    assert run.out == (REPO / docs.SCHEMA_FILE).read_text()
    target = tmp_path / "schema.json"
    assert cli("schema", "--output", str(target)).code == 0
    assert json.loads(target.read_text()) == json.loads(run.out)
    again = cli("schema", "--output", str(target))
    assert again.code == 1 and "already exists" in again.err


def test_rules_doc_documents_the_rule_set_it_is_given(cli, tmp_path):
    shutil.copytree(RULES, tmp_path / "rules")
    msk = tmp_path / "rules" / "musculoskeletal.yaml"
    msk.write_text(msk.read_text().replace("patient.age > 48", "patient.age > 52"))  # a Cook cluster item
    run = cli("rules", "doc", str(tmp_path / "rules"))
    assert run.code == 0
    assert "relief on sitting or bending forward; age over 52 years" in run.out
    assert run.out != (REPO / docs.RULES_FILE).read_text()
    assert cli("rules", "doc").out == (REPO / docs.RULES_FILE).read_text()


# --------------------------------------------------------------------------- the schema


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / docs.SCHEMA_FILE).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


CASE_FILES = sorted((EXAMPLES / "cases").glob("*.yaml")) + sorted((EXAMPLES / "vignettes").glob("*.yaml"))


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_every_example_and_vignette_is_valid_by_the_schema(validator, path):
    data = load_yaml(path.read_text(), str(path))
    assert [e.message for e in validator.iter_errors(data)] == []


BROKEN = {
    "misspelt red-flag key": {"cauda_equina": {"saddle_numness": True}},
    "misspelt section": {"cauda_equnia": {"saddle_numbness": True}},
    "misspelt top-level key": {"asessor": "J"},
    "yes as text": {"cauda_equina": {"saddle_numbness": "yes"}},
    "child": {"patient": {"age": 12}},
    "too old": {"patient": {"age": 111}},
    "unknown choice": {"pain": {"leg_side": "upper"}},
    "pain over 10": {"pain": {"back_nrs": 11}},
    "negative duration": {"onset": {"weeks_ago": -1}},
    "eight STarT Back answers": {"psychosocial": {"start_back": [0, 0, 0, 0, 0, 0, 0, 0]}},
    "STarT Back item 1 as 2": {"psychosocial": {"start_back": [2, 0, 0, 0, 0, 0, 0, 0, 0]}},
    "STarT Back item 9 as 5": {"psychosocial": {"start_back": [0, 0, 0, 0, 0, 0, 0, 0, 5]}},
    "unknown aggravator": {"behaviour": {"aggravated_by": ["running"]}},
    "empty id": {"id": ""},
}


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
def test_the_schema_refuses_what_the_case_model_refuses(validator, change):
    data = {"format": "lbp-case/1", "id": "x", **change}
    with pytest.raises(InputError):
        validate_case(data, "<test>")
    assert list(validator.iter_errors(data)), "the schema accepted a case the tool refuses"


def test_the_schema_accepts_unknown_answers_and_the_edges_of_each_range(validator):
    data = {"format": "lbp-case/1", "id": "x", "patient": {"age": 16, "sex": None},
            "pain": {"back_nrs": 10, "leg_nrs": 0}, "cauda_equina": {"saddle_numbness": None},
            "psychosocial": {"start_back": [1, 1, 1, 1, 1, 1, 1, 1, 4]}}
    validate_case(data, "<test>")
    assert list(validator.iter_errors(data)) == []


def _properties(schema: dict, path: str = ""):
    for name, prop in schema.get("properties", {}).items():
        yield f"{path}{name}", prop
    for name, definition in schema.get("$defs", {}).items():
        yield from _properties(definition, f"{name}.")


def test_every_field_of_the_schema_is_described():
    schema = json.loads((REPO / docs.SCHEMA_FILE).read_text())
    properties = dict(_properties(schema))
    assert len(properties) > len(FACTS)
    assert [path for path, prop in properties.items() if len(prop.get("description", "")) < 20] == []
    saddle = properties["CaudaEquina.saddle_numbness"]["description"]
    assert "Red-flag screening question" in saddle and "never read as" in saddle


def test_a_field_without_a_question_or_description_stops_generation(ruleset, monkeypatch):
    monkeypatch.delitem(docs.FIELD_DESCRIPTIONS, "assessed_on")
    with pytest.raises(docs.DocsError, match="assessed_on"):
        docs.case_schema(ruleset)


# --------------------------------------------------------------------------- plain words


@pytest.fixture(scope="module")
def words(ruleset) -> PlainWords:
    return PlainWords(ruleset)


def _say(words: PlainWords, text: str) -> str:
    from lbp_assess.engine.ruleset.load import scope_of  # the rule set's own name scope

    node = expr.parse(text)
    expr.check(node, scope_of(words.ruleset))
    return words.words(node)


@pytest.mark.parametrize("text, expected", [
    ("ces_feature and cauda_equina.onset_days > 14 and is_false(cauda_equina.worsening)",
     "any cauda equina feature (bladder, bowel, saddle sensation, or weakness in both legs), and days since "
     "bladder, bowel or saddle symptoms began over 14, and those symptoms worsening (known no)"),
    ("not is_true(onset.fracture_excluded)", "fracture excluded (no or unknown)"),
    ("patient.age >= 60 and pain.abdominal", "age 60 years or over and abdominal or flank pain"),
    ('pain.leg_extent in ["below_knee", "foot"]', "furthest extent: below the knee or into the foot"),
    ('pain.leg_side != "none"', "leg symptoms: anything but no leg symptoms"),
    ('"walking" in behaviour.aggravated_by', "aggravated by includes walking"),
    ("count(systemic.fever, systemic.night_sweats) >= 2", "at least 2 of: fever; night sweats (known yes)"),
    ("serious_pathology_flags >= 2 and not condition.any",
     "at least 2 serious pathology flags and no red-flag condition raised"),
    ("unknown(systemic.fever) or known(history.cancer)", "fever not answered or history of cancer answered"),
    ("condition_tier.emergency", "a condition raised at emergency tier"),
])
def test_expressions_read_in_plain_words(words, text, expected):
    assert _say(words, text) == expected


def test_every_rule_appears_in_the_clinical_rules_with_its_provenance(ruleset):
    text = (REPO / docs.RULES_FILE).read_text()
    for rule in ruleset.rules:
        section = text.split(f"#### `{rule.id}`", 1)[1].split("####", 1)[0]
        assert rule.source in section and rule.status in section
        assert "- **When:** " in section and "- **Reason:** " in section
    assert ruleset.version.split(" sha256:")[1] in text


# --------------------------------------------------------------------------- links and citations


DOCUMENTS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document):
    broken = []
    for target in _LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (document.parent / file).resolve() if file else document
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert broken == []


# A document's name (clinical-reference.md, docs/case-format.md, README.md), not `<id>.note.md` or `NoteFormat.md`.
_MENTION = re.compile(r"(?<![\w.>}*-])(?:[a-z][a-z0-9_./-]*|[A-Z]+)\.md\b")


def test_rules_and_code_cite_only_documents_in_the_repository():
    """Rule sources (shown in every note), rule comments and docstrings name documents that exist."""
    files = [*RULES.rglob("*.yaml"), *(REPO / "lbp_assess").rglob("*.py"), *(REPO / "docs").rglob("*.md"),
             REPO / "README.md"]
    missing = []
    for file in files:
        for mention in set(_MENTION.findall(file.read_text())):
            if not any((base / mention).exists() for base in (REPO, REPO / "docs", file.parent)):
                missing.append(f"{file.relative_to(REPO)}: {mention}")
    assert missing == []


# --------------------------------------------------------------------------- the changelog


def test_the_changelog_names_the_current_rules_version(ruleset):
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"{ruleset.manifest.name} {ruleset.manifest.version}" in changelog


def test_regenerating_says_in_one_line_what_a_new_field_needs(tmp_path, monkeypatch, capsys):
    root = tmp_path / "repo"
    shutil.copytree(RULES, root / "rules")
    shutil.copytree(REPO / "docs", root / "docs")
    monkeypatch.delitem(docs.SECTION_PURPOSES, "walking")
    assert docs.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`walking`" in err and "SECTION_PURPOSES" in err
