"""The default policy (the written clinical policy, not the YAML rules) written by hand in plain Python.

Two uses: the speed reference for rule evaluation in bench.py, and an
independent second implementation of the policy - written from the policy
text, not from rules/*.yaml - that the shipped rules must agree with on every
generated case (bench.py checks it; so does tests/properties/test_handwritten_agreement.py).

Input: valid case data as plain nested dicts (as in a case file). Unknown facts are
absent or None. A rule fires only when it is known to be true, so "present"
below means `is True`, and "not true" means false or unknown.
"""

from __future__ import annotations

from typing import Any

TIERS = ("emergency", "urgent", "soon", "routine")
_E: dict[str, Any] = {}


def assess(d: dict[str, Any]) -> tuple[str, str, dict[str, str], set[str]]:
    """(classification, urgency, {condition: tier}, alerts)."""
    p = d.get("patient") or _E
    pain = d.get("pain") or _E
    on = d.get("onset") or _E
    b = d.get("behaviour") or _E
    w = d.get("walking") or _E
    n = d.get("neuro") or _E
    ce = d.get("cauda_equina") or _E
    sy = d.get("systemic") or _E
    h = d.get("history") or _E
    ob = d.get("obstetric") or _E
    course = (d.get("progression") or _E).get("course")
    sb = (d.get("psychosocial") or _E).get("start_back")

    age = p.get("age")
    weeks = on.get("weeks_ago")
    known_age = age is not None
    over = lambda k: known_age and age > k  # noqa: E731
    at_least = lambda k: known_age and age >= k  # noqa: E731
    t = lambda x: x is True  # noqa: E731

    leg_side, extent, other = pain.get("leg_side"), pain.get("leg_extent"), pain.get("other_leg_extent")
    bilateral = leg_side == "both"
    below_knee = extent in ("below_knee", "foot")
    both_below = bilateral and other in ("below_knee", "foot")
    neuro = t(n.get("paraesthesia")) or t(n.get("numbness")) or t(n.get("weakness")) or t(n.get("gait_change"))
    load_onset = on.get("mechanism") in ("lifting", "bending_twisting", "minor_trauma")
    ces = any(t(ce.get(f)) for f in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence",
                                     "bowel_incontinence", "saddle_numbness")) or t(n.get("weakness_both_legs"))
    sexual = t(ce.get("sexual_dysfunction"))
    fever, sweats, unwell = t(sy.get("fever")), t(sy.get("night_sweats")), t(sy.get("unwell"))
    weight_loss = t(sy.get("weight_loss"))
    constant = t(b.get("constant"))
    unrelenting = b.get("night_pain") == "unrelenting"
    steroids, osteo = t(h.get("long_term_steroids")), t(h.get("osteoporosis"))
    sudden = on.get("mode") == "sudden"
    not_excluded = not t(on.get("fracture_excluded"))

    conditions: dict[str, str] = {}

    def raise_(name: str, tier: str) -> None:
        if name not in conditions or TIERS.index(tier) < TIERS.index(conditions[name]):
            conditions[name] = tier

    # --- red flags (policy §2)
    if ces:
        days, worsening = ce.get("onset_days"), ce.get("worsening")
        raise_("cauda_equina", "urgent" if (days is not None and days > 14 and worsening is False) else "emergency")
    if t(h.get("cancer")):
        raise_("malignancy", "emergency" if (neuro or ces or sexual) else "urgent")
    if weight_loss and (unrelenting or constant) and over(50):
        raise_("malignancy", "urgent")
    if weight_loss and at_least(60):
        raise_("malignancy", "urgent")
    if not_excluded:
        mechanism = on.get("mechanism")
        if mechanism == "major_trauma":
            raise_("fracture", "emergency")
        if mechanism == "minor_trauma" and (over(70) or osteo or steroids):
            raise_("fracture", "urgent")
        if steroids and over(70):
            raise_("fracture", "urgent")
        if (steroids or osteo) and sudden and over(50):
            raise_("fracture", "urgent")
        if sudden and load_onset and (over(70) or (p.get("sex") == "female" and at_least(60))):
            raise_("fracture", "urgent")
    risk = any(t(h.get(f)) for f in ("iv_drug_use", "immunosuppressed", "recent_infection",
                                     "recent_spinal_procedure", "diabetes"))
    if (fever or sweats or unwell) and risk:
        raise_("infection", "emergency" if fever else "urgent")
    if fever and neuro:
        raise_("infection", "emergency")
    weeks_since_birth = ob.get("postpartum_weeks")
    if fever and (t(ob.get("pregnant")) or (t(ob.get("postpartum"))
                                           and (weeks_since_birth is None or weeks_since_birth <= 6))):
        raise_("infection", "emergency")
    if fever:
        raise_("infection", "urgent")
    if t(h.get("recent_spinal_procedure")) and course == "worsening":
        raise_("infection", "urgent")
    if t(n.get("weakness_progressing")):
        raise_("progressive_neuro_deficit", "emergency")
    smoker_or_vascular = t(h.get("smoker")) or t(h.get("vascular_disease"))
    mechanical = t(b.get("mechanical"))
    if at_least(60) and t(pain.get("abdominal")):
        if sudden or not mechanical:
            raise_("aortic_aneurysm", "emergency")
        if smoker_or_vascular:
            raise_("aortic_aneurysm", "urgent")
    if at_least(60) and t(pain.get("groin")) and not mechanical:
        if sudden:
            raise_("aortic_aneurysm", "emergency")
        if smoker_or_vascular:
            raise_("aortic_aneurysm", "urgent")
    if at_least(60) and t(sy.get("collapse")) and (t(pain.get("abdominal")) or not mechanical):
        raise_("aortic_aneurysm", "emergency")

    # --- musculoskeletal (policy §4)
    agg, eased = b.get("aggravated_by") or (), b.get("eased_by") or ()
    walking_pain = t(w.get("leg_symptoms_on_walking")) or "walking" in agg or "standing" in agg
    sitting_relief = t(w.get("relief_sitting_or_flexion")) or "sitting" in eased or "bending_forward" in eased
    cook = bilateral + (pain.get("dominant") == "leg") + walking_pain + sitting_relief + over(48)
    purely_vascular = t(w.get("relief_standing_still")) and not t(w.get("relief_sitting_or_flexion"))
    stenosis = cook >= 4 and not purely_vascular
    dermatomal = t(pain.get("dermatomal"))
    thigh_gate = dermatomal and pain.get("root_level") in ("L3", "L4") and extent == "thigh"
    items = ((pain.get("dominant") == "leg") + (below_knee and dermatomal)
             + (t(n.get("paraesthesia")) or t(n.get("numbness"))) + t(b.get("worse_cough_sneeze"))
             + t(n.get("weakness")))
    radicular = (below_knee or thigh_gate) and items >= 2

    # --- alerts (policy §2, §3)
    alerts: set[str] = set()
    tiers: list[str] = list(conditions.values())

    def alert(name: str, tier: str | None = None) -> None:
        alerts.add(name)
        if tier:
            tiers.append(tier)

    not_improving = course in ("static", "worsening") and weeks is not None and weeks >= 4
    weak = [over(50), weight_loss, unrelenting, constant, unwell, t(pain.get("thoracic")), not_improving]
    if not conditions and sum(weak) >= 2 and (weight_loss or unrelenting or constant or unwell):
        alert("serious_pathology_screen", "soon")
    if both_below and radicular and not stenosis and "cauda_equina" not in conditions:
        alert("ces_at_risk", "urgent")
    if radicular and t(n.get("weakness")):
        alert("radicular_weakness", "soon")
    if t(n.get("foot_drop")):
        alert("significant_motor_deficit", "urgent")
    if ((radicular or stenosis) or sexual) and "cauda_equina" not in conditions:
        alert("ces_safety_net")
    screening = [ce.get(f) for f in ("urinary_retention", "bladder_sensation_reduced", "urinary_incontinence",
                                     "bowel_incontinence", "saddle_numbness", "sexual_dysfunction")]
    screening += [sy.get(f) for f in ("weight_loss", "fever", "night_sweats", "unwell")] + [h.get("cancer")]
    if any(v is None for v in screening):
        alert("red_flag_screen_incomplete")
    if weeks is not None and weeks >= 12 and known_age:
        onset_age = age - weeks / 52
        if onset_age < 45:
            features = [onset_age < 35, b.get("night_pain") == "second_half",
                        extent == "buttock" or leg_side == "alternating", t(b.get("eased_by_exercise")),
                        (b.get("morning_stiffness_min") or 0) > 30, t(h.get("inflammatory_disease")),
                        on.get("mode") == "gradual"]
            if sum(features) >= 3:
                alert("inflammatory_pattern", "soon")
    vascular_history = t(h.get("smoker")) or t(h.get("diabetes")) or t(h.get("vascular_disease"))
    if t(w.get("relief_standing_still")) and (not t(w.get("relief_sitting_or_flexion")) or vascular_history):
        alert("vascular_claudication", "soon")
    elif t(w.get("leg_symptoms_on_walking")) and vascular_history:
        alert("vascular_risk")
    if sb is not None:
        total = sum(sb[:8]) + (sb[8] >= 3)
        psych = sum(sb[4:8]) + (sb[8] >= 3)
        alert("psychosocial_low_risk" if total <= 3 else
              "psychosocial_high_risk" if psych >= 4 else "psychosocial_medium_risk")
    if weeks is not None and weeks >= 12:
        alert("persistent_pain")
    if t(ob.get("pregnant")) or t(ob.get("postpartum")):
        alert("pregnancy_related")

    # --- combination (policy §1.5)
    urgency = min(tiers, key=TIERS.index) if tiers else "routine"
    if any(tier in ("emergency", "urgent") for tier in conditions.values()):
        classification = "red_flag"
    elif stenosis:
        classification = "stenosis"
    elif radicular:
        classification = "radicular"
    else:
        classification = "non_specific"
    return classification, urgency, conditions, alerts
