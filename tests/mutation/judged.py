#!/usr/bin/env python3
"""judged.py: writes tests/mutation/judged-ops.txt, the ops mutants CI samples from.

    python3 tests/mutation/judged.py REPORT.json [REPORT.json ...]

Each REPORT is the --report of a full run (mutate.py --target ops --count N
--seed S --report R.json) whose survivors have all been judged: killed by a
test since, or listed in accepted-ops.txt. Every compiled mutant of those runs
whose line is unchanged today (its id is still a site) goes into the file,
with the entries already there that still match; a mutant that did not
compile is left out. Read tests/mutation/README.md, "CI", for why.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402

PATH = os.path.join(mutate.REPO, "tests", "mutation", "judged-ops.txt")
HEADER = """\
# The ops mutants the full runs judged: every compiled mutant of each run named
# below, each killed by the ops checker then, or a survivor since killed by a
# test or listed in accepted-ops.txt with its reason. CI draws its sample from
# these (mutate.py --judged): a survivor there that is not accepted is a check
# that got weaker. Written by tests/mutation/judged.py from the runs' reports.
# One mutant a line: ID FILE FUNCTION OPERATOR SEED.
"""


def main(reports):
    files = mutate.target_files("ops", None)
    sources = mutate.read_sources(files)
    current = {s.id for f in files for s in mutate.find_sites(f, sources[f])}
    rows = {}
    if os.path.exists(PATH):
        with open(PATH) as fh:
            for line in fh:
                parts = line.split()
                if parts and not line.startswith("#") and parts[0] in current:
                    rows[parts[0]] = parts[1:]
    for path in reports:
        with open(path) as fh:
            report = json.load(fh)
        for m in report["mutants"]:
            if m["verdict"] in ("killed", "survived") and m["id"] in current:
                rows.setdefault(m["id"], [m["file"], m["function"], m["operator"], str(report["seed"])])
    seeds = sorted({r[3] for r in rows.values()}, key=int)
    with open(PATH, "w") as fh:
        fh.write(HEADER)
        fh.write(f"# Runs (their commands: tests/mutation/README.md, \"Last result\"): seeds {', '.join(seeds)}.\n")
        for mid, r in sorted(rows.items(), key=lambda kv: (kv[1][0], kv[0])):
            fh.write(f"{mid} {' '.join(r)}\n")
    print(f"judged.py: {len(rows)} judged mutants in {os.path.relpath(PATH, mutate.REPO)} (seeds {', '.join(seeds)})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
