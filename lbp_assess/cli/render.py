"""What the CLI draws with rich beyond the score table (cli.score_table): the explanation tree, a
series of visits and the tutor's report. The core builds the data; this module only draws it."""

from __future__ import annotations

from typing import Any, Iterable

from rich import box
from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.tree import Tree

from ..base.text import counted, markup
from ..engine.words import describe_value
from ..engine.ruleset.model import RuleSet
from ..teach.practice_report import StudentSummary, class_heading, classes_of, fraction


# --------------------------------------------------------------------------- the explanation (explain)


STATE = {"fired": ("[green]✔ fired[/green]", 0), "not_excluded": ("[yellow]? not excluded[/yellow]", 1),
         "not_fired": ("[dim]✘ not fired[/dim]", 2)}


BRIEF_CHANGES = 8  # changes the brief view lists (the complete list is in --full and JSON)
BRIEF_ASK = 5


def summary_lines(data: dict[str, Any], ask: int = BRIEF_ASK) -> list[str]:
    """Three lines (each may wrap): key positives → condition → tier → action; key negatives;
    what to ask next."""
    s = data["summary"]
    positives = "; ".join(f"{p['label']}: {p['shown']}" for p in s["positives"]) or \
        "no red-flag condition, tiered alert or class finding raised"
    each = [f"{a['action'].rstrip('.')} - {a['time_frame']}"
            if a["time_frame"] and a["time_frame"].casefold() != s["tier"].casefold()
            else a["action"].rstrip(".") for a in s["action"] if a["action"]]
    if len(each) > 1:  # two rows' actions, each with semicolons of its own: numbered, the time frame first
        each = [f"{a['time_frame']}: {a['action'].rstrip('.')}" if a["time_frame"] else a["action"].rstrip(".")
                for a in s["action"] if a["action"]]
    actions = " ".join(f"({n}) {text}." for n, text in enumerate(each, 1)) if len(each) > 1 else "".join(each)
    first = (f"[bold]Why:[/bold] {markup(positives)} → [bold]{markup(' + '.join(s['condition']))}[/bold] → "
             f"[bold]{markup(s['tier'].upper())}[/bold] → {markup(actions)}")
    negatives = ", ".join(n["label"] for n in s["negatives"])
    second = ("[bold]Key negatives:[/bold] " + (markup(negatives) if negatives else "none recorded")
              + (f"; [yellow]not screened: {markup(', '.join(u['label'] for u in s['unscreened']))}[/yellow]"
                 if s["unscreened"] else ""))
    asks = data["ask_next"]
    if asks:
        shown = [f"{markup(a['label'])} ({markup(a['answer'])}: {markup(a['class_label'])}, {markup(a['urgency_label'])})"
                 for a in asks[:ask]]
        more = f"; {len(asks) - ask} more with --full" if len(asks) > ask else ""
        third = "[bold]Ask next:[/bold] " + "; ".join(shown) + more
    else:
        third = "[bold]Ask next:[/bold] no unknown answer could change the class or the urgency"
    return [first, second, third]


def render_tree(data: dict[str, Any], console: Any, brief: bool = True) -> None:
    """Draw the explanation. `brief` (the default view): the three-line summary, the rules that
    fired with their action, time frame and every feature that made them fire, the rules left open
    by unknown answers, and the most urgent changes; the full view adds every rule that did not
    fire, each rule's source and the complete list of changes."""
    console.print(f"[bold]{markup(data['case'])}[/bold]: {markup(data['class_label'])} - urgency "
                  f"[bold]{markup(data['urgency'].upper())}[/bold]")
    for line in summary_lines(data, BRIEF_ASK if brief else len(data["ask_next"])):
        console.print(Padding(line, (0, 0, 0, 2)))
    tree = Tree("[bold]How the rules reasoned[/bold]" + (" (rules that fired or could not be excluded; --full "
                                                          "for every rule)" if brief else ""))
    if data["warnings"]:
        checks = tree.add("[bold yellow]Answers to check[/bold yellow] (contradictions; scored as written)")
        for warning in data["warnings"]:
            checks.add(markup(warning))
    for layer in data["layers"]:
        rules = sorted(layer["rules"], key=lambda r: STATE[r["state"]][1])
        groups = _groups(rules, brief)
        if brief and not groups:
            continue
        branch = tree.add(f"[bold]{markup(layer['title'])}[/bold]")
        for group in groups:
            _add_rule(branch, group, brief, data["urgency"])
    console.print(tree)
    changes = data["what_would_change"]
    grouped = _same_result(changes)
    # One answer different, and apart from it a follow-up with the yes it is asked on (two answers
    # different: "Weakness: yes, with Weakness in both legs: yes"); the brief view ranks and cuts each.
    single = [g for g in grouped if not g[0]["also"]]
    paired = [g for g in grouped if g[0]["also"]]
    if brief:
        paired = _brief_changes(paired, 2)
        single = _brief_changes(single, BRIEF_CHANGES - len(paired) - bool(paired))  # its heading takes a line

    total = sum(1 for g in grouped if not g[0]["also"])
    cut = f"; {len(single)} of {total}, all with --full" if len(single) < total else ""
    head = Tree(f"[bold]What would change it[/bold] (one answer different{cut})")
    if not changes:
        head.add("[dim]no single answer would change the class or the urgency[/dim]")
    elif not single:
        head.add("[dim]no single answer alone; see two answers below[/dim]")
    for group in single:
        first = group[0]
        values = " or ".join(c["shown"][len(c["label"]) + 2:] for c in group)
        shown = first["shown"] if len(group) == 1 else f"{first['label']}: {values}"
        head.add(f"if {markup(shown)} → [bold]{markup(first['class_label'])}[/bold], "
                 f"{markup(first['urgency_label'])}")
    console.print(head)
    if paired:
        total = sum(1 for g in grouped if g[0]["also"])
        two = Tree("[bold]Two answers different[/bold] (a follow-up with the yes it is asked on"
                   + (f"; {len(paired)} of {total}" if len(paired) < total else "") + ")")
        for group in paired:
            first = group[0]
            gate, _, rest = first["shown"].rpartition("; ")
            two.add(f"if {markup(gate)}, with {markup(rest)} → [bold]{markup(first['class_label'])}[/bold], "
                    f"{markup(first['urgency_label'])}")
        console.print(two)
    console.print(f"[dim]{markup(data['disclaimer'])}[/dim]")


def _near_miss(rule: dict[str, Any]) -> bool:
    return any(c["met"] >= c["needs"] - 1 and c["met"] > 0 for c in rule["counts"])


def _brief_changes(grouped: list[list[dict[str, Any]]], most: int = BRIEF_CHANGES) -> list[list[dict[str, Any]]]:
    """For the brief view: one change for each different result first (most urgent first), then a
    second for each, at most `most` in all, in the list's order."""
    outcome = [(g[0]["classification"], g[0]["urgency"]) for g in grouped]
    chosen: list[int] = []
    for round_ in (1, 2):
        for index, result in enumerate(outcome):
            if len(chosen) < most and index not in chosen and outcome[:index + 1].count(result) == round_:
                chosen.append(index)
    return [grouped[i] for i in sorted(chosen)]


def _same_result(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Changes to one answer with the same result, as one line ("Night pain: a or b → ...")."""
    groups: list[list[dict[str, Any]]] = []
    for change in changes:
        last = groups[-1][0] if groups else None
        if last is not None and all(last[k] == change[k] for k in ("fact", "classification", "urgency")):
            groups[-1].append(change)
        else:
            groups.append([change])
    return groups


def _groups(rules: list[dict[str, Any]], brief: bool) -> list[list[dict[str, Any]]]:
    """Rules to draw, one group per node: in brief, rules not excluded for the same missing answers
    share a node, and so do rules that fired raising the same thing with the same action (two ways
    to "Cauda equina safety-netting needed": one node, a "because" for each); rules that did not
    fire are left out, except a count one short of what it needs (a near miss worth teaching:
    "Cook items 3 of 5, needs 4")."""
    groups: list[list[dict[str, Any]]] = []
    for rule in rules:
        if brief and rule.get("excluded_by"):
            continue  # excluded by an entry answer ("no leg symptoms"): nothing is open
        if brief and rule["state"] == "not_fired" and not _near_miss(rule):
            continue
        key = [f["fact"] for f in rule["facts"]]
        same = [g for g in groups if brief and rule["state"] == "not_excluded" and g[0]["state"] == "not_excluded"
                and [f["fact"] for f in g[0]["facts"]] == key]
        same = same or [g for g in groups if brief and rule["state"] == "fired" and g[0]["state"] == "fired"
                        and _shown_label(g[0]) == _shown_label(rule)
                        and (g[0]["tier"], g[0]["action"]) == (rule["tier"], rule["action"])]
        if same:
            same[0].append(rule)
        else:
            groups.append([rule])
    return groups


def _shown_label(rule: dict[str, Any]) -> str:
    return rule.get("rule_label") or rule["label"]


def _add_rule(branch: Any, group: list[dict[str, Any]], brief: bool = False, urgency: str | None = None) -> None:
    rule = group[0]
    label = " / ".join(dict.fromkeys(markup(_shown_label(r)) for r in group))
    ids = ", ".join(markup(r["id"]) for r in group)
    tier = f" ({markup(rule['tier'])})" if rule["tier"] and len({r["tier"] for r in group}) == 1 else ""
    if rule.get("excluded_by"):  # only questions an earlier answer made unnecessary were unknown
        node = branch.add(f"{STATE['not_fired'][0]} {label}{tier}" + ("" if brief else f"  [dim]{ids}[/dim]"))
        names = [f["label"] for f in rule.get("settles", [])]
        settles = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        node.add("[cyan]excluded by:[/cyan] " + "; ".join(f"{markup(f['label'])}: {markup(f['shown'])}"
                                                        for f in rule["excluded_by"])
                 + (f" [dim](so {markup(settles)} not asked)[/dim]" if settles else ""))
        if not brief:
            for count in rule["counts"]:  # "3 of 10 (needs 4)": what the entry answer left it short of
                node.add(f"[cyan]{markup(count['name'])}:[/cyan] {count['met']} of {count['of']} "
                         f"(needs {markup(describe_value(count['needs']))})")
            node.add(f"[dim]source: {markup(rule['source'])}[/dim]")
        return
    node = branch.add(f"{STATE[rule['state']][0]} {label}{tier}" + ("" if brief else f"  [dim]{ids}[/dim]"))
    fired = rule["state"] == "fired"
    if fired and rule["action"]:
        frame = f" - {markup(rule['time_frame'])}" if rule["time_frame"] else ""
        if brief and rule["tier"] != urgency:  # brief: the time frame of a row that did not set the urgency
            node.add(f"[bold]Action{frame}[/bold] (the action with --full)" if frame else
                     "[bold]Action:[/bold] with --full")
        else:
            node.add(f"[bold]Action{frame}:[/bold] {markup(rule['action'])}")
    if len(group) == 1 and not brief:
        node.add(markup(rule["reason"]))
    for count in rule["counts"][:1] if brief else rule["counts"]:  # brief: the nearest count only
        missing = f": missing {markup('; '.join(count['missing']))}" if count["missing"] else ""
        node.add(f"[cyan]{markup(count['name'])}:[/cyan] {count['met']} of {count['of']} "
                 f"(needs {markup(describe_value(count['needs']))}){missing}")
    if fired:
        for each in group:  # a rule that fired the same way as another: its own reason
            because = [f"{markup(f['label'])}: {markup(f['shown'])}" for f in each["features"]]
            because += [markup(name) for name in each["rests_on"]]
            if because:
                node.add("[cyan]because:[/cyan] " + "; ".join(because))
    else:
        counted = {name for count in rule["counts"] for name in count["facts"]}
        facts = rule["facts"]
        if facts and not (counted and {f["fact"] for f in facts} <= counted):
            unknown = all(f["value"] is None for f in facts)
            # an unknown answer is named, never given the value "unknown"
            words = [markup(f["label"]) if f["value"] is None else f"{markup(f['label'])}: {markup(f['shown'])}"
                     for f in facts]
            if rule["state"] == "not_excluded" and rule.get("missing"):
                # the entry question first: "Leg symptoms on walking (then Relief standing still)"
                words = [markup(m["label"]) + (f" (then {markup(', '.join(t['label'] for t in m['then']))})"
                                               if m["then"] else "") for m in rule["missing"]]
            what = "missing" if rule["state"] == "not_excluded" else \
                "cannot fire while unknown" if unknown else "decided by"
            node.add(f"[cyan]{what}:[/cyan] " + "; ".join(words))
    if len(group) == 1 and not brief:
        node.add(f"[dim]source: {markup(rule['source'])}[/dim]")


# --------------------------------------------------------------------------- a series of visits (follow-up)


def series_table(rows: list[dict[str, Any]], ruleset: RuleSet) -> Any:
    """The series as a rich table: a row per visit, red flags new since the visit before in bold red."""
    m, q = ruleset.manifest, ruleset.questionnaire
    extent = q.by_id["pain.leg_extent"] if q else None
    table = Table(title="Visits in date order", title_justify="left")
    for heading in ("Date", "Id", "Class", "Urgency", "Back", "Leg", "Red flags"):
        table.add_column(heading, overflow="fold", no_wrap=heading in ("Date", "Class", "Back"))
    for row in rows:
        flags = []
        for name, tier in (f.split(":", 1) for f in row["red_flags"]):
            label = m.conditions[name].label
            shown = markup(f"{label} ({m.tiers[tier].label.lower()})")
            new = f"{name}:{tier}" in row["new_red_flags"]
            flags.append(f"[bold red]NEW {shown}[/]" if new else shown)
        for name, was in (f.split(":", 1) for f in row["not_excluded_red_flags"]):
            what = m.conditions[name] if name in m.conditions else m.alerts[name]  # a condition or a tiered alert
            flags.append(f"[bold red]NOT EXCLUDED {markup(what.label)}[/] (was "
                         f"{m.tiers[was].label.lower()}; not all asked)")
        if row["unscreened"]:
            flags.append(f"[bold]not screened: {counted(len(row['unscreened']), 'red-flag question')}[/]")
        named = m.classes[row["classification"]]
        table.add_row(row["assessed_on"], markup(row["id"]), markup(named.short or named.label),
                      m.tiers[row["urgency"]].label, _score(row["back_nrs"]),
                      _score(row["leg_nrs"]) + (f"\n{markup(extent.choice_label(row['leg_extent']))}"
                                                if extent and row["leg_extent"] else ""),
                      "\n".join(flags) or "none")
    return table


def _score(value: Any) -> str:
    return "-" if value is None else f"{value}/10"


# --------------------------------------------------------------------------- the tutor's report (practice)


def _id_column(table: Table, name: str, values: Iterable[str]) -> None:
    """A column of ids (case or student): never wrapped or cut, as wide as its longest id; the
    other columns fold to make room."""
    table.add_column(name, no_wrap=True, overflow="fold", min_width=max([len(name), *map(len, values)]))


def _words_column(table: Table, name: str, values: Iterable[str], **kwargs: Any) -> None:
    """A column of words: wrapped between words, at least as wide as its longest word."""
    longest = max([len(w) for v in values for w in v.split()] + [min(len(name), 8)])
    table.add_column(name, overflow="fold", min_width=min(longest, 16), **kwargs)


def report_table(summaries: list[StudentSummary], ruleset: RuleSet, width: int | None = None) -> Any:
    """Two tables that fit 80 columns: the totals per student, then accuracy per class. Student
    ids are never wrapped; the headings wrap between words instead."""
    totals = Table(title="Practice by student", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                   show_edge=False, padding=(0, 1), collapse_padding=True)
    _id_column(totals, "student", [s.student for s in summaries])
    totals.caption = "class, urgency, pattern: right of attempted; ! = a red flag missed or under-triaged"
    for column in ("cases", "class", "urgency", "pattern", "red flag missed", "UNDER-\nTRIAGED",
                   "red-flag Qs not asked (cases)"):  # headings wrap between words, never inside one
        totals.add_column(column, justify="right", overflow="fold", min_width=max(map(len, column.split())))
    for s in summaries:
        unasked = f"{s.red_flag_questions_not_asked} ({s.history_attempts})" if s.history_attempts else "-"
        serious = bool(s.under_triaged or s.red_flags_missed)
        totals.add_row(markup(s.student), str(s.attempts), fraction(s.classification), fraction(s.urgency),
                       fraction(s.pattern), _flag(s.red_flags_missed), _flag(s.under_triaged), unasked,
                       style="bold red" if serious else None)
    classes = classes_of(summaries, ruleset)
    title = "Classification right, by the case's class"
    by_class = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, min_width=len(title))
    _id_column(by_class, "student", [s.student for s in summaries])
    for name in classes:
        by_class.add_column(markup(class_heading(ruleset, name)), justify="right", max_width=14)
    for s in summaries:
        by_class.add_row(markup(s.student), *(f"{p[0]}/{p[1]}" if (p := s.by_class.get(c)) else "-" for c in classes))
    if width is not None:
        _fit(totals, width)
        _fit(by_class, width)
    return Group(totals, by_class)


def _flag(count: int) -> str:
    return f"{count} !" if count else "0"


def attempts_table(rows: list[dict[str, Any]], ruleset: RuleSet | None = None, width: int | None = None) -> Any:
    """One row per attempt. The case id is never wrapped (a tutor looks it up): student, answer
    and key wrap between words, the rest folds; when that is still too wide for `width` columns
    the student goes under the case id, in one column, and the red-flag questions not asked are
    counted (the JSON and CSV name them)."""
    wide = _attempts_table(rows, ruleset, merged=False)
    if width is None or _fit(wide, width):
        return wide
    narrow = _attempts_table(rows, ruleset, merged=True)
    _fit(narrow, width)
    return narrow


def _fit(table: Table, width: int) -> bool:
    """Give each column of `table` a fixed width so that the table fits `width` columns: each at
    least its widest word (an id: its whole length), the room left shared out up to what each
    would take. False when even that does not fit: then the widest columns are narrowed until it
    does, and every column wraps (between words where it can, else inside one), so that nothing
    is cut at the right edge - the caller may have a narrower layout to try first. Rich's own
    narrowing can go below a column's minimum, or past the width."""
    from rich.console import Console

    console = Console(width=width)
    options = console.options.update_width(10 * width)  # a measurement is clamped to the width it is given
    n = len(table.columns)
    pads = [table._get_padding_width(i) for i in range(n)]
    measured = [table._measure_column(console, options, column) for column in table.columns]
    least = [m.minimum - p for m, p in zip(measured, pads)]
    most = [m.maximum - p for m, p in zip(measured, pads)]
    room = width - table._extra_width - sum(pads)
    if sum(least) > room:  # ids wrap between words now; then the widest columns fold
        for column in table.columns:
            if column.no_wrap:
                column.no_wrap, column.min_width = False, None
        widths = [table._measure_column(console, options, c).minimum - p for c, p in zip(table.columns, pads)]
        for _ in range(max(0, min(sum(widths) - room, sum(widths) - n))):  # a column keeps one character
            # the first column (the row's case id or student) folds last, while a column of text can
            wordy = [i for i in range(1, n) if widths[i] >= 16]
            widest = max(wordy or range(n), key=widths.__getitem__)
            widths[widest] -= 1
        for column, value in zip(table.columns, widths):
            column.width = value
        return False
    widths, spare = list(least), room - sum(least)
    while spare > 0:
        wanting = [i for i in range(n) if widths[i] < most[i]]
        if not wanting:
            break
        for i in wanting:
            if spare:
                widths[i] += 1
                spare -= 1
    for column, value in zip(table.columns, widths):
        column.width = value
    return True


def _attempts_table(rows: list[dict[str, Any]], ruleset: RuleSet | None, merged: bool) -> Table:
    # ✘ also marks right answers given without asking every red-flag question: the caption says so
    t = Table(title="Practice attempts (! = under-triaged or a red flag missed)", header_style="bold",
              box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True,
              caption="✔ right · ✘ wrong, or red-flag questions not asked · sec: seconds")
    t.add_column("", min_width=1)
    if merged:  # case ids whole (the column is as wide as the longest), a name wrapped between words
        _id_column(t, "case / student", [*(row["case"] for row in rows),
                                         *(w for row in rows for w in str(row["student"]).split())])
        t.columns[-1].no_wrap = False
    else:
        _words_column(t, "student", [str(row["student"]) for row in rows])
        _id_column(t, "case", [row["case"] for row in rows])
    _words_column(t, "answer", [row["answer"] for row in rows])
    _words_column(t, "key", [row["key"] for row in rows])
    t.add_column("red flags not asked", overflow="fold", min_width=5)
    t.add_column("sec", justify="right", overflow="fold", min_width=3)
    q = ruleset.questionnaire if ruleset is not None else None
    for row in rows:
        serious = row["under_triage"] or row["missed_red_flag"]
        not_asked = row["red_flags_not_asked"]
        right = row["classification_right"] and row["urgency_right"] and row["pattern_right"] is not False \
            and not not_asked
        mark = "!" if serious else "✔" if right else "✘"
        names = [q.label(n) if q and n in q.by_id else n for n in not_asked or ()]
        asked = "-" if not_asked is None else "none" if not names else str(len(names)) if merged else \
            f"{len(names)}: " + markup(", ".join(names[:2])) + (", …" if len(names) > 2 else "")
        answer = markup(row["answer"]) + ("\nUNDER-TRIAGED" if row["under_triage"] else "")
        who = [f"{markup(row['case'])}\n{markup(row['student'])}"] if merged else \
            [markup(row["student"]), markup(row["case"])]
        t.add_row(mark, *who, answer, markup(row["key"]), asked,
                  "-" if row["seconds"] is None else f"{row['seconds']:.0f}", style="bold red" if serious else None)
    return t


def cases_table(rows: list[dict[str, Any]], width: int | None = None) -> Any:
    """One row per vignette: the case id never wrapped, nor a student's name in "wrong by"; when
    that is too wide for `width` columns the two counts share a column."""
    wide = _cases_table(rows, merged=False)
    if width is None or _fit(wide, width):
        return wide
    narrow = _cases_table(rows, merged=True)
    _fit(narrow, width)
    return narrow


def _cases_table(rows: list[dict[str, Any]], merged: bool) -> Table:
    t = Table(title="Practice by case (most under-triaged, then most often wrong, first)", header_style="bold",
              box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1), collapse_padding=True)
    _id_column(t, "case", [row["case"] for row in rows])
    _words_column(t, "key", [row["key"] for row in rows])
    counts = ("right,\nUNDER-\nTRIAGED",) if merged else ("all right", "UNDER-TRIAGED")
    for column in counts:
        t.add_column(column, overflow="fold", justify="right", min_width=max(map(len, column.split())))
    t.add_column("wrong by", overflow="fold",
                 min_width=max([8, *(len(w) for row in rows for w in ", ".join(row["wrong_by"]).split())]))
    for row in rows:
        right, under = f"{row['all_right']}/{row['attempts']}", _flag(row["under_triaged"])
        t.add_row(markup(row["case"]), markup(row["key"]), *([f"{right}, {under}"] if merged else [right, under]),
                  markup(", ".join(row["wrong_by"])) or "-",
                  style="bold red" if row["under_triaged"] or row["red_flags_missed"] else None)
    return t
