#!/usr/bin/env python3
"""autograde --validate: are an assignment's tests strong enough?

Builds every mutant of the reference solution that tests/mutation/mutate.py
makes (an operator swapped, a bound off by one, a term dropped, an index
swapped, a constant changed, a statement deleted), grades each with the
grader, and reports every mutant that still scores full marks, with its
diff. A wrong solution that scores full marks is a gap in the tests; a
mutant that computes the same function is listed, with the reason, in the
accepted-equivalents file, one a line:

    ID REASON

where ID is the mutant's id (printed with it) and REASON says why it cannot
be told apart from the reference ("equivalent: ..."). Exit status: 0 when
every survivor is accepted, 1 when one is not (or an accepted entry names no
mutant any more), 2 on a usage error.

    validate.py --autograde build/gradcheck/autograde \\
        --reference example/solution.c --accepted example/accepted-mutants.txt example/assignment.json
"""

import argparse
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
# mutate.py: in the source tree (tests/mutation), or installed beside this file
for where in (os.path.join(HERE, "..", "..", "tests", "mutation"), HERE):
    if os.path.exists(os.path.join(where, "mutate.py")):
        sys.path.insert(0, os.path.abspath(where))
        break
import mutate  # noqa: E402


def load_accepted(path):
    """{id: reason} from the accepted-equivalents file; a line without a
    reason is an error, since an unexplained entry proves nothing."""
    accepted = {}
    if not path:
        return accepted
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 1)
            if len(fields) < 2:
                sys.exit(f"validate: {path}:{number}: an entry is `ID REASON` (the reason is required)")
            accepted[fields[0]] = fields[1]
    return accepted


def grade(autograde, assignment, source, seed):
    """The mutant's score and the assignment's maximum, graded in a scratch directory."""
    with tempfile.TemporaryDirectory(prefix="ag-validate.") as tmp:
        path = os.path.join(tmp, "mutant.c")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(source)
        cmd = [autograde, "--assignment", assignment, "--submission", path, "--out", os.path.join(tmp, "out"),
               "--seed", str(seed)]
        run = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        if run.returncode != 0:
            raise RuntimeError(f"autograde failed (status {run.returncode}): {run.stderr.strip()}")
        with open(os.path.join(tmp, "out", "results.json"), encoding="utf-8") as fh:
            res = json.load(fh)
        return res["score"], sum(t["max_score"] for t in res["tests"])


def main():
    ap = argparse.ArgumentParser(prog="autograde --validate", description=__doc__.split("\n\n")[0])
    ap.add_argument("assignment")
    ap.add_argument("--reference", required=True, help="the reference solution (C)")
    ap.add_argument("--autograde", required=True, help="the grader")
    ap.add_argument("--accepted", help="the accepted-equivalents file (ID REASON per line)")
    ap.add_argument("--jobs", type=int, default=2, help="gradings at once (default 2)")
    ap.add_argument("--seed", type=int, help="the seed every grading uses (default: one drawn for the run)")
    args = ap.parse_args()
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    if args.seed is None:   # one seed for the run, so that a rerun with it gives the same verdicts
        args.seed = random.SystemRandom().randrange(1 << 32)
    print(f"validate: inputs drawn with seed {args.seed} (--seed {args.seed} repeats this run)")
    with open(args.reference, encoding="utf-8") as fh:
        src = fh.read()
    accepted = load_accepted(args.accepted)
    sites = mutate.find_sites(os.path.basename(args.reference), src)

    score, full = grade(args.autograde, args.assignment, src, args.seed)
    if score != full:
        print(f"validate: the reference solution itself scores {score} / {full}: fix it or the assignment first")
        return 1

    def one(site):
        return site, grade(args.autograde, args.assignment, mutate.apply(src, site), args.seed)

    survivors, killed = [], 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for site, (score, full) in pool.map(one, sites):
            if score >= full:
                survivors.append(site)
            else:
                killed += 1
    unexplained = [s for s in survivors if s.id not in accepted]
    for s in survivors:
        if s.id in accepted:
            print(f"accepted  {s.id} {s.function} {s.operator}: {accepted[s.id]}")
    for s in unexplained:
        print(f"\nFULL MARKS  {s.id} {s.function} {s.operator} (line {s.line}): a wrong solution the tests miss,"
              f" or an equivalent one to list in the accepted file\n{mutate.unified_diff(src, s)}")
    known = {s.id for s in sites}
    stale = sorted(set(accepted) - known)
    for sid in stale:
        print(f"stale  {sid}: the accepted entry names no mutant any more (its line changed?): remove it")
    print(f"\nvalidate: {len(sites)} mutants of {args.reference}: {killed} lose marks, "
          f"{len(survivors) - len(unexplained)} full marks and accepted, {len(unexplained)} full marks and not accepted")
    return 1 if unexplained or stale else 0


if __name__ == "__main__":
    sys.exit(main())
