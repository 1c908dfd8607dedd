// The blank application form: print it (A4; the page's chrome is hidden when printing).
"use strict";

document.getElementById("print-form")?.addEventListener("click", () => window.print());
