#!/usr/bin/env python3
"""judged.py: writes tests/mutation/judged-TARGET.txt, the mutants whose verdict
a person has checked: the file CI samples the ops from, and the one the sweep
(mutate.py --unjudged) leaves out.

    python3 tests/mutation/judged.py REPORT.json [REPORT.json ...]

Each REPORT is the --report of a run (mutate.py --target T --count N --seed S
--report R.json) whose survivors have all been judged: killed by a test since,
or listed in accepted-T.txt. Every compiled mutant of those runs whose line is
unchanged today (its id is still a site) goes into judged-T.txt (T the run's
target), with the entries already there that still match; a mutant that did
not compile is left out. Read tests/mutation/README.md, "CI", for why.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402

HEADER = """\
# The {target} mutants the runs judged: every compiled mutant of each run named
# below, each killed by the {target} checker then, or a survivor since killed by a
# test or listed in accepted-{target}.txt with its reason. mutate.py --judged draws
# from these (CI's ops sample: a survivor there that is not accepted is a check
# that got weaker), --unjudged from the rest. Written by tests/mutation/judged.py
# from the runs' reports. One mutant a line: ID FILE FUNCTION OPERATOR SEED.
"""


def path_for(target):
    return os.path.join(mutate.REPO, "tests", "mutation", f"judged-{target}.txt")


def write(target, reports):
    path = path_for(target)
    files = mutate.target_files(target, None)
    sources = mutate.read_sources(files)
    current = {s.id for f in files for s in mutate.find_sites(f, sources[f])}
    rows = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if parts and not line.startswith("#") and parts[0] in current:
                    rows[parts[0]] = parts[1:]
    for report in reports:
        for m in report["mutants"]:
            if m["verdict"] in ("killed", "survived") and m["id"] in current:
                rows.setdefault(m["id"], [m["file"], m["function"], m["operator"], str(report["seed"])])
    seeds = sorted({r[3] for r in rows.values()}, key=int)
    with open(path, "w") as fh:
        fh.write(HEADER.format(target=target))
        fh.write(f"# Runs (their commands: tests/mutation/README.md, \"Last result\"): seeds {', '.join(seeds)}.\n")
        for mid, r in sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0])):
            fh.write(f"{mid} {' '.join(r)}\n")
    print(f"judged.py: {len(rows)} judged mutants in {os.path.relpath(path, mutate.REPO)} (seeds {', '.join(seeds)})")


def main(paths):
    by_target = {}
    for path in paths:
        with open(path) as fh:
            report = json.load(fh)
        by_target.setdefault(report["target"], []).append(report)
    for target, reports in sorted(by_target.items()):
        write(target, reports)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
