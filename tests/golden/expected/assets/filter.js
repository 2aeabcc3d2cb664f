// Filters the RfC table by the selects above it (rows carry data-* attributes).
"use strict";
(function () {
  var form = document.getElementById("rfc-filters");
  var rows = document.querySelectorAll("#rfc-table tbody tr");
  if (!form) { return; }
  function apply() {
    var wanted = {};
    form.querySelectorAll("select").forEach(function (s) { wanted[s.name] = s.value; });
    rows.forEach(function (row) {
      var show = Object.keys(wanted).every(function (k) {
        return !wanted[k] || row.dataset[k] === wanted[k];
      });
      row.hidden = !show;
    });
  }
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
})();
