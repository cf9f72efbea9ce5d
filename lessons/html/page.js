/* page.js: the --html page's stepping (lessons/lesson_html.c writes the
 * page). It reads the data block and the table of steps the program wrote
 * and only moves the highlight: no number here is computed, every one is
 * the program's. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var steps = data.steps, n = steps.length;
  if (!n) return;
  var byId = {};
  data.nodes.forEach(function (node) { byId[node.id] = node; });
  var $ = function (id) { return document.getElementById(id); };
  var slider = $("slider"), jump = $("jump"), play = $("play"), timer = null, cur = 0;
  slider.max = jump.max = n;
  $("controls").hidden = false;

  function fmt(v) { return Array.isArray(v) ? "[" + v.join(", ") + "]" : String(v); }

  /* A node's values, as the program wrote them (a tensor: its first entries). */
  function describe(node) {
    var lines = [node.name + (node.expr && node.expr !== node.name ? " = " + node.expr : "")];
    if (node.op) lines.push("op     " + node.op);
    if (node.shape) lines.push("shape  " + (node.shape.length ? node.shape.join("×") : "scalar"));
    if (node.value !== undefined) lines.push("value  " + fmt(node.value));
    if (node.grad !== undefined) lines.push("grad   " + fmt(node.grad));
    if (node.tangent !== undefined) lines.push("tangent " + fmt(node.tangent));
    if (Array.isArray(node.value) && node.size > node.value.length)
      lines.push("(the first " + node.value.length + " of " + node.size + " values)");
    return lines.join("\n");
  }

  function show(i) {
    cur = Math.max(0, Math.min(n - 1, i));
    var st = steps[cur], sec = data.sections[st.s];
    document.querySelectorAll(".cur, .used, .touched").forEach(function (el) {
      el.classList.remove("cur", "used", "touched");
    });
    st.e.forEach(function (k) {
      var e = data.edges[k];
      if (e.v >= 0) $("e" + e.v).classList.add("used");   /* -1: inside one band of a collapsed graph */
      $("v" + byId[e.from].v).classList.add("touched");
      $("v" + byId[e.to].v).classList.add("touched");
    });
    if (st.n >= 0) {
      var box = $("v" + byId[st.n].v);
      box.classList.remove("touched");
      box.classList.add("cur");
      if (box.scrollIntoView) box.scrollIntoView({block: "nearest", inline: "nearest"});
      if (!data.collapsed) $("info").textContent = describe(byId[st.n]);
    }
    $("section").textContent = sec.title;
    $("header").textContent = sec.header || "";
    var row = $("s" + (cur + 1));
    row.classList.add("cur");
    $("line").textContent = row.cells[2].textContent;   /* the line as the text prints it */
    $("count").textContent = "of " + n;
    slider.value = jump.value = cur + 1;
    if (history.replaceState) history.replaceState(null, "", "#step=" + (cur + 1));
  }

  function fromHash() {
    var m = /step=(\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) - 1 : 0;
  }

  function stop() { clearInterval(timer); timer = null; play.textContent = "▶ play"; }
  function toggle() {
    if (timer) return stop();
    if (cur === n - 1) show(0);
    play.textContent = "❚❚ pause";
    timer = setInterval(function () { if (cur === n - 1) stop(); else show(cur + 1); }, 900);
  }

  $("prev").onclick = function () { stop(); show(cur - 1); };
  $("next").onclick = function () { stop(); show(cur + 1); };
  play.onclick = toggle;
  slider.oninput = function () { stop(); show(slider.value - 1); };
  jump.onchange = function () { stop(); show(jump.value - 1); };
  document.addEventListener("keydown", function (ev) {
    if (ev.target.tagName === "INPUT" && ev.target.type === "number") return;
    if (ev.key === "ArrowRight") { stop(); show(cur + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { stop(); show(cur - 1); ev.preventDefault(); }
    else if (ev.key === " " && ev.target.tagName !== "BUTTON") { toggle(); ev.preventDefault(); }
    else if (ev.key === "Home") { stop(); show(0); }
    else if (ev.key === "End") { stop(); show(n - 1); }
  });
  window.addEventListener("hashchange", function () { show(fromHash()); });
  $("steps").addEventListener("click", function (ev) {
    var row = ev.target.closest("tr[id]");
    if (row) { stop(); show(parseInt(row.id.slice(1), 10) - 1); }
  });
  document.querySelectorAll(".node").forEach(function (g) {
    var node = data.nodes.filter(function (d) { return "v" + d.v === g.id; })[0];
    if (!node || data.collapsed) return;
    var tell = function () { $("info").textContent = describe(node); };
    g.addEventListener("mouseenter", tell);
    g.addEventListener("click", tell);
    g.addEventListener("focus", tell);
  });
  show(fromHash());
})();
