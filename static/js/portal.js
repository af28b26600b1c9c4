// Small screens: a data table wider than its place scrolls within itself (portal.css); this
// puts a note above each such table saying so, and takes it away when the table fits again.
(function () {
  function mark() {
    document.querySelectorAll("table.data, .table-scroll").forEach(function (box) {
      if (box.matches("table.data") && box.closest(".table-scroll")) return; // its wrapper is marked
      var wide = box.scrollWidth > box.clientWidth + 1;
      var note = box.previousElementSibling;
      if (!note || !note.classList.contains("scroll-note")) {
        if (!wide) return;
        note = document.createElement("p");
        note.className = "scroll-note";
        note.textContent = "This table is wider than the screen: scroll it sideways.";
        box.parentNode.insertBefore(note, box);
      }
      note.classList.toggle("shown", wide);
      if (wide) box.tabIndex = 0; // a region that scrolls is reached by keyboard too
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();

// Buttons that open or close every <details> of a region (the OKR tree's "Expand all").
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-details]");
  if (!button) return;
  var open = button.getAttribute("data-details") === "open";
  document.querySelectorAll(button.getAttribute("data-details-in") + " details").forEach(function (details) {
    details.open = open;
  });
});
