// patchwarden web console: the little script the pages need (no inline scripts: the page
// policy forbids them). Everything works without it; it only adds conveniences.
"use strict";
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box && box.id === "select-all") {
    var form = box.form || box.closest("form");
    if (!form) return;
    form.querySelectorAll('input[name="record_id"]').forEach(function (item) {
      item.checked = box.checked;
    });
  }
});
