"""`assessed_at`: when the assessment began, with its UTC offset (an extension to lbp-case/1).

Both readers (the case model and the fast batch reader) accept the same times and refuse the
same ones, with a located message: a time without its offset is ambiguous in a record, and a
time on another day than `assessed_on` cannot both be true.
"""

from __future__ import annotations

import datetime as dt
import json

import orjson
import pytest

from lbp_assess.base.errors import InputError
from lbp_assess.inputs.cases import parse_case
from lbp_assess.model.case import fast_convert, fast_json, validate_case

BASE = {"format": "lbp-case/1", "id": "t1", "assessed_on": "2026-11-21", "patient": {"age": 40, "sex": "female"}}


@pytest.mark.parametrize("moment", ["2026-11-21T14:05:00+01:00", "2026-11-21T14:05:00Z", "2026-11-21T23:30-05:00"])
def test_a_time_with_its_offset_is_kept_by_both_readers(moment):
    data = {**BASE, "assessed_at": moment}
    case = validate_case(data, "t")
    assert case.assessed_at == dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    assert case.to_data()["assessed_at"].startswith(moment[:16])
    if moment.count(":") >= 3 or moment.endswith(":00Z"):  # with seconds: RFC 3339, the fast reader takes it too
        assert fast_convert(data) is not None and fast_json(orjson.dumps(data)) is not None
    # (without seconds the fast reader declines, and the case is read again precisely: still scored)


@pytest.mark.parametrize("moment,words", [
    ("2026-11-21T14:05:00", "with its UTC offset"),
    ("2026-11-22T09:00+00:00", "is not on the assessment date (2026-11-21)"),
    ("noon", "expected a date and time as YYYY-MM-DDTHH:MM+HH:MM"),
    (1763733900, "expected a date and time as YYYY-MM-DDTHH:MM+HH:MM, got 1763733900"),  # not seconds since 1970
    (True, "expected a date and time as YYYY-MM-DDTHH:MM+HH:MM, got True"),
])
def test_an_ambiguous_or_impossible_time_is_refused_by_both_readers_at_its_line(moment, words):
    data = {**BASE, "assessed_at": moment}
    text = "format: lbp-case/1\nid: t1\nassessed_on: 2026-11-21\nassessed_at: " + json.dumps(moment) + "\n"
    with pytest.raises(InputError) as err:
        parse_case(text, "visit.yaml")
    assert f"visit.yaml:4:" in str(err.value) and "assessed_at" in str(err.value) and words in str(err.value)
    assert fast_convert(data) is None and fast_json(orjson.dumps(data)) is None


@pytest.mark.parametrize("moment", ["2026-11-20T23:59:59.9999995Z", "2026-11-20T23:59:59.99999951+05:30"])
def test_a_time_a_fraction_of_a_microsecond_before_midnight_is_the_evening_before_for_both_readers(moment):
    # The fast reader's decoder rounds digits past the microsecond (to midnight, the next day);
    # the case model cuts them (23:59:59.999999, the day before): the fast reader leaves a time
    # that reads as midnight to the case model, which refuses this one (not on assessed_on).
    data = {**BASE, "assessed_at": moment}
    with pytest.raises(InputError, match="is not on the assessment date"):
        validate_case(data, "t")
    assert fast_convert(data) is None and fast_json(orjson.dumps(data)) is None


def test_a_case_without_a_time_is_unchanged():
    assert "assessed_at" not in validate_case(BASE, "t").to_data()
