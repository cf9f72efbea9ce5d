#!/usr/bin/env python3
"""Mutation testing for autodidact's C sources (standard library only).

A mutant is the project with one small change in one C file: `a < b` made
`a <= b`, a `+` made a `-`, a call deleted. The checker (tests, gradcheck) is
run against each mutant: if it fails, the mutant is *killed* -- the tests
noticed the change. If it passes, the mutant *survived*: either the change
cannot alter behaviour (an equivalent mutant), or the tests have a gap.
Survivors judged harmless are listed, each with its reason, in
tests/mutation/accepted-<target>.txt; any other survivor fails the run.

The user's tree is never touched: the tracked files are copied to a scratch
directory, built there once, and each mutant costs one incremental build
(one object and the library's relink) and one checker run.

    tests/mutation/mutate.py --target engine --count 100 --seed 1
    tests/mutation/mutate.py --target engine --only 3f2a9c01d4
    tests/mutation/mutate.py --target ops --sample 10 --time-budget 240

See tests/mutation/README.md.
"""

import argparse
import difflib
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# ---------------------------------------------------------------------------
# Lexing: C source as a list of tokens, with comments, string and character
# literals and preprocessor lines left out -- mutations happen only in tokens.
# ---------------------------------------------------------------------------

@dataclass
class Token:
    kind: str      # 'id' (identifier or keyword), 'num', 'str' (string/char literal), 'op' (punctuator)
    text: str
    start: int     # offset of the first character in the source
    line: int      # 1-based line number
    space_before: bool = False   # whitespace (or a comment) right before it
    space_after: bool = False


# Longest punctuators first, so that `->` is one token and never a `-`.
PUNCTUATORS = sorted("""
    ... <<= >>= -> ++ -- << >> <= >= == != && || *= /= %= += -= &= ^= |= ##
    [ ] ( ) { } . & * + - ~ ! / % < > ^ | ? : ; = , #
""".split(), key=len, reverse=True)

NUMBER_RE = re.compile(r"(?:0[xX][0-9a-fA-F']+|\d[\d']*\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)[uUlLfF]*")
IDENT_RE = re.compile(r"[A-Za-z_]\w*")


def _skip_comment_or_space(src, i):
    """Returns the offset after the whitespace and comments at i (i itself if none)."""
    n = len(src)
    while i < n:
        if src[i] in " \t\r\n\f\v":
            i += 1
        elif src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif src.startswith("//", i):
            end = src.find("\n", i)
            i = n if end < 0 else end
        else:
            break
    return i


def _skip_preprocessor_line(src, i):
    """i is at a '#' that starts a line: returns the offset after the directive
    (continuation lines included; a comment inside it is skipped too)."""
    n = len(src)
    while i < n and src[i] != "\n":
        if src.startswith("/*", i):
            end = src.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
            i += 2
        else:
            i += 1
    return i


def _literal_end(src, i):
    """i is at a quote: returns the offset after the string or character literal."""
    quote, i = src[i], i + 1
    while i < len(src) and src[i] != quote:
        i += 2 if src[i] == "\\" else 1
    return i + 1


def tokenize(src):
    """Splits C source into tokens. Comments, literals' insides and preprocessor
    lines never become mutable tokens (literals become one 'str' token)."""
    tokens, i, line_starts_at = [], 0, True
    n = len(src)
    while True:
        j = _skip_comment_or_space(src, i)
        spaced = j > i
        if "\n" in src[i:j] or i == 0:
            line_starts_at = True
        i = j
        if i >= n:
            break
        if src[i] == "#" and line_starts_at:
            i = _skip_preprocessor_line(src, i)
            continue
        line_starts_at = False
        if src[i] in "\"'":
            kind, end = "str", _literal_end(src, i)
        elif (m := NUMBER_RE.match(src, i)) and (src[i].isdigit() or src[i] == "." and i + 1 < n and src[i + 1].isdigit()):
            kind, end = "num", m.end()
        elif (m := IDENT_RE.match(src, i)):
            kind, end = "id", m.end()
            if end < n and src[end] in "\"'" and src[i:end] in ("L", "u", "U", "u8"):
                kind, end = "str", _literal_end(src, end)   # L"..." and friends
        else:
            op = next((p for p in PUNCTUATORS if src.startswith(p, i)), src[i])
            kind, end = "op", i + len(op)
        tok = Token(kind, src[i:end], i, src.count("\n", 0, i) + 1, space_before=spaced)
        if tokens:
            tokens[-1].space_after = spaced
        tokens.append(tok)
        i = end
    return tokens


# ---------------------------------------------------------------------------
# Structure: which function each token is in, matching brackets.
# ---------------------------------------------------------------------------

KEYWORDS = set("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Noreturn _Static_assert _Thread_local bool
    __attribute__ __typeof__ typeof asm __asm__
""".split())
CONTROL = {"if", "while", "for", "switch"}


def match_brackets(tokens):
    """Maps the index of each ( [ { to its closing partner and back."""
    pairs, stack = {}, []
    closing = {")": "(", "]": "[", "}": "{"}
    for k, t in enumerate(tokens):
        if t.kind != "op":
            continue
        if t.text in "([{":
            stack.append(k)
        elif t.text in closing and stack and tokens[stack[-1]].text == closing[t.text]:
            opener = stack.pop()
            pairs[opener], pairs[k] = k, opener
    return pairs


def enclosing_functions(tokens, pairs):
    """Names the function each token is in ('<file>' outside any function body).
    A function body is a '{' at file scope right after the ')' of a parameter
    list (attributes between them are allowed); its name is the identifier
    before that list's '('."""
    owner = ["<file>"] * len(tokens)
    k = 0
    while k < len(tokens):
        t = tokens[k]
        if t.text == "{" and k in pairs:
            name = _function_name_before(tokens, pairs, k)
            if name:
                for j in range(k, pairs[k] + 1):
                    owner[j] = name
            k = pairs[k] + 1   # nested braces are inside this one: skip them at file scope
            continue
        k += 1
    return owner


def _function_name_before(tokens, pairs, brace):
    """The function's name if the '{' at index brace opens a function body."""
    k = brace - 1
    # skip trailing __attribute__((...)) groups
    while k >= 0 and tokens[k].text == ")" and k in pairs and pairs[k] >= 1 and tokens[pairs[k] - 1].text == "__attribute__":
        k = pairs[k] - 2
    if k < 1 or tokens[k].text != ")" or k not in pairs:
        return None
    name = tokens[pairs[k] - 1]
    if name.kind != "id" or name.text in KEYWORDS:
        return None
    return name.text


# ---------------------------------------------------------------------------
# Mutation sites. Each is a replacement of one span of the source; its
# identity does not depend on line numbers, so it survives edits elsewhere.
# ---------------------------------------------------------------------------

@dataclass
class Site:
    path: str          # relative to the repository root
    function: str
    line: int          # 1-based, of the first changed character (for reading only)
    line_text: str     # the original line, whitespace-normalised
    operator: str      # e.g. 'rel:<:<=' -- kind, what was there, what replaces it
    start: int         # the span of the source replaced
    end: int
    replacement: str
    occurrence: int = 0   # among sites with this operator on this line
    line_repeat: int = 0  # among identical lines in this function (0 = the first)
    id: str = ""

    def identity(self):
        """The fields that name a mutant, stable when lines are inserted above it."""
        return (self.path, self.function, self.line_text, self.line_repeat, self.operator, self.occurrence)


def normalise(text):
    return " ".join(text.split())


# Tokens after which a '+', '-', '*' or '/' is binary (there is a left operand).
def _ends_operand(t):
    return t.kind in ("num", "str") or (t.kind == "id" and t.text not in KEYWORDS) or t.text in (")", "]", "++", "--")


def _is_binary_star(tokens, k):
    """True if the '*' at k multiplies. `T *p` (declaration or cast) is the
    project's style for pointers: space before, none after. A multiplication is
    written `a * b` or `a*b`."""
    t = tokens[k]
    return k > 0 and _ends_operand(tokens[k - 1]) and t.space_before == t.space_after


SWAPS = {
    # kind, original -> replacements
    "arith": {"+": ["-"], "-": ["+"], "*": ["/"], "/": ["*"]},
    "rel": {"<": ["<="], "<=": ["<"], ">": [">="], ">=": [">"]},
    "eq": {"==": ["!="], "!=": ["=="]},
    "logic": {"&&": ["||"], "||": ["&&"]},
    "incr": {"++": ["--"], "--": ["++"]},
    "assign": {"+=": ["-=", "="], "-=": ["+=", "="], "*=": ["/="], "/=": ["*="]},
}


def operator_sites(tokens):
    """Yields (token index, kind, replacement) for the token-swapping operators."""
    for k, t in enumerate(tokens):
        if t.kind != "op":
            continue
        for kind, table in SWAPS.items():
            if t.text not in table:
                continue
            if kind == "arith":
                if t.text == "*" and not _is_binary_star(tokens, k):
                    continue
                if t.text in "+-/" and (k == 0 or not _ends_operand(tokens[k - 1])):
                    continue   # unary + or -
            for new in table[t.text]:
                yield k, kind, new
        if t.text == "!":
            yield k, "negation", ""   # `!x` -> `x`


def constant_replacements(text):
    """Replacement texts for a numeric literal: 0 -> 1, 1 -> 0, n -> n+1."""
    body = text.rstrip("uUlLfF")
    suffix = text[len(body):]
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", body):
            value = int(body, 16)
            return [hex(value + 1) + suffix] if value > 1 else [("1" if value == 0 else "0") + suffix]
        if re.fullmatch(r"\d+", body):
            value = int(body)
            if body.startswith("0") and value > 0:
                return []   # octal: rare here, leave it alone
            return [str(1 if value == 0 else 0 if value == 1 else value + 1) + suffix]
        value = float(body)
    except ValueError:
        return []
    # floating point: 0.0 -> 1.0, 1.0 -> 0.0, x -> x + 1 (written so that it still parses)
    if value == 0.0:
        return ["1.0" + suffix]
    if value == 1.0:
        return ["0.0" + suffix]
    return [repr(value + 1.0) + suffix]


TYPE_KEYWORDS = {"char", "short", "int", "long", "float", "double", "signed", "unsigned", "bool", "_Bool", "void"}


def _declares_array(tokens, bracket):
    """True if the '[' at index bracket is an array declarator, `T name[N]` or
    `T a[N], name[N]`: changing N only resizes a buffer (almost always an
    equivalent mutant)."""
    if bracket < 2 or tokens[bracket - 1].kind != "id":
        return False
    before = tokens[bracket - 2]
    if before.text == ",":
        return _in_declaration(tokens, bracket - 2)
    return before.text == "*" or before.text in TYPE_KEYWORDS or (before.kind == "id" and before.text not in KEYWORDS)


def _in_declaration(tokens, k):
    """True if token k (a ',') separates declarators: the statement it is in
    starts with a type (`T x` or `T *x`) and k is not inside parentheses (a
    call's arguments)."""
    depth = 0
    while k > 0 and tokens[k - 1].text not in (";", "{", "}") or (k > 1 and tokens[k - 1].text == "}"
                                                                   and tokens[k].text == ","):
        if tokens[k - 1].text == "}":   # an initializer list, `T a[2] = {x, y}, b[2]`: step over it
            braces = 0
            while k > 1:
                k -= 1
                braces += tokens[k].text == "}"
                braces -= tokens[k].text == "{"
                if braces == 0:
                    break
            continue
        k -= 1
        if tokens[k].text in (")", "]"):
            depth += 1
        elif tokens[k].text in ("(", "["):
            if depth == 0:
                return False   # inside an argument list or a subscript
            depth -= 1
    first, second = tokens[k], tokens[k + 1] if k + 1 < len(tokens) else None
    return first.text in TYPE_KEYWORDS or (first.kind == "id" and first.text not in KEYWORDS and second is not None
                                            and (second.kind == "id" or second.text == "*"))


def constant_sites(tokens, pairs):
    sizes = {k + 1 for k, t in enumerate(tokens) if t.text == "[" and _declares_array(tokens, k)}
    for k, t in enumerate(tokens):
        if t.kind == "num" and k not in sizes:
            for new in constant_replacements(t.text):
                yield k, new


def index_sites(tokens, pairs):
    """a[i] -> a[i + 1] and a[i - 1]: a subscript after an operand (not a
    designator `[3] =`, an empty `[]`, or a literal `[0]`, which the constant
    operator already changes). Yields (index of ']', text inserted)."""
    for k, t in enumerate(tokens):
        if t.text != "[" or k not in pairs or k == 0 or pairs[k] == k + 1 or _declares_array(tokens, k):
            continue
        if pairs[k] == k + 2 and tokens[k + 1].kind == "num":
            continue
        prev = tokens[k - 1]
        if (prev.kind == "id" and prev.text not in KEYWORDS) or prev.text in (")", "]"):
            for new in (" + 1", " - 1"):
                yield pairs[k], new


STATEMENT_BEFORE = {";", "{", "}", "else", "do"}
ASSIGNMENT_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}


def _statement_starts(tokens, pairs):
    """Indices of tokens that begin a statement inside a function body."""
    control_close = {pairs[k] for k, t in enumerate(tokens)
                     if t.text == "(" and k in pairs and k > 0 and tokens[k - 1].text in CONTROL}
    paren_depth = 0
    for k, t in enumerate(tokens):
        if k > 0 and paren_depth == 0:
            prev = tokens[k - 1]
            if prev.text in STATEMENT_BEFORE or (k - 1) in control_close:
                yield k
        if t.text == "(":
            paren_depth += 1
        elif t.text == ")":
            paren_depth = max(0, paren_depth - 1)


def _statement_end(tokens, pairs, k):
    """Index of the ';' that ends the expression statement starting at k, or None."""
    j = k
    while j < len(tokens):
        t = tokens[j]
        if t.text in "([" and j in pairs:
            j = pairs[j] + 1
            continue
        if t.text == ";":
            return j
        if t.text in ("{", "}"):
            return None
        j += 1
    return None


def _is_call_or_assignment(tokens, pairs, k, end):
    """True for `f(...);`, `obj.f(...);`, `(void)f(...);` and `lvalue op= expr;`
    (lvalue: a name with . -> [] after it, or *name, or ++/--). A declaration
    (`T x = ...`, `T *p = ...`) is not: two operands in a row are not an lvalue."""
    j = k
    if tokens[j].text == "(" and j + 2 < end and tokens[j + 1].text == "void" and tokens[j + 2].text == ")":
        j += 3   # (void)f(...)
    while j < end and tokens[j].text in ("*", "++", "--"):
        j += 1
    if j >= end or tokens[j].kind != "id" or tokens[j].text in KEYWORDS:
        return False
    j += 1
    while j < end:
        t = tokens[j]
        if t.text in (".", "->") and j + 1 < end and tokens[j + 1].kind == "id":
            j += 2
        elif t.text == "[" and j in pairs:
            j = pairs[j] + 1
        elif t.text == "(" and j in pairs:
            return pairs[j] + 1 == end or tokens[pairs[j] + 1].text in ASSIGNMENT_OPS   # a call (f(x)[i] = ... is rare)
        elif t.text in ("++", "--"):
            return j + 1 == end
        else:
            return t.text in ASSIGNMENT_OPS
    return False


def deletion_sites(tokens, pairs, owner):
    """Statements that are a call or an assignment: yields (first, last) token indices."""
    for k in _statement_starts(tokens, pairs):
        if owner[k] == "<file>":
            continue
        end = _statement_end(tokens, pairs, k)
        if end is not None and _is_call_or_assignment(tokens, pairs, k, end):
            yield k, end


def find_sites(path, src):
    """Every mutation site of one file, with its identity and id filled in."""
    tokens = tokenize(src)
    pairs = match_brackets(tokens)
    owner = enclosing_functions(tokens, pairs)
    raw = []   # (token index of the line, operator, start, end, replacement)

    for k, kind, new in operator_sites(tokens):
        t = tokens[k]
        label = f"{kind}:{t.text}:{new or 'removed'}"
        raw.append((k, label, t.start, t.start + len(t.text), new))
    for k, new in constant_sites(tokens, pairs):
        t = tokens[k]
        raw.append((k, f"const:{t.text}:{new}", t.start, t.start + len(t.text), new))
    for k, new in index_sites(tokens, pairs):
        t = tokens[k]
        raw.append((k, f"index:{new.strip().replace(' ', '')}", t.start, t.start, new))
    for k, end in deletion_sites(tokens, pairs, owner):
        raw.append((k, "delete:statement", tokens[k].start, tokens[end].start + 1, ";"))

    # Only inside function bodies: a constant at file scope is mostly an array
    # size or an enum, a change there rarely compiles into anything testable.
    raw = [r for r in raw if owner[r[0]] != "<file>"]

    lines = src.split("\n")
    sites = [Site(path, owner[k], tokens[k].line, normalise(lines[tokens[k].line - 1]), label, s, e, new)
             for k, label, s, e, new in raw]
    sites.sort(key=lambda s: (s.start, s.operator))
    _number_sites(sites, lines)
    return sites


def _number_sites(sites, lines):
    """Fills occurrence, line_repeat and id: what tells apart two sites whose
    file, function, line text and operator are the same."""
    per_line = {}
    for s in sites:
        key = (s.line, s.operator)
        s.occurrence = per_line.get(key, 0)
        per_line[key] = s.occurrence + 1
    # The nth identical line of the same function (e.g. two `i++;` lines).
    first_line_of = {}
    for s in sites:
        first_line_of.setdefault((s.function, s.line_text), [])
        if s.line not in first_line_of[(s.function, s.line_text)]:
            first_line_of[(s.function, s.line_text)].append(s.line)
    for s in sites:
        s.line_repeat = first_line_of[(s.function, s.line_text)].index(s.line)
        digest = hashlib.sha1(repr(s.identity()).encode()).hexdigest()
        s.id = digest[:10]


def apply(src, site):
    """The source with the site's mutation made."""
    return src[:site.start] + site.replacement + src[site.end:]


def unified_diff(src, site, context=3):
    mutated = apply(src, site)
    diff = difflib.unified_diff(src.splitlines(), mutated.splitlines(), f"a/{site.path}", f"b/{site.path}",
                                n=context, lineterm="")
    return "\n".join(diff)


# ---------------------------------------------------------------------------
# Targets and checkers.
# ---------------------------------------------------------------------------

@dataclass
class Step:
    """One program of the checker: a command run in the scratch build
    directory, the environment it needs, and the ninja targets it uses."""
    name: str
    argv: list
    env: dict = field(default_factory=dict)
    ninja_targets: list = field(default_factory=list)


# The checkers are tests of the meson suite, by name, run directly (not
# through `meson test`, which costs a second of start-up). Cheapest and most
# telling first, as the first failure stops the run; measured on the unmutated
# tree, see tests/mutation/README.md.
ENGINE_CHECKER = ["test_engine_pins", "test_engine_pins_api", "test_engine_pins_more", "test_engine_pins_edges", "test_engine_pins_seam",
                  "test_engine_pins_sweeps",
                  "test_engine_pins_idx", "test_engine_pins_core", "test_engine_pins_core_omp257",
                  "test_engine_pins_checks", "test_fast_pins", "test_engine", "test_dot", "test_explain", "test_teach_pins",
                  "test_handles", "test_fast_path", "test_backward_block", "test_hvp", "gradcheck --all --order 2",
                  "test_gradcheck_second", "test_symbolic", "gradcheck --all",
                  "test_idx_fuzz", "test_expr_fuzz", "test_nn_ops", "test_data_train", "test_ops_elementwise",
                  "test_expr", "test_symbolic_fuzz", "test_compact"]
OPS_CHECKER = ["gradcheck --all --order 2", "gradcheck --all", "test_nn_ops", "test_ops_elementwise", "test_ops_pins", "test_ops_pins_api",
               "test_ops_pins_conv"]

TARGETS = {"engine": ("engine", ENGINE_CHECKER), "ops": ("ops", OPS_CHECKER)}


def suite_steps(build, names):
    """The named tests as meson configured them (command, environment, the
    programs they depend on), from the build's introspection files."""
    with open(os.path.join(build, "meson-info", "intro-tests.json")) as fh:
        tests = {t["name"]: t for t in json.load(fh)}
    with open(os.path.join(build, "meson-info", "intro-targets.json")) as fh:
        files_of = {t["id"]: t["filename"] for t in json.load(fh)}
    steps = []
    for name in names:
        if name not in tests:
            sys.exit(f"mutation: no test named {name!r} in {build} (tests/meson.build)")
        t = tests[name]
        outputs = [os.path.relpath(f, build) for dep in t["depends"] for f in files_of.get(dep, [])]
        steps.append(Step(name, t["cmd"], t["env"], outputs))
    return steps


def read_sources(files):
    """{file: text} for files relative to the repository root."""
    sources = {}
    for f in files:
        with open(os.path.join(REPO, f)) as fh:
            sources[f] = fh.read()
    return sources


def target_files(target, files):
    """The C files to mutate, relative to the repository root."""
    if files:
        return sorted(os.path.relpath(os.path.abspath(f), REPO) for f in files)
    folder = TARGETS[target][0]
    found = glob.glob(os.path.join(REPO, folder, "**", "*.c"), recursive=True)
    return sorted(os.path.relpath(f, REPO) for f in found)


# ---------------------------------------------------------------------------
# Selection: a seeded, stratified sample of the sites.
# ---------------------------------------------------------------------------

def quotas(sites_by_file, total, minimum):
    """How many compiled mutants each file gets: in proportion to its number of
    sites (largest remainders), but at least `minimum` (or all it has)."""
    counts = {f: len(s) for f, s in sites_by_file.items()}
    all_sites = sum(counts.values()) or 1
    share = {f: total * c / all_sites for f, c in counts.items()}
    quota = {f: int(share[f]) for f in counts}
    for f in sorted(counts, key=lambda f: share[f] - quota[f], reverse=True)[:total - sum(quota.values())]:
        quota[f] += 1
    return {f: min(counts[f], max(quota[f], minimum)) for f in counts}


def sample_quotas(sites_by_file, total, seed):
    """--sample: how many mutants each file gets when `total` sites are drawn
    at random from all files together (proportional on average, and any file
    can be drawn, however small)."""
    rng = random.Random(seed)
    pool = [f for f in sorted(sites_by_file) for _ in sites_by_file[f]]
    drawn = rng.sample(pool, min(total, len(pool)))
    return {f: drawn.count(f) for f in sites_by_file}


def plan(sites_by_file, seed):
    """Each file's sites in a seeded random order (the order they are tried in)."""
    rng = random.Random(seed)
    ordered = {}
    for f in sorted(sites_by_file):
        order = list(sites_by_file[f])
        rng.shuffle(order)
        ordered[f] = order
    return ordered


# ---------------------------------------------------------------------------
# The scratch copy and its build.
# ---------------------------------------------------------------------------

def log(msg):
    print(msg, flush=True)


def sync_scratch(workdir):
    """Copies the tracked files into workdir/src, rewriting only files whose
    content differs (so that a second run rebuilds only what changed, and a file
    left mutated by an interrupted run is restored)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    src_root = os.path.join(workdir, "src")
    for rel in listed.decode().split("\0"):
        if not rel or not os.path.isfile(os.path.join(REPO, rel)):
            continue
        mine, theirs = os.path.join(REPO, rel), os.path.join(src_root, rel)
        with open(mine, "rb") as fh:
            data = fh.read()
        if os.path.exists(theirs):
            with open(theirs, "rb") as fh:
                if fh.read() == data:
                    continue
        os.makedirs(os.path.dirname(theirs), exist_ok=True)
        with open(theirs, "wb") as fh:
            fh.write(data)
        shutil.copymode(mine, theirs)
    return src_root


# --sanitize: the scratch build under AddressSanitizer (LeakSanitizer with it)
# and UndefinedBehaviorSanitizer, as .ci/run's, each report ending the step.
SANITIZE_MESON = ["-Db_sanitize=address,undefined", "-Db_lundef=false"]
SANITIZE_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
                "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


def configure(src_root, build, sanitize=False):
    if os.path.exists(os.path.join(build, "build.ninja")):
        # a scratch build reused: regenerate it where a meson.build changed since
        # (a test added), before its introspection files are read for the checker
        subprocess.run(["ninja", "-C", build, "build.ninja"], check=True, stdout=subprocess.DEVNULL)
        return
    log(f"mutation: configuring {build}" + (" (AddressSanitizer + UndefinedBehaviorSanitizer)" if sanitize else ""))
    subprocess.run(["meson", "setup", "--buildtype=debugoptimized", "-Dcuda=disabled",
                    *(SANITIZE_MESON if sanitize else []), build, src_root],
                   check=True, stdout=subprocess.DEVNULL)


def ninja(build, targets):
    """Builds the targets; returns (ok, output)."""
    r = subprocess.run(["ninja", "-C", build, *targets], capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr


def write_file(path, text):
    """Writes text and moves the file's mtime forward, so that ninja rebuilds it
    even when two writes fall within the file system's timestamp resolution."""
    with open(path, "w") as fh:
        fh.write(text)
    now = time.time_ns()
    previous = getattr(write_file, "last", 0)
    stamp = max(now, previous + 10_000_000)   # at least 10 ms after the previous write
    write_file.last = stamp
    os.utime(path, ns=(stamp, stamp))


# ---------------------------------------------------------------------------
# Running the checker.
# ---------------------------------------------------------------------------

@dataclass
class Outcome:
    verdict: str        # 'killed', 'survived', 'uncompiled'
    how: str = ""       # for killed: 'failed', 'crashed', 'timeout'
    step: str = ""      # the checker step that killed it
    seconds: float = 0.0
    detail: str = ""


CRASH_MARKS = ("Test failed with exception", "Segmentation fault", "AddressSanitizer", "Aborted")


def run_step(step, build, timeout):
    """Runs one checker step: None if it passed, else Outcome('killed', ...)."""
    env = dict(os.environ, **step.env)
    # Its own process group, killed whole on a timeout: the step's children
    # (gradcheck's per-op workers) must not go on spinning after it.
    proc = subprocess.Popen(step.argv, cwd=build, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return Outcome("killed", "timeout", step.name, detail=f"over {timeout:.0f} s")
    if proc.returncode == 0:
        return None
    out = stdout + stderr
    crashed = proc.returncode < 0 or any(mark in out for mark in CRASH_MARKS)
    return Outcome("killed", "crashed" if crashed else "failed", step.name, detail=_last_lines(out))


def _last_lines(text, n=3):
    return " / ".join(line.strip() for line in text.strip().splitlines()[-n:])


def run_checker(steps, build, timeouts):
    """Runs the steps one after another, stopping at the first that fails."""
    started = time.monotonic()
    for step in steps:
        outcome = run_step(step, build, timeouts[step.name])
        if outcome:
            outcome.seconds = time.monotonic() - started
            return outcome
    return Outcome("survived", seconds=time.monotonic() - started)


def shell_checker(command):
    """--checker 'CMD': one step, run by the shell in the scratch build directory."""
    return [Step("checker", ["/bin/sh", "-c", command], {}, [])]


def baseline(steps, build):
    """Runs the checker on the unmutated build, timing each step; a failing
    baseline makes every mutant look killed, so it stops the run."""
    timings = {}
    for step in steps:
        started = time.monotonic()
        outcome = run_step(step, build, timeout=600)
        timings[step.name] = time.monotonic() - started
        if outcome:
            sys.exit(f"mutation: the checker fails without any mutation ({step.name}: {outcome.how}: {outcome.detail})")
    return timings


# ---------------------------------------------------------------------------
# The accepted survivors.
# ---------------------------------------------------------------------------

def accepted_path(target):
    return os.path.join(HERE, f"accepted-{target}.txt")


def load_accepted(path):
    """Reads an accepted list: `ID FILE FUNCTION OPERATOR REASON...` per line,
    '#' comments. Returns {id: reason}; an entry without a reason is an error."""
    accepted = {}
    if not os.path.exists(path):
        return accepted
    with open(path) as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 4)
            if len(fields) < 5 or not fields[4].strip():
                sys.exit(f"{path}:{number}: an entry is `ID FILE FUNCTION OPERATOR REASON` (the reason is required)")
            accepted[fields[0]] = fields[4].strip()
    return accepted


def warn_stale(accepted, sites_by_file, args):
    """Entries that name no mutant any more (their line was edited or removed):
    they accept nothing, so they only mislead; say so."""
    if args.files:
        return   # the other files' entries are not stale, just not looked at
    known = {s.id for sites in sites_by_file.values() for s in sites}
    for stale in sorted(set(accepted) - known):
        log(f"mutation: note: accepted entry {stale} matches no mutant now (its line changed?): "
            f"remove it from {os.path.relpath(accepted_path(args.target), REPO)}")


def accepted_entry(site):
    """The two lines to paste into the accepted list for this site."""
    return (f"# {site.path}:{site.line}: {site.line_text}\n"
            f"{site.id} {site.path} {site.function} {site.operator} REASON (equivalent: ... / unreachable: ...)")


# ---------------------------------------------------------------------------
# The run.
# ---------------------------------------------------------------------------

@dataclass
class Result:
    site: Site
    outcome: Outcome
    accepted: str = ""   # the accepted list's reason, for an accepted survivor


class Runner:
    """Owns the scratch build: applies one mutant at a time, builds, checks."""

    def __init__(self, args, originals):
        self.args = args
        self.workdir = args.workdir
        self.src_root = sync_scratch(self.workdir)
        self.build = os.path.join(self.workdir, "build")
        configure(self.src_root, self.build, self.args.sanitize)
        if args.checker:
            self.steps = shell_checker(args.checker)
        else:
            self.steps = suite_steps(self.build, TARGETS[args.target][1])
        self.targets = sorted({t for s in self.steps for t in s.ninja_targets})
        self.originals = originals   # file -> its text in the working tree
        self.dirty = None   # the file currently mutated in the scratch tree

    def prepare(self):
        log(f"mutation: building {self.build}" + (f" ({' '.join(self.targets)})" if self.targets else ""))
        ok, out = ninja(self.build, self.targets)
        if not ok:
            sys.exit("mutation: the unmutated tree does not build:\n" + out[-3000:])
        timings = baseline(self.steps, self.build)
        limit = self.args.timeout
        self.timeouts = {name: limit or max(10.0, 3 * t + 5) for name, t in timings.items()}
        summary = ", ".join(f"{n} {t:.1f} s" for n, t in timings.items())
        log(f"mutation: checker on the unmutated build: {sum(timings.values()):.1f} s ({summary})")
        return timings

    def restore(self):
        """Puts the mutated file (if any) back to its original text."""
        if self.dirty:
            write_file(os.path.join(self.src_root, self.dirty), self.originals[self.dirty])
            self.dirty = None

    def run(self, site):
        """Builds and checks one mutant. The previous mutant's file is restored
        first; a mutant in the same file simply overwrites it (one compile)."""
        if self.dirty != site.path:
            self.restore()
        write_file(os.path.join(self.src_root, site.path), apply(self.originals[site.path], site))
        self.dirty = site.path
        started = time.monotonic()
        ok, out = ninja(self.build, self.targets)
        build_s = time.monotonic() - started
        if not ok:
            return Outcome("uncompiled", detail=_first_error(out)), build_s
        return run_checker(self.steps, self.build, self.timeouts), build_s

    def finish(self):
        """Restores the last mutated file and checks that the tree builds again."""
        self.restore()
        ok, out = ninja(self.build, self.targets)
        if not ok:
            log("mutation: warning: the restored scratch tree does not build:\n" + out[-2000:])


def _first_error(out):
    return next((line.strip() for line in out.splitlines() if "error:" in line), _last_lines(out, 1))


def schedule(ordered, quota, deadline, interleave):
    """Yields the sites in the order they are run, each file until its quota of
    mutants has compiled; the caller sends back whether the last one compiled.
    File by file by default (a file's mutants then share one restore, one
    compile less each); with a time budget, one file after another in turn,
    so that a run cut short still covers every file."""
    pending = {f: list(ordered[f]) for f in ordered}
    compiled = {f: 0 for f in ordered}

    def wants_more(f):
        return compiled[f] < quota[f] and pending[f]

    while any(wants_more(f) for f in ordered):
        for f in ordered:
            while wants_more(f):
                if deadline and time.monotonic() > deadline:
                    return
                compiled[f] += bool((yield pending[f].pop(0)))
                if interleave:
                    break


def run_mutants(runner, ordered, quota, accepted, deadline):
    results = []
    total = sum(quota.values())
    gen = schedule(ordered, quota, deadline, interleave=deadline is not None)
    site = next(gen, None)
    while site is not None:
        outcome, build_s = runner.run(site)
        result = Result(site, outcome, accepted.get(site.id, "") if outcome.verdict == "survived" else "")
        results.append(result)
        done = sum(r.outcome.verdict != "uncompiled" for r in results)
        log(f"  [{done}/{total}] {site.id} {site.path}:{site.line} {site.function} {site.operator}: "
            f"{_describe(result)} (build {build_s:.1f} s, check {outcome.seconds:.1f} s)")
        try:
            site = gen.send(outcome.verdict != "uncompiled")
        except StopIteration:
            site = None
    runner.finish()
    return results


def _describe(result):
    o = result.outcome
    if o.verdict == "killed":
        return f"killed ({o.how} in {o.step})"
    if o.verdict == "survived":
        return "survived (accepted)" if result.accepted else "SURVIVED"
    return "did not compile"


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

def tally(results):
    count = {"compiled": 0, "killed": 0, "failed": 0, "crashed": 0, "timeout": 0,
             "survived": 0, "accepted": 0, "new": 0, "uncompiled": 0}
    for r in results:
        o = r.outcome
        if o.verdict == "uncompiled":
            count["uncompiled"] += 1
            continue
        count["compiled"] += 1
        count[o.verdict] += 1
        if o.verdict == "killed":
            count[o.how] += 1
        else:
            count["accepted" if r.accepted else "new"] += 1
    return count


def summary_line(c):
    return (f"mutation: {c['compiled']} compiled, {c['killed']} killed ({c['failed']} failed, {c['crashed']} crashed, "
            f"{c['timeout']} timed out), {c['survived']} survived ({c['accepted']} accepted, {c['new']} new), "
            f"{c['uncompiled']} did not compile")


def per_file_table(results, files):
    rows = ["| file | compiled | killed | survived (accepted) | did not compile |", "|---|---:|---:|---:|---:|"]
    for f in files:
        c = tally([r for r in results if r.site.path == f])
        rows.append(f"| {f} | {c['compiled']} | {c['killed']} | {c['survived']} ({c['accepted']}) | {c['uncompiled']} |")
    return "\n".join(rows)


def _common_options(args):
    """The options that choose the files and the checker, as typed."""
    text = f"tests/mutation/mutate.py --target {args.target}"
    if args.files:
        text += " --files " + " ".join(args.files)
    if args.checker:
        text += f" --checker {json.dumps(args.checker)}"
    if args.sanitize:
        text += " --sanitize"
    return text


def reproduce_command(args, site):
    return f"{_common_options(args)} --only {site.id}"


def rerun_command(args):
    if args.only:
        return f"{_common_options(args)} --only {args.only}"
    size = f"--sample {args.sample}" if args.sample is not None else f"--count {args.count}"
    judged = (f" --judged {args.judged}" if args.judged else "") + (f" --unjudged {args.unjudged}" if args.unjudged else "")
    return f"{_common_options(args)}{judged} {size} --seed {args.seed}"


def print_new_survivors(results, args, originals):
    new = [r for r in results if r.outcome.verdict == "survived" and not r.accepted]
    for r in new:
        s = r.site
        log(f"\nNEW SURVIVOR {s.id}: {s.path}:{s.line} in {s.function}, {s.operator}")
        log(unified_diff(originals[s.path], s))
        log(f"reproduce: {reproduce_command(args, s)}")
        log("to accept, add to " + os.path.relpath(accepted_path(args.target), REPO) + ":\n" + accepted_entry(s))
    return new


def write_report(path, args, results, files, count, seed, elapsed):
    """The results file: JSON if path ends in .json, else markdown."""
    records = [{"id": r.site.id, "file": r.site.path, "line": r.site.line, "function": r.site.function,
                "operator": r.site.operator, "line_text": r.site.line_text, "verdict": r.outcome.verdict,
                "how": r.outcome.how, "step": r.outcome.step, "seconds": round(r.outcome.seconds, 2),
                "accepted": r.accepted, "detail": r.outcome.detail} for r in results]
    if path.endswith(".json"):
        with open(path, "w") as fh:
            json.dump({"target": args.target, "seed": seed, "seconds": round(elapsed, 1), "counts": count,
                       "mutants": records}, fh, indent=1)
        return
    with open(path, "w") as fh:
        fh.write(f"# Mutation run: {args.target}, seed {seed}, {time.strftime('%Y-%m-%d %H:%M')}\n\n")
        fh.write(summary_line(count) + f" in {elapsed:.0f} s\n\n" + per_file_table(results, files) + "\n\n")
        fh.write("| id | where | function | operator | result |\n|---|---|---|---|---|\n")
        for r in results:
            fh.write(f"| {r.site.id} | {r.site.path}:{r.site.line} | {r.site.function} | `{r.site.operator}` | "
                     f"{_describe(r)} |\n")


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description="Mutation testing of autodidact's C sources (tests/mutation/README.md).")
    p.add_argument("--target", choices=sorted(TARGETS), default="engine",
                   help="engine: engine/**/*.c checked by the engine tests; ops: ops/**/*.c checked by gradcheck")
    p.add_argument("--files", nargs="+", metavar="FILE", help="mutate these files instead of the target's")
    p.add_argument("--count", type=int, default=100, help="compiled mutants to run (default 100)")
    p.add_argument("--sample", type=int, metavar="N", help="CI mode: N mutants, seed from the clock unless --seed")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="start no mutant after this many seconds (build and baseline included)")
    p.add_argument("--min-per-file", type=int, default=3,
                   help="at least this many mutants per file (default 3; --sample draws from all files at random)")
    p.add_argument("--seed", type=int, help="the shuffle's seed (default 1; the clock with --sample)")
    p.add_argument("--checker", metavar="CMD", help="a shell command run in the scratch build directory instead")
    p.add_argument("--timeout", type=float, help="seconds per checker step (default: 3x its unmutated time + 5)")
    p.add_argument("--workdir", help="scratch directory (default /tmp/autodidact-mutation-TARGET)")
    p.add_argument("--report", metavar="FILE", help="write the results to FILE (.json: JSON, else markdown)")
    p.add_argument("--list", action="store_true", help="print the mutants that would be run; build nothing")
    p.add_argument("--only", metavar="ID", help="run the one mutant with this id (shows its diff)")
    p.add_argument("--judged", metavar="FILE",
                   help="draw only from the mutants whose ids FILE lists (judged-ops.txt: those of the full runs, "
                        "each killed or accepted), so a survivor is a check that got weaker, not an old gap")
    p.add_argument("--sanitize", action="store_true",
                   help="build the scratch tree under AddressSanitizer + UndefinedBehaviorSanitizer (as .ci/run does), "
                        "so that a survivor accepted as seen only by them, or as a leak, is killed here "
                        "(default workdir /tmp/autodidact-mutation-TARGET-sanitize)")
    p.add_argument("--unjudged", metavar="FILE",
                   help="draw only from the mutants FILE does not list and the accepted list does not name: "
                        "with a --count above their number, a sweep of every site no run has judged yet")
    args = p.parse_args(argv)
    if args.judged and args.unjudged:
        p.error("--judged and --unjudged draw from disjoint sets: give one")
    if args.sample is not None:
        args.count = args.sample
    if args.seed is None:
        args.seed = int(time.time()) % 100000 if args.sample is not None else 1
    args.workdir = os.path.abspath(args.workdir or f"/tmp/autodidact-mutation-{args.target}"
                                   + ("-sanitize" if args.sanitize else ""))
    if args.sanitize:   # the checker's steps inherit them (run_step)
        for name, value in SANITIZE_ENV.items():
            os.environ.setdefault(name, value)
    return args


def _listed_ids(path):
    """The ids a judged file lists (one a line, the id first; '#' lines are comments)."""
    with open(path) as fh:
        return {line.split()[0] for line in fh if line.strip() and not line.startswith("#")}


def unjudged_sites(sites_by_file, path, accepted):
    """The sites no full run has judged: not in the judged file, not accepted."""
    known = _listed_ids(path) | set(accepted)
    return {f: [s for s in sites if s.id not in known] for f, sites in sites_by_file.items()}


def judged_sites(sites_by_file, path):
    """The sites whose ids the file lists. An id that matches no site is
    noted: its line changed since it was judged."""
    ids = _listed_ids(path)
    kept = {f: [s for s in sites if s.id in ids] for f, sites in sites_by_file.items()}
    found = {s.id for sites in kept.values() for s in sites}
    if ids - found:
        log(f"mutation: note: {len(ids - found)} of the {len(ids)} judged mutants in {path} match no mutant now "
            f"(their lines changed): {' '.join(sorted(ids - found)[:8])}{' ...' if len(ids - found) > 8 else ''}")
    return kept


def list_plan(ordered, quota, seed):
    """--list: the mutants that would be tried first in each file (more are
    tried where some do not compile)."""
    for f in ordered:
        log(f"{f}: {quota[f]} of {len(ordered[f])} sites")
        for s in ordered[f][:quota[f]]:
            log(f"  {s.id} {s.path}:{s.line} {s.function} {s.operator}    {s.line_text[:70]}")
    log(f"seed {seed}: {sum(quota.values())} mutants from {sum(len(v) for v in ordered.values())} sites")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `--list | head` ends quietly
    started = time.monotonic()
    files = target_files(args.target, args.files)
    originals = read_sources(files)
    sites_by_file = {f: find_sites(f, originals[f]) for f in files}
    accepted = load_accepted(accepted_path(args.target))
    warn_stale(accepted, sites_by_file, args)
    if args.judged:
        sites_by_file = judged_sites(sites_by_file, args.judged)
    if args.unjudged:
        sites_by_file = unjudged_sites(sites_by_file, args.unjudged, accepted)
    ordered = plan(sites_by_file, args.seed)
    if args.sample is not None:
        quota = sample_quotas(sites_by_file, args.sample, args.seed)
    else:
        quota = quotas(sites_by_file, args.count, args.min_per_file)

    if args.only:
        site = next((s for f in files for s in sites_by_file[f] if s.id == args.only), None)
        if not site:
            sys.exit(f"mutation: no mutant {args.only} in {args.target} (the line may have changed)")
        ordered, quota = {site.path: [site]}, {site.path: 1}
        log(unified_diff(originals[site.path], site))
    if args.list:
        list_plan(ordered, quota, args.seed)
        return 0

    log(f"mutation: target {args.target}, seed {args.seed}, {len(files)} files, "
        f"{sum(len(v) for v in sites_by_file.values())} sites, {sum(quota.values())} mutants wanted")
    os.makedirs(args.workdir, exist_ok=True)
    runner = Runner(args, originals)
    runner.prepare()
    deadline = started + args.time_budget if args.time_budget else None
    results = run_mutants(runner, ordered, quota, accepted, deadline)

    elapsed = time.monotonic() - started
    count = tally(results)
    log("\n" + per_file_table(results, files))
    new = print_new_survivors(results, args, originals)
    if args.report:
        write_report(args.report, args, results, files, count, args.seed, elapsed)
    log(f"\n{summary_line(count)} in {elapsed:.0f} s (seed {args.seed})")
    if new:
        log(f"mutation: {len(new)} new survivor(s); the same run again: {rerun_command(args)}")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
