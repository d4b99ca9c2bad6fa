// Renders the book's mermaid diagrams with mermaid's browser bundle
// (theme/mermaid.min.js, vendored from the mdbook-mermaid release pinned in
// scripts/install-tools.sh), which is loaded only on a page that has a
// diagram: at 2.6 MB it is most of a page's weight. The bundle is not one of
// book.toml's additional-js (mdBook would put it on every page); the
// mermaid-bundle backend (docs/mermaid-bundle.sh) copies it to
// theme/mermaid.min.js beside the pages, and this script adds it to the page
// when the page holds a <pre class="mermaid"> (what mdbook-mermaid makes of a
// ```mermaid block).
//
// Readability rule: mermaid scales a diagram down to the column's width, so a
// wide diagram gets tiny text. A diagram may shrink to 75% of its natural
// size at most (16 px text becomes 12 px); below that its box scrolls
// sideways instead (on a phone), with a fade at the cut edge
// (scroll-cue.js). At 1280 px every diagram of the book fits its column;
// docs/browser/test_book.py checks both.
//
// When done, <html data-mermaid="done"> ("error", or "none" on a page with
// no diagram) tells the browser test that rendering is over;
// window.mermaidErrors holds any error messages. The event
// "book:diagrams-drawn" on document tells scroll-cue.js that the diagrams'
// widths changed.
(() => {
  const html = document.documentElement;
  window.mermaidErrors = [];
  const finish = (state) => {
    html.dataset.mermaid = state;
    document.dispatchEvent(new Event('book:diagrams-drawn'));
  };
  if (!document.querySelector('pre.mermaid')) {
    finish('none');
    return;
  }

  const dark = ['ayu', 'navy', 'coal'];
  const isDark = () => dark.some((t) => html.classList.contains(t));
  const startedDark = isDark();

  const limitShrink = () => {
    for (const svg of document.querySelectorAll('.mermaid svg')) {
      const natural = svg.viewBox && svg.viewBox.baseVal ? svg.viewBox.baseVal.width : 0;
      if (natural > 0) svg.style.minWidth = Math.round(natural * 0.75) + 'px';
    }
  };

  const draw = () => {
    mermaid.initialize({ startOnLoad: false, theme: startedDark ? 'dark' : 'default', securityLevel: 'strict' });
    mermaid
      .run({ querySelector: '.mermaid' })
      .catch((err) => window.mermaidErrors.push(String((err && err.message) || err)))
      .finally(() => {
        limitShrink();
        finish(window.mermaidErrors.length ? 'error' : 'done');
      });
  };

  // path_to_root is set by mdBook's page template ("" or "../").
  const root = new URL(typeof path_to_root === 'string' ? path_to_root || './' : './', location.href);
  const script = document.createElement('script');
  script.src = new URL('theme/mermaid.min.js', root).href;
  script.onload = draw;
  script.onerror = () => {
    window.mermaidErrors.push('cannot load ' + script.src + ' (docs/mermaid-bundle.sh copies it into the book)');
    finish('error');
  };
  document.head.appendChild(script);

  // Mermaid draws in the colours of the theme it started with: after a switch
  // between a light and a dark theme, reload the page to redraw.
  new MutationObserver(() => {
    if (isDark() !== startedDark) location.reload();
  }).observe(html, { attributes: true, attributeFilter: ['class'] });
})();
