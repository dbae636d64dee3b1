"""Prove that a refactor changed no output, byte for byte.

    python bench/same_outputs.py record DIR     # before the change: write every output to DIR
    python bench/same_outputs.py compare DIR    # after it: run again, exit 1 naming each output that differs

What it records (standard output, standard error and exit status of each command, run as
`python -m lbp_assess` from the repository root):

* `score -f jsonl` over examples/ (every case, vignette, follow-up and FHIR file, errors included)
  and over a generated corpus (YAML files and a JSON Lines file, `--jobs 1` and `--jobs 2`);
* `note --full` (md, text, json) and `explain -f json` for every example case and vignette;
* `export` of three cases, with the run's timestamp replaced by a fixed one;
* `questionnaire`, `schema`, `rules doc`, `rules check`, `rules test`.

Left out of the comparison: the speed in `score`'s closing summary on standard error, the
folder of the checkout (record in one worktree, compare in another), and in the export the
ids made from the run's time (numbered in order of appearance instead).

The generated corpus is written into DIR by `record` (cases from bench/bench.py's generator; a
corpus already in DIR is kept) and read back by `compare`, so both runs score the very same files
whatever the code now generates.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXED_TIME = "2000-01-01T00:00:00+00:00"
EXPORTED = ["examples/cases/radicular-l5.yaml", "examples/cases/ces-saddle-numbness.yaml",
            "examples/cases/unscreened-red-flags.yaml"]


def _cases() -> list[str]:
    found = sorted((REPO / "examples").rglob("*.yaml"))
    return [str(p.relative_to(REPO)) for p in found]


def _commands(corpus: Path) -> dict[str, list[str]]:
    commands: dict[str, list[str]] = {
        "score-examples.jsonl": ["score", "examples", "-f", "jsonl", "-j", "1"],
        "score-corpus-yaml.jsonl": ["score", str(corpus / "yaml"), "-f", "jsonl", "-j", "2"],
        "score-corpus-lines.jsonl": ["score", str(corpus / "cases.jsonl"), "-f", "jsonl", "-j", "1"],
        "score-corpus-lines-j2.jsonl": ["score", str(corpus / "cases.jsonl"), "-f", "jsonl", "-j", "2"],
        "score-examples.csv": ["score", "examples/cases", "-f", "csv", "-j", "1"],
        "questionnaire.json": ["questionnaire"],
        "schema.json": ["schema"],
        "rules-doc.md": ["rules", "doc"],
        "rules-check.txt": ["rules", "check"],
        "rules-test.txt": ["rules", "test"],
        "export.ndjson": ["export", *EXPORTED],
    }
    for case in _cases():
        name = case.replace("/", "_")
        commands[f"note-full-md/{name}"] = ["note", case, "--full"]
        commands[f"note-full-text/{name}"] = ["note", case, "--full", "-f", "text"]
        commands[f"note-full-json/{name}"] = ["note", case, "--full", "-f", "json"]
        commands[f"note/{name}"] = ["note", case]
        commands[f"explain-json/{name}"] = ["explain", case, "-f", "json"]
    return commands


def _run(args: list[str]) -> bytes:
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "80", "LANG": "C.UTF-8", "CI": "1"}
    done = subprocess.run([sys.executable, "-m", "lbp_assess", *args], cwd=REPO, env=env,
                          capture_output=True, stdin=subprocess.DEVNULL)
    out = done.stdout
    if args[0] == "export":  # the Bundle's timestamp and the Composition's date are the run's time
        stamps = set(re.findall(rb'"(?:timestamp|date)": ?"(\d{4}-\d\d-\d\dT[^"]+)"', out))
        for stamp in stamps:
            out = out.replace(stamp, FIXED_TIME.encode())
    return (b"exit " + str(done.returncode).encode() + b"\n--- stdout\n" + out
            + b"\n--- stderr\n" + done.stderr)


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _same(out: bytes, repo: str, name: str = "") -> bytes:
    """The output as compared: the run's speed (`score`'s summary: "in 0.02 s (829 cases/s)") and
    the folder of the checkout it ran in (`rules check` names the rules folder) left out. In an
    export, the ids made from the run's time (a document's identity: uuid5 of its content and
    time) are numbered in order of appearance, so the same ids in the same places compare equal."""
    out = out.replace(repo.encode(), b"<repository>")
    if name.startswith("export"):
        numbers: dict[bytes, bytes] = {}
        out = _UUID.sub(lambda m: numbers.setdefault(m.group(), b"uuid-%d" % len(numbers)), out)
    return re.sub(rb"in [0-9.]+ s \([0-9,]+ cases/s\)", b"in - s (- cases/s)", out)


def _corpus(where: Path, yaml_count: int = 1500, lines: int = 6000) -> None:
    import yaml

    sys.path.insert(0, str(HERE))
    import bench  # the benchmark's generator: every example with a few facts changed

    cases = bench.generate(lines, seed=11)
    (where / "yaml").mkdir(parents=True)
    for case in cases[:yaml_count]:
        (where / "yaml" / f"{case['id']}.yaml").write_text(yaml.dump(case, sort_keys=False))
    with open(where / "cases.jsonl", "w") as handle:
        for case in cases:
            handle.write(json.dumps(case) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["record", "compare"])
    parser.add_argument("dir", type=Path)
    args = parser.parse_args()
    where: Path = args.dir.resolve()
    corpus = where / "corpus"
    if args.mode == "record":
        if (where / "outputs").exists():
            shutil.rmtree(where / "outputs")
        if not corpus.is_dir():  # a corpus already there is kept: record again over the same cases
            _corpus(corpus)
        (where / "repository.txt").write_text(str(REPO))
    elif not corpus.is_dir():
        print(f"{where}: no recording here; run `record` first", file=sys.stderr)
        return 2
    differ = []
    recorded_in = (where / "repository.txt").read_text() if (where / "repository.txt").is_file() else str(REPO)
    commands = _commands(corpus)
    for name, command in commands.items():
        out = _run(command)
        path = where / "outputs" / name
        if args.mode == "record":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(out)
        elif not path.is_file() or _same(path.read_bytes(), recorded_in, name) != _same(out, str(REPO), name):
            differ.append(name)
            print(f"DIFFERS: {name}  ({' '.join(command)})")
    if args.mode == "record":
        print(f"recorded {len(commands)} outputs in {where / 'outputs'}")
        return 0
    print(f"{len(commands) - len(differ)} of {len(commands)} outputs byte-identical")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
