"""Benchmark for batch scoring. Run by hand (never a timed unit test):

    python bench/bench.py                 # 20,000 YAML files, 100,000 JSON Lines cases
    python bench/bench.py --quick         # 2,000 / 10,000, for a quick look

It generates realistic, valid, varied cases (every example and vignette with a
few facts changed at random: all classes and tiers), writes them as YAML files
and as JSON Lines, and measures in the same run:

* the naive baseline: one process, PyYAML CSafeLoader + pydantic model + the same rules;
* `lbp-assess score` on the YAML directory and on the JSON Lines file, --jobs 1 and 2:
  wall time, cases per second, peak memory (largest process);
* peak memory for 1,000 JSON Lines cases, to compare with 100,000;
* `lbp-assess audit` (the HTML report and its CSV) on the same 100,000 and 1,000 JSON Lines
  cases, --jobs 2, against `score -f csv` (what the audit writes beside its page);
* rule evaluation alone: the compiled rules against bench/handwritten.py, which
  must agree on every generated case;
* `lbp-assess --version` against `python -c "import typer"`.

The package's bytecode is compiled first (`bytecode`), as an installed wheel has it.

It prints one Markdown table, which the README quotes with the machine it ran on.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import handwritten  # noqa: E402

from lbp_assess.model.case import FACTS, Case, fast_convert  # noqa: E402
from lbp_assess.inputs.cases import load_case  # noqa: E402
from lbp_assess.engine.ruleset.load import load_rules  # noqa: E402


# --------------------------------------------------------------------------- cases


def _value(rng: random.Random, path: str) -> Any:
    fact = FACTS[path]
    if fact.kind == "bool":
        return rng.random() < 0.3
    if fact.kind == "enum":
        return rng.choice(fact.values)
    if fact.kind == "set":
        return rng.sample(fact.values, rng.randint(0, 3))
    if fact.kind == "text":
        return rng.choice(["walking the dog", "climbing stairs", "gardening"])
    if fact.kind == "int_list":
        return [rng.randint(0, 1) for _ in range(8)] + [rng.randint(0, 4)]
    if path == "patient.age":
        return rng.randint(18, 95)
    if fact.kind == "int":
        return rng.randint(int(fact.minimum or 0), int(fact.maximum if fact.maximum is not None else 60))
    return round(rng.uniform(fact.minimum or 0, min(60, fact.maximum if fact.maximum is not None else 60)), 1)


def generate(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """n valid cases: a random example or vignette with 0-4 facts changed (or made unknown)."""
    rng = random.Random(seed)
    sources = sorted((REPO / "examples").rglob("*.yaml"))
    bases = [load_case(p).to_data() for p in sources]
    for base in bases:
        base.pop("expected", None)
        base.pop("vignette", None)
    paths = list(FACTS)
    out = []
    for i in range(n):
        case = copy.deepcopy(rng.choice(bases))
        case["id"] = f"bench-{i:06d}"
        for _ in range(rng.randint(0, 4)):
            path = rng.choice(paths)
            section, name = path.split(".")
            part = case.setdefault(section, {})
            part[name] = None if rng.random() < 0.15 else _value(rng, path)
        assert fast_convert(case) is not None, case["id"]
        out.append(case)
    return out


def write_inputs(cases: list[dict[str, Any]], yaml_count: int, where: Path) -> tuple[Path, Path, Path]:
    if where.exists():
        shutil.rmtree(where)
    yaml_dir = where / "yaml"
    yaml_dir.mkdir(parents=True)
    for case in cases[:yaml_count]:
        text = yaml.dump(case, Dumper=yaml.CSafeDumper, sort_keys=False)
        (yaml_dir / f"{case['id']}.yaml").write_text(text)
    big, small = where / "cases.jsonl", where / "cases-1000.jsonl"
    with open(big, "w") as handle:
        for case in cases:
            handle.write(json.dumps(case) + "\n")
    with open(small, "w") as handle:
        for case in cases[:1000]:
            handle.write(json.dumps(case) + "\n")
    return yaml_dir, big, small


# --------------------------------------------------------------------------- measurements


def naive_baseline(yaml_dir: Path) -> tuple[float, int]:
    ruleset = load_rules()
    files = sorted(yaml_dir.glob("*.yaml"))
    start = time.perf_counter()
    for path in files:
        data = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        ruleset.assess(Case.model_validate(data))
    return time.perf_counter() - start, len(files)


def bytecode() -> None:
    """Compile lbp_assess's bytecode before anything is timed, as pip does when it installs the
    wheel. Where PYTHONDONTWRITEBYTECODE is set (some sandboxes and CI images set it) an editable
    install would otherwise compile every module from source at each start (about 0.1 s a run)."""
    import compileall

    import lbp_assess

    compileall.compile_dir(Path(lbp_assess.__file__).parent, quiet=1)


def run_command(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the largest process) of a command, output discarded."""
    probe = ("import resource, subprocess, sys, time\n"
             "t = time.perf_counter()\n"
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
             "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
    wall, rss_kb, code = out.stdout.split()
    if code not in ("0", "1"):
        raise SystemExit(f"{' '.join(args)} failed with exit {code}: {out.stderr}")
    return float(wall), int(rss_kb) / 1024


def score(path: Path, jobs: int) -> tuple[float, float]:
    return run_command([sys.executable, "-m", "lbp_assess", "score", str(path), "-f", "jsonl", "-q",
                        "--jobs", str(jobs)])


def audit(path: Path, jobs: int) -> tuple[float, float]:
    """`lbp-assess audit` of `path` into bench/out (the page, its CSV), overwriting the last run."""
    report = HERE / "out" / f"audit-{path.stem}.html"
    return run_command([sys.executable, "-m", "lbp_assess", "audit", str(path), "-o", str(report), "--force", "-q",
                        "--jobs", str(jobs)])


def parse_only(path: Path, repeat: int = 3) -> float:
    """Best wall time of a plain Python loop that reads the JSON Lines file line by line and
    parses each line with orjson, doing nothing else: the reference for `score --jobs 1`."""
    import orjson

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with open(path, "rb") as handle:
            for line in handle:
                orjson.loads(line)
        best = min(best, time.perf_counter() - start)
    return best


PARSE_RATIO_TARGET = 0.30  # issue 21: JSON Lines `score --jobs 1`, end to end, at least 0.30x parse only


def rule_evaluation(cases: list[dict[str, Any]]) -> tuple[float, float, int]:
    """(compiled seconds, hand-written seconds, disagreements) over valid cases, each in its own input
    form: structs for the compiled rules (as batch scoring reads them; they also build the whole result
    row), dicts for the hand-written."""
    ruleset = load_rules()
    structs = [fast_convert(c) for c in cases]
    compiled = ruleset.row_from_data

    disagreements = 0
    for s, d in zip(structs, cases):
        row = compiled(s, "bench")
        classification, urgency, conditions, alerts = handwritten.assess(d)
        if (row["classification"], row["urgency"], row["condition_tiers"], set(row["alerts"])) != (
                classification, urgency, conditions, alerts):
            disagreements += 1
    best_c = best_h = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for s in structs:
            compiled(s, "bench")
        best_c = min(best_c, time.perf_counter() - start)
        start = time.perf_counter()
        for d in cases:
            handwritten.assess(d)
        best_h = min(best_h, time.perf_counter() - start)
    return best_c, best_h, disagreements


def startup(repeat: int = 30) -> tuple[float, float]:
    """Median wall time of each command, run alternately so drift on the machine hits both alike."""
    script = Path(sys.executable).parent / "lbp-assess"  # the console script users run
    version = [str(script), "--version"] if script.exists() else [sys.executable, "-m", "lbp_assess", "--version"]
    commands = (version, [sys.executable, "-c", "import typer"])
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for args, bucket in zip(commands, times):
            start = time.perf_counter()
            subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yaml", type=int, default=20_000, help="YAML files to generate")
    parser.add_argument("--jsonl", type=int, default=100_000, help="JSON Lines cases to generate")
    parser.add_argument("--quick", action="store_true", help="2,000 YAML files and 10,000 JSON Lines cases")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where the generated inputs go")
    parser.add_argument("--parse-ratio", action="store_true",
                        help="only JSON Lines --jobs 1 against parse only (--runs of each, alternating)")
    parser.add_argument("--runs", type=int, default=3,
                        help="--parse-ratio: runs of each, alternating (the best of each, and each run's ratio)")
    args = parser.parse_args()
    n_yaml, n_jsonl = (2_000, 10_000) if args.quick else (args.yaml, args.jsonl)
    bytecode()
    if args.parse_ratio:
        return parse_ratio(n_jsonl, args.out, args.runs)

    print(f"machine: {machine()}", file=sys.stderr)
    print(f"generating {max(n_yaml, n_jsonl):,} cases ...", file=sys.stderr)
    cases = generate(max(n_yaml, n_jsonl))
    yaml_dir, big, small = write_inputs(cases, n_yaml, args.out)
    rows: list[tuple[str, str, str, str]] = []

    def add(what: str, seconds: float, n: int, rss: float | None = None, note: str = "") -> None:
        rows.append((what, f"{seconds:.2f} s", f"{n / seconds:,.0f}", f"{rss:.0f} MB" if rss else note))

    print("naive baseline ...", file=sys.stderr)
    base_s, base_n = naive_baseline(yaml_dir)
    add(f"naive: PyYAML CSafeLoader + pydantic + rules, 1 process, {base_n:,} YAML", base_s, base_n)
    for jobs in (1, 2):
        print(f"score YAML --jobs {jobs} ...", file=sys.stderr)
        s, rss = score(yaml_dir, jobs)
        add(f"lbp-assess score, {n_yaml:,} YAML files, --jobs {jobs}", s, n_yaml, rss)
    yaml2 = rows[-1]
    print("parse only ...", file=sys.stderr)
    parse_s = parse_only(big)
    add(f"parse only: orjson.loads of each line in a Python loop, {n_jsonl:,} JSON Lines", parse_s, n_jsonl)
    for jobs in (1, 2):
        print(f"score JSONL --jobs {jobs} ...", file=sys.stderr)
        s, rss = score(big, jobs)
        add(f"lbp-assess score, {n_jsonl:,} JSON Lines, --jobs {jobs}", s, n_jsonl, rss)
        if jobs == 1:
            jsonl1_s = s
    s, rss_small = score(small, 1)
    add("lbp-assess score, 1,000 JSON Lines, --jobs 1", s, 1000, rss_small)
    big1_rss = float(rows[-3][3].split()[0])
    print("audit JSONL --jobs 2 ...", file=sys.stderr)
    s, rss = run_command([sys.executable, "-m", "lbp_assess", "score", str(big), "-f", "csv", "-q", "--jobs", "2"])
    add(f"lbp-assess score -f csv, {n_jsonl:,} JSON Lines, --jobs 2", s, n_jsonl, rss)
    score_csv_s = s
    audit_s, audit_rss = audit(big, 2)
    add(f"lbp-assess audit (HTML report + CSV), {n_jsonl:,} JSON Lines, --jobs 2", audit_s, n_jsonl, audit_rss)
    audit_small_s, audit_small_rss = audit(small, 2)
    add("lbp-assess audit, 1,000 JSON Lines, --jobs 2", audit_small_s, 1000, audit_small_rss)
    page_mb = (HERE / "out" / f"audit-{big.stem}.html").stat().st_size / 1e6
    print("rule evaluation ...", file=sys.stderr)
    n_eval = min(len(cases), 20_000)
    compiled_s, hand_s, disagreements = rule_evaluation(cases[:n_eval])
    add(f"rules alone: compiled YAML rules, {n_eval:,} cases", compiled_s, n_eval)
    add(f"rules alone: bench/handwritten.py, {n_eval:,} cases", hand_s, n_eval)
    version_s, typer_s = startup()

    speedup = float(yaml2[2].replace(",", "")) / (base_n / base_s)
    print(f"\nMachine: {machine()}\n")
    print("| measurement | wall | cases/s | peak memory |")
    print("|---|---:|---:|---:|")
    for what, wall, rate, rss in rows:
        print(f"| {what} | {wall} | {rate} | {rss} |")
    print()
    print(f"- YAML, --jobs 2 vs naive baseline: {speedup:.1f}x (target >= 5x)")
    print(f"- JSON Lines, --jobs 1 (end to end) vs parse only: {parse_s / jsonl1_s:.2f}x the rate "
          f"(target >= {PARSE_RATIO_TARGET:.2f}x)")
    print(f"- rule evaluation, compiled vs hand-written: {compiled_s / hand_s:.2f}x the time (target <= 1.5x); "
          f"{'agree on every' if disagreements == 0 else f'DISAGREE on {disagreements} of'} {n_eval:,} cases")
    print(f"- peak memory, {n_jsonl:,} vs 1,000 JSON Lines cases: {big1_rss:.0f} MB vs {rss_small:.0f} MB "
          f"({100 * (big1_rss / rss_small - 1):+.0f}%, target within 10%)")
    print(f"- `lbp-assess --version` {version_s * 1000:.0f} ms vs `python -c \"import typer\"` "
          f"{typer_s * 1000:.0f} ms: {version_s / typer_s:.2f}x (target <= 1.3x)")
    print(f"- audit, {n_jsonl:,} JSON Lines: {audit_s:.2f} s, score -f csv {score_csv_s:.2f} s + "
          f"{audit_s - score_csv_s:.2f} s; peak memory {audit_rss:.0f} MB vs {audit_small_rss:.0f} MB for 1,000 "
          f"cases ({100 * (audit_rss / audit_small_rss - 1):+.0f}%); page {page_mb:.1f} MB")
    if disagreements:
        raise SystemExit(1)


def parse_ratio(n: int, where: Path, runs: int = 3) -> None:
    """JSON Lines `score --jobs 1` against parse only, alternating `runs` times: the best of each,
    and the spread of each run's own ratio (how far the machine drifted while it ran).
    Also `score` of the file's first line alone (start-up: Python, imports, the rules) and so the
    cost per case above start-up, which tell apart what a change to start-up or to the per-case
    path gains."""
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    cases = generate(n)
    where.mkdir(parents=True, exist_ok=True)
    big, one = where / "ratio.jsonl", where / "ratio-1.jsonl"
    with open(big, "w") as handle:
        for case in cases:
            handle.write(json.dumps(case) + "\n")
    one.write_text(json.dumps(cases[0]) + "\n")
    parse_s = score_s = start_s = float("inf")
    paired: list[float] = []  # each run's parse only against the `score` run just after it
    for _ in range(runs):
        parse_1 = parse_only(big, repeat=1)
        score_1 = score(big, 1)[0]
        parse_s, score_s = min(parse_s, parse_1), min(score_s, score_1)
        paired.append(parse_1 / score_1)
        start_s = min(start_s, score(one, 1)[0])
    print(f"| parse only: orjson.loads of each line in a Python loop, {n:,} JSON Lines | {parse_s:.2f} s | "
          f"{n / parse_s:,.0f} |")
    print(f"| lbp-assess score, {n:,} JSON Lines, --jobs 1 | {score_s:.2f} s | {n / score_s:,.0f} |")
    print(f"| lbp-assess score, 1 JSON Lines case (start-up), --jobs 1 | {start_s:.2f} s |  |")
    print(f"- per case above start-up: {(score_s - start_s) / (n - 1) * 1e6:.1f} us (parse only: "
          f"{parse_s / n * 1e6:.1f} us a line)")
    print(f"- JSON Lines, --jobs 1 (end to end) vs parse only: {parse_s / score_s:.2f}x the rate "
          f"(target >= {PARSE_RATIO_TARGET:.2f}x); load average {os.getloadavg()[0]:.2f}")
    print(f"- each run's ratio (parse only, then `score`): {min(paired):.3f}-{max(paired):.3f}x, median "
          f"{statistics.median(paired):.3f}x; best of each {parse_s / score_s:.3f}x")


if __name__ == "__main__":
    main()
