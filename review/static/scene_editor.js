/* trafficcam scene editor: draw a camera's scene over its frame in SVG, check it with the server's
   validation (the same as `trafficcam scene check`), save it as a new version. No library, no build.
   The scene is kept as the JSON of the YAML file; keys the editor does not draw (rules, tiles,
   and any added later) are kept as they are. Coordinates are pixels of the scene's frame_size.
   Lists (signals, lines, lanes) hold many elements; the detection region (detection.region as a
   box) and the clock box (osd_clock.box) are one each. */
(function () {
  "use strict";
  const root = document.getElementById("editor");
  if (!root) return;
  const camera = root.dataset.camera, csrf = root.dataset.csrf;
  const base = "/scenes/" + encodeURIComponent(camera);
  // an older version opened from the log or a violation: its scene on the frame it was drawn on
  const shownQuery = root.dataset.version ? "?version=" + encodeURIComponent(root.dataset.version) : "";
  const NS = "http://www.w3.org/2000/svg";
  const KINDS = {
    signals: { prefix: "signal", colour: "#ffd400" },
    stop_lines: { prefix: "stop", colour: "#ff3b30" },
    lanes: { prefix: "lane", colour: "#00c7ff" },
    solid_lines: { prefix: "solid", colour: "#ff9f0a" },
  };
  // one-of-a-kind boxes: where the box lives in the scene, and the problem path that names it
  const SINGLES = {
    region: { colour: "#34c759", name: "detection region", key: "region", path: ["detection", "region"],
      holder: () => scene.detection, create: () => (scene.detection = scene.detection || {}) },
    clock: { colour: "#bf5af2", name: "clock", key: "box", path: ["osd_clock"],
      holder: () => scene.osd_clock, create: () => (scene.osd_clock = scene.osd_clock || {}) },
  };
  const MOVEMENTS = ["straight", "left", "right", "u_turn"];
  const LABELS = ["car", "motorcycle", "bus", "truck", "bicycle", "person"];
  const SNAP_PX = 10;
  let scene = null, tool = "select", zoom = 1, selected = null, draft = null, drag = null;
  let problems = [], undoStack = [], checkTimer = null;
  const svg = document.createElementNS(NS, "svg");
  svg.id = "scene-svg";
  document.getElementById("canvas").appendChild(svg);
  const $ = (id) => document.getElementById(id);

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function list(kind) { return (scene[kind] = scene[kind] || []); }
  function snapshot() { undoStack.push(JSON.stringify(scene)); if (undoStack.length > 200) undoStack.shift(); }
  function round(v) { return Math.round(v * 10) / 10; }
  function boxKey(kind) { return kind in SINGLES ? SINGLES[kind].key : "box"; }
  function singleBox(kind) {
    const h = SINGLES[kind].holder(), b = h && h[SINGLES[kind].key];
    return Array.isArray(b) ? b : null;
  }
  function removeSingle(kind) {
    const h = SINGLES[kind].holder();
    if (kind === "clock") delete scene.osd_clock;
    else if (h) { delete h.region; if (!Object.keys(h).length) delete scene.detection; }
  }

  function toScene(ev) {
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const [w, h] = scene.frame_size;
    let x = Math.min(w, Math.max(0, p.x)), y = Math.min(h, Math.max(0, p.y));
    if ($("snap").checked) {
      let best = SNAP_PX * w / svg.clientWidth, found = null;
      for (const q of allPoints()) {
        const d = Math.hypot(q[0] - x, q[1] - y);
        if (d < best) { best = d; found = q; }
      }
      if (found) { x = found[0]; y = found[1]; }
    }
    return [round(x), round(y)];
  }
  function allPoints() { return elementPoints(true).concat(singlePoints()); }
  function elementPoints(skipDragged) {
    const out = [];
    for (const kind in KINDS) for (const item of list(kind)) {
      if (skipDragged && drag && drag.item === item) continue;
      if (kind === "signals") out.push([item.box[0], item.box[1]], [item.box[2], item.box[3]]);
      else out.push(...(item.line || item.polygon || []));
    }
    return out;
  }
  function singlePoints() {
    const out = [];
    for (const kind in SINGLES) {
      const b = singleBox(kind);
      if (b && !(drag && drag.kind === kind)) out.push([b[0], b[1]], [b[2], b[3]]);
    }
    return out;
  }
  function newId(kind) {
    const used = new Set(list(kind).map((i) => i.id));
    let n = 1;
    while (used.has(KINDS[kind].prefix + "_" + n)) n++;
    return KINDS[kind].prefix + "_" + n;
  }
  function problemsOf(kind, index) {
    if (kind in SINGLES) return problems.filter((p) => SINGLES[kind].path.every((k, i) => p.path[i] === k));
    return problems.filter((p) => p.path[0] === kind && p.path[1] === index);
  }

  // -- drawing ----------------------------------------------------------------------------
  function render() {
    const [w, h] = scene.frame_size;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.style.width = Math.round(zoom * $("canvas").clientWidth) + "px";
    svg.replaceChildren();
    if (root.dataset.hasFrame === "yes") el("image", { href: base + "/frame" + shownQuery, x: 0, y: 0, width: w, height: h }, svg);
    else el("rect", { x: 0, y: 0, width: w, height: h, fill: "#333" }, svg);
    const sw = Math.max(2, w / 400);
    if (scene.detection && scene.detection.region === "roi") drawRoi(sw);
    for (const kind in KINDS) list(kind).forEach((item, i) => drawItem(kind, item, i, sw));
    for (const kind in SINGLES) if (singleBox(kind)) drawSingle(kind, sw);
    if (draft) {
      const pts = draft.points.map((p) => p.join(",")).join(" ");
      el("polyline", { points: pts, fill: "none", stroke: KINDS[draft.kind].colour, "stroke-width": sw, "stroke-dasharray": "6 4" }, svg);
    }
    renderPanel();
  }
  function drawItem(kind, item, i, sw) {
    const bad = problemsOf(kind, i).length > 0;
    const colour = bad ? "#ff00ff" : KINDS[kind].colour;
    const g = el("g", { class: "item" + (selected && selected.item === item ? " selected" : "") + (bad ? " invalid" : ""), "data-kind": kind, "data-index": i }, svg);
    const common = { stroke: colour, "stroke-width": sw, fill: "none" };
    let pts = [];
    if (kind === "signals" && item.box) {
      const [x1, y1, x2, y2] = item.box;
      el("rect", { ...common, x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) }, g);
      pts = [[x1, y1], [x2, y2]];
    } else if (kind === "lanes" && item.polygon) {
      el("polygon", { ...common, fill: colour, "fill-opacity": 0.12, points: item.polygon.map((p) => p.join(",")).join(" ") }, g);
      pts = item.polygon;
      if (item.direction) arrow(g, centre(pts), item.direction, colour, sw);
    } else if (item.line) {
      el("polyline", { ...common, points: item.line.map((p) => p.join(",")).join(" ") }, g);
      pts = item.line;
      if (kind === "stop_lines" && item.approach) arrow(g, centre(pts), item.approach, colour, sw);
    }
    if (pts.length) {
      const t = el("text", { x: pts[0][0] + 4, y: pts[0][1] - 6, fill: colour, "font-size": sw * 7, class: "name" }, g);
      t.textContent = item.id;
    }
    pts.forEach((p, j) => el("circle", { cx: p[0], cy: p[1], r: sw * 2.5, fill: colour, class: "handle", "data-point": j }, g));
  }
  function drawSingle(kind, sw) {
    const s = SINGLES[kind], holder = s.holder(), [x1, y1, x2, y2] = holder[s.key];
    const bad = problemsOf(kind).length > 0, colour = bad ? "#ff00ff" : s.colour;
    const g = el("g", { class: "item single" + (selected && selected.kind === kind ? " selected" : "") + (bad ? " invalid" : ""), "data-kind": kind, "data-index": 0 }, svg);
    el("rect", { stroke: colour, "stroke-width": sw, fill: colour, "fill-opacity": kind === "clock" ? 0.15 : 0.04, "stroke-dasharray": kind === "region" ? "12 6" : "none",
      x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) }, g);
    const t = el("text", { x: Math.min(x1, x2) + 4, y: kind === "clock" ? Math.max(y1, y2) + sw * 8 : Math.min(y1, y2) + sw * 8, fill: colour, "font-size": sw * 7, class: "name" }, g);
    t.textContent = s.name;
    [[x1, y1], [x2, y2]].forEach((p, j) => el("circle", { cx: p[0], cy: p[1], r: sw * 2.5, fill: colour, class: "handle", "data-point": j }, g));
  }
  function drawRoi(sw) {
    // what `region: roi` detects in: the bounding box of every element, grown by `margin`
    const pts = elementPoints(false);
    if (!pts.length) return;
    const [w, h] = scene.frame_size, m = scene.detection.margin === undefined ? 0.1 : scene.detection.margin;
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const x1 = Math.max(0, Math.min(...xs) - m * w), y1 = Math.max(0, Math.min(...ys) - m * h);
    const x2 = Math.min(w, Math.max(...xs) + m * w), y2 = Math.min(h, Math.max(...ys) + m * h);
    el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, fill: "none", stroke: SINGLES.region.colour, "stroke-width": sw, "stroke-dasharray": "3 6", class: "roi-preview" }, svg);
  }
  function centre(pts) {
    const n = pts.length;
    return [pts.reduce((a, p) => a + p[0], 0) / n, pts.reduce((a, p) => a + p[1], 0) / n];
  }
  function arrow(g, mid, dir, colour, sw) {
    const len = Math.hypot(dir[0], dir[1]) || 1, L = sw * 18;
    const dx = dir[0] / len * L, dy = dir[1] / len * L;
    const tip = [mid[0] + dx / 2, mid[1] + dy / 2], tail = [mid[0] - dx / 2, mid[1] - dy / 2];
    el("line", { x1: tail[0], y1: tail[1], x2: tip[0], y2: tip[1], stroke: colour, "stroke-width": sw }, g);
    const a = Math.atan2(dy, dx), h = sw * 5;
    const p1 = [tip[0] - h * Math.cos(a - 0.5), tip[1] - h * Math.sin(a - 0.5)];
    const p2 = [tip[0] - h * Math.cos(a + 0.5), tip[1] - h * Math.sin(a + 0.5)];
    el("polygon", { points: [tip, p1, p2].map((p) => p.join(",")).join(" "), fill: colour }, g);
  }

  // -- the side panel: every element, named, with its settings and its problems -----------------
  function renderPanel() {
    const box = $("elements");
    box.replaceChildren();
    for (const kind in KINDS) {
      const h = document.createElement("h2");
      h.textContent = kind.replace("_", " ");
      box.appendChild(h);
      list(kind).forEach((item, i) => box.appendChild(itemPanel(kind, item, i)));
    }
    box.appendChild(regionPanel());
    box.appendChild(clockPanel());
    const inSingle = (p) => Object.keys(SINGLES).some((k) => SINGLES[k].path.every((key, i) => p.path[i] === key));
    const general = problems.filter((p) => !inSingle(p) && (!(p.path[0] in KINDS) || typeof p.path[1] !== "number"));
    const pbox = $("problems");
    pbox.replaceChildren();
    for (const p of general) pbox.appendChild(problemLine(p));
    const other = {};
    for (const k in scene) if (!(k in KINDS) && k !== "camera") other[k] = scene[k];
    $("other").textContent = JSON.stringify(other, null, 1);
  }
  function problemLine(p) {
    const d = document.createElement("div");
    d.className = "problem";
    d.textContent = p.key + ": " + p.message;
    return d;
  }
  function field(labelText, input) {
    const l = document.createElement("label");
    l.append(labelText + " ", input);
    return l;
  }
  function itemPanel(kind, item, i) {
    const div = document.createElement("div");
    div.className = "element" + (selected && selected.item === item ? " selected" : "");
    div.dataset.kind = kind; div.dataset.index = i;
    const name = document.createElement("input");
    name.value = item.id; name.className = "el-id"; name.setAttribute("aria-label", kind + " name");
    name.addEventListener("change", () => { snapshot(); item.id = name.value.trim(); changed(); });
    div.appendChild(field("name", name));
    if (kind === "stop_lines") {
      const sig = document.createElement("select");
      sig.className = "el-signal";
      const ids = list("signals").map((s) => s.id);
      if (!ids.includes(item.signal)) ids.unshift(item.signal || "");
      for (const id of ids) sig.add(new Option(id || "(choose a signal)", id, false, id === item.signal));
      sig.addEventListener("change", () => { snapshot(); item.signal = sig.value; changed(); });
      div.appendChild(field("signal", sig));
      div.appendChild(directionField(item, "approach", false));
      div.appendChild(movementsField(item));
    }
    if (kind === "lanes") {
      div.appendChild(directionField(item, "direction", true));
      const allowed = document.createElement("input");
      allowed.className = "el-allowed";
      allowed.value = (item.allowed || []).join(", ");
      allowed.placeholder = "any class";
      allowed.title = LABELS.join(", ");
      allowed.addEventListener("change", () => {
        snapshot();
        const v = allowed.value.split(",").map((s) => s.trim()).filter(Boolean);
        item.allowed = v.length ? v : null;
        changed();
      });
      div.appendChild(field("allowed", allowed));
    }
    const del = document.createElement("button");
    del.type = "button"; del.textContent = "Delete"; del.className = "el-delete";
    del.addEventListener("click", () => { snapshot(); list(kind).splice(i, 1); selected = null; changed(); });
    div.appendChild(del);
    for (const p of problemsOf(kind, i)) div.appendChild(problemLine(p));
    div.addEventListener("click", () => { if (!selected || selected.item !== item) { selected = { kind, item }; render(); } });
    return div;
  }
  function movementsField(item) {
    // the head of each movement that has its own (a turn arrow); the others obey `signal`
    const box = document.createElement("div");
    box.className = "movements";
    const caption = document.createElement("span");
    caption.className = "caption"; caption.textContent = "head by movement (turn arrows):";
    box.appendChild(caption);
    const ids = list("signals").map((s) => s.id);
    for (const m of MOVEMENTS) {
      const sel = document.createElement("select");
      sel.className = "el-movement"; sel.dataset.movement = m;
      const current = (item.movements || {})[m] || "";
      sel.add(new Option("signal", "", false, current === ""));
      for (const id of (ids.includes(current) || !current ? ids : [current, ...ids])) sel.add(new Option(id, id, false, id === current));
      sel.addEventListener("change", () => {
        snapshot();
        const mv = Object.assign({}, item.movements || {});
        if (sel.value) mv[m] = sel.value; else delete mv[m];
        if (Object.keys(mv).length) item.movements = mv; else delete item.movements;
        changed();
      });
      box.appendChild(field(m.replace("_", "-"), sel));
    }
    return box;
  }
  function singlePanel(kind, heading) {
    const div = document.createElement("div");
    div.className = "element" + (selected && selected.kind === kind ? " selected" : "");
    div.dataset.kind = kind;
    const h = document.createElement("h2");
    h.textContent = heading;
    const wrap = document.createDocumentFragment();
    wrap.append(h, div);
    div.addEventListener("click", (ev) => {
      if (singleBox(kind) && (!selected || selected.kind !== kind) && !ev.target.matches("button")) { selected = { kind, item: SINGLES[kind].holder() }; render(); }
    });
    return [wrap, div];
  }
  function deleteButton(kind) {
    const del = document.createElement("button");
    del.type = "button"; del.textContent = "Delete"; del.className = "el-delete";
    del.addEventListener("click", () => { snapshot(); removeSingle(kind); selected = null; changed(); });
    return del;
  }
  function hint(text) {
    const s = document.createElement("span");
    s.className = "muted"; s.textContent = text;
    return s;
  }
  function regionPanel() {
    // detection.region: the whole frame, the box round the elements (roi), or a box drawn by hand
    const [wrap, div] = singlePanel("region", "detection region");
    const region = scene.detection && scene.detection.region !== undefined ? scene.detection.region : "frame";
    const mode = Array.isArray(region) ? "box" : region;
    const sel = document.createElement("select");
    sel.className = "el-region-mode";
    for (const [v, label] of [["frame", "whole frame"], ["roi", "box round the elements (roi)"], ["box", "drawn box"]]) sel.add(new Option(label, v, false, v === mode));
    sel.addEventListener("change", () => {
      snapshot();
      const d = SINGLES.region.create();
      if (sel.value === "box") {
        const [w, h] = scene.frame_size;
        d.region = [round(w * 0.1), round(h * 0.1), round(w * 0.9), round(h * 0.9)];
        selected = { kind: "region", item: d };
      } else if (sel.value === "roi") d.region = "roi";
      else removeSingle("region");
      changed();
    });
    div.appendChild(field("detect in", sel));
    if (mode === "roi") {
      const margin = document.createElement("input");
      margin.type = "number"; margin.min = 0; margin.max = 1; margin.step = 0.05; margin.className = "el-region-margin";
      margin.value = scene.detection.margin === undefined ? 0.1 : scene.detection.margin;
      margin.addEventListener("change", () => { snapshot(); scene.detection.margin = Number(margin.value); changed(); });
      div.appendChild(field("margin", margin));
    }
    if (mode === "box") div.appendChild(deleteButton("region"));
    else div.appendChild(hint("drag a box with the Region tool (R) to detect only there"));
    for (const p of problemsOf("region")) div.appendChild(problemLine(p));
    return wrap;
  }
  function clockPanel() {
    // osd_clock: the camera's burnt-in date and time, read to check the recording time
    const [wrap, div] = singlePanel("clock", "on-screen clock");
    if (!singleBox("clock")) {
      div.appendChild(hint("none: drag a box round the burnt-in date and time with the Clock tool (C)"));
    } else {
      const fmt = document.createElement("input");
      fmt.className = "el-clock-format";
      fmt.value = scene.osd_clock.format || "%d/%m/%Y %H:%M:%S";  // the schema's default
      fmt.title = "the order of the digits, as a strftime format";
      fmt.addEventListener("change", () => { snapshot(); scene.osd_clock.format = fmt.value.trim(); changed(); });
      div.appendChild(field("format", fmt));
      div.appendChild(deleteButton("clock"));
    }
    for (const p of problemsOf("clock")) div.appendChild(problemLine(p));
    return wrap;
  }
  function directionField(item, key, nullable) {
    const sel = document.createElement("select");
    sel.className = "el-" + key;
    const choices = [["up", [0, -1]], ["down", [0, 1]], ["left", [-1, 0]], ["right", [1, 0]]];
    if (nullable) choices.unshift(["any", null]);
    const current = JSON.stringify(item[key] === undefined ? null : item[key]);
    let matched = false;
    for (const [label, v] of choices) {
      const on = JSON.stringify(v) === current;
      matched = matched || on;
      sel.add(new Option(label, JSON.stringify(v), false, on));
    }
    if (!matched) sel.add(new Option(current, current, false, true));
    sel.add(new Option("flip", "flip"));
    sel.addEventListener("change", () => {
      snapshot();
      if (sel.value === "flip") item[key] = item[key] ? item[key].map((c) => -c) : [0, -1];
      else item[key] = JSON.parse(sel.value);
      changed();
    });
    return field(key, sel);
  }

  // -- mouse and keyboard -----------------------------------------------------------------------
  svg.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0) return;
    const p = toScene(ev);
    if (tool === "select") {
      const g = ev.target.closest("g.item");
      if (!g) { selected = null; render(); return; }
      const kind = g.dataset.kind, item = kind in SINGLES ? SINGLES[kind].holder() : list(kind)[+g.dataset.index];
      selected = { kind, item };
      snapshot();
      drag = { kind, item, point: ev.target.dataset.point === undefined ? null : +ev.target.dataset.point, from: p };
      render();
    } else if (tool === "signals" || tool === "stop_lines") {
      snapshot();
      const item = tool === "signals" ? { id: newId(tool), box: [p[0], p[1], p[0], p[1]] }
        : { id: newId(tool), line: [p, p.slice()], approach: [0, -1], signal: (list("signals")[0] || {}).id || "" };
      list(tool).push(item);
      selected = { kind: tool, item };
      drag = { kind: tool, item, point: 1, from: p, creating: true };
      render();
    } else if (tool in SINGLES) {
      snapshot();
      const holder = SINGLES[tool].create();
      holder[SINGLES[tool].key] = [p[0], p[1], p[0], p[1]];
      if (tool === "clock" && !holder.format) holder.format = "%d/%m/%Y %H:%M:%S";  // written out, so the YAML says it
      selected = { kind: tool, item: holder };
      drag = { kind: tool, item: holder, point: 1, from: p, creating: true };
      render();
    } else {
      if (!draft) draft = { kind: tool, points: [] };
      draft.points.push(p);
      render();
    }
    ev.preventDefault();
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const p = toScene(ev), item = drag.item;
    if (drag.kind === "signals" || drag.kind in SINGLES) {
      const k = boxKey(drag.kind), b = item[k];
      if (drag.point === null) { const dx = p[0] - drag.from[0], dy = p[1] - drag.from[1]; item[k] = [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy].map(round); drag.from = p; }
      else if (drag.point === 0) item[k] = [p[0], p[1], b[2], b[3]];
      else item[k] = [b[0], b[1], p[0], p[1]];
    } else {
      const pts = item.line || item.polygon;
      if (drag.point === null) {
        const dx = p[0] - drag.from[0], dy = p[1] - drag.from[1];
        for (const q of pts) { q[0] = round(q[0] + dx); q[1] = round(q[1] + dy); }
        drag.from = p;
      } else pts[drag.point] = p;
    }
    render();
  });
  window.addEventListener("mouseup", () => {
    if (!drag) return;
    const item = drag.item;
    if (drag.kind === "signals" || drag.kind in SINGLES) {
      const k = boxKey(drag.kind), b = item[k];
      item[k] = [Math.min(b[0], b[2]), Math.min(b[1], b[3]), Math.max(b[0], b[2]), Math.max(b[1], b[3])];
    }
    drag = null;
    changed();
  });
  svg.addEventListener("dblclick", finishDraft);
  function finishDraft() {
    if (!draft) return;
    const need = draft.kind === "lanes" ? 3 : 2;
    const pts = draft.points.filter((p, i, a) => i === 0 || p[0] !== a[i - 1][0] || p[1] !== a[i - 1][1]);
    if (pts.length >= need) {
      snapshot();
      const item = draft.kind === "lanes" ? { id: newId("lanes"), polygon: pts, direction: null, allowed: null } : { id: newId(draft.kind), line: pts };
      list(draft.kind).push(item);
      selected = { kind: draft.kind, item };
    }
    draft = null;
    changed();
  }
  document.addEventListener("keydown", (ev) => {
    const typing = ev.target.matches("input:not([type=checkbox]), select, textarea");  // the snap box keeps the keys
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "z") { ev.preventDefault(); undo(); return; }
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "s") { ev.preventDefault(); save(); return; }
    if (typing) return;
    const keys = { v: "select", g: "signals", l: "stop_lines", n: "lanes", s: "solid_lines", r: "region", c: "clock" };
    if (keys[ev.key]) setTool(keys[ev.key]);
    else if (ev.key === "Enter") finishDraft();
    else if (ev.key === "Escape") { draft = null; selected = null; render(); }
    else if (ev.key === "p") $("snap").checked = !$("snap").checked;
    else if (ev.key === "+" || ev.key === "=") setZoom(zoom * 1.25);
    else if (ev.key === "-") setZoom(zoom / 1.25);
    else if ((ev.key === "Delete" || ev.key === "Backspace") && selected) {
      snapshot();
      if (selected.kind in SINGLES) removeSingle(selected.kind);
      else { const arr = list(selected.kind); arr.splice(arr.indexOf(selected.item), 1); }
      selected = null;
      changed();
    }
  });
  function setTool(t) {
    tool = t; draft = null;
    for (const b of document.querySelectorAll("[data-tool]")) b.setAttribute("aria-pressed", b.dataset.tool === t);
    svg.dataset.tool = t;
  }
  function setZoom(z) { zoom = Math.min(8, Math.max(1, z)); render(); }
  function undo() {
    const last = undoStack.pop();
    if (last) { scene = JSON.parse(last); selected = null; draft = null; changed(); }
  }

  // -- the server: check as `scene check` does, save as a new version ----------------------------
  function post(path, body) {
    return fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  }
  function changed() {
    render();
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 250);
  }
  async function check() {
    const r = await post("/check", { scene });
    const data = await r.json();
    problems = data.problems || [];
    $("status").textContent = problems.length ? problems.length + " problem(s): not saved until fixed" : "valid";
    root.dataset.valid = problems.length ? "no" : "yes";
    render();
  }
  async function save() {
    clearTimeout(checkTimer);
    $("status").textContent = "saving…";
    const body = { scene, note: $("note").value };
    if (root.dataset.version) body.drawn_on = Number(root.dataset.version);  // keep that version's frame
    const r = await post("/save", body);
    const data = await r.json();
    if (r.ok) {
      $("status").textContent = "saved as version " + data.version;
      root.dataset.saved = data.version;
      window.location.assign(base);  // the newest version, which this now is
    } else {
      problems = data.problems || [];
      $("status").textContent = "not saved: " + problems.length + " problem(s)";
      root.dataset.valid = "no";
      render();
    }
  }

  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  $("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  $("undo").addEventListener("click", undo);
  $("save").addEventListener("click", save);
  window.addEventListener("resize", render);
  fetch(base + "/scene.json" + shownQuery, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
    scene = data.scene;
    setTool("select");
    changed();
    root.dataset.ready = "yes";
  });
})();
