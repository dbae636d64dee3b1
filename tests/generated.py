"""Generated cases (hypothesis strategies) shared by the property tests."""

from __future__ import annotations


from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from lbp_assess.model.case import FACTS, FactType, validate_case
from lbp_assess.engine.ruleset.load import load_rules

from helpers import RULES, examples

RULESET = load_rules(RULES)
RANK = RULESET.tier_rank  # 0 = emergency

RED_FLAG_SECTIONS = ("neuro", "cauda_equina", "systemic", "history", "obstetric")  # systemic.collapse: v6
# Facts whose "yes" narrows a red flag by design (policy v7: a history of non-melanoma skin
# cancer only does not fire the urgent cancer-history row); every other yes/no fact only raises.
NARROWING_FACTS = {"history.cancer_skin_only"}
RED_FLAG_FACTS = sorted(
    [p for p, t in FACTS.items() if t.kind == "bool" and p.split(".")[0] in RED_FLAG_SECTIONS
     and p not in NARROWING_FACTS]
    + ["pain.thoracic", "pain.abdominal", "pain.groin", "behaviour.constant"]
)
BOOL_FACTS = sorted(p for p, t in FACTS.items() if t.kind == "bool")
NUMBER_RANGES = {  # realistic ranges for unbounded numbers
    "onset.weeks_ago": 200, "behaviour.morning_stiffness_min": 180, "walking.tolerance_min": 120,
    "cauda_equina.onset_days": 60, "obstetric.gestation_weeks": 45, "obstetric.postpartum_weeks": 52,
}


THRESHOLDS = RULESET.thresholds


def _around(path: str, lo: float, hi: float) -> list[float]:
    """Both sides of every threshold the rules use for this fact."""
    values = set()
    for k in THRESHOLDS.get(path, ()):
        values |= {k - 1, k, k + 1}
    return sorted(v for v in values if lo <= v <= hi)


def fact_values(t: FactType, true_percent: int = 50) -> st.SearchStrategy:
    if t.kind == "bool":
        return st.integers(0, 99).map(lambda n: n < true_percent)
    if t.kind == "int":
        lo = int(t.minimum or 0)
        hi = int(t.maximum if t.maximum is not None else 100)
        edges = [int(v) for v in _around(t.path, lo, hi)]
        return st.one_of(st.sampled_from(edges), st.integers(lo, hi)) if edges else st.integers(lo, hi)
    if t.kind == "number":
        top = NUMBER_RANGES[t.path]
        anywhere = st.one_of(st.integers(0, top), st.floats(0, top, allow_nan=False))
        edges = _around(t.path, 0, top)
        return st.one_of(st.sampled_from(edges), anywhere) if edges else anywhere
    if t.kind == "enum":
        return st.sampled_from(t.values)
    if t.kind == "set":
        return st.lists(st.sampled_from(t.values), unique=True)
    if t.kind == "int_list":
        return st.tuples(*[st.integers(0, 1)] * 8, st.integers(0, 4)).map(list)
    if t.kind == "text":  # one line a clinician typed (a PSFS activity); hostile text is fuzzed elsewhere
        words = st.sampled_from(["Sitting", "at work", "lifting", "my child", "walking", "the dog", "gardening",
                                 "putting socks on", "driving", "Ärger", "żywot"])
        return st.lists(words, min_size=1, max_size=4).map(" ".join)
    raise AssertionError(t)


SETTINGS = settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw):
    """A valid case: each fact unknown (absent) or a valid value.

    How many facts are known, and how often a yes/no fact is "yes", vary per
    case, so both sparse histories and full, mostly negative screens (where a
    single red flag stands alone) are generated often.
    """
    known_percent = draw(st.sampled_from([20, 60, 95]))
    true_percent = draw(st.sampled_from([3, 15, 50]))
    data: dict = {"format": "lbp-case/1", "id": "generated"}
    for path, t in FACTS.items():
        section, name = path.split(".")
        if draw(st.integers(0, 99)) < known_percent:
            data.setdefault(section, {})[name] = draw(fact_values(t, true_percent))
    return data


def assess(data):
    return RULESET.assess(validate_case(data, "<generated>"))


def with_fact(data, path, value):
    section, name = path.split(".")
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    out.setdefault(section, {})[name] = value
    return out
