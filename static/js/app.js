// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  function mapLabels() {
    document.querySelectorAll("svg.us-map").forEach(function (map) {
      var label = document.getElementById(map.dataset.label);
      if (!label) return;
      var initial = label.textContent;
      function show(event) {
        var state = event.target.closest("a.state");
        if (state) label.textContent = state.dataset.name + " (" + state.dataset.code + "): " + state.dataset.status;
      }
      map.addEventListener("mouseover", show);
      map.addEventListener("focusin", show);
      map.addEventListener("mouseleave", function () { label.textContent = initial; });
    });
  }

  function sortableTables() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var headers = table.querySelectorAll("thead th");
      headers.forEach(function (th, index) {
        var button = th.querySelector("button");
        if (!button) return;
        button.addEventListener("click", function () {
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          var numeric = th.dataset.type === "number";
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = cellValue(a.cells[index]), y = cellValue(b.cells[index]);
            var result;
            if (numeric) {
              // empty ("no figure") always sorts last
              if (x === "" || y === "") result = (x === "") - (y === "");
              else result = parseFloat(x) - parseFloat(y);
              if (x === "" || y === "") return result;
            } else {
              result = x.localeCompare(y);
            }
            return ascending ? result : -result;
          });
          rows.forEach(function (row) { body.appendChild(row); });
        });
      });
    });
  }

  function cellValue(cell) {
    if (!cell) return "";
    return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  }

  // <input data-autosubmit>: choosing a value submits its form (the page also has a button).
  function autosubmit() {
    document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
      input.addEventListener("change", function () { input.form.submit(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { mapLabels(); sortableTables(); autosubmit(); });
})();

// --- coding gate: "Code a visit" (templates/coding/visit.html) ------------------------------
// Adds muscle and claim-line rows, and proposes the code as muscles are entered. Without this
// file the page still works: it has blank rows, and the server fills a blank first line.
(function () {
  "use strict";

  var SIDES = ["left", "right", "bilateral", "midline"];

  // The same count as registry.coding.gate.distinct_muscles: by name (case- and
  // space-insensitive) and side; bilateral is left + right; a repeat counts once; a row
  // without a name or a known side does not count. The server counts again and decides.
  function distinctMuscles(fieldset) {
    var keys = {};
    fieldset.querySelectorAll("tr[data-row]").forEach(function (row) {
      var name = row.querySelector(".muscle-name").value.toLowerCase().trim().split(/\s+/).join(" ");
      var side = row.querySelector(".muscle-side").value;
      if (!name || SIDES.indexOf(side) < 0) return;
      (side === "bilateral" ? ["left", "right"] : [side]).forEach(function (s) { keys[name + "\u0000" + s] = true; });
    });
    return Object.keys(keys).length;
  }

  function codeFor(count) {
    if (count < 1) return "";
    return count <= 2 ? "20560" : "20561";  // 1-2 muscles: 20560; 3 or more: 20561
  }

  function proposeCode(fieldset) {
    var output = document.getElementById("proposed-code");
    var firstCode = document.getElementById("lines-0-code");
    if (!output) return;
    var count = distinctMuscles(fieldset);
    var code = codeFor(count);
    output.textContent = count
      ? count + " distinct muscle" + (count === 1 ? "" : "s") + " \u2192 " + code
      : "No muscle entered yet: the code will follow the muscles (1\u20132 \u2192 20560, 3 or more \u2192 20561).";
    // fill the first line only while it is empty or still holds our own earlier proposal
    if (firstCode && (firstCode.value === "" || firstCode.value === firstCode.dataset.proposed)) {
      firstCode.value = code;
      firstCode.dataset.proposed = code;
    }
  }

  function addRow(fieldset, button) {
    var rows = fieldset.querySelectorAll("tr[data-row]");
    var max = parseInt(fieldset.dataset.max, 10);
    if (rows.length >= max) return;
    var last = rows[rows.length - 1];
    var row = last.cloneNode(true);
    var index = rows.length;
    function renumber(value) { return value.replace(/^(\w+)-\d+-/, "$1-" + index + "-"); }
    row.querySelectorAll(".error-text").forEach(function (node) { node.remove(); });
    row.querySelectorAll("input, select").forEach(function (input) {
      input.name = renumber(input.name);
      input.id = renumber(input.id);
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      if (input.tagName === "SELECT") input.selectedIndex = 0; else input.value = "";
    });
    row.querySelectorAll("label").forEach(function (label) {
      label.htmlFor = renumber(label.htmlFor);
      label.textContent = label.textContent.replace(/\d+/, String(index + 1));
    });
    row.querySelector(".row-number").textContent = String(index + 1);
    last.parentNode.appendChild(row);
    row.querySelector("input, select").focus();
    if (index + 1 >= max) button.hidden = true;
  }

  function codingForm() {
    document.querySelectorAll("fieldset[data-repeat]").forEach(function (fieldset) {
      var button = fieldset.querySelector("button[data-add-row]");
      if (!button) return;
      button.hidden = fieldset.querySelectorAll("tr[data-row]").length >= parseInt(fieldset.dataset.max, 10);
      button.addEventListener("click", function () { addRow(fieldset, button); });
    });
    var muscles = document.getElementById("muscles");
    if (muscles && document.getElementById("proposed-code")) {
      muscles.addEventListener("input", function () { proposeCode(muscles); });
      muscles.addEventListener("change", function () { proposeCode(muscles); });
    }
  }

  document.addEventListener("DOMContentLoaded", codingForm);
})();
// --- end of coding gate ------------------------------------------------------------------
