// rnn-lab inspect: colour the text by one unit, page through it, hover for every gate and the
// model's top-5 outputs (next characters, or classes such as languages), and rank the units
// against a pattern. A token is a character, or a word of a word-level model. Data scripts in
// data/ call RNNI.block / RNNI.unit / RNNI.find. Text from the data goes into the page as
// textContent only.
"use strict";
var RNNI = (function () {
  var META = JSON.parse(document.getElementById("meta").textContent);
  var api = {};
  var F16 = new Float32Array(65536);  // float16 bit pattern -> value
  (function () {
    for (var i = 0; i < 65536; i++) {
      var e = (i >> 10) & 31, f = i & 1023, v;
      if (e === 0) v = f * Math.pow(2, -24);
      else if (e === 31) v = f ? NaN : Infinity;
      else v = (1 + f / 1024) * Math.pow(2, e - 15);
      F16[i] = (i >> 15) ? -v : v;
    }
  })();
  function bytes(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function halves(b64) {
    var u = new Uint16Array(bytes(b64).buffer), out = new Float32Array(u.length);
    for (var i = 0; i < u.length; i++) out[i] = F16[u[i]];
    return out;
  }
  function el(id) { return document.getElementById(id); }

  // ---- loading data scripts -------------------------------------------------------------
  var store = {}, waiting = {};
  function need(src, done) {
    if (store[src]) { done(); return; }
    if (waiting[src]) { waiting[src].push(done); return; }
    waiting[src] = [done];
    var s = document.createElement("script");
    s.src = src;
    s.onerror = function () { el("status").textContent = "could not load " + src; };
    document.head.appendChild(s);
  }
  function arrived(src, value) {
    store[src] = value;
    var callbacks = waiting[src] || [];
    delete waiting[src];
    callbacks.forEach(function (f) { f(); });
  }
  function blockSrc(k) { return "data/b" + k + ".js"; }
  function unitSrc(l, u, k) { return "data/l" + l + "/u" + u + "-b" + k + ".js"; }
  function findSrc(l, q) { return "data/l" + l + "/find-" + q + ".js"; }
  api.block = function (k, text, ids, p) {
    var raw = bytes(ids);
    arrived(blockSrc(k), { text: Array.from(text), p: halves(p),
                           ids: META.idBytes === 1 ? raw : new Uint16Array(raw.buffer) });
  };
  api.unit = function (l, u, k, b64) { arrived(unitSrc(l, u, k), halves(b64)); };
  api.find = function (l, q, b64) { arrived(findSrc(l, q), bytes(b64)); };

  // ---- view state -----------------------------------------------------------------------
  var T = META.T, H = META.H, BC = META.blockChars, PC = META.pageChars;
  var TOKEN = META.token, SEP = META.separator;  // "character" or "word"; between two tokens
  var pages = Math.ceil(T / PC);
  var view = { layer: META.initial.layer, q: 0, unit: META.initial.unit, page: 0 };
  var qs0 = META.quantities[view.layer];
  view.q = Math.max(0, qs0.indexOf(META.initial.quantity));

  function shown(ch) { return ch === "\n" ? "\u21b5" : ch === " " ? "\u2423" : ch; }
  function range() { return META.ranges[view.layer][view.q][view.unit]; }
  function isGate(r) { return r[0] >= 0 && r[1] <= 1; }
  function colour(v, r) {
    if (isGate(r)) return "rgba(220,50,32," + Math.min(1, Math.max(0, v)).toFixed(2) + ")";
    var m = Math.max(Math.abs(r[0]), Math.abs(r[1])) || 1, a = Math.min(1, Math.abs(v) / m);
    return (v >= 0 ? "rgba(220,50,32," : "rgba(30,90,220,") + a.toFixed(2) + ")";
  }
  function legend() {
    var r = range(), name = META.quantities[view.layer][view.q];
    if (isGate(r)) {
      el("legend").style.background = "linear-gradient(to right, #fff, rgb(220,50,32))";
      el("legendtext").textContent = name + ": 0 (white) to 1 (red); this unit spans " +
        r[0].toFixed(3) + " to " + r[1].toFixed(3);
    } else {
      var m = Math.max(Math.abs(r[0]), Math.abs(r[1]));
      el("legend").style.background =
        "linear-gradient(to right, rgb(30,90,220), #fff, rgb(220,50,32))";
      el("legendtext").textContent = name + ": \u2212" + m.toFixed(3) + " (blue) to +" +
        m.toFixed(3) + " (red); this unit spans " + r[0].toFixed(3) + " to " + r[1].toFixed(3);
    }
  }

  // ---- the view in the address: #l=0&q=c&u=17&c=1234 (layer, quantity, unit, character)
  function setHash(c) {
    var h = "#l=" + view.layer + "&q=" + encodeURIComponent(META.quantities[view.layer][view.q]) +
      "&u=" + view.unit + "&c=" + (c === undefined ? view.page * PC : c);
    if (window.location.hash !== h) history.replaceState(null, "", h);
  }
  function readHash() {
    var out = {};
    window.location.hash.slice(1).split("&").forEach(function (kv) {
      var at = kv.indexOf("=");
      if (at > 0) out[kv.slice(0, at)] = decodeURIComponent(kv.slice(at + 1));
    });
    return out;
  }

  // ---- drawing one page -----------------------------------------------------------------
  var current = null;  // {a, block, values} of the page on screen
  function render(pin) {
    var a = view.page * PC, b = Math.min(a + PC, T), k = Math.floor(a / BC);
    el("status").textContent = "loading\u2026";
    need(blockSrc(k), function () {
      need(unitSrc(view.layer, view.unit, k), function () {
        if (a !== view.page * PC) return;  // the user moved on meanwhile
        el("status").textContent = "";
        var block = store[blockSrc(k)], values = store[unitSrc(view.layer, view.unit, k)];
        var n = block.text.length, r = range(), box = el("text"), frag =
          document.createDocumentFragment();
        for (var i = a; i < b; i++) {
          var j = i - k * BC, ch = block.text[j], span = document.createElement("span");
          if (SEP && i > a) frag.appendChild(document.createTextNode(SEP));
          span.textContent = ch === "\n" ? "\u21b5\n" : ch;
          if (ch === "\n") span.className = "nl";
          span.dataset.i = i;
          span.style.background = colour(values[view.q * n + j], r);
          frag.appendChild(span);
        }
        box.replaceChildren(frag);
        current = { a: a, k: k, block: block, values: values };
        el("pageinfo").textContent = "page " + (view.page + 1) + " of " + pages +
          " (" + TOKEN + "s " + a + "\u2013" + (b - 1) + " of " + T + ")";
        legend();
        if (pin !== undefined && pin >= a && pin < b) {
          var span = box.children[pin - a], rect = span.getBoundingClientRect();
          span.className += " cur";
          showTip(pin, rect.left, rect.top);
        } else {
          setHash();
        }
      });
    });
  }

  function tip(e) {
    var t = e.target;
    if (!current || !t.dataset || t.dataset.i === undefined) {
      el("tip").style.display = "none";
      return;
    }
    showTip(+t.dataset.i, e.clientX, e.clientY);
  }
  function showTip(i, px, py) {
    var box = el("tip"), blk = current.block, j = i - current.k * BC, n = blk.text.length;
    el("goto").value = i;
    setHash(i);
    var qs = META.quantities[view.layer], K = META.topK;
    box.replaceChildren();
    var head = document.createElement("div");
    head.textContent = TOKEN + " " + i + ": '" + shown(blk.text[j]) + "' \u2014 layer " +
      view.layer + ", unit " + view.unit;
    head.style.fontWeight = "bold";
    box.appendChild(head);
    var table = document.createElement("table");
    qs.forEach(function (q, qi) {
      var v = current.values[qi * n + j], tr = table.insertRow();
      tr.insertCell().textContent = q;
      var c = tr.insertCell(); c.className = "v"; c.textContent = v.toFixed(3);
      var g = document.createElement("span"); g.className = "gauge" + (v < 0 ? " neg" : "");
      g.style.width = Math.min(60, Math.abs(v) * 60).toFixed(0) + "px";
      tr.insertCell().appendChild(g);
      if (qi === view.q) tr.style.fontWeight = "bold";
    });
    box.appendChild(table);
    var next = j + 1 < n ? blk.text[j + 1] : null, sub = document.createElement("div");
    if (META.predicts === "class") {  // the model's answer if it were asked after this token
      next = META.answer;  // null when the text names no answer
      sub.textContent = "the model's answer if asked here, top " + K +
        (next !== null ? " (the text's answer: '" + next + "')" : "") + ":";
    } else {
      sub.textContent = "next " + TOKEN + ", top " + K + (next !== null ? " (actual: '" +
        shown(next) + "')" : "") + ":";
    }
    box.appendChild(sub);
    var top = document.createElement("table");
    for (var r = 0; r < K; r++) {
      var id = blk.ids[j * K + r], ch = META.outputs[id], tr = top.insertRow();
      tr.insertCell().textContent = "'" + shown(ch) + "'";
      var c = tr.insertCell(); c.className = "v";
      c.textContent = (100 * blk.p[j * K + r]).toFixed(1) + "%";
      if (ch === next) tr.style.fontWeight = "bold";
    }
    box.appendChild(top);
    box.style.display = "block";
    var x = Math.min(px + 14, window.innerWidth - box.offsetWidth - 8);
    var y = py + 18;
    if (y + box.offsetHeight > window.innerHeight) y = py - box.offsetHeight - 10;
    box.style.left = x + "px";
    box.style.top = Math.max(0, y) + "px";
  }

  // ---- controls ---------------------------------------------------------------------------
  function fillQuantities(select, withAll) {
    select.replaceChildren();
    if (withAll) select.add(new Option("all", "all"));
    META.quantities[view.layer].forEach(function (q, qi) { select.add(new Option(q, qi)); });
  }
  function setUnit(u, pin) {
    view.unit = Math.max(0, Math.min(H - 1, u | 0));
    el("unit").value = view.unit;
    render(pin);
  }
  function select(layer, q, unit, pin) {
    view.layer = layer;
    el("layer").value = layer;
    fillQuantities(el("quantity"), false);
    fillQuantities(el("fquantity"), true);
    view.q = q;
    el("quantity").value = q;
    el("fquantity").value = q;
    setUnit(unit, pin);
  }
  function setPage(p) { view.page = Math.max(0, Math.min(pages - 1, p)); render(); }

  function init() {
    for (var l = 0; l < META.layers; l++) el("layer").add(new Option(l, l));
    el("unit").max = H - 1;
    el("goto").max = T - 1;
    el("summary").textContent = "Cell " + META.cell + ", " + META.layers + " layer" +
      (META.layers > 1 ? "s" : "") + " of " + H + " units, " + T + " " + TOKEN + "s. Hover " +
      "on a " + TOKEN + " for every gate of the unit and the model's top " + META.topK +
      (META.predicts === "class" ? " answers" : " next " + TOKEN + "s") + "; the address " +
      "keeps the view." + (META.replaced ? " " + META.replaced + " " + TOKEN + "s outside " +
      "the vocabulary were replaced." : "") + (META.note ? " " + META.note : "");
    el("gotoname").textContent = TOKEN;
    if (TOKEN !== "character") {  // brackets and lines are read character by character
      el("text").className = "words";
      el("fmode").replaceChildren(new Option("inside matches of a regex", "regex"));
    }
    el("fpattern").value = META.findPattern;
    el("layer").onchange = function () { select(+this.value, 0, view.unit); };
    el("quantity").onchange = function () { view.q = +this.value; render(); };
    el("unit").onchange = function () { setUnit(+this.value); };
    el("uprev").onclick = function () { setUnit(view.unit - 1); };
    el("unext").onclick = function () { setUnit(view.unit + 1); };
    el("first").onclick = function () { setPage(0); };
    el("prev").onclick = function () { setPage(view.page - 1); };
    el("next").onclick = function () { setPage(view.page + 1); };
    el("last").onclick = function () { setPage(pages - 1); };
    el("goto").onchange = function () {
      var c = Math.max(0, Math.min(T - 1, +this.value | 0));
      view.page = Math.floor(c / PC);
      render(c);
    };
    el("text").addEventListener("mouseover", tip);
    el("text").addEventListener("mouseleave", function () { el("tip").style.display = "none"; });
    el("fgo").onclick = find;
    el("fmode").onchange = function () {
      var p = el("fpattern");
      p.disabled = this.value === "column";
      p.value = this.value === "depth" ? "()[]{}" : this.value === "regex" ? META.findPattern
        : "";
    };
    el("fnote").textContent = "The page searches the first " + META.findChars + " " + TOKEN +
      "s (8-bit copies of the activations); rnn-lab inspect --find searches all " + T +
      " exactly. Click a row to show that unit." + (SEP ? " A regex matches the words " +
      "joined by a space and marks each word a match overlaps." : "");
    cliFindings();
    var h = readHash(), c = h.c !== undefined ? Math.max(0, Math.min(T - 1, +h.c || 0)) : 0;
    var layer = h.l !== undefined ? Math.max(0, Math.min(META.layers - 1, +h.l || 0))
      : view.layer;
    var q = h.q !== undefined ? META.quantities[layer].indexOf(h.q) : view.q;
    view.page = Math.floor(c / PC);
    select(layer, q >= 0 ? q : 0, h.u !== undefined ? +h.u : view.unit,
           h.c !== undefined ? c : undefined);
  }

  // ---- finding units ------------------------------------------------------------------------
  function target(chars, mode, pattern) {  // chars: one string per token
    var n = chars.length, y = new Float64Array(n), i, text = chars.join(SEP);
    if (mode === "regex") {
      // code unit -> token (astral characters take two; a separator belongs to none: -1)
      var re = new RegExp(pattern, "g"), m, owner = new Int32Array(text.length), u = 0;
      for (i = 0; i < n; i++) {
        for (var s = 0; i > 0 && s < SEP.length; s++) owner[u++] = -1;
        for (var w = 0; w < chars[i].length; w++) owner[u++] = i;
      }
      while ((m = re.exec(text)) !== null) {
        for (var c = m.index; c < m.index + m[0].length; c++) {
          if (owner[c] >= 0) y[owner[c]] = 1;
        }
        if (m[0].length === 0) re.lastIndex++;
      }
    } else if (mode === "depth") {
      var d = 0;
      for (i = 0; i < n; i++) {
        var k = pattern.indexOf(chars[i]);
        if (k >= 0) d = Math.max(0, d + (k % 2 === 0 ? 1 : -1));
        y[i] = d;
      }
    } else {
      var col = 0;
      for (i = 0; i < n; i++) { col = chars[i] === "\n" ? 0 : col + 1; y[i] = col; }
    }
    return y;
  }
  function correlate(q, y, n) {  // q: n x H bytes, time-major
    var my = 0, i, j;
    for (i = 0; i < n; i++) my += y[i];
    my /= n;
    var syy = 0;
    for (i = 0; i < n; i++) syy += (y[i] - my) * (y[i] - my);
    var out = [];
    for (j = 0; j < H; j++) {
      var m = 0;
      for (i = 0; i < n; i++) m += q[i * H + j];
      m /= n;
      var sxy = 0, sxx = 0;
      for (i = 0; i < n; i++) {
        var dx = q[i * H + j] - m;
        sxy += dx * (y[i] - my);
        sxx += dx * dx;
      }
      out.push(sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0);
    }
    return out;
  }
  function find() {
    var mode = el("fmode").value, pattern = el("fpattern").value, n = META.findChars;
    var which = el("fquantity").value, layer = view.layer;
    var qis = which === "all" ? META.quantities[layer].map(function (_, i) { return i; })
      : [+which];
    need(blockSrc(0), function () {
      var y;
      try { y = target(store[blockSrc(0)].text.slice(0, n), mode, pattern); }
      catch (err) { el("fresult").textContent = "the pattern does not compile: " + err.message;
        return; }
      var lo = Infinity, hi = -Infinity;
      y.forEach(function (v) { lo = Math.min(lo, v); hi = Math.max(hi, v); });
      if (lo === hi) { el("fresult").textContent = "the target is the same on every " +
        TOKEN + " searched, so nothing can correlate with it"; return; }
      var left = qis.length, found = [];
      qis.forEach(function (qi) {
        need(findSrc(layer, qi), function () {
          correlate(store[findSrc(layer, qi)], y, n).forEach(function (r, u) {
            found.push({ layer: layer, qi: qi, unit: u, r: r });
          });
          if (--left === 0) {
            found.sort(function (a, b) { return Math.abs(b.r) - Math.abs(a.r); });
            el("fresult").replaceChildren(table(found.slice(0, 10)));
          }
        });
      });
    });
  }
  function table(rows) {
    var t = document.createElement("table"), h = t.insertRow();
    ["rank", "layer", "quantity", "unit", "r"].forEach(function (s) {
      var th = document.createElement("th"); th.textContent = s; h.appendChild(th);
    });
    rows.forEach(function (m, k) {
      var tr = t.insertRow(), q = META.quantities[m.layer][m.qi];
      tr.className = "pick";
      [k + 1, m.layer, q, m.unit, (m.r >= 0 ? "+" : "") + m.r.toFixed(3)].forEach(
        function (s) { tr.insertCell().textContent = s; });
      tr.onclick = function () { select(m.layer, m.qi, m.unit); window.scrollTo(0, 0); };
    });
    return t;
  }
  function cliFindings() {
    if (!META.finds.length) return;
    var box = el("cli"), h = document.createElement("h2");
    h.textContent = "Found by the command line (all " + T + " " + TOKEN + "s)";
    box.appendChild(h);
    META.finds.forEach(function (f) {
      var p = document.createElement("p");
      p.textContent = f.target;
      box.appendChild(p);
      box.appendChild(table(f.matches.map(function (m) {
        return { layer: m.layer, qi: META.quantities[m.layer].indexOf(m.quantity),
                 unit: m.unit, r: m.r };
      })));
    });
  }

  api.meta = META;
  api.view = view;
  document.addEventListener("DOMContentLoaded", init);
  return api;
})();
