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

  document.addEventListener("DOMContentLoaded", function () { mapLabels(); sortableTables(); });
})();
