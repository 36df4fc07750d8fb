/* /interventions: new or changed interventions reload the list, unless the reader is typing. */
(function () {
  "use strict";
  var banner = document.getElementById("new-items");
  function drafting() {
    var areas = document.querySelectorAll("textarea");
    for (var i = 0; i < areas.length; i++) {
      if (areas[i].value.trim() || document.activeElement === areas[i]) return true;
    }
    return false;
  }
  function onChange() {
    if (drafting()) { banner.hidden = false; return; }
    location.reload();
  }
  var timer = null;
  Orc.onHub("intervention", function () { clearTimeout(timer); timer = setTimeout(onChange, 300); });
  document.getElementById("reload-items").addEventListener("click", function () { location.reload(); });
})();
