// Tumour board: the little JavaScript the app needs. No inline handlers anywhere (CSP).
"use strict";

// An expired session inside an htmx request: go to the login page instead of swapping it in.
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr && xhr.status === 401) {
    event.detail.shouldSwap = false;
    window.location.assign(xhr.getResponseHeader("X-Login-Url") || "/login/");
  }
  // Conflicts and validation errors come back with their own message: show it in place.
  if (xhr && (xhr.status === 409 || xhr.status === 422 || xhr.status === 400)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// Move keyboard focus to the newly swapped card so the walk works without a mouse.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.target;
  if (!target) return;
  const focusable = target.querySelector("[data-autofocus]");
  if (focusable) focusable.focus();
});
