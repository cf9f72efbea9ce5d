#!/usr/bin/env python3
"""html_browser.py: the --html pages in a real browser (headless Chromium
driven by Selenium). For every lesson with --html and several formulas it
runs the program with --html and with --json, loads the page from disk,
steps through every step with ArrowRight and checks at each one that the
highlighted node is the node the shown line is about, that the line is the
program's (a row of its text output, in order, where the text prints it),
and that the numbers are --json's. No console errors, no network request
(every resource the page asks for is file: or data:). Also: #step=N opens at
step N, and a page of hostile node names shows them as text and runs nothing.

Skipped (exit 77, saying why) when chromium, chromedriver or selenium is
missing. Programs come from the environment (CHAIN_RULE=path ...,
AUTODIDACT, HTML_HOSTILE: test_lesson_html, which writes the hostile page)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LESSONS = ["chain_rule", "cnn_backprop", "convolution", "cos_sin", "finite_differences", "forward_vs_reverse",
           "gates", "logistic_regression", "mlp", "pooling", "quiz", "softmax"]
FORMULAS = [("y*log(x) + sqrt(y*log(x))", "x=3,y=2"), ("cos(sin(x^2) + 3*x^2)", "x=2"),
            ("x*y + max(x, y) - x/y", "x=1.5,y=-2"), ("sigmoid(a*b + c)^2", "a=0.5,b=-1,c=2")]


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def reexec_with_debian_python():
    """Debian's python3-selenium is installed for Debian's /usr/bin/python3;
    a python3 earlier on PATH (a pyenv, a venv) may not see it."""
    debian = "/usr/bin/python3"
    if os.path.exists(debian) and os.path.realpath(sys.executable) != os.path.realpath(debian) \
            and not os.environ.get("HTML_BROWSER_REEXEC"):
        os.environ["HTML_BROWSER_REEXEC"] = "1"
        os.execv(debian, [debian] + sys.argv)


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys
except ImportError:
    reexec_with_debian_python()
    skip("python3-selenium is not installed (apt-get install python3-selenium)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
if not CHROMIUM:
    skip("chromium is not installed (apt-get install chromium)")
if not DRIVER:
    skip("chromedriver is not installed (apt-get install chromium-driver)")

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout


def start_browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,700",
              "--allow-file-access-from-files"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(DRIVER), options=opts)


# What the page shows now, read in one call.
STATE_JS = """
var cur = document.querySelectorAll('#graph .node.cur');
var data = JSON.parse(document.getElementById('data').textContent);
var used = Array.prototype.map.call(document.querySelectorAll('#graph .edge.used'), function (e) { return e.id; });
var row = document.querySelector('#steps tr.cur');
return {cur: Array.prototype.map.call(cur, function (g) { return g.getAttribute('data-name'); }),
        line: document.getElementById('line').textContent,
        section: document.getElementById('section').textContent,
        hash: location.hash, used: used, row: row ? row.id : null, cell: row ? row.cells[2].textContent : null};
"""


def node_of_line(line, previous):
    """The node a row is about, read from the row as the lessons write it."""
    if re.match(r"^\s+= ", line):                       # Version A's second row: the same adjoint's numbers
        return previous
    m = re.search(r"∂[^/\s]+/∂(\S+?)(?=\s|$)", line)     # ∂f/∂b = ..., ∂f/∂b += ..., ∂L/∂w (shape ...)
    if m:
        return m.group(1)
    m = re.match(r"^\s*\d+\.\s+(\S+)", line)             # "  1.  a    = log x   = 1.0986"
    if m:
        return m.group(1)
    return None


def check_no_errors_or_network(driver, what):
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            fail("%s: console error: %s" % (what, entry.get("message")))
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if not (url.startswith("file:") or url.startswith("data:")):
                fail("%s: a network request for %s" % (what, url))


def json_nodes(doc):
    """name -> node of --json's "nodes" (the scalar lessons and the formula command write them)."""
    return {n["name"]: n for n in doc.get("nodes", []) if isinstance(n, dict) and "name" in n}


def step_through(driver, path, what, text, doc):
    """Load the page, step through every step with ArrowRight, check each. Returns the lines shown."""
    driver.get("file://" + path)
    data = driver.execute_script("return JSON.parse(document.getElementById('data').textContent);")
    steps = data["steps"]
    if not steps:
        fail("%s: no steps" % what)
        return []
    by_id = {n["id"]: n for n in data["nodes"]}
    edges = data["edges"]
    # the numbers of the page are --json's: every node --json lists has the same value and grad here
    jn = json_nodes(doc)
    for n in data["nodes"]:
        j = jn.get(n["name"])
        if j is None:
            continue
        if n.get("value") != j["value"]:
            fail("%s: node %s's value %r in the page, %r in --json" % (what, n["name"], n.get("value"), j["value"]))
        if "grad" in j and n.get("grad") != j["grad"]:
            fail("%s: node %s's grad %r in the page, %r in --json" % (what, n["name"], n.get("grad"), j["grad"]))
    text_lines = text.split("\n")
    body = driver.find_element("tag name", "body")
    shown, previous, at = [], None, 0
    for i, st in enumerate(steps):
        if i > 0:
            body.send_keys(Keys.ARROW_RIGHT)
        s = driver.execute_script(STATE_JS)
        shown.append(s["line"])
        if s["line"] != s["cell"]:
            fail("%s step %d: shows %r, its table row %r" % (what, i + 1, s["line"], s["cell"]))
        if s["hash"] != "#step=%d" % (i + 1) or s["row"] != "s%d" % (i + 1):
            fail("%s step %d: fragment %r, table row %r" % (what, i + 1, s["hash"], s["row"]))
        expect = node_of_line(s["line"], previous)
        previous = expect
        names = s["cur"]
        if st["n"] >= 0 and (len(names) != 1 or names[0] != expect):
            fail("%s step %d: %r highlights %r, not %r" % (what, i + 1, s["line"], names, expect))
        want_used = sorted({"e%d" % edges[k]["v"] for k in st["e"] if edges[k]["v"] >= 0})
        if sorted(s["used"]) != want_used:
            fail("%s step %d: edges %r highlighted, %r used" % (what, i + 1, s["used"], want_used))
        # Version B's "∂f/∂b += ∂f/∂c · ∂c/∂b": the edge used runs from b to c
        m = re.search(r"∂\S+/∂(\S+) \+= ∂\S+/∂(\S+) · ", s["line"])
        if m:
            ends = [(by_id[edges[k]["from"]]["name"], by_id[edges[k]["to"]]["name"]) for k in st["e"]]
            if ends != [(m.group(1), m.group(2))]:
                fail("%s step %d: %r uses edges %r" % (what, i + 1, s["line"], ends))
        # a row the text prints is a row of the text output, in order
        if not data["sections"][st["s"]]["from_graph"]:
            try:
                at = text_lines.index(s["line"], at) + 1
            except ValueError:
                fail("%s step %d: %r is not the next row of the text output" % (what, i + 1, s["line"]))
        # a forward row's value is --json's
        j = jn.get(expect) if expect else None
        fm = re.match(r"^\s*\d+\.\s+\S+(?:\s+=\s+.*?)?\s+=\s+(\S+)$", s["line"])
        if data["sections"][st["s"]]["kind"] == "forward" and j is not None and fm:
            if float(fm.group(1)) != float("%.15g" % j["value"]):
                fail("%s step %d: %r, but --json's %s is %r" % (what, i + 1, s["line"], expect, j["value"]))
    # one more ArrowRight stays on the last step
    body.send_keys(Keys.ARROW_RIGHT)
    if driver.execute_script("return location.hash") != "#step=%d" % len(steps):
        fail("%s: ArrowRight past the last step moved" % what)
    check_no_errors_or_network(driver, what)
    return shown


def check_controls(driver, page):
    """The buttons, ArrowLeft, the slider, the step number and play/pause each move to the step they should."""
    driver.get("file://" + page)
    at = lambda: driver.execute_script("return location.hash")
    want = []
    driver.find_element("id", "next").click()
    driver.find_element("id", "next").click()
    want.append(("next, next", at(), "#step=3"))
    driver.find_element("id", "prev").click()
    want.append(("prev", at(), "#step=2"))
    driver.find_element("tag name", "body").send_keys(Keys.ARROW_LEFT)
    want.append(("ArrowLeft", at(), "#step=1"))
    driver.execute_script("var s = document.getElementById('slider'); s.value = 10;"
                          "s.dispatchEvent(new Event('input', {bubbles: true}));")
    want.append(("slider to 10", at(), "#step=10"))
    driver.execute_script("var j = document.getElementById('jump'); j.value = 7;"
                          "j.dispatchEvent(new Event('change', {bubbles: true}));")
    want.append(("step number 7", at(), "#step=7"))
    driver.find_element("id", "play").click()
    for _ in range(50):   # a step each 0.9 s: wait for two, whatever the machine's load
        if at() not in ("#step=7", "#step=8"):
            break
        time.sleep(0.1)
    driver.find_element("id", "play").click()
    played = at()
    if played not in ("#step=9", "#step=10"):   # (10: a third tick between the poll and the click)
        fail("controls: play from step 7 went to %s, not step 9" % played)
    time.sleep(1.2)
    want.append(("paused", at(), played))
    for what, got, expect in want:
        if got != expect:
            fail("controls: %s went to %s, not %s" % (what, got, expect))


# Tensor nodes whose values and grads --json prints: (node, its values' key, its grads' key, its shape).
# The grads are the page's root's own even where the lesson ran other passes on the same context
# since (pooling's avg-pool, mlp's later networks).
TENSORS = {
    "cnn_backprop": [("x", "x", "dL_dx", "1×1×4×4"), ("w", "w", "dL_dw", "1×1×2×2"), ("y", "y", None, "1×1×3×3")],
    "pooling": [("x", "x", "max_pool_grad", "1×1×4×4"), ("max-pool", "max_pool", None, "1×1×2×2")],
    "mlp": [("n1", "case2.alpha", "case2.alpha_grad", "4×3"), ("n2", "case2.beta", "case2.beta_grad", "1×4")],
}


def json_at(doc, path):
    for key in path.split("."):
        doc = doc[key]
    return doc


def check_tensors(driver, lesson, doc):
    """A click on a tensor node shows its shape and values, and they are --json's."""
    for name, value_key, grad_key, shape in TENSORS[lesson]:
        got = driver.execute_script(
            "var nm = arguments[0], d = JSON.parse(document.getElementById('data').textContent);"
            "var g = Array.prototype.filter.call(document.querySelectorAll('#graph .node'),"
            " function (g) { return g.getAttribute('data-name') === nm; })[0];"
            "g.dispatchEvent(new MouseEvent('click', {bubbles: true}));"
            "var n = d.nodes.filter(function (n) { return n.name === nm; })[0];"
            "return [document.getElementById('info').textContent, n.value, n.grad];", name)
        info, value, grad = got
        shown = driver.execute_script("return String(arguments[0])", value)
        if "shape  " + shape not in info or "value  [" + shown.replace(",", ", ") + "]" not in info:
            fail("%s: a click on %s shows %r" % (lesson, name, info))
        if value != json_at(doc, value_key) or (grad_key and grad != json_at(doc, grad_key)):
            fail("%s: %s's values %r / grads %r in the page; --json: %r / %r" % (
                lesson, name, value, grad, json_at(doc, value_key), grad_key and json_at(doc, grad_key)))


def lesson_rows(text):
    """chain_rule's three tables as it prints them: the node table, the forward-mode rows, the reverse steps."""
    lines = text.split("\n")
    rows = []
    for start, skip_header in [("The graph, one node per step", 0), ("Forward mode:", 1), ("Reverse mode", 0)]:
        i = next(k for k, l in enumerate(lines) if l.startswith(start)) + 1 + skip_header
        while i < len(lines) and lines[i].strip():
            rows.append(lines[i])
            i += 1
    return rows


def main():
    exe = {name: os.environ.get(name.upper()) for name in LESSONS}
    missing = [n for n, p in exe.items() if not p]
    if missing or not os.environ.get("AUTODIDACT") or not os.environ.get("HTML_HOSTILE"):
        print("html_browser: set %s, AUTODIDACT and HTML_HOSTILE to the programs (meson test does)" % ", ".join(
            n.upper() for n in LESSONS))
        return 2
    # an unwritable page: an error naming --html and the path, exit 1 (the lessons': test_lesson_options)
    p = subprocess.run([os.environ["AUTODIDACT"], "x*y", "--at", "x=1,y=2", "--html", "/nonexistent/dir/f.html"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 1 or "autodidact: --html /nonexistent/dir/f.html: cannot write it" not in p.stderr:
        fail("autodidact --html to an unwritable path: exit %d, %r" % (p.returncode, p.stderr))
    tmp = tempfile.mkdtemp(prefix="html_browser_")
    driver = start_browser()
    try:
        chain_rule_rows = None
        runs = [(n, []) for n in LESSONS] + [("chain_rule", ["--variant", "A"]), ("gates", ["--variant", "A"]),
                                             ("pooling", ["--variant", "A"])]
        for name, extra in runs:
            what = " ".join([name] + extra)
            page = os.path.join(tmp, "%s%s.html" % (name, "".join(extra)))
            text = run([exe[name], "--html", page] + extra)
            doc = json.loads(run([exe[name], "--json"] + extra))
            shown = step_through(driver, page, what, text, doc)
            if name == "chain_rule":   # every row of the three tables is a step, in order, and nothing else
                rows = lesson_rows(text)
                chain_rule_rows = chain_rule_rows or rows
                if shown != rows:
                    fail("%s: the steps are not the text's %d rows: %r" % (what, len(rows), shown))
                header = driver.execute_script(
                    "return JSON.parse(document.getElementById('data').textContent).sections[1].header")
                if header not in text.split("\n"):
                    fail("%s: the forward-mode header %r is not the text's" % (what, header))
            if name in TENSORS and not extra:
                check_tensors(driver, name, doc)
            print("ok %s: %d steps" % (what, len(shown)))
        for k, (formula, at) in enumerate(FORMULAS):
            for variant in ["A", "B"]:
                what = "autodidact '%s' --at %s --variant %s" % (formula, at, variant)
                page = os.path.join(tmp, "formula%d%s.html" % (k, variant))
                base = [os.environ["AUTODIDACT"], formula, "--at", at, "--variant", variant]
                text = run(base + ["--html", page])
                doc = json.loads(run(base + ["--json"]))
                shown = step_through(driver, page, what, text, doc)
                print("ok %s: %d steps" % (what, len(shown)))
        # the fragment: a link opens at its step
        page = os.path.join(tmp, "chain_rule.html")
        driver.get("file://" + page + "#step=5")
        s = driver.execute_script(STATE_JS)
        step5 = driver.execute_script("return document.getElementById('s5').cells[2].textContent")
        if s["line"] != step5 or step5 != chain_rule_rows[4] or s["row"] != "s5" or s["hash"] != "#step=5" \
                or s["cur"] != [node_of_line(step5, None)]:
            fail("#step=5 opens at %r (row %s, %r), not step 5 %r" % (s["line"], s["row"], s["cur"], step5))
        else:
            print("ok #step=5 opens at step 5: %s" % step5.strip())
        check_no_errors_or_network(driver, "#step=5")
        check_controls(driver, page)
        # a graph of more than 300 nodes: drawn collapsed into bands, with the note; a step highlights its node's band
        page = os.path.join(tmp, "big.html")
        formula = "x"
        for _ in range(320):
            formula = "sin(%s)" % formula
        run([os.environ["AUTODIDACT"], formula, "--at", "x=0.5", "--html", page])
        size = os.path.getsize(page)
        driver.get("file://" + page)
        info = driver.execute_script(
            "var d = JSON.parse(document.getElementById('data').textContent), n = document.getElementById('collapsed');"
            "return [d.collapsed, d.nodes.length, document.querySelectorAll('#graph .node').length, d.steps.length,"
            " n ? n.textContent : null];")
        if not (info[0] and info[1] == 321 and 2 <= info[2] <= 48 and info[4] and "drawn collapsed" in info[4]):
            fail("the 321-node graph is not drawn collapsed with its note: %r" % info[:4])
        if size > 240 * 1024:   # its text output is 79 KB; the page about 205 KB
            fail("the 321-node page is %d bytes" % size)
        body = driver.find_element("tag name", "body")
        for k in [1, info[3] // 2, info[3]]:
            driver.get("file://" + page + "#step=%d" % k)
            got = driver.execute_script(
                "var d = JSON.parse(document.getElementById('data').textContent), st = d.steps[%d], c = document"
                ".querySelectorAll('#graph .node.cur'), node = d.nodes.filter(function (x) { return x.id === st.n; })[0];"
                "return [Array.prototype.map.call(c, function (g) { return g.id; }), 'v' + node.v];" % (k - 1))
            if got[0] != [got[1]]:
                fail("collapsed page, step %d: %r highlighted, its node is in %s" % (k, got[0], got[1]))
        body.send_keys(Keys.ARROW_LEFT)
        check_no_errors_or_network(driver, "collapsed")
        print("ok a 321-node graph: collapsed into %d boxes, %d steps, %d bytes" % (info[2], info[3], size))
        # hostile names: shown as text, no element made, nothing run
        page = os.path.join(tmp, "hostile.html")
        run([os.environ["HTML_HOSTILE"], "--write", page])
        driver.get("file://" + page)
        names = driver.execute_script(
            "return Array.prototype.map.call(document.querySelectorAll('#graph .node text.name'),"
            " function (t) { return t.textContent; });")
        if "</script><b>x" not in names:
            fail("hostile: the node named </script><b>x shows as %r" % [n[:60] for n in names])
        counts = driver.execute_script(
            "return [document.querySelectorAll('b').length, document.querySelectorAll('img').length,"
            " typeof window.pwned, document.querySelectorAll('script').length, document.title];")
        if counts[:4] != [0, 0, "undefined", 2] or "</script><b>title" not in counts[4]:
            fail("hostile: [<b>, <img>, pwned, <script>, title] = %r" % counts)
        body = driver.find_element("tag name", "body")
        seen = False
        for _ in range(20):
            line = driver.execute_script("return document.getElementById('line').textContent")
            seen = seen or "∂f/∂</script><b>x" in line
            body.send_keys(Keys.ARROW_RIGHT)
        if not seen:
            fail("hostile: no step shows ∂f/∂</script><b>x literally")
        check_no_errors_or_network(driver, "hostile")
        print("ok hostile names shown as text: %r" % [n for n in names if "<" in n or '"' in n])
    finally:
        driver.quit()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
