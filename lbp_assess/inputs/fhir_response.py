"""Reading FHIR resources as cases: a QuestionnaireResponse answering the lbp-assess Questionnaire is
one case, a Bundle one per QuestionnaireResponse it holds.

The answers go through the same conversion as `assess --answers` (engine.answers): the answers
that skipped follow-ups settle (`if_skipped`) are recorded, so a form tool that hid a follow-up
because its gate was "no" gives the same case as the interview. Every response is read against the
shipped rule set's questionnaire, whatever `--rules` says. Unknown is never read as "no"; every
error is located in the file.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

from ..model.case import Case, validate_case
from ..base.errors import InputError, Location, NotACase, Problem, UsageError, did_you_mean
from ..engine.answers import case_data, resolve
from ..engine.questionnaire import Question, answer_problem
from ..engine.ruleset.model import RuleSet
from ..engine.ruleset.load import load_rules
from ..base.text import agree
from ..base.yamlio import Locator
from .fhir_codes import CASE_VALUES, DEFAULT_BASE, NONE_OF_THESE, QUESTIONNAIRE_URL, canonical_base, item_type, questionnaire_of, start_back_scale, value_code


# --------------------------------------------------------------------------- reading a QuestionnaireResponse


@lru_cache(maxsize=1)
def _reading_rules() -> RuleSet:
    """The shipped rule set: its interview defines the linkIds and the settled answers."""
    return load_rules()


class _Reader:
    """Reads the answers of a QuestionnaireResponse, each error located in the file."""

    def __init__(self, ruleset: RuleSet, name: str, text: str | None, line: int | None,
                 prefix: tuple[Any, ...] = (), locator: Locator | None = None):
        self.questions = questionnaire_of(ruleset).by_id
        self.name, self.line, self.prefix = name, line, prefix
        self.locator = locator or (Locator(text) if text is not None and line is None else None)
        self.groups = {q.section for q in self.questions.values()}
        self.parts = {f"{q.id}.{n}": (q, n) for q in self.questions.values() for n in range(1, len(q.items) + 1)}
        self.display = {f"{q.id}.help" for q in self.questions.values() if q.help}
        self.answers: dict[str, Any] = {}
        self.start_back: dict[str, dict[int, int]] = {}

    def fail(self, path: tuple[Any, ...], message: str, field: str | None = None,
             error: type[InputError] = InputError) -> InputError:
        line, col = self.locator.find((*self.prefix, *path)) if self.locator else (self.line, None)
        return error.from_problems([Problem(Location(self.name, line, col), message, field)])

    def known(self) -> list[str]:
        return [*self.questions, *self.groups, *self.parts, *self.display]

    def items(self, items: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(items, list):
            raise self.fail(path, "expected a list of items")
        for index, item in enumerate(items):
            self.item(item, (*path, index))

    def item(self, item: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            raise self.fail(path, "expected an item with a linkId")
        link = item["linkId"]
        _refuse_modifiers(item, path, self)
        answers = item.get("answer")
        if answers is not None and not isinstance(answers, list):
            raise self.fail((*path, "answer"), "expected a list of answers", link)
        for index, answer in enumerate(answers or []):
            if isinstance(answer, dict):
                _refuse_modifiers(answer, (*path, "answer", index), self)
        if link in self.questions:
            self.question(self.questions[link], answers or [], path, "answer" in item)
        elif link in self.parts:
            self.start_back_item(link, answers or [], path)
        elif link in self.groups or link in self.display:
            if answers:
                raise self.fail((*path, "answer"), "is a group or display item; it takes no answer", link)
        else:
            raise self.fail((*path, "linkId"), f"unknown linkId `{link}`{did_you_mean(link, self.known())}")
        # Nested items, as the specification allows them: a group's items (item.item) and the items
        # under an answer (answer.item). Every answer is read wherever a form put it, so a red flag
        # is never dropped for its depth; each linkId is still answered once, and must be defined.
        if "item" in item:
            self.items(item["item"], (*path, "item"))
        for index, answer in enumerate(answers or []):
            if isinstance(answer, dict) and "item" in answer:
                self.items(answer["item"], (*path, "answer", index, "item"))

    def question(self, question: Question, answers: list[Any], path: tuple[Any, ...], has_answer: bool) -> None:
        if question.id in self.answers:
            raise self.fail((*path, "linkId"), "is answered twice", question.id)
        if question.kind == "items":
            if answers:
                raise self.fail((*path, "answer"), "is a group; answer its items", question.id)
            self.start_back.setdefault(question.id, {})
            self.answers[question.id] = None
            return
        if not answers:
            self.answers[question.id] = None  # asked, unsure
            return
        if question.kind != "multi" and len(answers) > 1:
            raise self.fail((*path, "answer", 1), f"takes one answer, got {len(answers)}", question.id)
        values = [self.value(question, a, (*path, "answer", i)) for i, a in enumerate(answers)]
        if question.kind == "multi":
            value: Any = [v for v in values if v != NONE_OF_THESE]
            if len(value) < len(values) and value:
                raise self.fail((*path, "answer"), "`none of these` cannot be chosen with other answers",
                                question.id)
            value = [v for v, _ in question.choices if v in value]
        else:
            value = values[0]
        problem = answer_problem(question.id, value)
        if problem is not None:
            raise self.fail((*path, "answer", 0), problem, question.id)
        self.answers[question.id] = value

    def value(self, question: Question, answer: Any, path: tuple[Any, ...]) -> Any:
        kind = item_type(question)
        expected = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal",
                    "choice": "valueCoding"}.get(kind, "valueString")
        keys = [k for k in answer if k.startswith("value")] if isinstance(answer, dict) else []
        if keys != [expected]:
            got = ", ".join(keys) or "no value"
            raise self.fail(path, f"expected an answer with {expected} ({kind} item), got {got}", question.id)
        value = answer[expected]
        ok = {"valueBoolean": lambda v: isinstance(v, bool),
              "valueInteger": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "valueDecimal": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "valueString": lambda v: isinstance(v, str),
              "valueCoding": lambda v: isinstance(v, dict) and isinstance(v.get("code"), str)}[expected]
        if not ok(value):
            raise self.fail((*path, expected), f"{expected} must be {_WORDS[expected]}, got {value!r}", question.id)
        if expected == "valueCoding":
            return self.code(question, value, (*path, expected))
        return value

    def system(self, question: Question | str, value: dict[str, Any], path: tuple[Any, ...]) -> None:
        if value.get("system", CASE_VALUES) not in _ours("/CodeSystem/case-values"):
            raise self.fail((*path, "system"), f"expected a code from {CASE_VALUES}, got system "
                                               f"{repr(value.get('system'))[:80]}",
                            question if isinstance(question, str) else question.id)

    def code(self, question: Question, value: dict[str, Any], path: tuple[Any, ...]) -> str:
        self.system(question, value, path)
        codes = {value_code(question, v): v for v, _ in question.choices}
        if question.kind == "multi":
            codes[value_code(question, NONE_OF_THESE)] = NONE_OF_THESE
        if value["code"] not in codes:
            raise self.fail((*path, "code"), f"unknown code {value['code']!r}{did_you_mean(value['code'], codes)}; "
                                             f"expected one of: {', '.join(codes)}", question.id)
        return codes[value["code"]]

    def start_back_item(self, link: str, answers: list[Any], path: tuple[Any, ...]) -> None:
        question, number = self.parts[link]
        given = self.start_back.setdefault(question.id, {})
        if number in given:
            raise self.fail((*path, "linkId"), "is answered twice", link)
        if len(answers) != 1:
            raise self.fail(path, "takes exactly one answer", link)
        given[number] = self.start_back_score(question, number, answers[0], (*path, "answer", 0), link)

    def start_back_score(self, question: Question, number: int, answer: Any, path: tuple[Any, ...],
                         link: str) -> int:
        """A STarT Back answer in either form: a Coding of the answer options (as the Questionnaire
        offers them and form renderers write them) or the score as valueInteger (earlier exports)."""
        scale = start_back_scale(question, number)
        codes = {f"{question.id}.{code}": score for score, (code, _) in scale.items()}
        keys = [k for k in answer if k.startswith("value")] if isinstance(answer, dict) else []
        if keys == ["valueCoding"] and isinstance(answer["valueCoding"], dict):
            coded = answer["valueCoding"]
            self.system(link, coded, (*path, "valueCoding"))
            if coded.get("code") in codes:
                return codes[coded["code"]]
            raise self.fail((*path, "valueCoding", "code"),
                            f"unknown code {repr(coded.get('code'))[:60]}; expected one of: {', '.join(codes)}", link)
        value = answer.get("valueInteger") if keys == ["valueInteger"] else None
        if not isinstance(value, int) or isinstance(value, bool) or value not in scale:
            raise self.fail(path, f"expected a valueCoding of {', '.join(codes)} (or valueInteger "
                                  f"{min(scale)} to {max(scale)})", link)
        return value

    def result(self) -> dict[str, Any]:
        for qid, given in self.start_back.items():
            question = self.questions[qid]
            if given and len(given) != len(question.items):
                missing = [str(n) for n in range(1, len(question.items) + 1) if n not in given]
                raise self.fail(("item",), f"STarT Back needs all {len(question.items)} answers; "
                                           f"missing {agree(len(missing), 'item', 'items')} {', '.join(missing)}", qid)
            self.answers[qid] = [given[n] for n in sorted(given)] if given else self.answers.get(qid)
        return self.answers


def _ours(path: str) -> set[str]:
    """A project URL under the default canonical base and under the configured one."""
    try:
        configured = canonical_base()
    except UsageError:
        configured = DEFAULT_BASE
    return {DEFAULT_BASE + path, configured + path}


_WORDS = {"valueBoolean": "true or false", "valueInteger": "a whole number", "valueDecimal": "a number",
          "valueString": "text", "valueCoding": "a Coding with a code"}


#: How deep Bundles may hold Bundles (a collection of exported documents is two deep).
MAX_BUNDLE_NESTING = 4
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")  # FHIR resource type names: letters, capital first
_RESPONSE = "QuestionnaireResponse"


def read_resource(data: dict[str, Any], name: str, text: str | None = None, line: int | None = None,
                  ruleset: RuleSet | None = None) -> list[tuple[str, Case]]:
    """The cases in a FHIR resource, each with what names it in the file ("" for the resource itself,
    `#entry[3]` for an entry of a Bundle, `#entry[1].entry[0]` within a Bundle it holds): a
    QuestionnaireResponse is one case, a Bundle (an exported document, a collection, a search result)
    one per QuestionnaireResponse it holds, at any depth up to MAX_BUNDLE_NESTING. Every entry is read
    or refused: an entry that is not an object, a resource that is not one, a resourceType that is not a
    resource type's name or is a misspelt QuestionnaireResponse is an error, never skipped; entries of
    other resource types (the Composition, Observations and RiskAssessment of an export) hold no case."""
    locator = Locator(text) if text is not None and line is None else None
    if data.get("resourceType") == "Bundle":
        reader = _Reader(ruleset or _reading_rules(), name, text, line, (), locator)
        found = _bundle_responses(data, (), reader, 1)
        if not found:
            raise reader.fail(("resourceType",), "a FHIR Bundle without a QuestionnaireResponse holds no case",
                              error=NotACase)
        return [("#" + ".".join(f"entry[{i}]" for i in path[1::3]) if len(found) > 1 else "",
                 read_response(resource, name, text, line, ruleset, path, locator))
                for path, resource in found]
    return [("", read_response(data, name, text, line, ruleset, (), locator))]


def _bundle_responses(bundle: dict[str, Any], path: tuple[Any, ...], reader: _Reader,
                      depth: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(the path of each QuestionnaireResponse in a Bundle, the response), in the order they stand."""
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise reader.fail((*path, "entry"), "expected a list of entries")
    found: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        at = (*path, "entry", index)
        if not isinstance(entry, dict):
            raise reader.fail(at, f"expected a Bundle entry (an object), got {_kind(entry)}")
        _refuse_modifiers(entry, at, reader)
        if "resource" not in entry:  # a request or a deleted version in a history: no resource, no case
            continue
        resource = entry["resource"]
        if not isinstance(resource, dict):
            raise reader.fail((*at, "resource"), f"expected a resource (an object), got {_kind(resource)}")
        kind = resource.get("resourceType")
        if isinstance(kind, str) and kind != _RESPONSE and _near(kind, _RESPONSE):
            raise reader.fail((*at, "resource", "resourceType"),
                              f"unknown resourceType {kind!r} (did you mean `{_RESPONSE}`?): its answers are not read")
        if not isinstance(kind, str) or not _RESOURCE_TYPE.fullmatch(kind):
            raise reader.fail((*at, "resource", "resourceType") if "resourceType" in resource else (*at, "resource"),
                              f"expected a FHIR resourceType (a name such as {_RESPONSE}), got {_kind(kind)}")
        if kind == _RESPONSE:
            found.append(((*at, "resource"), resource))
        elif kind == "Bundle":
            if depth >= MAX_BUNDLE_NESTING:
                raise reader.fail((*at, "resource"), f"Bundles nested more than {MAX_BUNDLE_NESTING} deep")
            found += _bundle_responses(resource, (*at, "resource"), reader, depth + 1)
    return found


def _near(word: str, target: str) -> bool:
    """A misspelling of `target` (its case changed, a letter left out) rather than another name
    (Questionnaire is not one of QuestionnaireResponse)."""
    if abs(len(word) - len(target)) > 3:  # most names (Composition, Observation): no comparison needed
        return False
    import difflib  # only for a name of about the length

    return difflib.SequenceMatcher(None, word.lower(), target.lower()).ratio() >= 0.85


def _kind(value: Any) -> str:
    """What a JSON value is, in words, for a message."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value[:40] + ("..." if len(value) > 40 else ""))
    return {dict: "an object", list: "a list", bool: "true or false"}.get(type(value), "a number")


def _refuse_modifiers(element: dict[str, Any], path: tuple[Any, ...], reader: _Reader) -> None:
    """FHIR: a reader must refuse an element carrying a modifierExtension it does not understand, since
    the extension may change what the element means (an answer negated, a question not asked). This
    reader understands none."""
    if "modifierExtension" in element:
        raise reader.fail((*path, "modifierExtension"), "a modifierExtension may change what this element means "
                                                        "and is not understood here: refused, not read at face value")


def read_response(data: dict[str, Any], name: str, text: str | None = None, line: int | None = None,
                  ruleset: RuleSet | None = None, prefix: tuple[Any, ...] = (),
                  locator: Locator | None = None) -> Case:
    """A QuestionnaireResponse answering our Questionnaire, as a case (the `assess --answers` conversion)."""
    ruleset = ruleset or _reading_rules()
    reader = _Reader(ruleset, name, text, line, prefix, locator)
    kind = data.get("resourceType")
    if kind != "QuestionnaireResponse":
        shown = kind if isinstance(kind, str) and kind.isidentifier() and len(kind) < 60 else repr(kind)[:60]
        raise reader.fail(("resourceType",), f"a FHIR {shown} is not a case; expected a QuestionnaireResponse "
                                             "answering the lbp-assess Questionnaire (or a Bundle of them)",
                          error=NotACase if isinstance(kind, str) else InputError)
    canonical = data.get("questionnaire")
    if canonical is not None and (not isinstance(canonical, str)
                                  or canonical.split("|")[0] not in _ours("/Questionnaire/lbp-subjective-history")):
        raise reader.fail(("questionnaire",), f"answers {canonical!r}, not the lbp-assess Questionnaire "
                                              f"({QUESTIONNAIRE_URL})")
    _refuse_modifiers(data, (), reader)
    warning = _status(data, reader)
    reader.items(data.get("item", []), ("item",))
    answers = reader.result()
    if answers.get("id") is None:
        raise reader.fail(("item",), "the case id (linkId `id`) has no answer", "id")
    q = questionnaire_of(ruleset)
    authored, assessed_at = _authored(data, reader)
    assessed_on = authored or dt.date.today().isoformat()
    _, settled = resolve(q, q.questions, answers, assessed_on)  # as `assess --answers` records them
    data_ = case_data(q, {**answers, **settled}, assessed_on)
    if "authored" not in data:
        del data_["assessed_on"]
    if assessed_at is not None:  # authored with a time: when the assessment began (lbp-case/1 assessed_at)
        data_["assessed_at"] = assessed_at
    case = validate_case(data_, name, None, line)
    if warning:
        case._reading_warnings.append(warning)
        case._source_status = data["status"]  # an export writes the form as unfinished as it was
    return case


#: The time part of a FHIR dateTime, as the specification's regular expression has it: hours, minutes,
#: seconds (FHIR requires them when a time is given), a fraction, and the offset (Z, or at most 14 hours).
_TIME = re.compile(r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
                   r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))")

#: QuestionnaireResponse.status: scored as final, scored with a warning, refused.
FINAL_STATUSES = ("completed", "amended")
UNFINISHED_STATUSES = ("in-progress", "stopped")


def _status(data: dict[str, Any], reader: _Reader) -> str | None:
    """A warning for a form saved before it was finished; an error for one entered in error."""
    status = data.get("status")
    if status in FINAL_STATUSES:
        return None
    if status in UNFINISHED_STATUSES:
        return (f"fhir-status: the form is {status} (QuestionnaireResponse.status), not completed: answers may "
                "be missing, and a question without an answer counts as unknown, never as no")
    if status == "entered-in-error":
        raise reader.fail(("status",), "status entered-in-error: this response was withdrawn as made in error; "
                                       "it is not scored")
    expected = ", ".join(FINAL_STATUSES + UNFINISHED_STATUSES)
    if status is None:
        raise reader.fail(("resourceType",), f"a QuestionnaireResponse needs a status (one of: {expected})")
    raise reader.fail(("status",), f"unknown status {repr(status)[:40]}; expected one of: {expected}")


def _authored(data: dict[str, Any], reader: _Reader) -> tuple[str | None, str | None]:
    """QuestionnaireResponse.authored as (its date, its time with the UTC offset or None): a FHIR
    dateTime is a date, or a date and time with seconds and its offset (the export writes the
    case's assessed_at there)."""
    authored = data.get("authored")
    if authored is None:
        return None, None
    if not isinstance(authored, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", authored):
        raise reader.fail(("authored",), f"expected a date as YYYY-MM-DD..., got {authored!r}")
    try:
        day = dt.date.fromisoformat(authored[:10]).isoformat()
    except ValueError:
        raise reader.fail(("authored",), f"not a date: {authored!r}") from None
    if len(authored) == 10:
        return day, None
    if not _TIME.fullmatch(authored[10:]):  # no junk after the date, no offset beyond 14 hours
        raise reader.fail(("authored",), f"expected a FHIR dateTime (YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with its "
                                         f"offset, Z or at most +/-14:00), got {authored[:40]!r}")
    try:
        moment = dt.datetime.fromisoformat(authored[:-1] + "+00:00" if authored.endswith("Z") else authored)
    except ValueError:
        raise reader.fail(("authored",), f"not a date and time: {authored!r}") from None
    return day, moment.isoformat()
