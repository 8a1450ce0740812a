"""Scripts run in the page that find what a reader cannot see whole: elements that stick out of the
window, and chart labels that Plotly cuts at the chart's edge or draws under the chart's key."""

from __future__ import annotations

# Elements wider than the window that no ancestor lets the user scroll to: cut off for good.
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const scrollsSideways = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX;
      if ((overflow === "auto" || overflow === "scroll") && p.scrollWidth > p.clientWidth) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("[data-testid='stMain'] *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
    if (box.left >= -1 && box.right <= width + 1) continue;  // inside the window
    if (box.right <= 0 || box.left >= width) continue;  // wholly outside: kept off screen on purpose (tooltips)
    if (scrollsSideways(el) || el.closest("[data-testid='stProgress']")) continue;  // a bar's fill slides in its track
    if (el.closest(".draglayer") || el.classList.contains("drag")) continue;  // Plotly's invisible drag handles
    const owner = el.closest("[data-testid]");
    out.push(`${owner ? owner.getAttribute("data-testid") : ""} ${el.tagName}.${el.className.baseVal ?? el.className} ${Math.round(box.left)}..${Math.round(box.right)}: ${(el.textContent || "").slice(0, 40)}`);
  }
  return out;
}"""

# Every chart's titles, axis tick labels (also rotated ones and a radar's) and key entries: each must
# lie inside its chart's svg box, and no axis label may sit under the key. Returns how many labels
# were looked at (so a page whose charts were not drawn yet cannot pass) and the faulty ones.
CUT_LABELS = """() => {
  const inside = (b, f) => b.left >= f.left - 1 && b.right <= f.right + 1 && b.top >= f.top - 1 && b.bottom <= f.bottom + 1;
  const meets = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const labels = ".gtitle, .g-xtitle text, .g-ytitle text, .g-y2title text, .xtick text, .ytick text, "
    + ".x2tick text, .y2tick text, .angularaxistick text, .legendtext";
  let checked = 0;
  const out = [];
  for (const plot of document.querySelectorAll("[data-testid='stMain'] .js-plotly-plot")) {
    const svg = plot.querySelector("svg.main-svg");
    if (!svg) continue;
    const frame = svg.getBoundingClientRect();
    const key = plot.querySelector(".legend .bg");
    const keyBox = key ? key.getBoundingClientRect() : null;
    for (const label of plot.querySelectorAll(labels)) {
      const box = label.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      checked += 1;
      const text = (label.textContent || "").slice(0, 40);
      if (!inside(box, frame)) {
        out.push(`cut at the chart's edge: ${text} (${Math.round(box.left - frame.left)}..${Math.round(box.right - frame.left)} of ${Math.round(frame.width)})`);
      } else if (keyBox && !label.classList.contains("legendtext") && meets(box, keyBox)) {
        out.push(`under the chart's key: ${text}`);
      }
    }
  }
  return {checked, out};
}"""
