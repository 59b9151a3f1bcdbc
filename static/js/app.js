// Tumour board: the little JavaScript the app needs. No inline handlers anywhere (CSP).
"use strict";

// Conflicts and validation errors come back with their own message: show it in place.
// (An ended session is handled on the server: htmx is told to load the sign-in page whole.)
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr && (xhr.status === 409 || xhr.status === 422 || xhr.status === 400)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// A refused or failed request must never pass silently: say so in the page's alert strip.
function showProblem(text) {
  const strip = document.getElementById("htmx-problem");
  if (!strip) return;
  strip.textContent = text;
  strip.hidden = false;
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (status === 403) {
    showProblem("Your role may not do that. Nothing was changed.");
  } else if (status >= 500) {
    showProblem("Something went wrong on the server. Nothing was changed; please try again.");
  }
});
document.addEventListener("htmx:sendError", () => {
  showProblem("The server could not be reached. Nothing was changed; check the connection.");
});

// Move keyboard focus to the newly swapped card so the walk works without a mouse.
document.addEventListener("htmx:afterSettle", (event) => {
  let target = event.detail.target;
  if (!target) return;
  // After an outerHTML swap the target is the element that was replaced: use the new one.
  if (!target.isConnected && target.id) target = document.getElementById(target.id);
  if (!target) return;
  // Someone who already moved into the new content keeps their place.
  if (target.contains(document.activeElement)) return;
  const focusable = target.querySelector("[data-autofocus]");
  if (focusable) focusable.focus();
});

// A case opened in the meeting shows its patient header first: the open card's first control
// takes keyboard focus without scrolling the page (an autofocus attribute would jump to it).
document.addEventListener("DOMContentLoaded", () => {
  const open = document.querySelector(".decision-open [data-autofocus]");
  if (open && document.activeElement === document.body) open.focus({ preventScroll: true });
});
