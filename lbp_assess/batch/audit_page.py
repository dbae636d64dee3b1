"""The audit report as one self-contained HTML page (see `audit` for the data).

Charts are drawn by matplotlib as inline SVG: vector (prints sharply), no script and no
network needed to show them, text kept as text (`svg.fonttype: none`) so it can be read,
searched and selected. Each chart is a `<figure>` whose SVG has `role="img"` and a name,
whose caption is its text alternative, with its numbers in a table beneath.

Everything from a case (ids, file names, assessors, notes) is hostile data: it is written
only through `html.escape` (or by matplotlib's own XML escaping in the charts, after control
characters are shown as escapes), and the page's one small script reads it only as text. A
Content-Security-Policy allows no request at all and only that script (by its hash).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import re
from typing import Any, Iterable, Sequence

from .. import __version__
from .audit import OTHER_ASSESSORS, Audit, CaseEntry, Reclassified, conditions_text
from ..base.text import agree, counted, file_name, plain, plain_name, shorten
from ..engine.ruleset.model import RuleSet

#: Urgency colours, most urgent first (ColorBrewer RdBu: ordered, readable for colour-blind readers).
TIER_COLOURS = ("#67001f", "#d6604d", "#f4a582", "#4393c3", "#92c5de", "#d1e5f0")
CHART_ROWS = 25  # bars drawn at most; the table beneath has every row
PAGE_SIZE = 100  # cases shown at once in the list


def esc(value: Any) -> str:
    """Text from the input, safe in HTML text and attribute values (controls shown as escapes)."""
    return html.escape(plain("" if value is None else value), quote=True)


def esc_name(value: Any) -> str:
    """A file name, safe in HTML as `esc` makes text, its hidden characters and the undecodable
    bytes of a name that is not UTF-8 shown as escapes (`plain_name`): the page can always be written."""
    return html.escape(plain_name("" if value is None else value), quote=True)


def label(value: Any, limit: int = 48) -> str:
    """A chart label: controls shown as escapes, shortened (matplotlib escapes it for XML)."""
    return shorten(plain(value), limit)


def number(n: int) -> str:
    return f"{n:,}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


# --------------------------------------------------------------------------- charts


class Charts:
    """matplotlib figures as inline SVG strings."""

    def __init__(self) -> None:
        import matplotlib
        import matplotlib.ticker

        self.mpl = matplotlib
        from matplotlib.figure import Figure

        self.Figure = Figure

    def _rc(self, name: str) -> Any:
        return self.mpl.rc_context({
            "svg.fonttype": "none", "svg.hashsalt": name, "text.parse_math": False,
            "font.family": "sans-serif", "font.size": 9,
            "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
            "axes.spines.top": False, "axes.spines.right": False,
        })

    def svg(self, name: str, title: str, draw: Any, width: float, height: float) -> str:
        with self._rc(name):
            fig = self.Figure(figsize=(width, height), layout="constrained")
            draw(fig)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        text = buffer.getvalue()
        text = text[text.index("<svg"):]
        text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", text, count=1)
        return text.replace("<svg ", f'<svg role="img" aria-label="{esc(title)}" '
                                    f'aria-describedby="{name}-alt" class="chart" ', 1)

    def heatmap(self, name: str, title: str, rows: list[str], columns: list[str], values: list[list[int]]) -> str:
        def draw(fig: Any) -> None:
            ax = fig.add_subplot()
            top = max((v for row in values for v in row), default=0) or 1
            ax.pcolormesh(values, cmap="Reds", vmin=0, vmax=top, edgecolors="white", linewidth=2)  # vector cells
            ax.set_xticks([j + 0.5 for j in range(len(columns))], columns)
            ax.set_yticks([i + 0.5 for i in range(len(rows))], rows)
            ax.invert_yaxis()
            ax.xaxis.tick_top()
            for i, row in enumerate(values):
                for j, v in enumerate(row):
                    ax.text(j + 0.5, i + 0.5, number(v), ha="center", va="center", fontsize=10,
                            color="white" if v > top * 0.55 else "black")
            for side in ax.spines.values():
                side.set_visible(False)
            ax.tick_params(length=0)

        return self.svg(name, title, draw, 7.5, 0.5 + 0.55 * len(rows))

    def bars(self, name: str, title: str, labels: list[str], series: list[tuple[str, list[float], str]],
             xlabel: str, percent_axis: bool = False) -> str:
        """Horizontal bars, first label on top; several series stack."""
        def draw(fig: Any) -> None:
            ax = fig.add_subplot()
            positions = list(range(len(labels)))
            left = [0.0] * len(labels)
            for series_name, values, colour in series:
                ax.barh(positions, values, left=left, color=colour, label=series_name, height=0.7)
                left = [a + b for a, b in zip(left, values)]
            ax.set_yticks(positions, labels)
            ax.invert_yaxis()
            ax.set_xlabel(xlabel)
            if percent_axis:
                ax.set_xlim(0, 100)
            else:
                ax.xaxis.set_major_locator(self.mpl.ticker.MaxNLocator(integer=True))  # whole cases
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            if len(series) > 1:  # above the plot, never over a bar
                ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=len(series), frameon=False, fontsize=8)

        return self.svg(name, title, draw, 7.5, 0.9 + 0.24 * max(len(labels), 1))

    def columns(self, name: str, title: str, periods: list[str], series: list[tuple[str, list[int], str]],
                ylabel: str) -> str:
        """Stacked columns over time."""
        def draw(fig: Any) -> None:
            ax = fig.add_subplot()
            positions = list(range(len(periods)))
            bottom = [0] * len(periods)
            for series_name, values, colour in series:
                ax.bar(positions, values, bottom=bottom, color=colour, label=series_name, width=0.8)
                bottom = [a + b for a, b in zip(bottom, values)]
            step = max(1, len(periods) // 12)
            ax.set_xticks(positions[::step], periods[::step], rotation=30, ha="right")
            ax.set_ylabel(ylabel)
            ax.yaxis.set_major_locator(self.mpl.ticker.MaxNLocator(integer=True))  # whole cases
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=len(series), frameon=False, fontsize=8)

        return self.svg(name, title, draw, 7.5, 3.2)


# --------------------------------------------------------------------------- page pieces


def table(caption: str, head: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str,
          numeric_from: int = 1) -> str:
    """A table of numbers (escaped); `numeric_from`: the first right-aligned column."""
    out = [f'<table id="{table_id}" class="numbers"><caption>{esc(caption)}</caption><thead><tr>']
    out += [f'<th scope="col"{" class=num" if i >= numeric_from else ""}>{esc(h)}</th>' for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<th scope="row">{esc(row[0])}</th>']
        cells += [f'<td class="num">{esc(number(v) if isinstance(v, int) else v)}</td>' if i >= numeric_from
                  else f"<td>{esc(v)}</td>" for i, v in enumerate(row[1:], 1)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure(name: str, title: str, alternative: str, svg: str | None, numbers: str, note: str = "") -> str:
    chart = svg if svg is not None else '<p class="empty">Nothing to chart.</p>'
    return (f'<section class="chart-section" id="{name}"><h3>{esc(title)}</h3><figure>{chart}'
            f'<figcaption id="{name}-alt">{esc(alternative)}</figcaption></figure>'
            f'{f"<p class=note>{esc(note)}</p>" if note else ""}{numbers}</section>')


def _tiers(ruleset: RuleSet) -> list[str]:
    return list(ruleset.manifest.tiers)


def _tier_label(ruleset: RuleSet, tier: str) -> str:
    named = ruleset.manifest.tiers.get(tier)
    return named.label if named is not None else tier


def _class_label(ruleset: RuleSet, name: str) -> str:
    named = ruleset.manifest.classes.get(name)
    return (named.short or named.label) if named is not None else name


def _question(ruleset: RuleSet, fact: str) -> str:
    q = ruleset.questionnaire
    question = q.by_id.get(fact) if q is not None else None
    return question.label if question is not None else fact


class Page:
    def __init__(self, audit: Audit, csv_name: str, changes_name: str | None, now: dt.datetime | None = None):
        self.audit, self.rs, self.t = audit, audit.ruleset, audit.tally
        self.csv_name, self.changes_name = csv_name, changes_name
        self.now = now or dt.datetime.now(dt.timezone.utc)
        self.charts = Charts()

    # ----------------------------------------------------------------- sections

    def summary(self) -> str:
        t, rs = self.t, self.rs
        by_class: dict[str, int] = {}
        by_tier: dict[str, int] = {}
        for (c, u), n in t.class_urgency.items():
            by_class[c] = by_class.get(c, 0) + n
            by_tier[u] = by_tier.get(u, 0) + n
        items = [("Cases read", t.cases, "cases"), ("Scored", t.scored, "scored"), ("Errors", t.error_count, "errors")]
        items += [(_tier_label(rs, u), by_tier.get(u, 0), f"urgency-{u}") for u in _tiers(rs)]
        cards = "".join(f'<div class="card" id="total-{key}"><span class="value">{number(n)}</span>'
                        f'<span class="what">{esc(what)}</span></div>' for what, n, key in items)
        listed = len(self.audit.entries)
        shown = (f"The case list shows {number(listed)} of {number(t.scored)} scored cases "
                 "(the most urgent first, then in input order)" if listed < t.scored else
                 f"The case list shows all {number(listed)} scored cases")
        return (f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div>'
                f'<p>{esc(shown)}. Every case, as <code>lbp-assess score -f csv</code> writes it, is in '
                f'<a href="{esc(self.csv_name)}">{esc(self.csv_name)}</a> beside this page.</p></section>')

    def class_urgency(self) -> str:
        rs, t = self.rs, self.t
        classes = list(rs.manifest.classes)
        tiers = _tiers(rs)
        values = [[t.class_urgency.get((c, u), 0) for u in tiers] for c in classes]
        rows = [(_class_label(rs, c), *row, sum(row)) for c, row in zip(classes, values)]
        rows.append(("All classes", *[sum(v[j] for v in values) for j in range(len(tiers))], t.scored))
        numbers = table("Cases by class and urgency", ["Class", *[_tier_label(rs, u) for u in tiers], "Total"],
                        rows, "table-class-urgency")
        parts = []
        for c, row in zip(classes, values):
            if sum(row):
                parts.append(f"{_class_label(rs, c)} {number(sum(row))} ("
                             + ", ".join(f"{_tier_label(rs, u).lower()} {number(n)}" for u, n in zip(tiers, row) if n)
                             + ")")
        alternative = (f"Heat map of {number(t.scored)} scored cases by class (rows) and urgency (columns). "
                       + ("; ".join(parts) + "." if parts else "No case was scored."))
        svg = self.charts.heatmap("chart-class-urgency", "Cases by class and urgency",
                                  [_class_label(rs, c) for c in classes], [_tier_label(rs, u) for u in tiers],
                                  values) if t.scored else None
        return figure("chart-class-urgency", "Class and urgency", alternative, svg, numbers)

    def rules_fired(self) -> str:
        t = self.t
        ranked = sorted(t.rules.items(), key=lambda kv: (-kv[1], kv[0]))
        numbers = table("Rules fired, by the number of cases", ["Rule", "Cases", "Share of scored cases"],
                        [(rule, n, percent(n, t.scored)) for rule, n in ranked], "table-rules")
        shown = ranked[:CHART_ROWS]
        alternative = (f"Bar chart of how many cases each rule fired on; {len(ranked)} rules fired at least once"
                       + (f", the {len(shown)} most frequent are drawn" if len(ranked) > len(shown) else "")
                       + (f". Most often: {ranked[0][0]} ({number(ranked[0][1])} cases, "
                          f"{percent(ranked[0][1], t.scored)})." if ranked else ". No rule fired."))
        svg = self.charts.bars("chart-rules", "Rules fired, by count", [label(r) for r, _ in shown],
                               [("cases", [n for _, n in shown], "#4393c3")], "cases") if ranked else None
        return figure("chart-rules", "Rules fired", alternative, svg, numbers)

    def screening(self) -> str:
        t, rs = self.t, self.rs
        facts = list(rs.manifest.screening)
        rows = []
        for fact in facts:
            missing = t.unscreened.get(fact, 0)
            rows.append((_question(rs, fact), fact, t.scored - missing, missing,
                         percent(t.scored - missing, t.scored)))
        rows.sort(key=lambda r: (r[2], r[1]))  # the least complete first
        numbers = table("Red-flag screening questions answered, per question",
                        ["Question", "Fact", "Answered", "Not screened", "Complete"], rows, "table-screening",
                        numeric_from=2)
        complete = sum(1 for r in rows if r[3] == 0)
        alternative = (f"Bar chart of the share of scored cases in which each of {len(facts)} red-flag screening "
                       f"questions was answered; {complete} of {len(facts)} were answered in every case"
                       + (f"; the least complete is {rows[0][0]}, answered in {rows[0][4]} of cases "
                          f"({number(rows[0][3])} not screened)." if rows else ".")
                       if t.scored else  # no case: nothing was screened (never "answered in every case")
                       f"No case was scored, so none of the {len(facts)} red-flag screening questions was answered.")
        svg = self.charts.bars("chart-screening", "Screening completeness per red-flag question",
                               [label(r[0]) for r in rows],
                               [("answered", [100 * r[2] / t.scored for r in rows], "#4393c3"),
                                ("not screened", [100 * r[3] / t.scored for r in rows], "#f4a582")],
                               "% of scored cases", percent_axis=True) if t.scored else None
        return figure("chart-screening", "Red-flag screening completeness", alternative, svg, numbers,
                      "Unknown is not no: a question not answered is counted as not screened.")

    def _rates(self, keys: list[str], counts: dict[tuple[str, str], int]) -> list[tuple[str, int, int, int, float]]:
        out = []
        for key in keys:
            by = {u: counts.get((key, u), 0) for u in _tiers(self.rs)}
            n = sum(by.values())
            if n:
                out.append((key, n, by.get("emergency", 0), by.get("urgent", 0),
                            100 * (by.get("emergency", 0) + by.get("urgent", 0)) / n))
        return out

    def _rate_figure(self, name: str, title: str, what: str, rows: list[tuple[str, int, int, int, float]],
                     note: str = "") -> str:
        rows = sorted(rows, key=lambda r: (-r[4], -r[1], r[0]))
        numbers = table(f"Urgent and emergency cases, by {what}", [what.capitalize(), "Cases", "Emergency", "Urgent",
                                                                   "Urgent or emergency"],
                        [(r[0], r[1], r[2], r[3], f"{r[4]:.1f}%") for r in rows], f"table-{name}")
        shown = rows[:CHART_ROWS]
        top = rows[0] if rows else None
        alternative = (f"Stacked bar chart of the share of cases raised to emergency and to urgent, for each "
                       f"{what} ({len(rows)} in all" + (f", {len(shown)} drawn" if len(rows) > len(shown) else "")
                       + ")" + (f". Highest: {top[0]}, {top[4]:.1f}% of {number(top[1])} cases." if top else "."))
        svg = self.charts.bars(f"chart-{name}", title, [label(r[0]) for r in shown],
                               [("emergency", [100 * r[2] / r[1] for r in shown], TIER_COLOURS[0]),
                                ("urgent", [100 * r[3] / r[1] for r in shown], TIER_COLOURS[1])],
                               "% of the cases", percent_axis=True) if rows else None
        return figure(f"chart-{name}", title, alternative, svg, numbers, note)

    def urgent_by_rule(self) -> str:
        return self._rate_figure("urgent-by-rule", "Urgent and emergency rate by rule", "rule",
                                 self._rates(list(self.t.rules), self.t.rule_urgency),
                                 "Of the cases each rule fired on, the share whose urgency was emergency or urgent.")

    def urgent_by_assessor(self) -> str:
        t = self.t
        people = sorted({name for name, _ in t.assessor_urgency})
        note = (f"{counted(t.no_assessor, 'scored case')} {agree(t.no_assessor, 'records', 'record')} no assessor."
                if t.no_assessor else "")
        if OTHER_ASSESSORS in people:
            note += " Beyond the most frequent assessors, the rest are counted together."
        if not people:
            return (f'<section class="chart-section" id="chart-urgent-by-assessor"><h3>Urgent and emergency rate by '
                    f'assessor</h3><p class="empty">No case records an assessor '
                    f'({counted(t.no_assessor, "scored case")}), so there is nothing to compare.</p></section>')
        return self._rate_figure("urgent-by-assessor", "Urgent and emergency rate by assessor", "assessor",
                                 self._rates(people, t.assessor_urgency), note.strip())

    def over_time(self) -> str:
        t, rs = self.t, self.rs
        tiers = _tiers(rs)
        days = sorted({d for d, _ in t.dated})
        if not days:
            return (f'<section class="chart-section" id="chart-over-time"><h3>Assessments over time</h3>'
                    f'<p class="empty">No case records <code>assessed_on</code> ({number(t.undated)} undated), '
                    f'so there is no timeline.</p></section>')
        first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
        span = (last - first).days
        if t.dates_by_month or span > 2 * 366:
            unit, key = "month", (lambda d: d.strftime("%Y-%m"))
        elif span > 62:
            unit, key = "week", (lambda d: (d - dt.timedelta(days=d.weekday())).isoformat())
        else:
            unit, key = "day", (lambda d: d.isoformat())
        periods: dict[str, dict[str, int]] = {}
        for (day, urgency), n in t.dated.items():
            bucket = periods.setdefault(key(dt.date.fromisoformat(day)), {})
            bucket[urgency] = bucket.get(urgency, 0) + n
        names = sorted(periods)
        series = [(_tier_label(rs, u), [periods[p].get(u, 0) for p in names], TIER_COLOURS[i % len(TIER_COLOURS)])
                  for i, u in enumerate(tiers)]
        totals = [sum(periods[p].values()) for p in names]
        heading = {"week": "Week starting", "month": "Month", "day": "Day"}[unit]
        numbers = table(f"Assessments per {unit}, by urgency", [heading, *[_tier_label(rs, u) for u in tiers], "Total"],
                        [(p, *[periods[p].get(u, 0) for u in tiers], n) for p, n in zip(names, totals)],
                        "table-over-time")
        busiest = max(range(len(names)), key=lambda i: totals[i])
        alternative = (f"Stacked column chart of assessments per {unit} from {first.isoformat()} to "
                       f"{last.isoformat()}, by urgency; {number(sum(totals))} dated cases, the busiest {unit} "
                       f"{names[busiest]} with {number(totals[busiest])}"
                       + (f"; {counted(t.undated, 'case')} {agree(t.undated, 'has', 'have')} no date and "
                          f"{agree(t.undated, 'is', 'are')} not drawn." if t.undated else "."))
        svg = self.charts.columns("chart-over-time", "Assessments over time", names, series, "cases")
        return figure("chart-over-time", "Assessments over time", alternative, svg, numbers)

    def raised(self) -> str:
        t, rs = self.t, self.rs
        rows = [(rs.manifest.conditions[c].label if c in rs.manifest.conditions else c, _tier_label(rs, u), n)
                for (c, u), n in sorted(t.conditions.items(), key=lambda kv: (-kv[1], kv[0]))]
        alerts = [(rs.manifest.alerts[a].label if a in rs.manifest.alerts else a, n)
                  for a, n in sorted(t.alerts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return ('<section id="raised"><h3>Conditions and alerts raised</h3>'
                + table("Red-flag conditions raised, by tier", ["Condition", "Tier", "Cases"], rows, "table-conditions",
                        numeric_from=2)
                + table("Alerts raised", ["Alert", "Cases"], alerts, "table-alerts") + "</section>")

    # ----------------------------------------------------------------- case list

    def case_list(self) -> str:
        rs, entries = self.rs, self.audit.entries
        classes = list(rs.manifest.classes)
        rules = sorted({r for e in entries for r in e.rules_fired})
        unscreened = [f for f in rs.manifest.screening if any(f in e.unscreened for e in entries)]

        def select(name: str, text: str, options: list[tuple[str, str]]) -> str:
            opts = "".join(f'<option value="{esc(v)}">{esc(t)}</option>' for v, t in options)
            return (f'<label>{esc(text)} <select id="filter-{name}" data-filter="{name}">'
                    f'<option value="">any</option>{opts}</select></label>')

        controls = ('<div class="controls" role="search">'
                    + select("class", "Class", [(c, _class_label(rs, c)) for c in classes])
                    + select("urgency", "Urgency", [(u, _tier_label(rs, u)) for u in _tiers(rs)])
                    + select("rule", "Rule fired", [(r, r) for r in rules])
                    + select("unscreened", "Not screened", [(f, _question(rs, f)) for f in unscreened])
                    + '<label>Id or file <input type="search" id="filter-text" data-filter="text"></label>'
                    + '<button type="button" id="filter-clear">Clear</button></div>'
                    + '<p id="case-count" aria-live="polite"></p>')
        head = [("position", "#", "num"), ("id", "Id", "text"), ("class", "Class", "text"),
                ("urgency", "Urgency", "num"), ("raised", "Conditions and alerts", "text"),
                ("unscreened", "Not screened", "num"), ("date", "Assessed on", "text"),
                ("assessor", "Assessor", "text"), ("file", "File", "text")]
        ths = "".join(f'<th scope="col" aria-sort="none" data-key="{k}" data-kind="{kind}">'
                      f'<button type="button" class="sort">{esc(t)}</button></th>' for k, t, kind in head)
        bodies = [self._case(e) for e in entries]
        pager = ('<div class="pager"><button type="button" id="page-prev">Previous</button>'
                 '<span id="page-of"></span><button type="button" id="page-next">Next</button></div>')
        more = ""
        if len(entries) < self.t.scored:
            rest = self.t.scored - len(entries)
            more = (f'<p>{number(rest)} more scored {agree(rest, "case is", "cases are")} not listed here: '
                    f'every case is in <a href="{esc(self.csv_name)}">{esc(self.csv_name)}</a>.</p>')
        return (f'<section id="cases"><h2>Cases</h2><p>Choose a column heading to sort, the filters to narrow the '
                f'list, and <em>Note</em> to read a case\'s record note.</p>{more}{controls}'
                f'<div class="scroll"><table id="case-list" data-page-size="{PAGE_SIZE}"><caption>Cases, the most urgent first'
                f'</caption><thead><tr>{ths}<th scope="col">Record note</th></tr></thead>{"".join(bodies)}</table></div>'
                f'{pager}</section>')

    def _case(self, e: CaseEntry) -> str:
        rs = self.rs
        rank = rs.tier_rank.get(e.urgency, len(rs.tier_rank))
        raised = [f"{c} ({t})" for c, t in e.conditions] + [f"alert: {a}" for a in e.alerts]
        note_id = f"note-{e.position}"
        note = self.audit.notes.get(e.position)
        if note is None:
            note_text = f"No record note: {self.audit.note_problems.get(e.position, 'not made')}"
        else:
            note_text = note
        unscreened_title = ", ".join(_question(rs, f) for f in e.unscreened)
        cells = [
            (e.position + 1, number(e.position + 1), ' class="num"'),
            (e.id, e.id, ""),
            (_class_label(rs, e.classification), _class_label(rs, e.classification), ""),
            (rank, _tier_label(rs, e.urgency), f' class="tier tier-{esc(e.urgency)}"'),
            ("; ".join(raised), "; ".join(raised), ""),
            (len(e.unscreened), number(len(e.unscreened)) if e.unscreened else "",
             f' class="num" title="{esc(unscreened_title)}"'),
            (e.assessed_on or "", e.assessed_on or "", ""),
            (e.assessor or "", e.assessor or "", ""),
            (plain_name(e.file), file_name(plain_name(e.file)), f' class="file" title="{esc_name(e.file)}"'),
        ]
        tds = "".join(f'<td data-sort="{esc(key)}"{extra}>{esc(text)}</td>' for key, text, extra in cells)
        return (f'<tbody class="case" data-class="{esc(e.classification)}" data-urgency="{esc(e.urgency)}" '
                f'data-rules="{esc(" ".join(e.rules_fired))}" data-unscreened="{esc(" ".join(e.unscreened))}">'
                f'<tr>{tds}<td><button type="button" class="note-toggle" aria-expanded="false" '
                f'aria-label="Record note of {esc(e.id)}" '
                f'aria-controls="{note_id}">Note</button></td></tr>'
                f'<tr class="note-row" id="{note_id}" hidden><td colspan="{len(cells) + 1}">'
                f'<pre class="record-note">{esc_note(note_text)}</pre></td></tr></tbody>')

    # ----------------------------------------------------------------- comparison and provenance

    def comparison(self) -> str:
        other = self.audit.other
        if other is None:
            return ""
        t = self.t
        changes: list[Reclassified] = t.changes
        class_changed = sum(1 for c in changes if c.classification[0] != c.classification[1])
        rows = "".join(
            f'<tr><td>{esc(c.id)}</td><td class="file">{esc_name(c.file)}</td>'
            f"<td>{esc(_class_label(self.rs, c.classification[0]))} &rarr; "
            f"{esc(_class_label(other, c.classification[1]))}</td>"
            f"<td>{esc(c.urgency[0])} &rarr; {esc(c.urgency[1])}</td>"
            f"<td>{esc(conditions_text(c.conditions[0]))} &rarr; {esc(conditions_text(c.conditions[1]))}</td>"
            f"<td>{esc(', '.join(c.rules))}</td></tr>" for c in changes)
        listed = (f"{number(len(changes))} of them are listed here; every one is in "
                  f'<a href="{esc(self.changes_name)}">{esc(self.changes_name)}</a>.'
                  if self.changes_name else "")
        tiers = _tiers(self.rs) + [u for u in _tiers(other) if u not in self.rs.tier_rank]
        moved = {u: sum(n for (a, b), n in t.urgency_moves.items() if a == u) for u in tiers}
        urgency = table("Urgency of the cases that change: under these rules (rows), under the other rules (columns)",
                        ["Urgency now", *[_tier_label(other, u) for u in tiers]],
                        [(_tier_label(self.rs, a), *[t.urgency_moves.get((a, b), 0) for b in tiers])
                         for a in tiers if moved[a]], "table-urgency-moves")
        up = sum(n for (a, b), n in t.urgency_moves.items()
                 if a in self.rs.tier_rank and b in other.tier_rank and other.tier_rank[b] < self.rs.tier_rank[a])
        down = sum(n for (a, b), n in t.urgency_moves.items()
                   if a in self.rs.tier_rank and b in other.tier_rank and other.tier_rank[b] > self.rs.tier_rank[a])
        classes = "; ".join(f"{_class_label(self.rs, a)} to {_class_label(other, b)}: {number(n)}"
                            for (a, b), n in sorted(t.class_moves.items(), key=lambda kv: -kv[1]) if a != b)
        moves = (f"<p>Urgency would be <strong>higher for {number(up)}</strong> and <strong>lower for "
                 f"{number(down)}</strong> {agree(down, 'case', 'cases')}. "
                 f"Class changes: {esc(classes) if classes else 'none'}.</p>"
                 + (urgency if t.change_count else ""))
        return (f'<section id="compare"><h2>Rules comparison</h2><p>With <strong>{esc(other.version)}</strong> '
                f"in place of <strong>{esc(self.rs.version)}</strong>, "
                f'<span id="changed-count">{number(t.change_count)}</span> of {number(t.compared)} scored cases '
                f"change class, urgency or conditions ({number(class_changed)} of those listed change class). "
                f"{listed}</p>{moves}"
                '<table id="table-changes"><caption>Cases that change under the other rules</caption><thead><tr>'
                '<th scope="col">Id</th><th scope="col">File</th><th scope="col">Class</th>'
                '<th scope="col">Urgency</th><th scope="col">Conditions</th>'
                '<th scope="col">Rules that made the difference</th></tr></thead>'
                f"<tbody>{rows}</tbody></table></section>")

    def provenance(self) -> str:
        a, t, rs = self.audit, self.t, self.rs

        def rules_rows(r: RuleSet, role: str) -> str:
            m = r.manifest
            return (f"<tr><th scope=row>{esc(role)}</th><td>{esc(m.name)}</td><td>{esc(m.version)}</td>"
                    f"<td><code>sha256:{esc(r.content_hash)}</code></td><td>{esc(r.directory)}</td></tr>")

        rules = rules_rows(rs, "Rules used")
        if a.other is not None:
            rules += rules_rows(a.other, "Compared with")
        inputs: dict[str, list[int]] = {}
        for (where, kind), n in t.sources.items():
            inputs.setdefault(where, [0, 0])[0 if kind == "scored" else 1] += n
        read = "".join(f'<tr><td class="file">{esc_name(w)}</td><td class="num">{number(s)}</td>'
                       f'<td class="num">{number(e)}</td></tr>' for w, (s, e) in sorted(inputs.items()))
        skipped = "".join(f'<li><span class="file">{esc_name(p)}</span>: {esc(r)}</li>' for p, r in a.skipped)
        errors = "".join(f'<li><span class="file">{esc_name(s)}</span><br><span class="message">{esc(m)}</span></li>'
                         for s, m in t.errors)
        rest = t.error_count - len(t.errors)
        more = (f"<p>{number(rest)} more {agree(rest, 'error is', 'errors are')} not listed here: every one is in "
                f'<a href="{esc(self.csv_name)}">{esc(self.csv_name)}</a> (the <code>error</code> column).</p>'
                if t.error_count > len(t.errors) else "")
        given = ", ".join(f"<code>{esc_name(p)}</code>" for p in a.paths)
        return (f'<section id="provenance"><h2>Provenance</h2>'
                f'<table id="table-rules-used"><caption>Rule sets</caption><thead><tr><th scope="col"></th>'
                f'<th scope="col">Name</th><th scope="col">Version</th><th scope="col">Hash</th>'
                f'<th scope="col">Directory</th></tr></thead><tbody>{rules}</tbody></table>'
                f"<p>Inputs given: {given}. Made by lbp-assess {esc(__version__)} on "
                f"{esc(self.now.strftime('%Y-%m-%d %H:%M UTC'))} in {a.seconds:.1f} s.</p>"
                f'<table id="table-inputs"><caption>Files read</caption><thead><tr><th scope="col">Input</th>'
                f'<th scope="col" class="num">Cases scored</th><th scope="col" class="num">Errors</th></tr></thead>'
                f"<tbody>{read}</tbody></table>"
                f'<h3>Skipped</h3>{f"<ul id=skipped>{skipped}</ul>" if skipped else "<p id=skipped>No file was skipped.</p>"}'
                f'<h3>Errors <span id="error-count">({number(t.error_count)})</span></h3>'
                + (f'<ol id="errors">{errors}</ol>{more}' if t.error_count else '<p id="errors">No errors.</p>')
                + "</section>")

    # ----------------------------------------------------------------- the page

    def charts_html(self) -> str:
        """The charts (drawn first: they do not need the record notes)."""
        return "".join(['<section id="charts"><h2>Charts</h2>', self.class_urgency(), self.rules_fired(),
                        self.screening(), self.urgent_by_rule(), self.urgent_by_assessor(), self.over_time(),
                        self.raised(), "</section>"])

    def render(self, charts: str | None = None) -> str:
        rs = self.rs
        disclaimer = " ".join(rs.manifest.disclaimer.split())
        body = [
            '<header><h1>Low back pain assessments: audit report</h1>'
            f'<p class="meta">{number(self.t.cases)} cases &middot; rules {esc(rs.version)} &middot; '
            f'{esc(self.now.strftime("%Y-%m-%d %H:%M UTC"))}</p>'
            f'<p class="disclaimer"><strong>{esc(disclaimer)}</strong></p>'
            '<nav aria-label="Sections"><a href="#summary">Summary</a> <a href="#charts">Charts</a> '
            '<a href="#cases">Cases</a> ' + ('<a href="#compare">Rules comparison</a> ' if self.audit.other else "")
            + '<a href="#provenance">Provenance</a></nav></header><main>',
            self.summary(),
            charts if charts is not None else self.charts_html(),
            self.case_list(), self.comparison(), self.provenance(), "</main>",
        ]
        script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
        policy = (f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
                  "img-src data:; form-action 'none'; base-uri 'none'")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>Audit report: {number(self.t.cases)} cases ({esc(rs.manifest.name)} "
                f"{esc(rs.manifest.version)})</title><style>{STYLE}</style>"
                "<noscript><style>.note-row[hidden]{display:table-row}.note-toggle,.controls,.pager,"
                "th button.sort::after{display:none}</style></noscript></head><body>"
                + "".join(body) + f"<script>{SCRIPT}</script></body></html>\n")


def esc_note(text: str) -> str:
    """A note as text in <pre>: line breaks kept, everything else escaped."""
    return html.escape(plain(text, multiline=True), quote=False)


def render_page(audit: Audit, csv_name: str, changes_name: str | None = None, now: dt.datetime | None = None) -> str:
    return Page(audit, csv_name, changes_name, now).render()


STYLE = """
:root{--ink:#1a1a1a;--muted:#555;--line:#ccc;--band:#f4f6f8;--accent:#1f4e79}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;color:var(--ink);
margin:0 auto;max-width:72rem;padding:1rem 1.5rem;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}h2{border-bottom:2px solid var(--accent);padding-bottom:.2rem;margin-top:2rem}
h3{margin:1.5rem 0 .5rem}.meta{color:var(--muted);margin:.2rem 0}
.disclaimer{background:#fff8e1;border-left:4px solid #e0a800;padding:.5rem .8rem}
nav a{margin-right:1rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem}.card{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;
min-width:7.5rem;background:var(--band)}.card .value{display:block;font-size:1.4rem;font-weight:600}
.card .what{color:var(--muted);font-size:.9rem}
figure{margin:.5rem 0}svg.chart{width:100%;max-width:46rem;height:auto;display:block}
figcaption{color:var(--muted);font-size:.92rem;margin-top:.3rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--band)}.num{text-align:right;font-variant-numeric:tabular-nums}
td.file{word-break:normal;overflow-wrap:anywhere}td[data-sort]:nth-child(7){white-space:nowrap}
.file{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem;word-break:break-all}
.note{font-size:.9rem;color:var(--muted)}.empty{color:var(--muted);font-style:italic}
.controls{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:end;margin:.5rem 0}
.controls label{display:flex;flex-direction:column;font-size:.85rem}
select,input,button{font:inherit;font-size:.9rem}
th button.sort{background:none;border:0;padding:0;font-weight:600;cursor:pointer;color:inherit}
th[aria-sort=ascending] button.sort::after{content:" \\25B2"}th[aria-sort=descending] button.sort::after{content:" \\25BC"}
.scroll{overflow-x:auto}#case-list{width:100%;font-size:.85rem}
#case-list td:nth-child(2){min-width:8rem;max-width:14rem;overflow-wrap:anywhere}#case-list td:nth-child(5){max-width:18rem}
#case-list td:nth-child(8){max-width:10rem;overflow-wrap:anywhere}#case-list td:nth-child(9){min-width:9rem}
.tier-emergency{color:#67001f;font-weight:700}.tier-urgent{color:#b2182b;font-weight:600}
pre.record-note{white-space:pre-wrap;background:var(--band);border:1px solid var(--line);padding:.6rem;margin:0;
font-size:.85rem;max-width:60rem}
.pager{display:flex;gap:1rem;align-items:center}
ol#errors li,ul#skipped li{margin-bottom:.4rem}.message{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.82rem}
tbody.case.filtered-out,tbody.case.paged-out{display:none}
@media print{
nav,.controls,.pager,.note-toggle,th button.sort::after{display:none}
body{max-width:none;padding:0;font-size:10pt}
tbody.case.paged-out{display:table-row-group}
section.chart-section,figure,tr,tbody.case{break-inside:avoid}
h2,h3{break-after:avoid}
thead{display:table-header-group}
a{color:inherit}
}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var table = document.getElementById("case-list");
  if (!table) { return; }
  var bodies = Array.prototype.slice.call(table.tBodies);
  var pageSize = parseInt(table.getAttribute("data-page-size"), 10) || 100;
  var page = 0;
  var filters = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var count = document.getElementById("case-count");
  var pageOf = document.getElementById("page-of");
  var prev = document.getElementById("page-prev");
  var next = document.getElementById("page-next");

  function words(body, name) {
    var value = body.getAttribute("data-" + name) || "";
    return value ? value.split(" ") : [];
  }
  function matches(body) {
    for (var i = 0; i < filters.length; i++) {
      var f = filters[i], want = f.value, kind = f.getAttribute("data-filter");
      if (!want) { continue; }
      if (kind === "class" || kind === "urgency") {
        if (body.getAttribute("data-" + kind) !== want) { return false; }
      } else if (kind === "rule") {
        if (words(body, "rules").indexOf(want) < 0) { return false; }
      } else if (kind === "unscreened") {
        if (words(body, "unscreened").indexOf(want) < 0) { return false; }
      } else if (kind === "text") {
        var cells = body.rows[0].cells;
        var text = (cells[1].textContent + " " + cells[8].textContent).toLowerCase();
        if (text.indexOf(want.toLowerCase()) < 0) { return false; }
      }
    }
    return true;
  }
  function show() {
    var shown = bodies.filter(function (b) { return !b.classList.contains("filtered-out"); });
    var pages = Math.max(1, Math.ceil(shown.length / pageSize));
    if (page >= pages) { page = pages - 1; }
    var from = page * pageSize, to = from + pageSize, n = 0;
    bodies.forEach(function (b) {
      if (b.classList.contains("filtered-out")) { b.classList.remove("paged-out"); return; }
      b.classList.toggle("paged-out", n < from || n >= to);
      n++;
    });
    count.textContent = shown.length + " of " + bodies.length + " listed cases match";
    pageOf.textContent = shown.length ? "Page " + (page + 1) + " of " + pages +
      " (cases " + (from + 1) + "-" + Math.min(to, shown.length) + ")" : "No case matches";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function filter() {
    bodies.forEach(function (b) { b.classList.toggle("filtered-out", !matches(b)); });
    page = 0;
    show();
  }
  filters.forEach(function (f) { f.addEventListener(f.tagName === "INPUT" ? "input" : "change", filter); });
  document.getElementById("filter-clear").addEventListener("click", function () {
    filters.forEach(function (f) { f.value = ""; });
    filter();
  });
  prev.addEventListener("click", function () { page--; show(); });
  next.addEventListener("click", function () { page++; show(); });

  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (th, column) {
    var button = th.querySelector("button.sort");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      var numeric = th.getAttribute("data-kind") === "num";
      heads.forEach(function (h) { if (h.hasAttribute("aria-sort")) { h.setAttribute("aria-sort", "none"); } });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      function key(b) {
        var v = b.rows[0].cells[column].getAttribute("data-sort") || "";
        return numeric ? parseFloat(v) || 0 : v.toLowerCase();
      }
      bodies.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = x < y ? -1 : x > y ? 1 : 0;
        if (order === 0) {
          order = parseFloat(a.rows[0].cells[0].getAttribute("data-sort")) -
                  parseFloat(b.rows[0].cells[0].getAttribute("data-sort"));
          return order;
        }
        return ascending ? order : -order;
      });
      bodies.forEach(function (b) { table.appendChild(b); });
      page = 0;
      show();
    });
  });
  table.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.note-toggle") : null;
    if (!button) { return; }
    var row = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Hide note" : "Note";
    row.hidden = !open;
  });
  filter();
})();
"""
