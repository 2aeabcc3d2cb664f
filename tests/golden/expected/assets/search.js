// Full-text search over window.ISG_SEARCH_INDEX, in the browser only. Builds DOM nodes
// with textContent, never innerHTML, so record text can never become markup.
"use strict";
(function () {
  var index = window.ISG_SEARCH_INDEX || [];
  var input = document.getElementById("q");
  var list = document.getElementById("results");
  var count = document.getElementById("count");
  var root = document.querySelector('link[rel="stylesheet"]').getAttribute("href").replace("assets/style.css", "");
  function words(text) { return text.toLowerCase().split(/[^\p{L}\p{N}-]+/u).filter(Boolean); }
  function search(query) {
    var terms = words(query);
    list.textContent = "";
    if (!terms.length) { count.textContent = ""; return; }
    var hits = index.filter(function (entry) {
      var hay = (entry.id + " " + entry.title + " " + entry.text).toLowerCase();
      return terms.every(function (t) { return hay.indexOf(t) !== -1; });
    });
    count.textContent = hits.length + (hits.length === 1 ? " result" : " results");
    hits.slice(0, 100).forEach(function (entry) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + entry.url;
      a.textContent = entry.id + ": " + entry.title;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" (" + entry.kind + ")"));
      list.appendChild(li);
    });
  }
  input.addEventListener("input", function () { search(input.value); });
  var params = new URLSearchParams(window.location.search);
  if (params.get("q")) { input.value = params.get("q"); search(input.value); }
})();
