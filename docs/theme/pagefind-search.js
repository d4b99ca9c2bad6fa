// Search with Pagefind when the built book has its index (pagefind/, written
// by the pagefind backend of book.toml, that is by `mdbook build docs` once
// scripts/install-tools.sh has installed Pagefind). Pagefind splits Chinese
// text into words, so 粘包 and 半连接队列 are found; mdBook's own search
// (elasticlunr) does not segment Chinese.
//
// Without an index (`mdbook serve`, which runs only the HTML backend) or from
// file:// (browsers refuse the module import there), mdBook's own search
// stays in place: English terms only.
(() => {
  const wrapper = document.getElementById('mdbook-search-wrapper');
  if (!wrapper || location.protocol === 'file:') return;
  const root = new URL(typeof path_to_root === 'string' ? path_to_root || './' : './', location.href);
  const bundle = new URL('pagefind/', root).href;

  const script = document.createElement('script');
  script.src = bundle + 'pagefind-ui.js';
  script.onerror = () => script.remove(); // no index: keep mdBook's search
  script.onload = () => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = bundle + 'pagefind-ui.css';
    document.head.appendChild(css);

    const box = document.createElement('div');
    box.id = 'pagefind-search';
    wrapper.prepend(box);
    document.documentElement.classList.add('pagefind-search');
    new PagefindUI({
      element: '#pagefind-search',
      bundlePath: bundle,
      baseUrl: root.pathname,
      showImages: false,
      showSubResults: true,
      // Each edition has its own index (docs/build.sh); Pagefind's own
      // labels follow <html lang>.
      translations: {
        placeholder:
          document.documentElement.lang === 'zh-CN'
            ? '搜索本书（中文或英文）…'
            : 'Search this book (English or 中文) …',
      },
    });

    // mdBook's toggle (button, S or /) shows the wrapper: focus our input.
    new MutationObserver(() => {
      if (!wrapper.classList.contains('hidden')) {
        const input = box.querySelector('input');
        if (input) input.focus();
      }
    }).observe(wrapper, { attributes: true, attributeFilter: ['class'] });
  };
  document.head.appendChild(script);
})();
