// Printable pages of the request desk (the blank application form, the hand-over record):
// print them on A4 (the page's chrome is hidden when printing).
"use strict";

for (const button of document.querySelectorAll("#print-form, [data-print]")) {
  button.addEventListener("click", () => window.print());
}
