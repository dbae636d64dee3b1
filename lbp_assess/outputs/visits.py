"""Visits: a saved case file read as a visit, the previous visit found by its recorded hash, two
visits compared, and a patient's visits as a series.

A comparison scores both visits with one rule set and says what changed: class
and urgency, red flags new since the last visit (first) and resolved, the
since-last-visit answers (pain scores, leg extent, walking) with their change,
STarT Back, every other answer that changed, and a warning when the visits were
assessed with other rules than the ones used here. A series puts one patient's
visits in date order. Everything here is data; the note words it, the CLI draws it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.case import CASE_SUFFIXES, JSON_LINES_SUFFIXES, Case
from ..inputs.cases import folder_case_files, parse_case
from ..base.text import csv_text, plain
from ..base.errors import InputError, Location, Problem
from ..engine.answers import answers_of, asked
from ..engine.words import answer_words
from ..engine.questionnaire import Question
from ..engine.ruleset.model import Assessment, RuleSet
from ..base.yamlio import read_regular_file, read_text

from ..engine.outcomes import OutcomeChange
from ..engine.outcomes import changes as outcome_changes

#: The header line `assess` writes in every case file: which rules assessed it.
_RULES_HEADER = re.compile(r"^# rules: ([ -~]{1,200}?); null = ", re.MULTILINE)
_DERIVED_START_BACK = (("start_back_total", "STarT Back total"),
                       ("start_back_psychosocial", "STarT Back psychosocial subscore"))


# --------------------------------------------------------------------------- visits


@dataclass(frozen=True)
class Visit:
    """One saved visit: its case, where it came from, and the rules it was assessed with (when known)."""

    case: Case
    source: str
    file_hash: str | None = None
    rules_version: str | None = None


def file_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_visit(path: Path | str) -> Visit:
    """A case file as a visit: validated, hashed, with the rules version from its header."""
    name = str(path)
    if name.lower().endswith(JSON_LINES_SUFFIXES):
        raise InputError(f"{plain(name)}: JSON Lines (a case per line) is not a visit; a visit is one case file "
                         "(.yaml, .yml or .json)")
    data = read_regular_file(path)  # a FIFO, device or folder is refused before reading; size capped
    text = read_text(name, data)
    found = _RULES_HEADER.search(text[:500])
    return Visit(parse_case(text, name), name, file_hash(data), found.group(1) if found else None)




def find_previous(path: Path, case: Case, given: Path | None = None) -> tuple[Visit | None, list[str]]:
    """The visit `case` (read from `path`) follows: `given`, or the case file beside it whose
    SHA-256 is the one recorded. Returns the visit (None when not found) and warnings."""
    record = case.follow_up_of
    if record is None:
        return None, []
    visit = read_visit(given) if given is not None else find_by_hash(path.parent, record.id, record.file_hash, path)
    if visit is None:
        return None, []
    if visit.case.id != record.id:  # given, or found by its hash: the same refusal
        raise InputError(f"{plain(visit.source)}: is case {plain(visit.case.id)!r}, but {plain(path)} follows case "
                         f"{plain(record.id)!r}")
    if given is not None:
        check_pair(visit, Visit(case, str(path)), linked=True)  # refuses; its warnings come with the comparison
    return visit, []


def find_by_hash(folder: Path, case_id: str, recorded: str | None, skip: Path | None = None) -> Visit | None:
    """The case file in `folder` whose SHA-256 is `recorded` (files named after `case_id` tried first)."""
    if recorded is None or not folder.is_dir():
        return None
    stem = re.sub(r"[^A-Za-z0-9_.-]", "", case_id)
    candidates = sorted((p for p in folder.iterdir() if p.suffix in CASE_SUFFIXES and p.suffix not in JSON_LINES_SUFFIXES
                         and p.is_file() and (skip is None or p.resolve() != skip.resolve())),
                        key=lambda p: (not p.name.startswith(stem), p.name))
    for candidate in candidates:
        try:
            if file_hash(read_regular_file(candidate)) == recorded:
                return read_visit(candidate)
        except (OSError, InputError):
            continue
    return None




# --------------------------------------------------------------------------- visit identity


def _name(visit: Visit) -> str:
    return plain(visit.source or visit.case.id)


def _refuse(visit: Visit, message: str) -> InputError:
    return InputError.from_problems([Problem(Location(visit.source or visit.case.id), message)])


def same_patient(then: Visit, now: Visit) -> None:
    """Refuse two visits that cannot be of one patient: the sex recorded differs, or the age
    does not fit the dates (younger later, or older by more or less than the years between
    them, give or take the year that whole years of age allow). Unknown answers never refuse."""
    a, b = then.case.patient, now.case.patient
    if a is None or b is None:
        return
    if a.sex and b.sex and a.sex != b.sex and "not_stated" not in (a.sex, b.sex):
        raise _refuse(now, f"visits of different patients: sex {b.sex} here, {a.sex} in {_name(then)}")
    if a.age is None or b.age is None:
        return
    days = (now.case.assessed_on - then.case.assessed_on).days \
        if now.case.assessed_on and then.case.assessed_on else None
    years = days / 365.25 if days is not None else None
    if b.age < a.age or (years is not None and not years - 1 <= b.age - a.age <= years + 1):
        since = f"{days} days" if days is not None else "an unknown time"
        raise _refuse(now, f"visits of different patients: age {b.age} here, {a.age} in {_name(then)} "
                           f"{since} before")


def check_pair(then: Visit, now: Visit, *, linked: bool = False) -> list[str]:
    """The identity of two visits of one patient, `now` following `then`: refused when they
    are the same visit, of different patients, in the wrong order (`now` dated before `then`,
    or `then` recorded as a follow-up of `now`), or - when `linked` (the visit `now` says it
    follows) - when `now` follows another case. Returns the warnings: `now` recorded as a
    follow-up of another case (not `linked`: an earlier visit may lie between), and the earlier
    file changed since `now` recorded its hash (naming the file)."""
    warnings: list[str] = []
    if then.source and now.source and then.file_hash and then.file_hash == now.file_hash:
        raise _refuse(now, f"is the same visit as {_name(then)}: a visit cannot follow itself")
    if then.case.id == now.case.id:
        raise _refuse(now, f"has the id {plain(now.case.id)} of the visit it follows ({_name(then)}): "
                           "a visit cannot follow itself")
    if then.case.assessed_on and now.case.assessed_on and now.case.assessed_on < then.case.assessed_on:
        raise _refuse(now, f"is dated {now.case.assessed_on}, before the visit it follows ({_name(then)}, "
                           f"{then.case.assessed_on}); give the earlier visit first")
    at_then, at_now = then.case.assessed_at, now.case.assessed_at
    if at_then is not None and at_now is not None and at_now < at_then:
        raise _refuse(now, f"was assessed at {at_now.isoformat()}, before the visit it follows ({_name(then)}, "
                           f"{at_then.isoformat()}); give the earlier visit first")
    earlier = then.case.follow_up_of
    if earlier is not None and earlier.id == now.case.id:
        raise _refuse(now, f"{_name(then)} is recorded as a follow-up of this visit: the visits follow each "
                           "other in a cycle, or are given in the wrong order")
    same_patient(then, now)
    record = now.case.follow_up_of
    if record is None and not linked:
        warnings.append(f"{plain(now.case.id)} is not recorded as a follow-up of an earlier visit (no follow_up_of).")
    elif record is not None and record.id != then.case.id:
        after = record.assessed_on is not None and then.case.assessed_on is not None \
            and then.case.assessed_on > record.assessed_on  # so not among the visits `now` follows
        if linked or after:
            raise _refuse(now, f"is a follow-up of case {plain(record.id)}"
                               f"{f' ({record.assessed_on})' if record.assessed_on else ''}, not of "
                               f"{plain(then.case.id)} ({_name(then)}"
                               f"{f', {then.case.assessed_on}' if after else ''}): visits of another patient?")
        warnings.append(f"{plain(now.case.id)} is recorded as a follow-up of {plain(record.id)}, not of "
                        f"{plain(then.case.id)}.")
    elif record is not None:
        if record.assessed_on and then.case.assessed_on and record.assessed_on != then.case.assessed_on:
            warnings.append(f"{plain(now.case.id)} records its previous visit as dated {record.assessed_on}, but "
                            f"{_name(then)} is dated {then.case.assessed_on}.")
        if record.file_hash and then.file_hash and record.file_hash != then.file_hash:
            warnings.append(f"The previous case file {_name(then)} has changed since this follow-up was recorded "
                            "(its SHA-256 differs from the one recorded).")
    return warnings


# --------------------------------------------------------------------------- comparing two visits


@dataclass(frozen=True)
class VisitChange:
    """One answer or score at both visits, as it reads, and the change ("+2", "changed", ""); with the
    field it is (`pain.leg_nrs`, `classification`) and the values as data (codes, numbers, yes/no as
    true/false, None when unknown or not asked), for JSON."""

    label: str
    then: str
    now: str
    change: str
    field: str = ""
    then_value: Any = None
    now_value: Any = None

    def to_data(self) -> dict[str, Any]:
        return {"field": self.field, "label": self.label, "then": self.then_value, "then_label": self.then,
                "now": self.now_value, "now_label": self.now, "change": self.change}


@dataclass
class Comparison:
    then: Visit
    now: Visit
    rules_version: str
    days: int | None
    classification: VisitChange
    urgency: VisitChange
    new_red_flags: list[str]  # conditions raised now and not then (or higher), loudly first
    new_positive: list[str]  # red-flag screening answers "yes" now and not then
    unscreened_now: list[str]  # red-flag questions screened then and not now
    resolved_red_flags: list[str]  # conditions raised then that the answers now exclude
    lower_red_flags: list[str]
    since_last_visit: list[VisitChange]
    start_back: list[VisitChange]
    alerts_new: list[str]
    alerts_cleared: list[str]
    changed: list[VisitChange]  # every other answer that changed
    warnings: list[str] = field(default_factory=list)
    # The lists above as data for JSON: each item's code (condition, alert, fact) and tiers beside its words.
    coded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outcomes: list[OutcomeChange] = field(default_factory=list)  # measures at both visits, against the MCID
    # Conditions (and tiered alerts) raised then, not raised now - or lower - and not excluded now
    # either: a rule that raises each is undecided because questions were not asked at this visit.
    # Never "resolved", "cleared" or "lower". (JSON: not_excluded_red_flags, not_excluded_alerts.)
    not_excluded_red_flags: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """No answer, score or result differs between the visits."""
        return not (self.new_red_flags or self.new_positive or self.unscreened_now or self.resolved_red_flags
                    or self.not_excluded_red_flags or self.lower_red_flags or self.alerts_new or self.alerts_cleared
                    or self.changed or self.classification.change or self.urgency.change
                    or any(c.change for c in self.since_last_visit + self.start_back))

    def to_data(self) -> dict[str, Any]:
        def visit(v: Visit) -> dict[str, Any]:
            return {"id": v.case.id, "file": v.source,
                    "assessed_on": v.case.assessed_on.isoformat() if v.case.assessed_on else None,
                    "rules_version": v.rules_version}
        changes = ("since_last_visit", "start_back", "changed")
        return {
            "then": visit(self.then), "now": visit(self.now), "rules_version": self.rules_version, "days": self.days,
            "unchanged": self.unchanged, "classification": self.classification.to_data(),
            "urgency": self.urgency.to_data(),
            **{name: self.coded.get(name, []) for name in ("new_red_flags", "new_positive", "unscreened_now",
                                                             "resolved_red_flags", "not_excluded_red_flags",
                                                             "not_excluded_alerts", "lower_red_flags", "alerts_new",
                                                             "alerts_cleared")},
            **{name: [c.to_data() for c in getattr(self, name)] for name in changes},
            "warnings": self.warnings,
            "outcomes": [vars(o) for o in self.outcomes],
        }


def compare(then: Visit, now: Visit, ruleset: RuleSet, now_assessment: Assessment | None = None) -> Comparison:
    """What changed between two visits of one patient, both scored with `ruleset`."""
    q = ruleset.questionnaire
    if q is None:  # pragma: no cover - the shipped rules always have one
        raise ValueError("the rule set has no interview.yaml")
    identity = check_pair(then, now)
    m = ruleset.manifest
    a_then, a_now = ruleset.assess(then.case), now_assessment or ruleset.assess(now.case)
    days = (now.case.assessed_on - then.case.assessed_on).days if then.case.assessed_on and now.case.assessed_on \
        else None
    rank = ruleset.tier_rank

    def tier(t: str) -> str:
        return m.tiers[t].label.upper()

    coded: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "new_red_flags", "lower_red_flags", "resolved_red_flags", "not_excluded_red_flags", "not_excluded_alerts",
        "new_positive", "unscreened_now", "alerts_new", "alerts_cleared")}
    new, resolved, open_, lower = [], [], [], []
    undecided = set(a_now.not_excluded)

    def still_open(name: str, above: str | None, kind: str = "condition") -> list[str]:
        """The undecided rules that could raise `name` (above tier `above`): unknown answers keep
        it from being excluded at this visit."""
        return [r.id for r in ruleset.rules if r.raises == kind and r.name == name and r.id in undecided
                and (above is None or r.tier is None or rank[r.tier] < rank[above])]

    for name, t in sorted(a_now.conditions.items(), key=lambda c: rank[c[1]]):
        was = a_then.conditions.get(name)
        label = m.conditions[name].label
        if was is None:
            new.append(f"{label} - {tier(t)} ({m.tiers[t].time_frame})")
        elif rank[t] < rank[was]:
            new.append(f"{label} - {tier(t)} ({m.tiers[t].time_frame}), was {tier(was)}")
        elif rank[t] > rank[was] and (open_rules := still_open(name, t)):  # not lower: not excluded above
            open_.append(f"{label} - {tier(t)}, was {tier(was)}: {tier(was)} not excluded, its questions were not "
                         "all asked at this visit")
            coded["not_excluded_red_flags"].append({"condition": name, "tier": t, "was": was, "label": open_[-1],
                                                    "rules": open_rules})
            continue
        elif rank[t] > rank[was]:
            lower.append(f"{label} - {tier(t)}, was {tier(was)}")
        else:
            continue
        coded["new_red_flags" if was is None or rank[t] < rank[was] else "lower_red_flags"].append(
            {"condition": name, "tier": t, "was": was, "label": (new if was is None or rank[t] < rank[was]
                                                                 else lower)[-1]})
    for name, was in a_then.conditions.items():
        if name in a_now.conditions:
            continue
        open_rules = still_open(name, None)
        if open_rules:  # unknown answers keep it from being excluded: not resolved
            open_.append(f"{m.conditions[name].label} (was {tier(was)}): not excluded, its questions were not all "
                         "asked at this visit")
            coded["not_excluded_red_flags"].append({"condition": name, "tier": None, "was": was, "label": open_[-1],
                                                    "rules": open_rules})
        else:
            resolved.append(f"{m.conditions[name].label} (was {tier(was)})")
            coded["resolved_red_flags"].append({"condition": name, "tier": None, "was": was, "label": resolved[-1]})
    screening = m.screening
    positive = [f for f in screening if a_now.facts.get(f) is True and a_then.facts.get(f) is not True]
    unscreened_facts = [f for f in screening if a_now.facts.get(f) is None and a_then.facts.get(f) is not None]
    new_positive = [q.label(f) for f in positive]
    unscreened = [q.label(f) for f in unscreened_facts]
    coded["new_positive"] = [{"fact": f, "label": q.label(f)} for f in positive]
    coded["unscreened_now"] = [{"fact": f, "label": q.label(f)} for f in unscreened_facts]

    def alert(name: str, t: str | None) -> str:
        return m.alerts[name].label + (f" - {tier(t)}" if t else "")
    raised = [(n, t) for n, t in a_now.alerts.items() if n not in a_then.alerts or a_then.alerts[n] != t]
    cleared = [(n, t) for n, t in a_then.alerts.items() if n not in a_now.alerts]
    # A tiered alert (ces_at_risk: URGENT) neither raised nor excluded now, or raised lower while a
    # rule that raises it higher is undecided: not excluded, as for conditions - never "cleared".
    for n, was in a_then.alerts.items():
        now_tier = a_now.alerts.get(n)
        if was is None or (n in a_now.alerts and (now_tier is None or rank[now_tier] <= rank[was])):
            continue
        open_rules = still_open(n, now_tier, "alert")
        if open_rules:
            open_.append(f"{alert(n, now_tier) if n in a_now.alerts else m.alerts[n].label} (was {tier(was)}): "
                         f"{tier(was)} not excluded, its questions were not all asked at this visit")
            coded["not_excluded_alerts"].append({"alert": n, "tier": now_tier, "was": was, "label": open_[-1],
                                                 "rules": open_rules})
    open_alerts = {flag["alert"] for flag in coded["not_excluded_alerts"]}
    raised = [(n, t) for n, t in raised if n not in open_alerts]
    cleared = [(n, t) for n, t in cleared if n not in open_alerts]
    alerts_new = [alert(n, t) for n, t in raised]
    alerts_cleared = [alert(n, t) for n, t in cleared]
    coded["alerts_new"] = [{"alert": n, "tier": t, "label": alert(n, t)} for n, t in raised]
    coded["alerts_cleared"] = [{"alert": n, "tier": t, "label": alert(n, t)} for n, t in cleared]

    first = q.follow_up.ask_first if q.follow_up else ()
    advance = q.follow_up.advance_with_time if q.follow_up else ()
    then_answers, now_answers = asked(then.case, a_then.ruleset.questionnaire, a_then.facts), asked(
        now.case, a_now.ruleset.questionnaire, a_now.facts)
    settled = (_settled(then.case, then_answers), _settled(now.case, now_answers))
    since = [_change(q.by_id[qid], then_answers, now_answers, settled) for qid in first
             if qid in then_answers or qid in now_answers]
    changed = []
    for question in q.questions:
        if question.id in first or question.id in ("id", "assessor") or question.id.startswith("notes.") \
                or question.kind == "items" or question.label in new_positive:  # items: scored above
            continue
        if question.id in advance and days is not None:
            expected = _advanced(then_answers.get(question.id), question, days)
            if expected is not None and now_answers.get(question.id) is not None \
                    and abs(now_answers[question.id] - expected) < 0.05:
                continue  # the duration grew with the time between the visits, as it should
        change = _change(question, then_answers, now_answers, settled)
        if change.change:
            changed.append(change)
    comparison = Comparison(
        then, now, ruleset.version, days,
        VisitChange("Class", m.classes[a_then.classification].label, m.classes[a_now.classification].label,
               "" if a_then.classification == a_now.classification else "changed", "classification",
               a_then.classification, a_now.classification),
        VisitChange("Urgency", tier(a_then.urgency), tier(a_now.urgency), _direction(rank[a_now.urgency],
                                                                                rank[a_then.urgency]),
               "urgency", a_then.urgency, a_now.urgency),
        new, new_positive, unscreened, resolved, lower, since,
        _start_back(a_then, a_now), alerts_new, alerts_cleared, changed, coded=coded, not_excluded_red_flags=open_)
    comparison.warnings = identity + _warnings(comparison)
    comparison.outcomes = outcome_changes(ruleset.outcome_measures, a_then.facts, a_now.facts)
    return comparison


def _words(question: Question, answers: dict[str, Any], settled: dict[str, Any]) -> str:
    if question.id not in answers:
        if settled.get(question.id) is None:
            return "not asked"
        return f"{_words(question, settled, {})} (settled by another answer)"  # leg pain 0 with no leg symptoms
    value = answers[question.id]
    return answer_words(question, frozenset(value) if isinstance(value, list) and question.kind == "multi" else value)


def _settled(case: Case, shown: dict[str, Any]) -> dict[str, Any]:
    """What the case records for questions `asked` leaves out: not asked, their value settled by
    another answer (the question's if_skipped)."""
    return {qid: value for qid, value in answers_of(case).items() if qid not in shown and value is not None}


def _change(question: Question, then: dict[str, Any], now: dict[str, Any],
            settled: tuple[dict[str, Any], dict[str, Any]] = ({}, {})) -> VisitChange:
    before = then.get(question.id, settled[0].get(question.id))
    after = now.get(question.id, settled[1].get(question.id))
    shown_then, shown_now = _words(question, then, settled[0]), _words(question, now, settled[1])
    values = (question.id, _value(before), _value(after))
    # A value settled by another answer says nothing that answer does not: a change only from a value
    # to a different one ("7/10" to a settled "0/10") or from "unsure", not from "no" asked, nor from
    # not asked at all.
    either_settled = question.id not in then and before is not None or question.id not in now and after is not None
    absent = question.id not in then and before is None or question.id not in now and after is None  # not asked
    if shown_then == shown_now or (either_settled and (absent or (before is not None and before == after))):
        return VisitChange(question.label, shown_then, shown_now, "", *values)
    numeric = question.kind in ("number", "scale") and isinstance(before, (int, float)) \
        and isinstance(after, (int, float))
    return VisitChange(question.label, shown_then, shown_now, f"{after - before:+g}" if numeric else "changed", *values)


def _value(value: Any) -> Any:
    """An answer as JSON data (a set of choices as a sorted list)."""
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def _advanced(value: Any, question: Question, days: int) -> float | None:
    if not isinstance(value, (int, float)):
        return None
    return round(value + (days / 7 if question.unit == "weeks" else days), 1)


def _direction(now_rank: int, then_rank: int) -> str:
    return "" if now_rank == then_rank else "higher" if now_rank < then_rank else "lower"


def _start_back(then: Assessment, now: Assessment) -> list[VisitChange]:
    out = []
    for name, label in _DERIVED_START_BACK:
        if name not in then.ruleset.definitions:
            continue
        before, after = then.value(name), now.value(name)
        if before is None and after is None:
            continue
        if before is None or after is None:
            change = "changed"
        else:
            change = f"{after - before:+g}" if after != before else ""
        out.append(VisitChange(label, "not recorded" if before is None else f"{before:g}",
                          "not recorded" if after is None else f"{after:g}", change, name, before, after))
    return out


def _warnings(c: Comparison) -> list[str]:
    out = []
    record = c.now.case.follow_up_of
    then_rules = c.then.rules_version or (record.rules_version if record is not None else None)
    recorded = {"last visit": then_rules, "this visit": c.now.rules_version}
    if any(v and v != c.rules_version for v in recorded.values()):
        said = "; ".join(f"{when} assessed with rules {plain(v)}" for when, v in recorded.items() if v)
        out.append(f"Rules version differs: {said}; both visits are scored here with rules {c.rules_version}. "
                   "A class or urgency recorded at the time may differ from the one shown here for that reason "
                   "alone.")
    return out




# --------------------------------------------------------------------------- a series of visits

SERIES_COLUMNS = ("assessed_on", "id", "classification", "urgency", "back_nrs", "leg_nrs", "leg_extent",
                  "red_flags", "new_red_flags", "not_excluded_red_flags", "unscreened", "follow_up_of", "file")


def series_visits(paths: list[Path]) -> tuple[list[Visit], list[str]]:
    """The visits of the case files named and of the files in each folder named (its own files, not
    its subfolders'), and what could not be read among a folder's files. Every file in a folder
    with a case suffix, in any letter case, is read, so that what is not a visit's case file - a
    consultation's draft (it may hold a red flag no saved visit holds), JSON Lines, a FIFO, a
    dangling link - is named, never left out of the series in silence; the series of the rest is
    still given. A file named that cannot be read is refused, as is a folder named that holds no
    case file (a series of no visits is a wrong folder, not an empty answer)."""
    visits: list[Visit] = []
    problems: list[str] = []
    for path in paths:
        if not path.is_dir():
            visits.append(read_visit(path))
            continue
        found = folder_case_files(path)
        if not found:
            raise InputError(f"{plain(str(path))}: no case files in this folder (.yaml, .yml or .json)")
        for file in found:
            try:
                visits.append(read_visit(file))
            except InputError as err:
                problems.append(f"{err}; not in the series")
    if not visits and problems:
        raise InputError(problems[0])
    return visits, problems


def series(visits: list[Visit], ruleset: RuleSet) -> tuple[list[dict[str, Any]], list[str]]:
    """One patient's visits in date order: a row per visit, and the warnings (undated visits,
    a visit not recorded as a follow-up of the one before, rules that differ)."""
    undated = [v.source for v in visits if v.case.assessed_on is None]
    if undated:
        raise InputError.from_problems([Problem(Location(s), "no assessed_on date: a series needs every visit dated",
                                                "assessed_on") for s in undated])
    ordered = sorted(visits, key=_series_order(visits))
    warnings = _series_identity(ordered)
    rows = []
    before: Visit | None = None
    for visit in ordered:
        a = ruleset.assess(visit.case)
        pain = visit.case.pain
        new: list[str] = []
        not_excluded: list[str] = []  # raised at the visit before, neither raised nor excluded now
        if before is not None:
            c = compare(before, visit, ruleset, a)
            new = [f"{flag['condition']}:{flag['tier']}" for flag in c.coded["new_red_flags"]]
            not_excluded = [f"{flag['condition']}:{flag['was']}" for flag in c.coded["not_excluded_red_flags"]] + [
                f"{flag['alert']}:{flag['was']}" for flag in c.coded["not_excluded_alerts"]]
            warnings += [f"{plain(visit.source)}: {w}" for w in c.warnings]
        elif visit.rules_version and visit.rules_version != ruleset.version:
            warnings.append(f"{plain(visit.source)}: Rules version differs: assessed with rules "
                            f"{plain(visit.rules_version)}; scored here with rules {ruleset.version}.")
        rows.append({
            "assessed_on": visit.case.assessed_on.isoformat(),  # type: ignore[union-attr]
            "id": visit.case.id, "classification": a.classification, "urgency": a.urgency,
            "back_nrs": pain.back_nrs if pain else None, "leg_nrs": pain.leg_nrs if pain else None,
            "leg_extent": pain.leg_extent if pain else None,
            "red_flags": [f"{n}:{t}" for n, t in a.conditions.items()], "new_red_flags": new,
            "not_excluded_red_flags": not_excluded, "unscreened": list(a.unscreened),
            "follow_up_of": visit.case.follow_up_of.id if visit.case.follow_up_of else None, "file": visit.source,
        })
        before = visit
    return rows, warnings


def _series_order(visits: list[Visit]) -> Any:
    """The sort key of a series: the date; on one day, the time of day where both visits have one,
    else the follow-up links (a visit after the one it follows, however the files are named)."""
    by_id = {v.case.id: v for v in visits}

    def earlier(visit: Visit) -> set[str]:  # the visits before this one along its follow_up_of chain
        found, current = set(), visit
        while current.case.follow_up_of is not None and current.case.follow_up_of.id in by_id \
                and current.case.follow_up_of.id not in found:  # a cycle: refused by _series_identity
            current = by_id[current.case.follow_up_of.id]
            found.add(current.case.id)
        return found

    chains = {id(v): earlier(v) for v in visits}

    def compare_visits(a: Visit, b: Visit) -> int:
        if a.case.assessed_on != b.case.assessed_on:
            return -1 if a.case.assessed_on < b.case.assessed_on else 1  # type: ignore[operator]
        at_a, at_b = a.case.assessed_at, b.case.assessed_at
        if at_a is not None and at_b is not None and at_a != at_b:
            return -1 if at_a < at_b else 1
        if a.case.id in chains[id(b)]:
            return -1
        if b.case.id in chains[id(a)]:
            return 1
        return 0
    return functools.cmp_to_key(compare_visits)


def _series_identity(ordered: list[Visit]) -> list[str]:
    """Refuse a series that is not one patient's visits: the same visit twice, a visit that
    follows itself, visits that follow each other in a cycle, a visit that follows a later one,
    a visit recorded as following a case that is not among them (another patient's, unless it
    is the first visit), or two visits that cannot be of one patient. (A visit after the first
    that is not recorded as a follow-up at all is warned about by `compare`.)"""
    by_id: dict[str, Visit] = {}
    for visit in ordered:
        if visit.case.id in by_id:
            raise _refuse(visit, f"has the same id ({plain(visit.case.id)}) as {_name(by_id[visit.case.id])}: "
                                 "one visit given twice, or two patients")
        by_id[visit.case.id] = visit
    for visit in ordered:  # every chain of follow_up_of ends; none loops
        seen, current = {visit.case.id}, visit
        while current.case.follow_up_of is not None and current.case.follow_up_of.id in by_id:
            current = by_id[current.case.follow_up_of.id]
            if current.case.id in seen:
                raise _refuse(visit, "the visits follow each other in a cycle (follow_up_of): "
                                     + " -> ".join(plain(i) for i in [*seen, current.case.id]))
            seen.add(current.case.id)
    warnings: list[str] = []
    first = ordered[0] if ordered else None
    for visit in ordered:
        record = visit.case.follow_up_of
        if record is not None and record.id == visit.case.id:
            raise _refuse(visit, "is recorded as a follow-up of itself")
        if record is not None and record.id in by_id:
            check_pair(by_id[record.id], visit, linked=True)
        elif record is not None and visit is not first:
            raise _refuse(visit, f"is a follow-up of case {plain(record.id)}, which is not among these visits: "
                                 "visits of another patient, or a visit missing from the series")
    for index, later in enumerate(ordered):  # each against every visit before it: an unknown age or
        for earlier in ordered[:index]:       # sex at a visit between them does not hide a mismatch
            same_patient(earlier, later)
    return warnings


def series_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SERIES_COLUMNS)
    for row in rows:
        writer.writerow([csv_text("" if row[c] is None else ";".join(row[c]) if isinstance(row[c], list)
                                     else row[c]) for c in SERIES_COLUMNS])
    return buffer.getvalue()
