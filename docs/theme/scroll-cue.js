// Shows that a box scrolls sideways: a code block, a table or a diagram too
// wide for the column gets a fade at each edge where it cuts its content off
// (theme/custom.css, .scroll-cue-start / .scroll-cue-end), so a reader on a
// phone, where scroll bars are hidden, sees that there is more. A box that
// fits gets no fade, and the fade follows the box as it is scrolled.
//
// The boxes are measured when the page is laid out, when the web fonts have
// loaded (they change a code block's width), when a box changes size (a
// rotated phone), and when mermaid-init.js has drawn the diagrams
// ("book:diagrams-drawn"). When the first measure after the fonts is done,
// <html data-scroll-cue="ready"> tells the browser test.
(() => {
  const selector = 'main pre > code, main table, main pre.mermaid';
  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
    for (const e of entries) mark(e.target);
  }) : null;
  const watched = new WeakSet();

  function mark(box) {
    const overflow = box.scrollWidth - box.clientWidth;
    const scrolls = overflow > 1;
    // scrollLeft is fractional on zoomed screens: a pixel of slack.
    box.classList.toggle('scroll-cue-start', scrolls && box.scrollLeft > 1);
    box.classList.toggle('scroll-cue-end', scrolls && box.scrollLeft < overflow - 1);
    if (scrolls && !box.hasAttribute('tabindex')) {
      // A box that scrolls can be scrolled with the keyboard too.
      box.tabIndex = 0;
    }
  }

  function markAll() {
    for (const box of document.querySelectorAll(selector)) {
      if (!watched.has(box)) {
        watched.add(box);
        box.addEventListener('scroll', () => mark(box), { passive: true });
        if (observer) observer.observe(box);
      }
      mark(box);
    }
  }

  markAll();
  document.addEventListener('book:diagrams-drawn', markAll);
  window.addEventListener('load', markAll);
  window.addEventListener('resize', markAll);
  const ready = () => {
    markAll();
    document.documentElement.dataset.scrollCue = 'ready';
  };
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(ready, ready);
  else ready();
})();
