/* 照面设计: the surface designer of a certificate type (web/designer.py, templates/designer/edit.html).
 *
 * The design (ofd.design.SurfaceDesign as JSON, millimetres from the top-left corner) comes in the
 * #designer-data JSON block and is edited in place: data items, text, the QR code and the seal are
 * dragged from #palette onto #designer (HTML5 drag and drop, or a click / Enter on the item),
 * moved by dragging (pointer events), resized with the corner handle, nudged with the arrow keys,
 * and styled in #inspector. Positions snap to 0.5 mm and stay inside the page. #save posts the
 * design as JSON (CSRF token in X-CSRFToken), #preview shows the PNG the server renders with
 * sample data. Positions are set through element.style, which the CSP allows (no style attributes
 * in the HTML). No library.
 */
(function () {
  "use strict";

  var root = document.getElementById("designer-app");
  var dataBlock = document.getElementById("designer-data");
  if (!root || !dataBlock) { return; }

  var DATA = JSON.parse(dataBlock.textContent);
  var T = DATA.text;
  var URLS = DATA.urls;
  var CSRF = root.getAttribute("data-csrf");
  var PT_TO_MM = 25.4 / 72;
  var SQUARE = { seal: true, qr: true };
  var DEFAULT_STYLE = { font: "serif", size_pt: 12, colour: "#000000", bold: false, align: "left", wrap: false,
                        line_spacing: 1.3 };

  var design = DATA.design;
  var labels = {};
  DATA.palette.forEach(function (p) { labels[p.source] = p.label; });
  var sealNames = {};
  DATA.seals.forEach(function (s) { sealNames[s.id] = s.name; });

  var canvas = document.getElementById("designer");
  var stage = document.getElementById("designer-stage");
  var statusLine = document.getElementById("design-status");
  var errorsBox = document.getElementById("design-errors");
  var scale = 3;
  var selected = -1;
  var dirty = false;

  // --- geometry (millimetres) ---------------------------------------------------------------------

  function snap(v) { return Math.round(v * 2) / 2; }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function rectOf(el) {
    if (SQUARE[el.kind]) { return { x: el.x, y: el.y, w: el.size, h: el.size }; }
    return { x: el.box.x, y: el.box.y, w: el.box.width, h: el.box.height };
  }

  /* Put ``el`` at (x, y) with size (w, h), snapped and kept inside the page. */
  function place(el, x, y, w, h) {
    if (SQUARE[el.kind]) {
      var size = snap(clamp(Math.max(w, h), 10, Math.min(80, design.width, design.height)));
      el.size = size;
      el.x = snap(clamp(x, 0, design.width - size));
      el.y = snap(clamp(y, 0, design.height - size));
      return;
    }
    w = snap(clamp(w, 1, design.width));
    h = snap(clamp(h, 1, design.height));
    el.box = { x: snap(clamp(x, 0, design.width - w)), y: snap(clamp(y, 0, design.height - h)), width: w, height: h };
  }

  // --- drawing ------------------------------------------------------------------------------------

  function fitScale() {
    var zoom = document.getElementById("zoom").value;
    if (zoom !== "fit") { return parseFloat(zoom); }
    var room = stage.clientWidth - 24;
    return clamp(room / design.width, 1.2, 5);
  }

  function textOf(el) {
    if (el.kind === "text") { return el.text; }
    if (el.kind === "field") {
      var item = "【" + (labels[el.source] || el.source) + "】";
      return el.label ? el.label + "：" + item : item;
    }
    if (el.kind === "qr") { return T.qr; }
    if (el.kind === "seal") { return el.seal_id ? (sealNames[el.seal_id] || T.seal) : T.default_seal; }
    return T.image;
  }

  function position(node, el) {
    var r = rectOf(el);
    node.style.left = (r.x * scale) + "px";
    node.style.top = (r.y * scale) + "px";
    node.style.width = (r.w * scale) + "px";
    node.style.height = (r.h * scale) + "px";
  }

  function drawElement(el, i) {
    var node = document.createElement("div");
    node.className = "el el-" + el.kind + (i === selected ? " selected" : "");
    node.setAttribute("data-index", String(i));
    node.setAttribute("data-kind", el.kind);
    if (el.kind === "field") { node.setAttribute("data-source", el.source); }
    node.setAttribute("role", "button");
    node.setAttribute("aria-label", textOf(el));
    position(node, el);
    if (el.kind === "image") {
      var pic = document.createElement("img");
      pic.src = URLS.asset + el.ref.replace(/^file:/, "");
      pic.alt = "";
      pic.draggable = false;
      node.appendChild(pic);
    } else {
      var span = document.createElement("span");
      span.className = "el-text";
      span.textContent = textOf(el);
      node.appendChild(span);
    }
    if (el.style) {
      node.classList.add("font-" + el.style.font);
      node.style.fontSize = (el.style.size_pt * PT_TO_MM * scale) + "px";
      node.style.color = el.style.colour;
      node.style.fontWeight = el.style.bold ? "700" : "400";
      node.style.textAlign = el.style.align;
      node.style.whiteSpace = el.style.wrap ? "normal" : "nowrap";
      node.style.lineHeight = String(el.style.line_spacing);
    }
    var handle = document.createElement("span");
    handle.className = "handle";
    handle.setAttribute("aria-hidden", "true");
    node.appendChild(handle);
    return node;
  }

  function render() {
    scale = fitScale();
    canvas.style.width = (design.width * scale) + "px";
    canvas.style.height = (design.height * scale) + "px";
    canvas.textContent = "";
    if (design.background) {
      var bg = document.createElement("img");
      bg.className = "canvas-bg";
      bg.id = "canvas-background";
      bg.alt = "";
      bg.draggable = false;
      bg.src = URLS.asset + design.background.replace(/^file:/, "");
      canvas.appendChild(bg);
    }
    design.elements.forEach(function (el, i) { canvas.appendChild(drawElement(el, i)); });
    document.getElementById("page-width").value = design.width;
    document.getElementById("page-height").value = design.height;
    document.getElementById("remove-background").disabled = !design.background;
    inspect();
  }

  function redrawOne(i) {
    var old = canvas.querySelector('.el[data-index="' + i + '"]');
    var node = drawElement(design.elements[i], i);
    if (old) { canvas.replaceChild(node, old); } else { canvas.appendChild(node); }
  }

  function changed() {
    dirty = true;
    statusLine.textContent = T.unsaved;
  }

  // --- selection and inspector ------------------------------------------------------------------

  function select(i) {
    selected = i;
    Array.prototype.forEach.call(canvas.querySelectorAll(".el"), function (n) {
      n.classList.toggle("selected", n.getAttribute("data-index") === String(i));
    });
    inspect();
  }

  var form = document.getElementById("inspector-form");
  var empty = document.getElementById("inspector-empty");

  function field(name) { return document.getElementById("prop-" + name); }

  function inspect() {
    var el = design.elements[selected];
    form.hidden = !el;
    empty.hidden = !!el;
    if (!el) { return; }
    var shows = { field: el.kind === "field", text: el.kind === "text", box: !SQUARE[el.kind],
                  square: !!SQUARE[el.kind], style: !!el.style, seal: el.kind === "seal" };
    Array.prototype.forEach.call(form.querySelectorAll("[data-for]"), function (row) {
      row.hidden = !shows[row.getAttribute("data-for")];
    });
    document.getElementById("inspector-kind").textContent = T.element + " " + (selected + 1) + " · " +
      (el.kind === "field" ? (labels[el.source] || el.source) : textOf(el));
    var r = rectOf(el);
    field("x").value = r.x;
    field("y").value = r.y;
    field("width").value = r.w;
    field("height").value = r.h;
    field("size").value = r.w;
    if (el.kind === "field") { field("source").value = el.source; field("label").value = el.label || ""; }
    if (el.kind === "text") { field("text").value = el.text; }
    if (el.kind === "seal") { field("seal_id").value = el.seal_id == null ? "" : String(el.seal_id); }
    if (el.style) {
      field("font").value = el.style.font;
      field("size_pt").value = el.style.size_pt;
      field("colour").value = el.style.colour.toLowerCase();
      field("align").value = el.style.align;
      field("bold").checked = !!el.style.bold;
      field("wrap").checked = !!el.style.wrap;
    }
  }

  function number(name, fallback) {
    var v = parseFloat(field(name).value);
    return isFinite(v) ? v : fallback;
  }

  /* The inspector changed: copy its values into the selected element. */
  function applyInspector(event) {
    var el = design.elements[selected];
    if (!el) { return; }
    var r = rectOf(el);
    var name = event.target.id.replace(/^prop-/, "");
    if (name === "size") {
      place(el, number("x", r.x), number("y", r.y), number("size", r.w), number("size", r.w));
    } else {
      place(el, number("x", r.x), number("y", r.y), number("width", r.w), number("height", r.h));
    }
    if (el.kind === "field") {
      el.source = field("source").value;
      el.label = field("label").value.slice(0, 64);
    }
    if (el.kind === "text") { el.text = field("text").value.slice(0, 500) || T.new_text; }
    if (el.kind === "seal") { el.seal_id = field("seal_id").value ? parseInt(field("seal_id").value, 10) : null; }
    if (el.style) {
      el.style = {
        font: field("font").value, size_pt: clamp(number("size_pt", el.style.size_pt), 4, 96),
        colour: field("colour").value.toUpperCase(), bold: field("bold").checked, align: field("align").value,
        wrap: field("wrap").checked, line_spacing: el.style.line_spacing || 1.3
      };
    }
    redrawOne(selected);
    if (event.type === "change") { inspect(); }
    changed();
  }

  form.addEventListener("input", applyInspector);
  form.addEventListener("change", applyInspector);
  form.addEventListener("submit", function (e) { e.preventDefault(); });

  function removeSelected() {
    if (selected < 0) { return; }
    design.elements.splice(selected, 1);
    selected = -1;
    render();
    changed();
  }

  document.getElementById("delete-element").addEventListener("click", removeSelected);

  // --- adding from the palette --------------------------------------------------------------------

  function newElement(kind, source, label) {
    if (kind === "field") {
      return { kind: "field", source: source, label: label || "", box: { x: 0, y: 0, width: 80, height: 8 },
               style: Object.assign({}, DEFAULT_STYLE) };
    }
    if (kind === "text") {
      return { kind: "text", text: T.new_text, box: { x: 0, y: 0, width: 60, height: 10 },
               style: Object.assign({}, DEFAULT_STYLE) };
    }
    if (kind === "qr") { return { kind: "qr", x: 0, y: 0, size: 25 }; }
    return { kind: "seal", seal_id: null, x: 0, y: 0, size: 42 };
  }

  /* Add an element of the palette item at (x, y) mm; a second QR code or seal moves the first. */
  function add(item, x, y) {
    var kind = item.getAttribute("data-kind");
    var index = -1;
    if (SQUARE[kind]) {
      index = design.elements.findIndex(function (e) { return e.kind === kind; });
      if (index >= 0) { statusLine.textContent = kind === "qr" ? T.one_qr : T.one_seal; }
    }
    var el = index >= 0 ? design.elements[index] : newElement(kind, item.getAttribute("data-source"),
                                                                   item.getAttribute("data-label"));
    var r = rectOf(el);
    place(el, x, y, r.w, r.h);
    if (index < 0) { design.elements.push(el); index = design.elements.length - 1; }
    selected = index;
    render();
    changed();
  }

  var palette = document.getElementById("palette");
  palette.addEventListener("dragstart", function (e) {
    var item = e.target.closest && e.target.closest(".palette-item");
    if (!item) { return; }
    var all = Array.prototype.slice.call(palette.querySelectorAll(".palette-item"));
    e.dataTransfer.setData("text/x-designer-item", String(all.indexOf(item)));
    e.dataTransfer.effectAllowed = "copy";
  });
  canvas.addEventListener("dragover", function (e) {
    if (Array.prototype.indexOf.call(e.dataTransfer.types, "text/x-designer-item") >= 0) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  });
  canvas.addEventListener("drop", function (e) {
    var raw = e.dataTransfer.getData("text/x-designer-item");
    var item = raw !== "" ? palette.querySelectorAll(".palette-item")[parseInt(raw, 10)] : null;
    if (!item) { return; }
    e.preventDefault();
    var box = canvas.getBoundingClientRect();
    add(item, (e.clientX - box.left) / scale, (e.clientY - box.top) / scale);
  });

  function addByKey(item) {
    var n = design.elements.length;
    add(item, 10 + (n % 10) * 5, 10 + (n % 10) * 5);
  }
  palette.addEventListener("click", function (e) {
    var item = e.target.closest && e.target.closest(".palette-item");
    if (item) { addByKey(item); }
  });
  palette.addEventListener("keydown", function (e) {
    var item = e.target.closest && e.target.closest(".palette-item");
    if (item && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); addByKey(item); }
  });

  // --- moving and resizing (pointer events) -------------------------------------------------------

  var drag = null;

  canvas.addEventListener("pointerdown", function (e) {
    var node = e.target.closest && e.target.closest(".el");
    if (!node) { select(-1); return; }
    var i = parseInt(node.getAttribute("data-index"), 10);
    if (i !== selected) { select(i); }
    canvas.focus({ preventScroll: true });
    var r = rectOf(design.elements[i]);
    drag = { index: i, node: node, resize: e.target.classList.contains("handle"), x0: e.clientX, y0: e.clientY,
             rect: r, moved: false };
    node.setPointerCapture(e.pointerId);
    e.preventDefault();
  });

  canvas.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var dx = (e.clientX - drag.x0) / scale;
    var dy = (e.clientY - drag.y0) / scale;
    var el = design.elements[drag.index];
    var r = drag.rect;
    if (drag.resize) {
      place(el, r.x, r.y, Math.min(r.w + dx, design.width - r.x), Math.min(r.h + dy, design.height - r.y));
    } else {
      place(el, r.x + dx, r.y + dy, r.w, r.h);
    }
    drag.moved = true;
    position(drag.node, el);
  });

  function endDrag() {
    if (!drag) { return; }
    var moved = drag.moved;
    drag = null;
    if (moved) { inspect(); changed(); }
  }
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);

  canvas.addEventListener("keydown", function (e) {
    var el = design.elements[selected];
    if (!el) { return; }
    var step = e.shiftKey ? 5 : 0.5;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      var r = rectOf(el);
      place(el, r.x + moves[e.key][0], r.y + moves[e.key][1], r.w, r.h);
      redrawOne(selected);
      inspect();
      changed();
      e.preventDefault();
    } else if (e.key === "Delete" || e.key === "Backspace") {
      removeSelected();
      e.preventDefault();
    }
  });

  // --- page size, background and zoom -------------------------------------------------------------

  function resizePage() {
    var w = snap(clamp(parseFloat(document.getElementById("page-width").value) || design.width, 50, 1000));
    var h = snap(clamp(parseFloat(document.getElementById("page-height").value) || design.height, 50, 1000));
    design.width = w;
    design.height = h;
    design.elements.forEach(function (el) { var r = rectOf(el); place(el, r.x, r.y, r.w, r.h); });
    render();
    changed();
  }
  document.getElementById("page-width").addEventListener("change", resizePage);
  document.getElementById("page-height").addEventListener("change", resizePage);
  document.getElementById("zoom").addEventListener("change", render);
  window.addEventListener("resize", function () {
    if (document.getElementById("zoom").value === "fit") { render(); }
  });

  var upload = document.getElementById("background-upload");
  var uploadError = document.getElementById("background-error");
  upload.addEventListener("change", function () {
    if (!upload.files || !upload.files[0]) { return; }
    var body = new FormData();
    body.append("background", upload.files[0]);
    uploadError.hidden = true;
    statusLine.textContent = T.uploading;
    fetch(URLS.background, { method: "POST", body: body, headers: { "X-CSRFToken": CSRF },
                             credentials: "same-origin" })
      .then(function (resp) { return resp.json().catch(function () { return { ok: false, errors: { background: resp.status } }; }); })
      .then(function (answer) {
        upload.value = "";
        if (!answer.ok) {
          uploadError.textContent = answer.errors.background || T.failed;
          uploadError.hidden = false;
          statusLine.textContent = "";
          return;
        }
        design.background = answer.ref;
        render();
        changed();
        statusLine.textContent = T.uploaded;
      });
  });
  document.getElementById("remove-background").addEventListener("click", function () {
    design.background = null;
    render();
    changed();
  });

  // --- save and preview ---------------------------------------------------------------------------

  function showErrors(errors) {
    errorsBox.textContent = "";
    Array.prototype.forEach.call(canvas.querySelectorAll(".el.invalid"), function (n) { n.classList.remove("invalid"); });
    var keys = Object.keys(errors || {});
    if (!keys.length) { errorsBox.hidden = true; return; }
    var head = document.createElement("p");
    head.textContent = T.invalid;
    errorsBox.appendChild(head);
    var list = document.createElement("ul");
    keys.forEach(function (key) {
      var m = /elements\.(\d+)(\.(.*))?$/.exec(key);
      var li = document.createElement("li");
      li.setAttribute("data-error-key", key);
      if (m) {
        var node = canvas.querySelector('.el[data-index="' + m[1] + '"]');
        if (node) { node.classList.add("invalid"); }
        li.textContent = T.element + " " + (parseInt(m[1], 10) + 1) + (m[3] ? " · " + m[3] : "") + "：" + errors[key];
      } else {
        li.textContent = key.replace(/^design\.?/, "") + (key === "design" ? "" : "：") + errors[key];
      }
      list.appendChild(li);
    });
    errorsBox.appendChild(list);
    errorsBox.hidden = false;
  }

  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin", body: JSON.stringify(design),
                        headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF } });
  }

  document.getElementById("save").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    post(URLS.save)
      .then(function (resp) { return resp.json().catch(function () { return { ok: false, status: resp.status }; }); })
      .then(function (answer) {
        if (answer.ok) {
          dirty = false;
          showErrors({});
          statusLine.textContent = T.saved;
          root.setAttribute("data-saved", "1");
        } else {
          statusLine.textContent = T.failed + (answer.status ? " (" + answer.status + ")" : "");
          showErrors(answer.errors);
        }
      })
      .catch(function () { statusLine.textContent = T.failed; })
      .then(function () { button.disabled = false; });
  });

  var panel = document.getElementById("preview-panel");
  var picture = document.getElementById("preview-image");
  document.getElementById("preview").addEventListener("click", function () {
    var button = this;
    button.disabled = true;
    statusLine.textContent = T.rendering;
    post(URLS.preview)
      .then(function (resp) {
        var type = resp.headers.get("Content-Type") || "";
        if (resp.ok && type.indexOf("image/png") === 0) {
          return resp.blob().then(function (blob) {
            var reader = new FileReader();   // a data: URL: the CSP allows data: pictures, not blob:
            reader.onload = function () {
              picture.src = reader.result;
              panel.hidden = false;
              showErrors({});
              statusLine.textContent = dirty ? T.unsaved : "";
              panel.scrollIntoView({ behavior: "smooth", block: "start" });
            };
            reader.readAsDataURL(blob);
          });
        }
        return resp.json().catch(function () { return {}; }).then(function (answer) {
          statusLine.textContent = T.preview_failed;
          showErrors(answer.errors || {});
        });
      })
      .catch(function () { statusLine.textContent = T.preview_failed; })
      .then(function () { button.disabled = false; });
  });
  document.getElementById("close-preview").addEventListener("click", function () { panel.hidden = true; });

  window.addEventListener("beforeunload", function (e) {
    if (dirty) { e.preventDefault(); e.returnValue = ""; }
  });

  render();
})();
