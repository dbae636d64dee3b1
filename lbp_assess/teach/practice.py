"""Practice mode for students: commit to a class and an urgency from a vignette (or by
taking the history), say which features you relied on, and see how the rules reasoned.

The answer key is always the rule set's own assessment; the features that
"mattered" are the facts that decided the rules that fired (conditions, alerts
with a tier, and the findings that set the class). The student is offered only
what they could know: the facts the vignette states (its `vignette_mentions`) or,
when taking the history, the answers to the questions they asked. Nothing here
touches a terminal: a `PracticePrompter` asks and shows (prompts.py has the
terminal one).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import random
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from ..model.case import FACTS, Case, facts_of
from ..inputs.cases import load_case
from ..base.text import counted, markup, plain
from ..base.errors import InputError, did_you_mean
from ..engine.questionnaire import GO_BACK, Question, Questionnaire, ask_when_node
from ..model import expr
from ..engine.governing import governing_plans
from ..engine.reasoning import excluded_by_entry, plan_of, read_by_fired_rules, rule_features, urgency_plans
from ..engine.ruleset.model import Assessment, RuleSet
from .records import read_records, triage_marks
from ..engine.words import class_choice_label, class_short_label, describe_value

DONE = "__done__"
PASS = "__pass__"  # the student chose nothing (Enter twice): never a right answer
NO_PATTERN = "none"

#: The patterns a clinician names beside the class (the note's headline names them too):
#: pattern -> (the choice as a student reads it, the alerts that raise it). A pattern is offered
#: only when the rule set has one of its alerts.
PATTERNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "inflammatory": ("Inflammatory (possible axial spondyloarthritis)", ("inflammatory_pattern",)),
    "vascular": ("Vascular (claudication)", ("vascular_claudication",)),
    "pregnancy": ("Pregnancy-related", ("pregnancy_related",)),
    "fragility_fracture": ("Possible fragility fracture", ("possible_fragility_fracture",)),
    "aneurysm_risk": ("Aortic aneurysm risk", ("aortic_aneurysm_risk",)),
}


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    """One thing the history says, as a student would tick it."""

    fact: str
    value: Any
    text: str  # "Furthest extent: Into the foot"


def _is_positive(value: Any) -> bool:
    return value not in (None, False, "none", "") and value != frozenset() and value != []


def finding(fact: str, value: Any, ruleset: RuleSet) -> Finding:
    q = ruleset.questionnaire.by_id.get(fact) if ruleset.questionnaire else None
    shown = q.describe(sorted(value) if isinstance(value, frozenset) else value) if q \
        else describe_value(value)
    return Finding(fact, value, f"{q.label if q else fact}: {shown}")


def key_facts(assessment: Assessment) -> set[str]:
    """The features that mattered: every positive answer that made a rule fire that raises a
    condition, a tiered alert, a pattern or a finding of the musculoskeletal picture (all of them,
    not one sufficient). The findings that keep a case non-specific count too ("stenosis
    possible": 3 of the 5 Cook items; pain above the knee): the detail's "how the rules reasoned"
    shows them, so the verdict's feature count is taken from the same rules."""
    pattern_alerts = {alert for _, alerts in PATTERNS.values() for alert in alerts}
    keys: set[str] = set()
    for trace in assessment.trace():
        r = trace.rule
        if trace.state != "fired":
            continue
        if r.raises in ("condition", "finding") or (r.raises == "alert" and (r.tier or r.name in pattern_alerts)):
            keys.update(n for n, v in rule_features(assessment, r).items() if _is_positive(v))
    return keys


def patterns_offered(ruleset: RuleSet) -> list[tuple[str, str]]:
    """The pattern choices for this rule set, "none" first."""
    alerts = ruleset.manifest.alerts
    return [(NO_PATTERN, "None - no specific pattern")] + [
        (name, label) for name, (label, raised_by) in PATTERNS.items() if any(x in alerts for x in raised_by)]


def patterns_of(assessment: Assessment) -> list[str]:
    """The patterns the rules raised for this case ([] when none)."""
    return [name for name, (_, raised_by) in PATTERNS.items() if any(x in assessment.alerts for x in raised_by)]


def pattern_conditions(ruleset: RuleSet, pattern: str) -> set[str]:
    """The red-flag conditions a pattern is the lower-tier form of, read from the rules: the
    conditions its alerts' rows exclude (`possible_fragility_fracture` reads `not
    condition.fracture`). Naming the pattern when that condition was raised names the condition."""
    from ..model import expr

    alerts = set(PATTERNS[pattern][1])
    found: set[str] = set()
    seen: set[str] = set()

    def walk(node: expr.Node) -> None:
        for ref in expr.references(node):
            if ref.name in ruleset.definitions and ref.name not in seen:
                seen.add(ref.name)
                walk(ruleset.definitions[ref.name].node)
            elif ref.name.startswith("condition.") and ref.name != "condition.any":
                found.add(ref.name.partition(".")[2])

    for rule in ruleset.rules:
        if rule.raises == "alert" and rule.name in alerts:
            walk(rule.node)
    return found & set(ruleset.manifest.conditions)


def patterns_naming_a_condition(assessment: Assessment) -> dict[str, str]:
    """Patterns that name a condition the rules raised (pattern -> condition): "Possible fragility
    fracture" when the fracture condition set the urgency is right."""
    out = {}
    for name in PATTERNS:
        raised = [c for c in pattern_conditions(assessment.ruleset, name) if c in assessment.conditions]
        if raised:
            out[name] = raised[0]
    return out


def pattern_text(name: str | None) -> str:
    if name in (None, PASS):
        return "no answer"
    return "no specific pattern" if name == NO_PATTERN else PATTERNS[name][0]


def facts_the_rules_depend_on(assessment: Assessment) -> set[str]:
    """The facts a vignette must state: the known facts that decided a fired rule, and each red flag present."""
    facts = assessment.facts
    needed = {n for t in assessment.trace() if t.state == "fired" for n in t.facts if n in FACTS}
    needed = {n for n in needed if facts.get(n) is not None}
    return needed | {n for n in assessment.ruleset.manifest.screening if facts.get(n) is True}


# --------------------------------------------------------------------------- what the student could know


def _words(text: str) -> str:
    return " ".join(text.split()).casefold()


def stated_facts(case: Case, source: str) -> set[str] | None:
    """The facts the vignette states, from its `vignette_mentions` (each quote checked against
    the narrative); None when the case does not list them."""
    mentions = case.vignette_mentions
    if mentions is None:
        return None
    narrative = _words(case.vignette or "")
    for fact, quote in mentions.items():
        if fact not in FACTS:
            raise InputError(f"{plain(source)}: vignette_mentions: unknown fact `{plain(fact)}`"
                             f"{did_you_mean(fact, FACTS)}")
        if not quote.strip() or _words(quote) not in narrative:
            raise InputError(f"{plain(source)}: vignette_mentions: {fact}: {plain(quote)!r} is not in the vignette")
    return set(mentions)


# --------------------------------------------------------------------------- exercises


@dataclass
class Exercise:
    case: Case
    source: str
    assessment: Assessment
    keys: list[Finding]  # what mattered
    options: list[Finding]  # what the student may tick: knowable keys, other findings, untrue distractors
    known: set[str] | None = None  # facts the student could know (None: every fact)


def make_exercise(case: Case, source: str, ruleset: RuleSet, rng: random.Random,
                  known: set[str] | None = None) -> Exercise:
    """The answer key and the features to offer; only facts in `known` are offered."""
    a = ruleset.assess(case)
    facts = a.facts
    knowable = (lambda f: True) if known is None else known.__contains__
    key_names = key_facts(a)
    keys = [finding(f, facts[f], ruleset) for f in FACTS if f in key_names]
    others = [finding(f, v, ruleset) for f, v in facts.items()
              if f not in key_names and knowable(f) and _is_positive(v) and FACTS[f].kind in ("bool", "enum")]
    # Distractors are the case's own answers, as it states them: a "no" that no rule that fired
    # read (never a "yes" the case contradicts, never a value it does not state).
    read = read_by_fired_rules(a)
    denied = [f for f, v in facts.items() if FACTS[f].kind == "bool" and knowable(f) and v is False
              and f not in key_names and f not in read]
    distractors = [finding(f, facts[f], ruleset) for f in rng.sample(denied, min(4, len(denied)))]
    options = [k for k in keys if knowable(k.fact)] + rng.sample(others, min(4, len(others))) + distractors
    rng.shuffle(options)
    return Exercise(case, source, a, keys, options, known)


@dataclass
class Attempt:
    classification: str  # a class, or PASS
    urgency: str  # a tier, or PASS
    ticked: list[str]  # fact paths
    asked: list[str] | None = None  # questions asked, in history-taking mode
    seconds: float = 0.0
    pattern: str | None = None  # a pattern, NO_PATTERN or PASS; None: not asked (older records)


@dataclass
class Feedback:
    exercise: Exercise
    attempt: Attempt
    class_ok: bool
    urgency_ok: bool
    missed_red_flag: bool  # a red-flag case not called red flag
    under_triage: bool  # an emergency/urgent case given a lower urgency
    missed: list[Finding]  # mattered, could be known, not ticked
    irrelevant: list[Finding]  # ticked, true, did not matter
    untrue: list[Finding] = field(default_factory=list)  # ticked, but not what the patient said
    unknown_keys: list[Finding] = field(default_factory=list)  # mattered, never asked (or not stated)
    red_flag_questions_not_asked: list[str] = field(default_factory=list)
    pattern_ok: bool = True
    patterns: list[str] = field(default_factory=list)  # the key's patterns
    naming: dict[str, str] = field(default_factory=dict)  # patterns also right: they name a raised condition

    @property
    def serious(self) -> bool:
        return self.missed_red_flag or self.under_triage or bool(self.red_flag_questions_not_asked)

    @property
    def right(self) -> bool:
        """Class, urgency and pattern all right, nothing serious."""
        return self.class_ok and self.urgency_ok and self.pattern_ok and not self.serious


def mark(exercise: Exercise, attempt: Attempt) -> Feedback:
    a = exercise.assessment
    rs = a.ruleset
    ticked = set(attempt.ticked)
    key_names = {k.fact for k in exercise.keys}
    options = {o.fact: o for o in exercise.options}
    known = exercise.known
    chosen = [options[f] for f in attempt.ticked if f in options]
    read = read_by_fired_rules(a)
    not_asked = []
    if attempt.asked is not None:
        not_asked = [f for f in rs.manifest.screening if f not in attempt.asked]
    patterns = patterns_of(a)
    naming = patterns_naming_a_condition(a)
    accepted = (patterns or [NO_PATTERN]) + list(naming)
    marks = triage_marks(attempt.classification, attempt.urgency, a.classification, a.urgency, rs)
    return Feedback(
        exercise, attempt,
        class_ok=marks["classification"], urgency_ok=marks["urgency"],
        missed_red_flag=marks["missed_red_flag"], under_triage=marks["under_triage"],
        missed=[k for k in exercise.keys if k.fact not in ticked and (known is None or k.fact in known)],
        # "did not matter" only when no rule that fired read it
        irrelevant=[o for o in chosen if o.fact not in key_names and o.fact not in read
                    and o.value == a.facts.get(o.fact)],
        untrue=[o for o in chosen if o.value != a.facts.get(o.fact)],
        unknown_keys=[k for k in exercise.keys if known is not None and k.fact not in known],
        red_flag_questions_not_asked=not_asked,
        pattern_ok=attempt.pattern is None or attempt.pattern in accepted,
        patterns=patterns, naming=naming,
    )


# --------------------------------------------------------------------------- feedback


def tier_text(ruleset: RuleSet, tier: str) -> str:
    """A tier as a choice on the urgency scale: "Urgent - within 24 hours to 1 week"; "Routine -
    physiotherapy management with safety-netting"."""
    t = ruleset.manifest.tiers[tier]
    detail = t.time_frame if t.time_frame.casefold() != t.label.casefold() else t.action.rstrip(".")
    return f"{t.label} - {detail[:1].lower()}{detail[1:]}"


def key_tier_text(a: Assessment) -> str:
    """The key's urgency with the governing rows' own time frame ("Soon - GP within 1 week"), never
    the tier's generic range; the tier's wording only when no row set the urgency."""
    frames = list(dict.fromkeys(p.time_frame for p in governing_plans(a) if p.time_frame))
    if not frames:
        return tier_text(a.ruleset, a.urgency)
    # the governing row's (the soonest); each row's own is in "Urgency set by" ("now (within
    # hours); now; MRI within 24 hours" read as one time frame)
    return f"{a.ruleset.manifest.tiers[a.urgency].label} - {frames[0]}"


def _bullets(items: list[str]) -> list[str]:
    return [f"  • {item}" for item in items]


def feedback_lines(fb: Feedback) -> list[str]:
    """The verdict, then the detail, as rich-markup lines; "  • " lines are list items."""
    return verdict_lines(fb) + detail_lines(fb)


def verdict_lines(fb: Feedback) -> list[str]:
    """What the student needs first, short enough for an 80x24 screen: anything serious, the
    class, urgency and pattern against the key, and the row that set the urgency with its
    action and time frame."""
    a = fb.exercise.assessment
    rs = a.ruleset
    m = rs.manifest
    t = fb.attempt
    lines = []
    if fb.under_triage:
        said = "no urgency given" if t.urgency == PASS else f"you said {m.tiers[t.urgency].label.lower()}"
        frame = key_tier_text(a).split(" - ", 1)[-1]
        lines.append(f"[bold red]SERIOUS: under-triaged - {markup(m.tiers[a.urgency].label.lower())}, "
                     f"{markup(frame)} - {markup(said)}.[/bold red]")
    if fb.missed_red_flag:
        lines.append("[bold red]SERIOUS: a red-flag case not called one[/bold red] - "
                     f"{markup(', '.join(m.conditions[c].label for c in a.conditions))}.")
    if fb.red_flag_questions_not_asked:
        n = len(fb.red_flag_questions_not_asked)
        lines.append(f"[bold red]SERIOUS: {n} red-flag question{'' if n == 1 else 's'} never asked[/bold red] - unscreened "
                     "(listed in the detail).")
    lines += _verdict("Classification", fb.class_ok, _class_said(rs, t.classification), class_choice_label(m.classes[a.classification].label))
    lines += _verdict("Urgency", fb.urgency_ok, "no answer" if t.urgency == PASS else tier_text(rs, t.urgency),
                      key_tier_text(a))
    if t.pattern is not None:
        key = " or ".join(pattern_text(p) for p in fb.patterns) or pattern_text(NO_PATTERN)
        if t.pattern in fb.naming:  # the student named the raised condition by its pattern
            key = f"{pattern_text(t.pattern)} - {m.conditions[fb.naming[t.pattern]].label} was raised"
        elif fb.naming:
            key += " (or " + " or ".join(f"{pattern_text(p)}, naming the {m.conditions[c].label.lower()} raised"
                                         for p, c in fb.naming.items()) + ")"
        lines += _verdict("Pattern", fb.pattern_ok, pattern_text(t.pattern), key)
    plans = urgency_plans(a)
    if len(plans) > 1:  # one row each: their actions hold semicolons of their own
        lines.append("[bold]Urgency set by:[/bold]")
        lines += _bullets([markup(p.line()) + "." for p in plans])
    else:
        lines.append(f"[bold]Urgency set by:[/bold] {markup(urgency_set_by_text(a))}")
    if t.asked is not None:
        lines.append(f"You asked {len(t.asked)} question{'' if len(t.asked) == 1 else 's'}; red-flag screen: "
                     f"{len(m.screening) - len(fb.red_flag_questions_not_asked)} of {len(m.screening)} asked.")
    lines.append(_feature_summary(fb))
    return lines


def urgency_set_by_text(a: Assessment) -> str:
    """The condition or alert that set the urgency, with its own action and time frame."""
    plans = urgency_plans(a)
    if plans:
        return "; ".join(p.line() for p in plans) + "."
    tier = a.ruleset.manifest.tiers[a.urgency]
    return f"no condition or tiered alert raised - {tier.label}: {tier.action.rstrip('.')}."


def _class_said(rs: RuleSet, classification: str) -> str:
    return "no answer" if classification == PASS else class_choice_label(rs.manifest.classes[classification].label)


def _feature_summary(fb: Feedback) -> str:
    ticked = len(fb.attempt.ticked)
    knowable = _knowable(fb)
    got = knowable - len(fb.missed)
    parts = [f"you ticked {got} of the {knowable} feature{'' if knowable == 1 else 's'} that mattered"] if knowable else \
        ["no feature you could know decided this case"]
    if fb.irrelevant:
        parts.append(f"{len(fb.irrelevant)} that did not matter")
    if fb.untrue:
        parts.append(f"{len(fb.untrue)} the patient did not say")
    if not ticked and not knowable:
        parts = ["you ticked no features"]
    return "Features: " + ", ".join(parts) + " (d for the detail)."


def detail_lines(fb: Feedback) -> list[str]:
    """The reasoning behind the verdict: each fired rule with the features that made it fire and
    its action and time frame, why a class was not given, the red-flag questions never asked,
    and the features ticked and missed."""
    a = fb.exercise.assessment
    rs = a.ruleset
    history = fb.attempt.asked is not None
    lines = []
    if fb.red_flag_questions_not_asked:
        lines.append("[bold red]Red-flag questions never asked[/bold red] (unscreened, even if the answer "
                     "would have been no):")
        lines += _bullets([markup(_label(rs, f)) for f in fb.red_flag_questions_not_asked])
    fired = [t.rule for t in a.trace() if t.state == "fired"]
    if fired:
        lines.append("[bold]How the rules reasoned:[/bold]")
        for r in fired:
            found = rule_features(a, r)
            because = "; ".join(finding(f, v, rs).text for f, v in found.items())
            plan = plan_of(rs, r)
            todo = f" [bold]Action - {markup(plan.time_frame)}:[/bold] {markup(plan.action.rstrip('.'))}." \
                if r.tier and plan.time_frame and plan.action else ""
            lines += _bullets([f"{markup(plan.label)}: {markup(' '.join(r.reason.split()))}"
                               + (f" [cyan]Because:[/cyan] {markup(because)}." if because else "")
                               + todo + f" [dim]({markup(r.source)})[/dim]"])
    if a.classification == "non_specific":
        lines.append("[bold]Why non-specific:[/bold]")
        lines += _bullets(why_non_specific(a, fb.exercise.known, history))
    lines += _feature_lines(fb, history)
    return lines


def _verdict(what: str, good: bool, said: str, key: str) -> list[str]:
    if good:
        return [f"{what}: [green]right[/green] - {markup(key)}."]
    return [f"{what}: [red]wrong[/red] - you said {markup(said)}; the rules say [bold]{markup(key)}[/bold]."]


def _label(rs: RuleSet, fact: str) -> str:
    return rs.questionnaire.label(fact) if rs.questionnaire else fact


def why_non_specific(a: Assessment, known: set[str] | None, history: bool) -> list[str]:
    """Why the case is non-specific: the red flags screened negative, and why not each class finding."""
    rs = a.ruleset
    screening = [f for f in rs.manifest.screening if not history or known is None or f in known]
    negative = [f for f in screening if a.facts.get(f) is False]
    told = [_label(rs, f) for f in negative if known is None or f in known]
    untold = [_label(rs, f) for f in negative if known is not None and f not in known]
    unknown = [_label(rs, f) for f in screening if a.facts.get(f) is None]
    out = []
    if told:
        out.append(f"Red flags screened negative ({len(told)} of {len(rs.manifest.screening)}): "
                   + markup(", ".join(told)) + ".")
    if untold:
        out.append("Recorded as no in the case but not said in the vignette: " + markup(", ".join(untold)) + ".")
    if unknown:
        out.append("Not screened (unknown): " + markup(", ".join(unknown)) + ".")
    if not a.conditions:
        out.append("No red-flag condition was raised.")
    for name in rs.class_findings:
        if name in a.findings:
            continue
        for trace in a.trace():
            if trace.rule.raises == "finding" and trace.rule.name == name and trace.state != "fired":
                label = rs.manifest.findings[name].label
                entry = excluded_by_entry(a, trace)
                if entry:  # "no leg symptoms": the questions it makes unnecessary do not leave it open
                    out.append(f"Not {markup(label[:1].lower() + label[1:])}; excluded by "
                               + markup("; ".join(finding(f, v, rs).text for f, v in entry.items())) + ".")
                    continue
                found = [finding(f, v, rs).text for f, v in trace.facts.items() if f in FACTS and v is not None]
                missing = [_label(rs, f) for f, v in trace.facts.items() if f in FACTS and v is None
                           and trace.state == "not_excluded"]
                out.append(f"Not {markup(label[:1].lower() + label[1:])}"
                           + (f"; the history has: {markup('; '.join(found))}" if found else "")
                           + (f"; could not be excluded, unknown: {markup(', '.join(missing))}" if missing else "") + ".")
    return out


def _feature_lines(fb: Feedback, history: bool) -> list[str]:
    lines = []
    if fb.missed:
        lines.append("[bold]Features that mattered and you did not tick:[/bold]")
        lines += _bullets([markup(f.text) for f in fb.missed])
    if fb.unknown_keys:
        lines.append("[bold]Features that mattered and you never asked about:[/bold]" if history else
                     "[bold]Features that mattered that the vignette does not state:[/bold]")
        lines += _bullets([markup(f.text) for f in fb.unknown_keys])
    if fb.irrelevant:
        lines.append("[bold]Features you relied on that did not matter here:[/bold]")
        lines += _bullets([markup(f.text) for f in fb.irrelevant])
    if fb.untrue:
        lines.append("[bold]Ticked, but not what the patient said:[/bold]")
        lines += _bullets([markup(f.text) for f in fb.untrue])
    if not (fb.missed or fb.unknown_keys or fb.irrelevant or fb.untrue or fb.serious):
        # the same count as the verdict's "Features:" line
        lines.append("[green]You picked exactly the features that mattered.[/green]" if _knowable(fb) else
                     "No feature you could know decided this case.")
    return lines


def _knowable(fb: Feedback) -> int:
    """How many features that mattered the student could know (missed or ticked)."""
    return len(fb.missed) + sum(1 for k in fb.exercise.keys if k.fact in fb.attempt.ticked)


# --------------------------------------------------------------------------- scorecard


@dataclass
class Scorecard:
    classes: list[str]
    results: list[Feedback] = field(default_factory=list)

    def add(self, fb: Feedback) -> None:
        self.results.append(fb)

    def lines(self) -> list[str]:
        n = len(self.results)
        if not n:
            return ["No cases attempted."]
        m = self.results[0].exercise.assessment.ruleset.manifest
        out = []
        missed = [fb for fb in self.results if fb.missed_red_flag or fb.under_triage]
        if missed:
            out.append(f"[bold red]Red flags missed or under-triaged: {len(missed)}[/bold red]")
            out += _bullets([f"{markup(fb.exercise.case.id)} - {markup(_condition_text(fb.exercise.assessment))}"
                             for fb in missed])
        unasked = [fb for fb in self.results if fb.red_flag_questions_not_asked]
        if unasked:
            out.append(f"[bold red]Red-flag questions never asked: "
                       f"{sum(len(fb.red_flag_questions_not_asked) for fb in unasked)} "
                       f"in {counted(len(unasked), 'case')}[/bold red]")
            out += _bullets([f"{markup(fb.exercise.case.id)} - {len(fb.red_flag_questions_not_asked)} of "
                             f"{len(m.screening)} not asked" for fb in unasked])
        out.append(f"Classification: {sum(fb.class_ok for fb in self.results)}/{n}; "
                   f"urgency: {sum(fb.urgency_ok for fb in self.results)}/{n}; "
                   f"pattern: {sum(fb.pattern_ok for fb in self.results)}/{n}")
        for name in self.classes:
            of_class = [fb for fb in self.results if fb.exercise.assessment.classification == name]
            if of_class:
                out += _bullets([f"{markup(class_short_label(m.classes[name].label))}: "
                                 f"{sum(fb.class_ok for fb in of_class)}/{len(of_class)}"])
        return out


def _condition_text(a: Assessment) -> str:
    m = a.ruleset.manifest
    named = [m.conditions[c].label for c in a.conditions] or [m.alerts[x].label for x, t in a.alerts.items() if t]
    return f"{m.tiers[a.urgency].label}: {', '.join(named)}"


def record_line(fb: Feedback, mode: str, student: str | None = None) -> str:
    e, t = fb.exercise, fb.attempt
    return json.dumps({
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "student": student,
        "case": e.case.id, "file": e.source, "mode": mode,
        "answer": {"classification": _answer(t.classification), "urgency": _answer(t.urgency),
                   "pattern": _answer(t.pattern), "features": t.ticked, "questions": t.asked},
        "key": {"classification": e.assessment.classification, "urgency": e.assessment.urgency,
                "patterns": fb.patterns, "conditions": list(e.assessment.conditions),
                "urgency_set_by": [p.rule for p in urgency_plans(e.assessment)]},
        "correct": {"classification": fb.class_ok, "urgency": fb.urgency_ok, "pattern": fb.pattern_ok},
        "missed_red_flag": fb.missed_red_flag, "under_triage": fb.under_triage,
        "red_flags_not_asked": fb.red_flag_questions_not_asked if t.asked is not None else None,
        "missed_features": [f.fact for f in fb.missed], "seconds": round(t.seconds, 1),
        "rules_version": e.assessment.rules_version,
    }, ensure_ascii=False)


def _answer(value: str | None) -> str | None:
    return None if value == PASS else value


def open_record(path: Path | str) -> IO[str]:
    """Open `--record` for appending: never through a symbolic link, a new file made 0600
    whatever the umask, anything but a regular file refused with a one-line error."""
    name = str(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)
        except FileExistsError:
            fd = os.open(name, flags)
    except OSError as err:
        why = "is a symbolic link; give the file itself" if err.errno == errno.ELOOP else \
            (err.strerror or str(err)).lower()
        raise InputError(f"--record {plain(name)}: {why}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"--record {plain(name)}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", encoding="utf-8")


# --------------------------------------------------------------------------- the session


class PracticePrompter(Protocol):
    def show(self, title: str, lines: list[str], clear: bool = False) -> None: ...

    def choose(self, text: str, choices: list[tuple[Any, str]]) -> Any:
        """One answer, nothing preselected; PASS when the student passes."""

    def verdict(self, title: str, lines: list[str], detail: list[str], last: bool = False) -> str:
        """Show the verdict until the student moves on ("next") or stops ("stop"); the detail on request."""

    def show_list(self, title: str, lines: list[str]) -> None: ...

    def note(self, text: str) -> None: ...

    def menu(self, text: str, choices: list[tuple[Any, str]], start: Any = None, erase: bool = False) -> Any: ...

    def choose_many(self, text: str, choices: list[tuple[Any, str]]) -> list[Any]: ...


def load_exercise_cases(paths: list[str], need_vignette: bool) -> list[tuple[str, Case]]:
    """Case files under `paths`; in narrative mode only those with a vignette."""
    from ..inputs.cases import expand

    cases = []
    for path in expand(paths):
        if not path.endswith((".yaml", ".yml", ".json")):
            continue
        case = load_case(path)
        if need_vignette and not case.vignette:
            continue
        stated_facts(case, path)  # a wrong mention is an error before the session starts
        cases.append((path, case))
    if not cases:
        what = "case files with a `vignette:`" if need_vignette else "case files"
        raise InputError(f"no {what} found in {', '.join(paths)}")
    return cases


def vignette_keys(cases: list[tuple[str, Case]], ruleset: RuleSet) -> dict[str, list[dict[str, Any]]]:
    """The key each vignette has under these rules, by its case id (a list: two vignettes may share
    an id): what a record of it must hold (its class, urgency and patterns), as `record_line`
    writes them."""
    keys: dict[str, list[dict[str, Any]]] = {}
    for _, case in cases:
        found = ruleset.assess(case)
        keys.setdefault(case.id, []).append({"classification": found.classification, "urgency": found.urgency,
                                             "patterns": patterns_of(found)})
    return keys


def default_vignettes() -> Path:
    from ..base.resources import shipped

    return shipped("vignettes")


def choose_cases(cases: list[tuple[str, Case]], ruleset: RuleSet, count: int | None, seed: int | None,
                 topic: str | None) -> list[tuple[str, Case]]:
    if topic is not None:
        cases = [(p, c) for p, c in cases if ruleset.assess(c).classification == topic]
        if not cases:
            raise InputError(f"no case has the class {topic!r}")
    rng = random.Random(seed)
    cases = list(cases)
    rng.shuffle(cases)
    return cases[:count] if count else cases


def run(cases: list[tuple[str, Case]], ruleset: RuleSet, prompter: PracticePrompter, card: Scorecard, *,
        seed: int | None = None, history_taking: bool = False, record: IO[str] | None = None,
        student: str | None = None, topic: str | None = None) -> Scorecard:
    """Practise on each case, adding to `card` (kept if interrupted); append each attempt to `record`.

    Nothing is preselected in any mode: the student presses a digit (or moves the pointer) to
    answer, and a bare Enter twice passes, which is never right. The verdict stays on screen
    until the student moves on; "stop" there ends the session early."""
    rng = random.Random(seed)
    m = ruleset.manifest
    classes = [(c, class_choice_label(n.label)) for c, n in m.classes.items()]
    tiers = [(t, tier_text(ruleset, t)) for t in m.tiers]
    patterns = patterns_offered(ruleset)
    for number, (source, case) in enumerate(cases, 1):
        started = time.monotonic()
        if history_taking:
            asked: list[str] | None = _take_history(case, ruleset, prompter, number, len(cases))
            known = set(asked or ()) | _introduced(case)
        else:
            asked = None
            prompter.show(f"Case {number} of {len(cases)}", [markup(" ".join((case.vignette or "").split()))],
                          clear=True)
            known = stated_facts(case, source)
        exercise = make_exercise(case, source, ruleset, rng, known)
        classification = prompter.choose("Your classification?", classes)
        urgency = prompter.choose("Your urgency?", tiers)
        pattern = prompter.choose("A specific pattern?", patterns)
        # A vignette that states no feature the rules read offers nothing to tick: the step is left out
        # (an empty checklist cannot be answered).
        ticked = prompter.choose_many("Which features did you rely on?",
                                      [(o.fact, plain(o.text)) for o in exercise.options]) if exercise.options else []
        attempt = Attempt(classification, urgency, list(ticked), asked, time.monotonic() - started, pattern)
        fb = mark(exercise, attempt)
        card.add(fb)
        if record is not None:
            record.write(record_line(fb, "history" if history_taking else "vignette", student) + "\n")
            record.flush()
        title = f"Case {number} of {len(cases)}: {markup(case.id)}"  # a panel title is markup: the id shown as it is
        if prompter.verdict(title, verdict_lines(fb), detail_lines(fb), last=number == len(cases)) == "stop":
            break
    return card


def _introduced(case: Case) -> set[str]:
    """Facts the history-taking introduction gives (age, and sex when stated)."""
    p = case.patient
    return {f for f, v in (("patient.age", p.age if p else None), ("patient.sex", p.sex if p else None))
            if v is not None and v not in ("other", "not_stated")}


def _take_history(case: Case, ruleset: RuleSet, prompter: PracticePrompter, number: int, total: int) -> list[str]:
    """The student picks a section, then a question; the case answers in one line that stays
    on screen (the menus leave nothing behind). Returns the questions asked."""
    q = ruleset.questionnaire
    assert q is not None
    facts = facts_of(case)
    p = case.patient
    who = {"male": "man", "female": "woman"}.get(p.sex if p and p.sex else "", "person")
    age = f"{p.age}-year-old " if p and p.age else ""
    prompter.show(f"Case {number} of {total}", [f"A {age}{who} with low back pain. Take the history: choose a "
                                                "section, then a question; Done (0) when "
                                                "you are ready to make your call."])
    introduced = _introduced(case)
    sections: dict[str, list[Question]] = {}
    for question in q.questions:
        if question.id not in ("id", "assessor") and question.id not in introduced:
            sections.setdefault(question.section_title, []).append(question)
    asked: list[str] = []
    section: Any = None
    while True:
        left = {title: [qn for qn in qs if qn.id not in asked] for title, qs in sections.items()}
        choices: list[tuple[Any, str]] = [(title, f"{title} ({len(qs)} left)") for title, qs in left.items() if qs]
        choices.append((DONE, "Done - make my call"))
        section = prompter.menu(f"Ask about ({len(asked)} asked):", choices, erase=True)
        if section == DONE:
            return asked
        picked = prompter.menu(f"{section}:", [(qn.id, qn.label) for qn in left[section]]
                               + [(GO_BACK, "<- Other sections")], erase=True)
        if picked == GO_BACK:
            continue
        question = q.by_id[picked]
        reply = _reply(question, case, facts, {*asked, *introduced}, q)
        if not reply.startswith(ASK_FIRST):
            asked.append(picked)
        prompter.note(f"{markup(question.text)} [bold]→ {markup(reply)}[/bold]")


#: The reply to a follow-up asked before the question it follows up: what to ask first.
ASK_FIRST = "Ask first:"


def _gates(question: Question) -> list[str]:
    """The facts a follow-up's `ask_when` reads (the questions it follows up)."""
    return list(dict.fromkeys(ref.name for ref in expr.references(ask_when_node(question)) if ref.name in FACTS))


def _settled_for(fact: str, asked: set[str], q: Questionnaire, facts: dict[str, Any]) -> bool:
    """Whether the student knows where `fact` stands: asked it, or it is a follow-up that what they
    asked rules out ("Dermatomal?" is ruled out once "no leg symptoms" was answered)."""
    if fact in asked:
        return True
    question = q.by_id.get(fact)
    if question is None or question.ask_when is None:
        return False
    return all(_settled_for(gate, asked, q, facts) for gate in _gates(question)) \
        and question.ask_when(facts) is False


def _reply(question: Question, case: Case, facts: dict[str, Any], asked: set[str] | None = None,
           q: Questionnaire | None = None) -> str:
    """The patient's answer to `question`. A follow-up asked before its gate (a question its
    `ask_when` reads that the student has not asked: `asked`) gets the gate to ask first, whatever
    the gate's answer, so the reply gives nothing away ("Was the only cancer a skin cancer?" before
    "Any cancer?": an answer would say yes, "does not apply" would say no). Once the gate is asked,
    a follow-up it rules out "does not apply"."""
    if question.id.startswith("notes."):
        value = getattr(case.notes, question.id.split(".", 1)[1], None) if case.notes else None
        return value or "(nothing recorded)"
    if question.ask_when is not None and asked is not None and q is not None:
        first = [gate for gate in _gates(question) if not _settled_for(gate, asked, q, facts)]
        if first:
            return f"{ASK_FIRST} {'; '.join(q.label(gate) for gate in first)} (this question follows up on it)."
    value = facts.get(question.id)
    if value is None and question.ask_when is not None and question.ask_when(facts) is False:
        return "Does not apply (see the earlier answers)."
    if value is None:
        return "The patient isn't sure (not recorded in this case)."
    return question.describe(sorted(value) if isinstance(value, frozenset) else value)


# --------------------------------------------------------------------------- practice again


def cases_to_practise_again(records_paths: list[str], cases: list[tuple[str, Case]], ruleset: RuleSet,
                            student: str | None = None) -> tuple[list[tuple[str, Case]], list[str]]:
    """The vignettes whose latest attempt in the records was a mistake (wrong class, urgency or
    pattern, a red flag missed, under-triaged), the most recent mistake first; a case answered
    right since its last mistake is left out. Also the messages about lines or cases not used."""
    records, problems = read_records(records_paths, ruleset)
    if student is not None:
        records = [r for r in records if r.student == student]
    latest: dict[str, tuple[str, int, Any]] = {}  # case -> (when, order, record)
    for order, record in enumerate(records):
        when = record.data.get("at") if isinstance(record.data.get("at"), str) else ""
        if record.case not in latest or (when, order) >= latest[record.case][:2]:
            latest[record.case] = (when, order, record)
    by_id = {case.id: (path, case) for path, case in cases}
    wrong = sorted((item for item in latest.values() if item[2].mistaken), key=lambda item: item[:2], reverse=True)
    chosen = []
    for _, _, record in wrong:
        if record.case in by_id:
            chosen.append(by_id[record.case])
        else:
            problems.append(f"{plain(record.file)}:{record.line}: case {plain(record.case)} is not among the "
                            "vignettes given; skipped")
    return chosen, problems
