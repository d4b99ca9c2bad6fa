// Renders the book's mermaid diagrams (mermaid.min.js, vendored from the
// mdbook-mermaid release pinned in scripts/install-tools.sh).
//
// Readability rule: mermaid scales a diagram down to the column's width, so a
// wide diagram gets tiny text. A diagram may shrink to 75% of its natural
// size at most (16 px text becomes 12 px); below that its box scrolls
// sideways instead (on a phone). At 1280 px every diagram of the book fits
// its column; docs/browser/test_book.py checks both.
//
// When done, <html data-mermaid="done"> (or "error") tells the browser test
// that rendering is over; window.mermaidErrors holds any error messages.
(() => {
  const dark = ['ayu', 'navy', 'coal'];
  const html = document.documentElement;
  const isDark = () => dark.some((t) => html.classList.contains(t));
  const startedDark = isDark();

  window.mermaidErrors = [];
  mermaid.initialize({ startOnLoad: false, theme: startedDark ? 'dark' : 'default', securityLevel: 'strict' });

  const limitShrink = () => {
    for (const svg of document.querySelectorAll('.mermaid svg')) {
      const natural = svg.viewBox && svg.viewBox.baseVal ? svg.viewBox.baseVal.width : 0;
      if (natural > 0) svg.style.minWidth = Math.round(natural * 0.75) + 'px';
    }
  };

  mermaid
    .run({ querySelector: '.mermaid' })
    .catch((err) => window.mermaidErrors.push(String((err && err.message) || err)))
    .finally(() => {
      limitShrink();
      html.dataset.mermaid = window.mermaidErrors.length ? 'error' : 'done';
    });

  // Mermaid draws in the colours of the theme it started with: after a switch
  // between a light and a dark theme, reload the page to redraw.
  new MutationObserver(() => {
    if (isDark() !== startedDark) location.reload();
  }).observe(html, { attributes: true, attributeFilter: ['class'] });
})();
