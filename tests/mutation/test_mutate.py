#!/usr/bin/env python3
"""The mutation operators of tests/mutation/mutate.py on small C snippets: no
build, a fraction of a second. Run by `meson test` ('mutation operators')."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate  # noqa: E402

SAMPLE = r"""#include <stdio.h>
#define TWICE(x) ((x) + (x) * 2)
/* a < b in a comment: never mutated */
static int total(const int *a, int n)
{
    int s = 0;   // s - 1 in a comment
    for (int i = 0; i < n; i++)
        s += a[i];
    if (!n || s == 3) puts("a + b < c");
    return s * 2;
}
"""


def sites_of(src, path="x.c"):
    return mutate.find_sites(path, src)


def mutated_lines(src, site):
    """The line the mutation changed, as it reads after the change."""
    return mutate.apply(src, site).split("\n")[site.line - 1].strip()


class Operators(unittest.TestCase):
    def setUp(self):
        self.sites = sites_of(SAMPLE)
        self.by_op = {}
        for s in self.sites:
            self.by_op.setdefault(s.operator, []).append(s)

    def mutation(self, operator, k=0):
        return mutated_lines(SAMPLE, self.by_op[operator][k])

    def test_relational_bound(self):
        self.assertEqual(self.mutation("rel:<:<="), "for (int i = 0; i <= n; i++)")

    def test_arithmetic_and_compound_assignment(self):
        self.assertEqual(self.mutation("arith:*:/"), "return s / 2;")
        self.assertEqual(self.mutation("assign:+=:-="), "s -= a[i];")
        self.assertEqual(self.mutation("assign:+=:="), "s = a[i];")

    def test_equality_logic_negation_increment(self):
        self.assertEqual(self.mutation("eq:==:!="), 'if (!n || s != 3) puts("a + b < c");')
        self.assertEqual(self.mutation("logic:||:&&"), 'if (!n && s == 3) puts("a + b < c");')
        self.assertEqual(self.mutation("negation:!:removed"), 'if (n || s == 3) puts("a + b < c");')
        self.assertEqual(self.mutation("incr:++:--"), "for (int i = 0; i < n; i--)")

    def test_constants_and_index_offsets(self):
        self.assertEqual(self.mutation("const:3:4"), 'if (!n || s == 4) puts("a + b < c");')
        self.assertEqual(self.mutation("const:0:1"), "int s = 1;   // s - 1 in a comment")
        self.assertEqual(self.mutation("index:+1"), "s += a[i + 1];")
        self.assertEqual(self.mutation("index:-1"), "s += a[i - 1];")
        self.assertEqual(mutate.constant_replacements("1.0"), ["0.0"])
        self.assertEqual(mutate.constant_replacements("0x10u"), ["0x11u"])

    def test_statement_deletion(self):
        deleted = [mutated_lines(SAMPLE, s) for s in self.by_op["delete:statement"]]
        self.assertIn(";", deleted)                                     # the loop body, s += a[i]
        self.assertIn("if (!n || s == 3) ;", deleted)                   # the call
        # declarations and returns are not statements to delete
        self.assertEqual(len(deleted), 2)

    def test_comments_strings_and_preprocessor_are_skipped(self):
        lines = {s.line for s in self.sites}
        self.assertNotIn(2, lines)   # #define
        self.assertNotIn(3, lines)   # comment
        for s in self.sites:
            if s.operator == "delete:statement":
                continue   # a deleted call takes its arguments with it
            changed = SAMPLE[s.start:s.end]
            self.assertNotIn('"', changed)
            self.assertNotIn("//", changed)
        # no site inside the string literal "a + b < c"
        literal = SAMPLE.index('"a + b')
        self.assertFalse([s for s in self.sites if literal <= s.start < literal + 11])

    def test_pointers_arrows_and_unary_minus_are_not_arithmetic(self):
        src = "void f(node *p, int *q)\n{\n    p->v = -1;\n    *q = p->v--;\n    int *r = q;\n}\n"
        ops = {s.operator for s in sites_of(src)}
        self.assertFalse([o for o in ops if o.startswith("arith:")], ops)
        self.assertIn("incr:--:++", ops)

    def test_array_sizes_are_not_mutated(self):
        src = "void f(void)\n{\n    char buf[96];\n    g(buf);\n}\n"
        self.assertEqual([s.operator for s in sites_of(src)], ["delete:statement"])
        src = "void f(int *x, int i)\n{\n    char a[64], b[64];\n    g(a, x[i]);\n}\n"
        self.assertEqual(sorted(s.operator for s in sites_of(src)), ["delete:statement", "index:+1", "index:-1"])
        # the second array after an initializer list is a declarator too
        src = "int f(int s, int p)\n{\n    int a[2] = {s, s}, b[2] = {p, p};\n    return g(a, b);\n}\n"
        self.assertEqual([s.operator for s in sites_of(src)], [])

    def test_literal_subscripts_are_left_to_the_constant_operator(self):
        src = "void f(char *m)\n{\n    m[0] = 1;\n}\n"
        ops = sorted(s.operator for s in sites_of(src))
        self.assertEqual(ops, ["const:0:1", "const:1:0", "delete:statement"])

    def test_enclosing_function(self):
        self.assertEqual({s.function for s in self.sites}, {"total"})


class Identity(unittest.TestCase):
    def test_ids_survive_lines_inserted_above(self):
        before = {s.id: s.operator for s in sites_of(SAMPLE)}
        shifted = SAMPLE.replace("#include <stdio.h>\n", "#include <stdio.h>\n\n/* new */\nstatic int unused;\n")
        after = {s.id: s.operator for s in sites_of(shifted)}
        self.assertEqual(before, after)

    def test_ids_are_unique_and_tell_repeated_lines_apart(self):
        src = "void f(int *a)\n{\n    a[0]++;\n    a[0]++;\n}\n"
        sites = sites_of(src)
        self.assertEqual(len({s.id for s in sites}), len(sites))
        self.assertEqual({s.line_repeat for s in sites}, {0, 1})

    def test_ids_depend_on_the_file(self):
        self.assertNotEqual({s.id for s in sites_of(SAMPLE, "a.c")}, {s.id for s in sites_of(SAMPLE, "b.c")})


class Accepted(unittest.TestCase):
    def test_entry_needs_a_reason(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write("# comment\nabc123 engine/x.c f rel:<:<= equivalent: both bounds give the same loop\n")
        try:
            self.assertEqual(mutate.load_accepted(fh.name), {"abc123": "equivalent: both bounds give the same loop"})
            with open(fh.name, "a") as out:
                out.write("def456 engine/x.c f rel:<:<=\n")
            with self.assertRaises(SystemExit):
                mutate.load_accepted(fh.name)
        finally:
            os.unlink(fh.name)

    def test_accepted_lists_parse(self):
        for target in mutate.TARGETS:
            mutate.load_accepted(mutate.accepted_path(target))


class Selection(unittest.TestCase):
    def test_quotas_are_proportional_with_a_floor(self):
        q = mutate.quotas({"big": list(range(900)), "small": list(range(100)), "tiny": list(range(2))}, 50, 3)
        self.assertEqual(q, {"big": 45, "small": 5, "tiny": 2})

    def test_a_sample_has_its_size(self):
        sites = {"big": list(range(900)), "small": list(range(100)), "tiny": list(range(2))}
        self.assertEqual(sum(mutate.sample_quotas(sites, 8, 3).values()), 8)

    def test_plan_depends_on_the_seed_only(self):
        sites = {"x.c": sites_of(SAMPLE)}
        self.assertEqual([s.id for s in mutate.plan(sites, 4)["x.c"]], [s.id for s in mutate.plan(sites, 4)["x.c"]])
        self.assertNotEqual([s.id for s in mutate.plan(sites, 4)["x.c"]], [s.id for s in mutate.plan(sites, 5)["x.c"]])

    def test_judged_and_unjudged_split_the_sites(self):
        import tempfile
        sites = {"x.c": sites_of(SAMPLE)}
        ids = [s.id for s in sites["x.c"]]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
            fh.write(f"# judged\n{ids[0]} x.c f op 1\n{ids[1]} x.c f op 1\n")
        try:
            accepted = {ids[2]: "equivalent: a reason"}
            judged = [s.id for s in mutate.judged_sites(sites, fh.name)["x.c"]]
            unjudged = [s.id for s in mutate.unjudged_sites(sites, fh.name, accepted)["x.c"]]
            self.assertEqual(judged, ids[:2])
            self.assertEqual(unjudged, ids[3:])   # neither judged nor accepted: the rest, in order
        finally:
            os.unlink(fh.name)


if __name__ == "__main__":
    unittest.main()
