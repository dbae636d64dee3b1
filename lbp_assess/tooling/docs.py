"""Documentation generated from the source of truth: the case model, the rules, the interview.

* `case_schema()`: the JSON Schema (draft 2020-12) of `lbp-case/1`, read from the
  pydantic case model, with every field described from the interview question
  that fills it.
* `rules_markdown(ruleset)`: a rule set's clinical policy in plain words.
* `case_format_blocks(ruleset)`: the generated parts of docs/case-format.md.

`python -m lbp_assess.docs [--check] [ROOT]` regenerates every generated document
of a repository checkout (or, with --check, lists the stale ones and exits 1): these,
and the command-line reference, which lbp_assess/docs.py adds from the CLI layer.
Run it after changing the case model, the rules or the interview.
"""

from __future__ import annotations

import re
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, get_args

from pydantic import BaseModel

from ..model import expr
from ..model.case import AGE_RANGE, FACTS, Case
from ..base.errors import LbpError
from ..base.text import markdown_inline, markdown_line, markdown_text
from .blocks import DocsError, fill_blocks  # noqa: F401 - DocsError is raised here too
from ..outputs.plainwords import PlainWords
from ..engine.questionnaire import Question, ask_when_node
from ..engine.ruleset.model import Rule, RuleSet
from ..engine.words import describe_value
from ..engine.ruleset.load import load_rules

SCHEMA_FILE = "docs/lbp-case-1.schema.json"
RULES_FILE = "docs/clinical-rules.md"
CASE_FORMAT_FILE = "docs/case-format.md"
FHIR_FILE = "docs/fhir.md"
RECORD_NOTE_FILE = "docs/record-note.md"

#: What each section of a case is for (the fields themselves are described by their questions).
SECTION_PURPOSES = {
    "patient": "Who the patient is, as far as the rules need it: age and sex. No identifiers.",
    "pain": "Where it hurts and how much: back and leg pain, the side and extent of leg symptoms, "
            "and whether they follow a nerve root.",
    "onset": "When and how this episode began, and any injury.",
    "behaviour": "The 24-hour pattern of the pain, and what aggravates and eases it.",
    "walking": "Symptoms brought on by walking or standing, and what relieves them "
               "(neurogenic or vascular claudication).",
    "neuro": "Neurological symptoms in the legs.",
    "cauda_equina": "The cauda equina screen: bladder, bowel, saddle sensation and sexual function, "
                    "each new since this episode began; when the first began and whether they are getting worse.",
    "systemic": "Systemic features of serious pathology.",
    "history": "Medical history that bears on serious pathology, inflammatory disease and vascular causes.",
    "obstetric": "Pregnancy and the year after a birth (asked unless the patient is male): the stage changes "
                 "what a fever means and what the note advises.",
    "medication": "Pain relief taken for this episode and how much it helps, and anticoagulants "
                  "(long-term oral steroids are asked under history).",
    "investigations": "Imaging and tests already done for this problem (their results, as reported, "
                      "are free text: notes.investigations).",
    "treatment": "Treatment already tried for this or an earlier episode, and its effect.",
    "social": "Work status and physical activity before this episode.",
    "function": "Function measures: the Patient-Specific Functional Scale (up to three activities, each "
                "0 unable to 10 as before) and, where a service uses it, the Oswestry Disability Index (%).",
    "progression": "How the episode is going.",
    "psychosocial": "The STarT Back answers (optional): the answers only, never the item wording.",
    "notes": "Free text in the clinician's words. The rules never read it.",
    "follow_up_of": "Extension (optional): this case is a follow-up visit of an earlier case, as "
                    "`assess --follow-up` records it. The rules never read it.",
    "expected": "An agreed answer for the case, checked by `score --expect`, the rule tests and practice "
                "mode. The rules never read it.",
}

#: Fields that no interview question fills.
FIELD_DESCRIPTIONS = {
    "format": "The format and its version. Always `lbp-case/1`; a file without it is refused.",
    "assessed_on": "The date of the assessment, as YYYY-MM-DD (optional).",
    "assessed_at": "Extension (optional): when the assessment began, with its UTC offset, as "
                   "YYYY-MM-DDTHH:MM+HH:MM (or Z for UTC); `assess` records it. Its date must be `assessed_on` "
                   "when both are given. The rules never read it.",
    "vignette": "The case told as a patient would tell it, for practice mode (optional).",
    "follow_up_of": "Extension (optional): this case is a follow-up visit of an earlier case "
                    "(written by `assess --follow-up`).",
    "follow_up_of.id": "The id of the earlier case.",
    "follow_up_of.assessed_on": "The date of the earlier visit, as YYYY-MM-DD.",
    "follow_up_of.file_hash": "`sha256:` and the SHA-256 of the earlier case file as it was read: it finds "
                              "the file again and tells whether it changed since.",
    "follow_up_of.rules_version": "The rules the earlier visit was assessed with, when its file says.",
    "follow_up_of.carried_over": "Questions whose earlier answers were kept without being asked at this "
                                 "visit (scripted follow-ups). Red-flag screening answers are never carried over.",
    "vignette_mentions": "Extension (optional): where the vignette states each fact, as "
                         "`fact path: words quoted from the vignette`. Practice offers only these facts.",
    "expected.classification": "The agreed class: non_specific, radicular, stenosis or red_flag.",
    "expected.urgency": "The agreed urgency: emergency, urgent, soon or routine.",
    "expected.conditions": "Red-flag conditions that must be raised (names as in the rule set).",
}

#: The fields of a `score` result row (batch.COLUMNS), for docs/case-format.md.
RESULT_FIELDS = {
    "id": "the case id",
    "file": "where the case came from (`file:line` for JSON Lines)",
    "classification": "`non_specific`, `radicular`, `stenosis` or `red_flag`",
    "urgency": "the highest tier raised: `emergency`, `urgent`, `soon` or `routine`",
    "conditions": "red-flag conditions raised, e.g. `cauda_equina` (an empty list if none)",
    "alerts": "other findings that change management but not the class, e.g. `inflammatory_pattern`, "
              "`red_flag_screen_incomplete`",
    "unscreened": "red-flag screening questions that were not answered (absent or null)",
    "warnings": "contradictions in the answers, as `id: description`; the case is still scored as written",
    "rules_fired": "ids of the rules that fired, in evaluation order",
    "rules_version": "name, version and content hash of the rule set used",
    "error": "for a file that could not be scored: what is wrong and where; every other field is then empty",
    "condition_tiers": "addition: the tier raised for each condition",
    "findings": "addition: musculoskeletal findings (e.g. `radicular_likely`)",
    "not_excluded": "addition: ids of rules that unknown answers kept from being decided (could not be excluded)",
    "follow_up_of": "addition: for a follow-up visit, the id of the case it follows (empty otherwise)",
    "assessed_on": "addition: the case's `assessed_on` date, as YYYY-MM-DD (empty when not recorded)",
    "assessor": "addition: the case's `assessor` (empty when not recorded)",
    "actions": "addition: what each fired rule with a tier or an action asks for, in evaluation order: "
               "`rule` (its id), `label`, `tier`, `time_frame` and `action`, as the rules word them (policy v7); "
               "in CSV, one `label - tier - time frame: action` per rule, separated by ` | `",
}


# --------------------------------------------------------------------------- shared: fields in words


def _questions(ruleset: RuleSet) -> dict[str, Question]:
    if ruleset.questionnaire is None:
        raise DocsError(f"{ruleset.directory}: no interview.yaml; the field documentation needs it")
    return ruleset.questionnaire.by_id


#: What the fields that are not clinical facts hold.
_OTHER_KINDS = {
    "format": "`lbp-case/1` (required)",
    "id": "text, 1 to 80 characters (required)",
    "assessed_on": "date, YYYY-MM-DD",
    "assessed_at": "date and time with UTC offset, YYYY-MM-DDTHH:MM+HH:MM",
    "vignette_mentions": "mapping of fact path to text",
    "expected.classification": "one of: `non_specific`, `radicular`, `stenosis`, `red_flag`",
    "expected.urgency": "one of: `emergency`, `urgent`, `soon`, `routine`",
    "expected.conditions": "a list of condition names",
}


def answer_kind(path: str, question: Question | None) -> str:
    """What a field holds, in words: 'yes / no / unknown', 'one of: ...', 'whole number 16 to 110'."""
    fact = FACTS.get(path)
    if fact is None:
        return _OTHER_KINDS.get(path, "text")
    if fact.kind == "bool":
        return "`true` / `false` / unknown"
    if fact.kind in ("enum", "set"):
        labels = dict(question.choices) if question else {}
        values = ", ".join(f"`{v}` ({labels[v]})" if v in labels else f"`{v}`" for v in fact.values)
        return ("one of: " if fact.kind == "enum" else "a list of any of: ") + values
    if fact.kind in ("int", "number"):
        what = "whole number" if fact.kind == "int" else "number"
        unit = f" {question.unit}" if question and question.unit and not question.unit.startswith("/") else ""
        return f"{what} {describe_value(fact.minimum)} to {describe_value(fact.maximum)}{unit}"
    if fact.kind == "int_list":  # STarT Back: the limits of case._start_back
        n = len(question.items) if question else 9
        return f"{n} whole numbers: items 1 to {n - 1} as 0 or 1, item {n} as 0 to 4"
    return "text"


def asked(question: Question, words: PlainWords, screening: list[str]) -> list[str]:
    """When the question is asked, and what a skip records: sentences for people."""
    parts = []
    if question.id in screening:
        parts.append("Red-flag screening question: always asked; when unanswered, every output lists it "
                     "as unscreened.")
    node = ask_when_node(question)
    if node is not None:
        parts.append(f"Asked only when: {words.words(node)}.")
        if question.if_skipped is not None:
            parts.append(f"When skipped for that reason the case records `{json.dumps(question.if_skipped)}` "
                         f"({question.describe(question.if_skipped)}).")
        else:
            parts.append("When skipped it stays unknown.")
    if question.optional:
        parts.append("Optional.")
    return parts


def _quoted(text: str) -> str:
    """A question in quotes, as a sentence: 'Age' -> '“Age”.', 'Fever?' -> '“Fever?”'."""
    text = text.strip()
    return f"\u201c{text}\u201d" + ("" if text[-1:] in "?.!" else ".")


def field_description(path: str, ruleset: RuleSet) -> str:
    """One field described for the schema: the question that fills it and what its answers mean."""
    if path in FIELD_DESCRIPTIONS:
        return FIELD_DESCRIPTIONS[path]
    question = _questions(ruleset).get(path)
    if question is None:
        raise DocsError(f"case field `{path}` has no description: give it a question in interview.yaml "
                        "or an entry in FIELD_DESCRIPTIONS (lbp_assess/tooling/docs.py)")
    parts = [f"{question.label}. Interview question: {_quoted(question.text)}"]
    if question.help:
        parts.append(question.help.strip())
    if question.unit:
        parts.append(f"Unit: {question.unit}.")
    if question.items:
        parts.append("Items: " + "; ".join(f"{i}. {item}" for i, item in enumerate(question.items, 1)) + ".")
    if path in FACTS and FACTS[path].kind in ("enum", "set"):
        parts.append("Values: " + "; ".join(f"{v} = {label}" for v, label in question.choices) + ".")
    if path in FACTS:
        never_no = " (never read as \u201cno\u201d)" if FACTS[path].kind == "bool" else ""
        parts.append(f"Absent or null: not asked or unknown{never_no}.")
    parts += asked(question, PlainWords(ruleset), ruleset.manifest.screening)
    return " ".join(parts)


# --------------------------------------------------------------------------- the JSON Schema


def _sections() -> dict[str, type[BaseModel]]:
    found = {}
    for name, info in Case.model_fields.items():
        models = [a for a in get_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            found[name] = models[0]
    return found


def _start_back_items(question: Question | None) -> dict[str, Any]:
    count = len(question.items) if question else 9
    items = [{"type": "integer", "minimum": 0, "maximum": 1}] * (count - 1)
    return {"type": "array", "prefixItems": items + [{"type": "integer", "minimum": 0, "maximum": 4}],
            "items": False, "minItems": count}


_LIMITS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _json_schema_limits(node: Any) -> Any:
    """pydantic writes a limit on a validated type (a finite number) as `ge`/`le`: JSON Schema's
    words are `minimum`/`maximum`."""
    if isinstance(node, dict):
        return {_LIMITS.get(k, k) if not isinstance(v, (dict, list)) else k: _json_schema_limits(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_json_schema_limits(v) for v in node]
    return node


def case_schema(ruleset: RuleSet) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of `lbp-case/1`, every field described."""
    raw = _json_schema_limits(Case.model_json_schema())
    defs = raw.pop("$defs")
    questions = _questions(ruleset)

    def describe(properties: dict[str, Any], prefix: str) -> None:
        for name, prop in properties.items():
            path = prefix + name
            prop.pop("title", None)
            if name in sections and not prefix:
                prop["description"] = SECTION_PURPOSES.get(name) or _missing(path)
                continue
            question = questions.get(path)
            if question is not None:
                prop["title"] = question.label
            prop["description"] = field_description(path, ruleset)
            if path == "patient.age":
                _branch(prop, "integer").update(minimum=AGE_RANGE[0], maximum=AGE_RANGE[1])
            if path == "psychosocial.start_back":
                prop["anyOf"] = [_start_back_items(question), {"type": "null"}]

    sections = _sections()
    for name, model in sections.items():
        definition = defs[model.__name__]
        definition["description"] = SECTION_PURPOSES.get(name) or _missing(name)
        describe(definition["properties"], f"{name}.")
    describe(raw["properties"], "")
    raw.pop("description", None)
    raw.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:lbp-assess:schema:lbp-case-1",
        "title": "lbp-case/1: one patient's low back pain history for one episode",
        "description": (
            "A case file of lbp-assess, as YAML, JSON or one line of JSON Lines. Yes/no answers are "
            "three-valued: true, false, or absent/null = not asked or unknown. Unknown keys are refused "
            f"at every level. Generated from the case model by `lbp-assess schema`; see {CASE_FORMAT_FILE}."
        ),
        **raw,
        "$defs": defs,
    }


def _branch(prop: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(b for b in prop.get("anyOf", [prop]) if b.get("type") == kind)


def _missing(name: str) -> str:
    raise DocsError(f"case section or field `{name}` has no description: add it to SECTION_PURPOSES or "
                    "FIELD_DESCRIPTIONS (lbp_assess/tooling/docs.py)")


def schema_text(ruleset: RuleSet) -> str:
    return json.dumps(case_schema(ruleset), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- the rules in words


def _cell(text: str) -> str:
    """Text as one table cell: on one line, its pipes kept from ending the cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _said(text: str) -> str:
    """Text from the rule set as a cell or list item, shown as written: no emphasis, code span, link
    or block (a heading, a list) read into it (the rule set is an input like a case)."""
    return markdown_line(markdown_inline(" ".join(str(text).split())))  # pipes escaped too: safe in a cell


def _code(text: str) -> str:
    """An expression as a code span in a table cell."""
    return "`" + " ".join(str(text).split()).replace("|", "\\|") + "`"


def _label(ruleset: RuleSet, kind: str, name: str) -> str:
    table = {"condition": ruleset.manifest.conditions, "alert": ruleset.manifest.alerts,
             "finding": ruleset.manifest.findings}[kind]
    return table[name].label if name in table else name


def _raises(ruleset: RuleSet, rule: Rule) -> str:
    text = f"{rule.raises} **{_said(_label(ruleset, rule.raises, rule.name))}** (`{rule.name}`)"
    if rule.tier:
        tier = ruleset.manifest.tiers[rule.tier]
        text += f" at **{rule.tier}** tier ({_said(tier.time_frame)})"
    return text


def _rule_lines(ruleset: RuleSet, rule: Rule, words: PlainWords) -> list[str]:
    action = rule.action or (f"{ruleset.manifest.tiers[rule.tier].action} (the tier's action)" if rule.tier else "")
    reviewed = f", last reviewed {rule.reviewed.isoformat()}" if rule.reviewed else ", not yet reviewed"
    lines = [
        f"#### `{rule.id}`", "",
        f"- **Raises:** {_raises(ruleset, rule)}",
        f"- **When:** {_said(words.words(rule.node))}",
        f"- **Rule:** {_code(rule.text)}",
        f"- **Reason:** {_said(rule.reason)}",
    ]
    if rule.label:
        lines.append(f"- **Label in the note:** {_said(rule.label)}")
    if rule.time_frame:
        timing = ruleset.manifest.timings.get(rule.timing or "", "")
        lines.append(f"- **Time frame:** {_said(rule.time_frame)}"
                     + (f" (ordered as: {_said(timing)})" if timing else ""))
    if action:
        lines.append(f"- **Action:** {_said(action)}")
    if rule.examination:
        lines.append(f"- **Examination:** {_said(rule.examination)}")
    if rule.safety_net:
        blocks = ruleset.manifest.safety_net_blocks
        lines.append("- **Safety-net:** " + ", ".join(f"{_said(blocks[b].title)} (`{b}`)" for b in rule.safety_net))
    lines += [f"- **Source:** {_said(rule.source)}", f"- **Status:** {rule.status}{reviewed}", ""]
    return lines


def _file_order(rule: Rule) -> tuple[str, int]:
    return Path(rule.where.file).name, rule.where.line or 0


def _layer_lines(ruleset: RuleSet, layer: str, title: str, words: PlainWords) -> list[str]:
    rules = sorted((r for r in ruleset.rules if r.layer == layer), key=_file_order)
    lines = [f"## {_said(title)}", ""]
    if not rules:
        return lines + ["No rules in this layer: it holds named definitions only (see below).", ""]
    raised: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        raised.setdefault((rule.raises, rule.name), []).append(rule)
    lines += ["What this layer can raise:", "", "| raises | name | tiers | rules |", "|---|---|---|---|"]
    for (kind, name), by in raised.items():
        tiers = sorted({r.tier for r in by if r.tier}, key=ruleset.tier_rank.__getitem__)
        lines.append(f"| {kind} | {_said(_label(ruleset, kind, name))} (`{name}`) | {', '.join(tiers) or '-'} "
                     f"| {', '.join(f'`{r.id}`' for r in by)} |")
    lines.append("")
    for rule in rules:
        lines += _rule_lines(ruleset, rule, words)
    return lines


def _threshold_rows(ruleset: RuleSet, words: PlainWords) -> list[str]:
    found: dict[tuple[str, str, Any], tuple[expr.Node, list[str]]] = {}
    users: list[tuple[str, expr.Node]] = [(f"`{r.id}`", r.node) for r in ruleset.rules]
    users += [(f"definition `{d.name}`", d.node) for d in ruleset.definitions.values()]
    users += [(f"check `{c.id}`", c.node) for c in ruleset.checks]
    users += [(f"class `{name}`", node) for name, node in ruleset.classification]
    users += [("note wording", node) for node in ruleset.wording_when.values()]
    for user, node in users:
        for subject, op, value in _comparisons(node):
            _, by = found.setdefault((_subject_code(subject), op, value), (subject, []))
            if user not in by:
                by.append(user)
    rows = []
    for (code, op, value), (subject, by) in sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        test = {">": "over", ">=": "at least", "<": "under", "<=": "at most", "==": "equal to",
                "!=": "not equal to"}[op]
        name = _said(words.words(subject))
        rows.append(f"| {name} (`{code}`) | {test} {_said(words.value(subject, value))} | {', '.join(by)} |")
    return rows


def _subject_code(node: expr.Node) -> str:
    if isinstance(node, expr.Index):
        return f"{_subject_code(node.item)}[{node.index}]"
    return node.name if isinstance(node, expr.Ref) else "?"


def _comparisons(node: expr.Node) -> Iterator[tuple[expr.Node, str, Any]]:
    """(fact or definition, operator, number) for every comparison with a fixed number."""
    flip = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
    if isinstance(node, expr.Compare):
        for subject, const, op in ((node.left, node.right, node.op),
                                   (node.right, node.left, flip.get(node.op, node.op))):
            if (isinstance(subject, (expr.Ref, expr.Index)) and isinstance(const, expr.Const)
                    and isinstance(const.value, (int, float)) and not isinstance(const.value, bool)):
                yield subject, op, const.value
    for child in expr._children(node):
        yield from _comparisons(child)


def rules_markdown(ruleset: RuleSet) -> str:
    """The clinical policy of a rule set, in Markdown, generated from the rules themselves."""
    m = ruleset.manifest
    words = PlainWords(ruleset)
    questions = ruleset.questionnaire.by_id if ruleset.questionnaire else {}
    lines = [
        f"# {_said(m.title)}", "",
        f"Generated by `lbp-assess rules doc` from the rule set **{_said(m.name)} {_said(m.version)}** "
        f"(content hash `sha256:{ruleset.content_hash}`); every result names it as `rules_version`. "
        "Do not edit this file: edit the rules, run `lbp-assess rules check` and `lbp-assess rules test`, "
        "then generate it again.", "",
    ]
    if m.description:
        lines += [_said(m.description), ""]
    lines += [f"> **{_said(m.disclaimer)}**", "", *_READING, ""]
    lines += ["## Urgency tiers", "", "Highest first. The case's urgency is the highest tier raised.", "",
              "| tier | time frame | action |", "|---|---|---|"]
    lines += [f"| **{_said(t.label)}** (`{name}`) | {_said(t.time_frame)} | {_said(t.action)} |"
              for name, t in m.tiers.items()]
    lines += ["", "Each rule with a tier carries its own label, time frame, action, examination advice and "
              "safety-net blocks, which the note prints; the tier orders the rows and sets the urgency. One tier "
              "governs the record note: its row opens the Summary and the Plan, every fired row's action follows "
              "once, ordered by its timing, and the advice that tier holds back is left out "
              "([record-note.md](record-note.md)).", ""]
    if m.settled:
        lines += ["## Settled facts", "",
                  "An unknown answer that the other answers settle, once, before any rule reads it (case files, "
                  "the interview, FHIR and batch alike). A recorded answer is never overridden.", "",
                  "| fact | taken as | when | because |", "|---|---|---|---|"]
        lines += [f"| `{fact}` | {'yes' if spec.value else 'no'} | {_said(words.words(ruleset.settled[fact]))} "
                  f"| {_said(spec.because)} |" for fact, spec in m.settled.items() if fact in ruleset.settled]
        lines.append("")
    lines += ["## Classification", "", "The first entry that holds gives the class:", ""]
    for index, (name, node) in enumerate(ruleset.classification, 1):
        named = m.classes[name]
        when = "otherwise" if isinstance(node, expr.Const) and node.value is True \
            else f"when {_said(words.words(node))}"
        lines.append(f"{index}. **{_said(named.label)}** (`{name}`) {when}.")
    lines += ["", "## Red-flag screening questions", "",
              "Asked in every interview. Each one left unanswered is listed under `unscreened` in every "
              "output and raises the alert *red-flag screen incomplete*: an unasked question is never a \u201cno\u201d.",
              ""]
    for fact in m.screening:
        question = questions.get(fact)
        lines.append(f"- {_said(question.label) if question else fact} (`{fact}`)"
                     + (f": \u201c{_said(question.text)}\u201d" if question else ""))
    lines.append("")
    for layer, title in m.layers.items():
        lines += _layer_lines(ruleset, layer, title, words)
    lines += ["## Named definitions", "",
              "Named expressions that rules and note wording use, by the file that defines them.", ""]
    by_file: dict[str, list[Any]] = {}
    for definition in ruleset.definitions.values():
        by_file.setdefault(Path(definition.where.file).name, []).append(definition)
    for file, definitions in sorted(by_file.items()):
        lines += [f"### `{file}`", "", "| name | means | in plain words | expression |", "|---|---|---|---|"]
        lines += [f"| `{d.name}` | {_said(d.means or '')} | {_said(words.words(d.node))} | {_code(d.text)} |"
                  for d in definitions]
        lines.append("")
    if m.flags_noted:
        lines += ["## Weak flags noted", "",
                  "Listed in the note when present; on their own they raise nothing.", ""]
        lines += [f"- {_said(ruleset.definitions[n].means or n)} (`{n}`)" for n in m.flags_noted]
        lines.append("")
    if m.safety_net_blocks:
        lines += ["## Safety-net blocks", "",
                  "In patient words. A note carries every block a fired rule names, and every block whose "
                  "condition holds. Within a block, a line is shown when its condition holds; a line about a "
                  "feature the patient already has is left out (*left out when*); a line another block given "
                  "says more strongly is left out (*covered by*); and a line takes stronger wording when the "
                  "note's urgency, or what a yes to the feature would raise, reaches a tier (*at*).", ""]
        for name, block in m.safety_net_blocks.items():
            given = ("" if block.given_when in (True, False) else
                     f" Also given when {_said(words.words(ruleset.wording_when[str(block.given_when)]))}.")
            lines += [f"### {_said(block.title)} (`{name}`)", "", f"Named by rules that need it.{given}", ""]
            if isinstance(block.text, str):
                lines.append(f"- {_said(' '.join(block.text.split()))}")
            for piece in [] if isinstance(block.text, str) else block.text:
                notes = []
                if piece.when is not True:
                    notes.append(f"when {_said(words.words(ruleset.wording_when[str(piece.when)]))}")
                if piece.about:
                    notes.append("left out when " + " or ".join(
                        _said(words.words(ruleset.wording_when[x])) for x in piece.about))
                if piece.covered_by:
                    notes.append("covered by " + ", ".join(f"`{b}`" for b in piece.covered_by))
                notes += [f"at {tier}: \"{_said(text)}\"" for tier, text in piece.stronger.items()]
                extra = f" ({'; '.join(notes)})" if notes else ""
                lines.append(f"- {_said(' '.join(piece.text.split()))}{extra}")
            lines.append("")
    if ruleset.checks:
        lines += ["## Contradictory answers", "",
                  "Checked on every case. A case that contradicts itself is still scored as written; "
                  "each contradiction is listed under `warnings`.", "",
                  "| id | when | warning |", "|---|---|---|"]
        lines += [f"| `{c.id}` | {_said(words.words(c.node))} | {_said(c.message)} |" for c in ruleset.checks]
        lines.append("")
    lines += ["## Thresholds", "",
              "Every comparison of a fact or a definition with a fixed number, and where it is used.", "",
              "| fact or definition | test | used by |", "|---|---|---|", *_threshold_rows(ruleset, words), ""]
    # The rule set's text is shown as typed: raw HTML, character references and images escaped.
    return "\n".join(markdown_text(line) for line in lines)


_READING = [
    "## How to read the rules", "",
    "- Every yes/no answer is **yes**, **no** or **unknown** (not asked). Unknown is never read as no.",
    "- A condition holds only when the known answers decide it. \u201c(known yes)\u201d and \u201c(known no)\u201d "
    "mean the answer was given; \u201c(no or unknown)\u201d means it was not answered yes.",
    "- \u201cAt least N of: ...\u201d counts answers known to be yes.",
    "- A rule that an unknown answer could have fired does not raise anything: it is reported as "
    "**could not be excluded** (`not_excluded`), with the answers that were missing.",
    "- Where a feature only raises the tier, there are two rules (higher tier when present, lower otherwise), "
    "so an unknown answer never lowers a tier.",
    "- Layers are evaluated in the order below; a rule may read what rules of any layer raised.",
]


# --------------------------------------------------------------------------- case-format.md


def _field_rows(paths: list[str], ruleset: RuleSet) -> list[str]:
    questions = _questions(ruleset)
    words = PlainWords(ruleset)
    rows = ["| field | answer | filled by |", "|---|---|---|"]
    for path in paths:
        question = questions.get(path)
        if question is None:
            filled = _cell(FIELD_DESCRIPTIONS.get(path) or _missing(path))
        else:
            filled = " ".join([_quoted(_cell(question.text)),
                               *asked(question, words, ruleset.manifest.screening)])
        rows.append(f"| `{path}` | {_cell(answer_kind(path, question))} | {filled} |")
    return rows


def case_format_blocks(ruleset: RuleSet) -> dict[str, str]:
    """The generated blocks of docs/case-format.md: `fields` and `results`."""
    sections = _sections()
    top = [name for name in Case.model_fields if name not in sections]
    lines = ["### The case itself", "", *_field_rows(top, ruleset), ""]
    titles = {q.section: q.section_title for q in _questions(ruleset).values()}
    for name, model in sections.items():
        paths = [f"{name}.{field}" for field in model.model_fields]
        title = titles.get(name, name.replace("_", " ").capitalize())
        lines += [f"### `{name}`: {title}", "", SECTION_PURPOSES.get(name) or _missing(name), "",
                  *_field_rows(paths, ruleset), ""]
    from ..batch.score import COLUMNS

    results = ["| field | meaning |", "|---|---|"]
    for column in COLUMNS:
        meaning = RESULT_FIELDS.get(column)
        if meaning is None:
            raise DocsError(f"result field `{column}` has no description: add it to RESULT_FIELDS (lbp_assess/tooling/docs.py)")
        results.append(f"| `{column}` | {meaning} |")
    return {"fields": "\n".join(lines).rstrip() + "\n", "results": "\n".join(results) + "\n"}


def fhir_blocks(ruleset: RuleSet) -> dict[str, str]:
    """The generated blocks of docs/fhir.md: the Questionnaire's items, the charted Observations, the
    project's code systems and every standard code with whether it is exported."""
    from ..interop import fhir

    q = ruleset.questionnaire
    assert q is not None
    items = ["| linkId | type | asked when | if skipped (settled) |", "|---|---|---|---|"]
    for question in q.questions:
        kind = fhir.item_type(question) + (", repeats" if question.kind == "multi" else "")
        if question.kind == "items":
            kind = f"group of {len(question.items)} coded choices (scores in ordinalValue/itemWeight; all or none)"
        when = _code(" ".join(question.ask_when_text.split())) if question.ask_when_text else "always"
        settled = "" if question.if_skipped is None else _code(json.dumps(question.if_skipped))
        items.append(f"| `{question.id}` | {kind} | {when} | {settled} |")
    m = ruleset.manifest
    observed = ["| charted | label | value | codes exported |", "|---|---|---|---|"]
    for name in fhir.charted(ruleset):
        named = m.observations.get(name)
        label = named.label if named else q.label(name)
        code = f"`{name}` ({'case-values' if name in FACTS else 'assessment: definition.' + name})"
        value = "boolean, or dataAbsentReason asked-unknown / not-asked" if name in FACTS and FACTS[name].kind == "bool" \
            else "integer"
        standard = ", ".join(f"{c.system} {c.code}" for c in (named.codes if named else []) if c.verified) or "-"
        observed.append(f"| {code} | {_cell(label)} | {value} | {standard} |")
    codes = ["| system | code | display | used on | exported |", "|---|---|---|---|---|"]
    places = [(f"class `{n}`", c) for n, c in m.classes.items()]
    places += [(f"condition `{n}` (RiskAssessment outcome only)", c) for n, c in m.conditions.items()]
    places += [(f"alert `{n}`", c) for n, c in m.alerts.items()] + [(f"finding `{n}`", c) for n, c in m.findings.items()]
    places += [(f"Observation `{n}`", c) for n, c in m.observations.items()]
    for where, named in places:
        for c in named.codes:
            codes.append(f"| {c.system} | {c.code} | {_cell(c.display)} | {where} | "
                         f"{'yes' if c.verified else '**no** (verified: false)'} |")
    return {"fhir_items": "\n".join(items) + "\n", "fhir_observations": "\n".join(observed) + "\n",
            "fhir_codes": "\n".join(codes) + "\n"}


def record_note_blocks(ruleset: RuleSet, root: Path) -> dict[str, str]:
    """The generated blocks of docs/record-note.md, from the rules: the Plan's order (`timings`),
    what each tier holds back (`note_hold_back`), the note's own wording, each tiered rule's label,
    time frame, action, examination and safety-net, and the note of a shipped vignette."""
    from ..inputs.cases import load_case
    from ..outputs.note import build_note, render

    m = ruleset.manifest
    order = ["| order | timing | means |", "|---|---|---|"]
    order += [f"| {i} | `{key}` | {_cell(text)} |" for i, (key, text) in enumerate(m.timings.items(), 1)]
    held = ["| when | advice held back (by its `role`) |", "|---|---|"]
    held += [f"| {'the impression is provisional' if key == 'provisional' else f'`{key}` governs'} | "
             f"{', '.join(f'`{r}`' for r in roles)} |" for key, roles in m.note_hold_back.items()]
    wording = ["| key | wording |", "|---|---|"]
    wording += [f"| `{key}` | {_cell(text)} |" for key, text in m.note_wording.items()]
    rows = ["| rule | label in the note | tier | time frame | action | examination | safety-net |",
            "|---|---|---|---|---|---|---|"]
    for rule in ruleset.rules:
        if rule.tier is None and not rule.action:
            continue
        nets = ", ".join(f"`{b}`" for b in rule.safety_net) or "-"
        rows.append(f"| `{rule.id}` | {_cell(rule.label or '-')} | {rule.tier or '-'} | "
                    f"{_cell(rule.time_frame or '-')} | {_cell(rule.action or '-')} | {_cell(rule.examination or '-')} | {nets} |")
    vignette = root / "examples" / "vignettes" / "v15-stable-foot-drop.yaml"
    if vignette.is_file():
        case = load_case(vignette)
        note = render(build_note(case, ruleset.assess(case), ruleset, case.assessed_on), "text", 80)
        note = re.sub(r"lbp-assess \d+\.\d+\.\d+\S*", "lbp-assess <version>", note)
        example = "```text\n" + re.sub(r"sha256:[0-9a-f]{12}", "sha256:<hash>", note) + "```\n"
    else:  # a copy of the rules and docs without the examples: the example stands as written
        current = (root / RECORD_NOTE_FILE).read_text(encoding="utf-8")
        found = re.search(r"<!-- generated: example -->\n\n?(.*?)\n?<!-- end generated -->", current, re.S)
        example = found.group(1) if found else ""
    return {"plan_order": "\n".join(order) + "\n", "hold_back": "\n".join(held) + "\n",
            "note_wording": "\n".join(wording) + "\n", "rule_actions": "\n".join(rows) + "\n",
            "example": example}


# --------------------------------------------------------------------------- all generated documents


def generated(root: Path, *, run_mutation: bool = True) -> dict[Path, str]:
    """What each generated document of the repository at `root` should contain. The safety case's
    mutation score is measured again only when its key changed, and only with `run_mutation`."""
    from .safety_case import documents

    ruleset = load_rules(root / "rules")
    case_format = root / CASE_FORMAT_FILE
    return {
        root / SCHEMA_FILE: schema_text(ruleset),
        root / RULES_FILE: rules_markdown(ruleset),
        case_format: fill_blocks(case_format.read_text(encoding="utf-8"), case_format_blocks(ruleset),
                                 CASE_FORMAT_FILE),
        root / FHIR_FILE: fill_blocks((root / FHIR_FILE).read_text(encoding="utf-8"), fhir_blocks(ruleset),
                                      FHIR_FILE),
        root / RECORD_NOTE_FILE: fill_blocks((root / RECORD_NOTE_FILE).read_text(encoding="utf-8"),
                                             record_note_blocks(ruleset, root), RECORD_NOTE_FILE),
        **documents(root, ruleset, run_mutation=run_mutation),
    }


def stale(root: Path) -> list[Path]:
    """The generated documents that differ from what the source would generate now (without running
    the slow mutation tests: a changed key alone makes the validation record stale)."""
    return differing(generated(root, run_mutation=False))


def differing(expected: dict[Path, str]) -> list[Path]:
    return [path for path, text in expected.items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None, generate: Callable[..., dict[Path, str]] = generated) -> int:
    """Regenerate (or with --check, list) what `generate(root, run_mutation=...)` says the generated
    documents are: those of this module by default; `python -m lbp_assess.docs` adds the CLI reference."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    root = Path(rest[0] if rest else ".")
    if not (root / "rules" / "ruleset.yaml").is_file() or not (root / "docs").is_dir():
        print(f"{root}: not an lbp-assess checkout (no rules/ruleset.yaml or docs/)", file=sys.stderr)
        return 2
    try:
        expected = generate(root, run_mutation=not check)
    except LbpError as err:
        print(f"lbp_assess.docs: {err}", file=sys.stderr)
        return 1
    out_of_date = differing(expected)
    for path in out_of_date:
        if check:
            print(f"{path}: out of date; run `python -m lbp_assess.docs`", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path], encoding="utf-8")
            print(f"wrote {path}")
    return 1 if check and out_of_date else 0


if __name__ == "__main__":
    sys.exit(main())
