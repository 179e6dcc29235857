// Every screen: after an htmx action a person took, move the keyboard focus to what changed, so a keyboard or
// screen-reader user lands on the result rather than on the page's body. An element marked data-focus-here in
// the swapped content wins; else the swapped element itself, made focusable for the moment. Swaps nobody asked for
// (polling, loading on arrival) leave the focus where it is. No inline script (Content-Security-Policy).
document.addEventListener("htmx:afterSettle", function (event) {
  var config = event.detail.requestConfig || {};
  var source = config.elt;
  var trigger = source && source.getAttribute && (source.getAttribute("hx-trigger") || "");
  if (/\b(every|load|sse)\b/.test(trigger || "")) return;
  var target = event.detail.elt;
  if (!target || !target.isConnected) target = document.querySelector("main");
  if (!target) return;
  var chosen = target.matches("[data-focus-here]") ? target : target.querySelector("[data-focus-here]") || target;
  if (!chosen.hasAttribute("tabindex") && !chosen.matches("a, button, input, select, textarea")) {
    chosen.setAttribute("tabindex", "-1");
  }
  chosen.focus();
});
