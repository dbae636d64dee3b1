"""Why a case got its class: the rule trace by layer, and what single change would alter it.

"What would change it" is computed, never written by hand: every fact is given
each other value it could take (yes/no, each choice, adding or removing one
item of a multiple choice, and every range of a number between the thresholds
the rules compare it with), the case is scored again, and the changes that
alter the classification or the urgency are listed, most urgent first. A
number's neighbouring ranges with the same result are shown as one threshold
("Age: 49 years or over"). A follow-up question that the other answers make
unnecessary (its `ask_when` is false) is never offered.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from ..model import expr
from ..model.case import FACTS, Case
from ..engine.questionnaire import Question, Questionnaire
from ..engine.reasoning import ask_first, entry_exclusion, features, plan_of, rule_features, urgency_plans
from ..engine.screens import screen_counts
from ..engine.ruleset.model import Assessment, RuleSet, RuleTrace
from ..engine.words import COMPARISON_WORDS, describe_value


@dataclass(frozen=True)
class Counterfactual:
    fact: str
    label: str
    before: Any
    after: Any  # one value that gives the result (for a range: the one nearest the current answer)
    shown: str  # the change in words: "Saddle numbness: yes", "Age: 49 years or over"
    classification: str
    urgency: str
    # A follow-up whose yes/no question was answered no comes with a yes to that question
    # ("Weakness: yes, in both legs"): {fact: value} also changed, never a combination the
    # interview could not record.
    also: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("before", "after"):
            if isinstance(data[key], frozenset):
                data[key] = sorted(data[key])
        return data


# --------------------------------------------------------------------------- what would change it


@dataclass(frozen=True)
class Span:
    """A range of a number: from `low` to `high`, each end included or not (None = no bound)."""

    low: float | None
    low_in: bool
    high: float | None
    high_in: bool
    sample: float


def spans(fact: str, ruleset: RuleSet) -> list[Span]:
    """The ranges of a number between the thresholds the rules compare it with, in order:
    below the first, at each, between each pair, above the last - each with a value inside."""
    info = FACTS[fact]
    lo, hi = info.minimum, info.maximum
    integer = info.kind == "int"
    cuts = sorted(k for k in ruleset.thresholds.get(fact, ()) if not integer or float(k).is_integer())
    out: list[Span] = []

    def add(low: float | None, low_in: bool, high: float | None, high_in: bool, sample: float) -> None:
        if (lo is not None and sample < lo) or (hi is not None and sample > hi):
            return
        out.append(Span(low, low_in, high, high_in, int(sample) if integer else sample))

    for i, k in enumerate(cuts):
        if i == 0:
            add(None, True, k, False, k - 1 if lo is None or k - 1 >= lo else lo)
        add(k, True, k, True, k)
        nxt = cuts[i + 1] if i + 1 < len(cuts) else None
        if nxt is None:
            add(k, False, None, True, k + 1 if hi is None or k + 1 <= hi else hi)
        elif not integer or nxt - k > 1:
            add(k, False, nxt, False, k + 1 if k + 1 < nxt else (k + nxt) / 2)
    return [s for s in out if not (s.low == s.sample and not s.low_in) and not (s.high == s.sample and not s.high_in)]


def candidates(fact: str, current: Any, ruleset: RuleSet) -> Iterator[Any]:
    """Other values a fact could take that the rules could respond to (numbers: see `spans`)."""
    kind = FACTS[fact].kind
    if kind == "bool":
        yield from (v for v in (True, False) if v is not current)
    elif kind == "enum":
        yield from (v for v in FACTS[fact].values if v != current)
    elif kind == "set":
        present = set(current or ())
        for value in FACTS[fact].values:
            yield frozenset(present ^ {value})
    elif kind in ("int", "number"):
        yield from (s.sample for s in spans(fact, ruleset) if s.sample != current)


def what_would_change(assessment: Assessment, questionnaire: Questionnaire | None) -> list[Counterfactual]:
    """Every single answer that would change the class or the urgency (the complete list), most
    urgent first. A follow-up the other answers make unnecessary is offered only with a yes to the
    yes/no question it follows up ("Weakness: yes, with Weakness in both legs: yes"), so a red-flag
    answer is never left out and no combination the interview could not record is named."""
    ruleset, facts = assessment.ruleset, assessment.facts
    before = (assessment.classification, assessment.urgency)
    changes = []
    for fact in FACTS:
        current = facts.get(fact)
        question = questionnaire.by_id.get(fact) if questionnaire else None
        base, also = facts, {}
        if question is not None and question.ask_when is not None and question.ask_when(facts) is False:
            opened = _open_gate(question, facts)
            if opened is None:
                continue  # a follow-up that would not be asked, and no yes/no answer opens it
            also = opened
            base = {**facts, **opened}
            opened_alone = ruleset.assess_facts(base)
            gate_result = (opened_alone.classification, opened_alone.urgency)
        if FACTS[fact].kind in ("int", "number"):
            if not also:
                changes += _number_changes(assessment, fact, question, before)
            continue
        for value in candidates(fact, current, ruleset):
            result = ruleset.assess_facts({**base, fact: value})
            outcome = (result.classification, result.urgency)
            if outcome != before and not (also and outcome == gate_result):  # the follow-up must add something
                shown = _shown(fact, current, value, question)
                if also:
                    shown = "; ".join([*(_shown(g, facts.get(g), v, _question(questionnaire, g))
                                         for g, v in also.items()), shown])
                changes.append(Counterfactual(fact, _label(fact, question), current, value, shown,
                                      result.classification, result.urgency, also))
    rank = ruleset.tier_rank
    changes.sort(key=lambda c: (rank[c.urgency], c.classification != "red_flag", list(FACTS).index(c.fact)))
    return changes


def _question(questionnaire: Questionnaire | None, fact: str) -> Question | None:
    return questionnaire.by_id.get(fact) if questionnaire else None


def _open_gate(question: Question, facts: dict[str, Any]) -> dict[str, Any] | None:
    """The yes to one yes/no question (answered no) that makes `question` asked; None if none does.
    Only a yes/no follow-up's own yes/no gate is opened: never a person's sex, a number or a choice."""
    if FACTS[question.id].kind != "bool" or not question.ask_when_text:
        return None
    for ref in expr.references(expr.parse(question.ask_when_text)):
        gate = ref.name
        if gate in FACTS and FACTS[gate].kind == "bool" and facts.get(gate) is False \
                and question.ask_when({**facts, gate: True}) is True:
            return {gate: True}
    return None


# --------------------------------------------------------------------------- ask next


@dataclass(frozen=True)
class AskNext:
    """An unknown answer worth asking: the most urgent result one answer to it could give."""

    fact: str
    label: str
    answer: str  # the answer that would give it, in words
    classification: str
    urgency: str
    raises_tier: bool  # that answer would raise the urgency (else it changes the class only)


def ask_next(assessment: Assessment, questionnaire: Questionnaire | None) -> list[AskNext]:
    """The unknown answers that could change the result, ranked by how far one answer could move
    it: the highest urgency it could reach first, then a change of class; a question the other
    answers make unnecessary is left out."""
    ruleset, facts = assessment.ruleset, assessment.facts
    rank = ruleset.tier_rank
    before = (assessment.classification, assessment.urgency)
    found = []
    for fact in FACTS:
        if facts.get(fact) is not None:
            continue
        question = _question(questionnaire, fact)
        if questionnaire is not None and question is None:
            continue  # not something the interview asks
        if question is not None and question.ask_when is not None and question.ask_when(facts) is False:
            continue
        values = list(candidates(fact, None, ruleset))
        best = None
        for value in values:
            result = ruleset.assess_facts({**facts, fact: value})
            outcome = (result.classification, result.urgency)
            if outcome == before:
                continue
            key = (rank[result.urgency], result.classification == before[0])
            if best is None or key < best[0]:
                best = (key, value, outcome)
        if best is not None:
            _, value, (cls, urgency) = best
            found.append(AskNext(fact, _label(fact, question), _answer_words(fact, value, question, ruleset),
                                 cls, urgency, rank[urgency] < rank[before[1]]))
    found.sort(key=lambda x: (rank[x.urgency], not x.raises_tier, list(FACTS).index(x.fact)))
    return found


def _answer_words(fact: str, value: Any, question: Question | None, ruleset: RuleSet) -> str:
    if FACTS[fact].kind in ("int", "number"):
        for span in spans(fact, ruleset):
            if span.sample == value:
                return _range(span, span, fact, question)
    return _shown(fact, None, value, question).split(": ", 1)[-1]


def _number_changes(a: Assessment, fact: str, question: Question | None, before: tuple[str, str]) -> list[Counterfactual]:
    """Neighbouring ranges with the same result, merged into one threshold each."""
    current = a.facts.get(fact)
    runs: list[tuple[list[Span], tuple[str, str]]] = []
    for span in spans(fact, a.ruleset):
        # The range holding the recorded value is tried at that value: a threshold the rules apply to
        # a fact derived from this one (age at onset, from age and duration) has no cut here, so any
        # other value inside the range could stand for a different result than the case's own.
        sample = current if current is not None and _holds(span, current) else span.sample
        result = a.ruleset.assess_facts({**a.facts, fact: sample})
        outcome = (result.classification, result.urgency)
        if runs and runs[-1][1] == outcome:
            runs[-1][0].append(span)
        else:
            runs.append(([span], outcome))
    out = []
    for run, outcome in runs:
        if outcome == before:
            continue
        nearest = min(run, key=lambda s: abs(s.sample - current) if current is not None else 0).sample
        shown = f"{_label(fact, question)}: {_range(run[0], run[-1], fact, question)}"
        out.append(Counterfactual(fact, _label(fact, question), current, nearest, shown, *outcome))
    return out


def _holds(span: Span, value: float) -> bool:
    above = span.low is None or value > span.low or (span.low_in and value == span.low)
    below = span.high is None or value < span.high or (span.high_in and value == span.high)
    return above and below


def _range(first: Span, last: Span, fact: str, question: Question | None) -> str:
    """"49 years or over", "under 6 weeks", "6 to under 12 weeks", "14 days or under"."""
    integer = FACTS[fact].kind == "int"
    low, low_in, high, high_in = first.low, first.low_in, last.high, last.high_in
    if integer and low is not None and not low_in:
        low, low_in = low + 1, True
    if integer and high is not None and not high_in:
        high, high_in = high - 1, True
    unit = (question.unit if question else None) or ""

    def n(v: float) -> str:
        text = describe_value(v)
        return f"{text}/10" if unit == "/10" else text

    suffix = "" if unit in ("", "/10") else f" {unit}"
    if low is None and high is None:
        return "any value (once recorded)"
    if low is not None and high is not None and low == high:
        return f"{n(low)}{_unit_for(low, suffix)}"
    if low is None:
        return f"{n(high)}{suffix} or under" if high_in else f"under {n(high)}{suffix}"  # type: ignore[arg-type]
    if high is None:
        return f"{n(low)}{suffix} or over" if low_in else f"over {n(low)}{suffix}"
    start = n(low) if low_in else f"over {n(low)}"
    end = f"{n(high)}{suffix}" if high_in else f"under {n(high)}{suffix}"
    return f"{start} to {end}" if low_in else f"{start} and {end}"


def _unit_for(value: float, suffix: str) -> str:
    return suffix[:-1] if suffix.endswith("s") and value == 1 else suffix


def _label(fact: str, question: Question | None) -> str:
    return question.label if question else fact


def _shown(fact: str, before: Any, after: Any, question: Question | None) -> str:
    label = _label(fact, question)
    if FACTS[fact].kind == "set":
        added = set(after) - set(before or ())
        removed = set(before or ()) - set(after)
        name = (lambda v: question.choice_label(v)) if question else str  # noqa: E731
        return f"{label}: also {name(added.pop())}" if added else f"{label}: without {name(removed.pop())}"
    value = question.describe(after) if question else describe_value(after)
    return f"{label}: {value}"


# --------------------------------------------------------------------------- the rule trace


def explanation(case: Case, ruleset: RuleSet) -> dict[str, Any]:
    """The whole explanation as data (the JSON output; the tree is drawn from it)."""
    from .note import labels as note_labels

    a = ruleset.assess(case)
    q = ruleset.questionnaire
    m = ruleset.manifest
    labels = note_labels(ruleset, q) if q else {}
    layers = []
    for layer, title in m.layers.items():
        rules = []
        for trace in a.trace():
            r = trace.rule
            if r.layer != layer:
                continue
            named = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}[r.raises][r.name]
            facts = _deciding(trace, a)
            # excluded by an entry answer: only follow-ups it makes unnecessary decide the rule or
            # leave it open ("no leg symptoms on walking", not "eased by standing still: no")
            entry, settles = entry_exclusion(a, trace)
            excluded = [{"fact": n, "label": labels.get(n, n), "value": _jsonable(v), "shown": _value(n, v, q)}
                        for n, v in entry.items()]
            plan = plan_of(ruleset, r)
            fired = trace.state == "fired"
            rules.append({
                "id": r.id, "state": trace.state, "raises": r.raises, "name": r.name, "label": named.label,
                "rule_label": plan.label, "tier": r.tier, "time_frame": plan.time_frame if r.tier else None,
                "action": plan.action if r.tier or r.action else None,
                "reason": " ".join(r.reason.split()), "source": r.source, "status": r.status,
                "facts": [{"fact": n, "label": labels.get(n, n), "value": _jsonable(v), "shown": _value(n, v, q)}
                          for n, v in facts.items()],
                # every answer that made a fired rule fire (not just one sufficient one)
                "features": [{"fact": n, "label": labels.get(n, n), "value": _jsonable(v), "shown": _value(n, v, q)}
                             for n, v in rule_features(a, r).items()] if fired else [],
                "rests_on": [_outcome_words(n, m) for n in sorted(features(a, r.node, True))
                             if n not in FACTS and _outcome_words(n, m) and a.value(n) is True]
                if fired else [],
                "counts": [] if fired else _counts(r.node, a, labels),
                # left open only by questions an earlier answer makes unnecessary, and excluded by
                # that answer (no leg symptoms: how far down the leg is never asked)
                "excluded_by": excluded,
                # the follow-ups that entry answer makes unnecessary (never asked)
                "settles": [{"fact": n, "label": labels.get(n, n)} for n in settles] if excluded else [],
                # the questions to ask, in order: a follow-up whose entry question is unknown too
                # comes after it ("Leg symptoms on walking", then "Relief standing still")
                "missing": [{"fact": n, "label": labels.get(n, n),
                             "then": [{"fact": f, "label": labels.get(f, f)} for f in then]}
                            for n, then in ask_first(a, [f for f, v in facts.items() if f in FACTS and v is None]).items()]
                if trace.state == "not_excluded" and not excluded else [],
            })
        if rules:
            layers.append({"layer": layer, "title": title, "rules": rules})
    return {
        "case": case.id, "classification": a.classification, "urgency": a.urgency,
        "class_label": m.classes[a.classification].label, "result": a.to_row(),
        "summary": _summary(a, labels),
        "warnings": [w.split(": ", 1)[-1] for w in a.warnings],
        "layers": layers,
        "ask_next": [{**asdict(x), "class_label": _class(ruleset, x.classification),
                      "urgency_label": m.tiers[x.urgency].label.lower()} for x in ask_next(a, q)],
        "what_would_change": [{**c.as_json(), "class_label": _class(ruleset, c.classification),
                               "urgency_label": m.tiers[c.urgency].label.lower()}
                              for c in what_would_change(a, q)],
        "disclaimer": " ".join(m.disclaimer.split()),
    }


def _outcome_words(name: str, m: Any) -> str | None:
    """"finding.radicular_likely" -> "Radicular pain likely (finding)"."""
    space, _, item = name.partition(".")
    table = {"condition": m.conditions, "alert": m.alerts, "finding": m.findings}.get(space)
    if table is None or item not in table:
        return None
    return f"{table[item].label} ({space})"


def _summary(a: Assessment, labels: dict[str, str]) -> dict[str, Any]:
    """The three lines a clinician reads first: key positives -> condition -> tier -> action;
    key negatives; what to ask next (filled in by the caller's ask_next)."""
    rs = a.ruleset
    m = rs.manifest
    q = rs.questionnaire
    plans = urgency_plans(a)
    fired = {t.rule.id: t.rule for t in a.trace() if t.state == "fired"}
    if plans:
        deciding = [fired[p.rule] for p in plans]
    else:  # no tiered row: the class findings decided it
        deciding = [r for r in fired.values() if r.raises == "finding" and r.name in rs.class_findings]
    positives: dict[str, Any] = {}
    for rule in deciding:
        for fact, value in rule_features(a, rule).items():
            if value not in (False, "none") and value != frozenset():
                positives.setdefault(fact, value)
    negatives = [f for f in m.screening if a.facts.get(f) is False]
    # a screen answered no throughout is one negative ("Cauda equina screen negative (6 of 7 asked, ...)")
    screens = [(count, m.screens[count.title]) for count in screen_counts(a) if count.negative]
    covered = {f for _, facts in screens for f in facts}
    tier = m.tiers[a.urgency]
    return {
        "positives": [{"fact": f, "label": labels.get(f, f), "shown": _value(f, v, q)} for f, v in positives.items()],
        "condition": [p.label for p in plans] or [m.classes[a.classification].label],
        "tier": tier.label,
        "action": [{"label": p.label, "time_frame": p.time_frame, "action": p.action} for p in plans]
        or [{"label": m.classes[a.classification].label, "time_frame": tier.time_frame, "action": tier.action}],
        # counted as the note counts them: "6 of 7 asked, 1 settled by an earlier answer"
        "negatives": [{"fact": None, "label": f"{count.title} negative ({count.counted()})"}
                      for count, _ in screens]
        + [{"fact": f, "label": f"no {labels.get(f, f)[:1].lower()}{labels.get(f, f)[1:]}"}
           for f in negatives if f not in covered],
        "unscreened": [{"fact": f, "label": labels.get(f, f)} for f in a.unscreened],
    }


def _deciding(trace: RuleTrace, a: Assessment) -> dict[str, Any]:
    """The facts that decided a rule. For a rule that did not fire, a part that is known to be
    false decides it rather than a part that is false only because an answer is unknown
    (`is_false(worsening)` with worsening unknown is not why a rule with no feature did not fire)."""
    node = trace.rule.node
    if trace.state != "not_fired" or not isinstance(node, expr.And) or not _all_unknown(trace.facts, a):
        return trace.facts
    for item in node.items:
        outcome = a.explain(item)
        if outcome.value is False and not _all_unknown({n: a.value(n) for n in outcome.support}, a):
            return {n: a.value(n) for n in sorted(outcome.support)}
    return trace.facts


def _all_unknown(facts: dict[str, Any], a: Assessment) -> bool:
    return bool(facts) and all(n in a.facts and v is None for n, v in facts.items())


def _counts(node: expr.Node, a: Assessment, labels: dict[str, str]) -> list[dict[str, Any]]:
    """For each count the rule needs that is not met: how many of how many, and what is missing."""
    out = []
    for compare in _walk(node):
        if not (isinstance(compare, expr.Compare) and compare.op in (">=", ">")
                and isinstance(compare.right, expr.Const)):
            continue
        counted, name = _count_of(compare.left, a)
        if counted is None or a.explain(compare).value is True:
            continue
        values = [a.explain(item).value for item in counted.items]
        needs = compare.right.value + (1 if compare.op == ">" else 0)
        out.append({
            "name": name, "met": sum(v is True for v in values), "of": len(values), "needs": needs,
            "facts": sorted(a.explain(compare).support),
            "missing": [_words(item, a, labels) + ("" if v is False else " (unknown)")
                        for item, v in zip(counted.items, values) if v is not True],
        })
    return out


def _count_of(node: expr.Node, a: Assessment) -> tuple[expr.Count | None, str]:
    if isinstance(node, expr.Count):
        return node, "Items"
    if isinstance(node, expr.Ref) and node.name in a.ruleset.definitions:
        definition = a.ruleset.definitions[node.name]
        if isinstance(definition.node, expr.Count):
            return definition.node, (definition.means or node.name).rstrip(".")
    return None, ""


def _walk(node: expr.Node) -> Iterator[expr.Node]:
    yield node
    for child in expr._children(node):
        yield from _walk(child)


_OP_WORDS = {op: COMPARISON_WORDS[op] for op in (">", ">=", "<", "<=")}  # == and != only for a choice


def _words(node: expr.Node, a: Assessment, labels: dict[str, str]) -> str:
    """An item of a count in words: "Symptoms in both legs", "Worse: the leg", "Age over 48"."""
    q = a.ruleset.questionnaire
    if isinstance(node, expr.Ref):
        if node.name in a.ruleset.definitions:
            return (a.ruleset.definitions[node.name].means or node.name).rstrip(".")
        return labels.get(node.name, node.name).replace(" (finding)", "").replace(" (alert)", "")
    if isinstance(node, expr.Compare) and isinstance(node.right, expr.Const):
        subject = _words(node.left, a, labels)
        question = q.by_id.get(node.left.name) if q and isinstance(node.left, expr.Ref) else None
        value = node.right.value
        if node.op in ("==", "!=") and question is not None and question.kind == "choice":
            shown = question.choice_label(value)
            return f"{subject}: {shown[:1].lower() + shown[1:]}" if node.op == "==" else f"{subject}: not {shown}"
        if node.op in _OP_WORDS:
            return f"{subject} {_OP_WORDS[node.op].format(describe_value(value))}"
    if isinstance(node, (expr.And, expr.Or)):
        joiner = " and " if isinstance(node, expr.And) else " or "
        return joiner.join(_words(item, a, labels) for item in node.items)
    if isinstance(node, expr.Test) and node.fn == "is_true":
        return _words(node.item, a, labels)
    return "a further condition"


def _class(ruleset: RuleSet, name: str) -> str:
    named = ruleset.manifest.classes[name]
    return named.short or named.label


def _value(name: str, value: Any, q: Questionnaire | None) -> str:
    question = q.by_id.get(name) if q else None
    if question is None or value is None:
        return describe_value(value)
    return question.describe(sorted(value) if isinstance(value, frozenset) else value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def to_json(data: dict[str, Any]) -> str:
    """The explanation as JSON; a number that is not finite is written as text, never as Infinity."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return _jsonable(value)

    return json.dumps(clean(data), indent=2, ensure_ascii=False, allow_nan=False)
