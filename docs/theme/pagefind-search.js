// Search with Pagefind, the book's one search index per edition (pagefind/,
// written by the pagefind backend of book.toml). Pagefind splits Chinese
// text into words, so 粘包 and 半连接队列 are found; mdBook's own search
// (elasticlunr) does not segment Chinese.
//
// book.toml keeps mdBook's search button and bar but neither its scripts nor
// its index (copy-js = false), so this script opens and closes the bar: the
// button, S or / to open, Esc to close. Pagefind's UI (140 kB) is loaded the
// first time the bar opens, not with every page. Where Pagefind is not
// installed, docs/build.sh and `make docs-serve` copy mdBook's search back
// (elasticlunr is then defined) and this script leaves it alone.
(() => {
  const wrapper = document.getElementById('mdbook-search-wrapper');
  const toggle = document.getElementById('mdbook-search-toggle');
  if (!wrapper || !toggle || typeof elasticlunr !== 'undefined') return;
  const zh = document.documentElement.lang === 'zh-CN';
  const root = new URL(typeof path_to_root === 'string' ? path_to_root || './' : './', location.href);
  const bundle = new URL('pagefind/', root).href;
  const box = document.createElement('div');
  box.id = 'pagefind-search';
  wrapper.prepend(box);
  document.documentElement.classList.add('pagefind-search');

  const input = () => box.querySelector('input');
  const say = (en, cn) => {
    box.textContent = zh ? cn : en;
    box.classList.add('pagefind-unavailable');
  };
  let loading = null;
  const load = () => {
    if (loading) return loading;
    loading = new Promise((resolve) => {
      if (location.protocol === 'file:') {
        // Browsers refuse Pagefind's module import from file://.
        say('Search needs the book served over HTTP: python3 -m http.server -d docs/book/html',
          '搜索需要通过 HTTP 打开本书：python3 -m http.server -d docs/book/html');
        return resolve();
      }
      const script = document.createElement('script');
      script.src = bundle + 'pagefind-ui.js';
      script.onerror = () => {
        say('This build has no search index (install Pagefind: npm ci --prefix docs, then make docs).',
          '本次构建没有搜索索引（安装 Pagefind：npm ci --prefix docs，再运行 make docs）。');
        resolve();
      };
      script.onload = () => {
        const css = document.createElement('link');
        css.rel = 'stylesheet';
        css.href = bundle + 'pagefind-ui.css';
        document.head.appendChild(css);
        new PagefindUI({
          element: '#pagefind-search',
          bundlePath: bundle,
          baseUrl: root.pathname,
          showImages: false,
          showSubResults: true,
          // Each edition has its own index (docs/build.sh); Pagefind's own
          // labels follow <html lang>.
          translations: {
            placeholder: zh ? '搜索本书（中文或英文）…' : 'Search this book (English or 中文) …',
          },
        });
        resolve();
      };
      document.head.appendChild(script);
    });
    return loading;
  };

  const show = (yes) => {
    wrapper.classList.toggle('hidden', !yes);
    toggle.setAttribute('aria-expanded', String(yes));
    if (!yes) return;
    window.scrollTo(0, 0);
    load().then(() => {
      const el = input();
      if (el && !wrapper.classList.contains('hidden')) el.focus();
    });
  };
  toggle.addEventListener('click', () => show(wrapper.classList.contains('hidden')));
  document.addEventListener('keydown', (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const typing = /^(?:input|select|textarea)$/i.test(e.target.nodeName);
    if (e.key === 'Escape' && !wrapper.classList.contains('hidden')) {
      e.preventDefault();
      show(false);
    } else if (!typing && (e.key === 's' || e.key === '/')) {
      e.preventDefault();
      show(true);
    }
  });
})();
