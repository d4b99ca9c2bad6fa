// The language switch in the menu bar: every page links to the same page and
// section in the other edition. The English book is at the site's root, the
// Chinese one in zh-CN/ below it (docs/build.sh), with the same file names,
// so
//   /X.html#id  <->  /zh-CN/X.html#id
// (under any base path, e.g. a GitHub Pages project path). Both editions
// give a heading the same id (po_heading_ids.py keeps the English id on each
// translated heading), so the section carries over. The page's edition is
// its <html lang>, which mdBook writes from book.language.
//
// The section is location.hash when its heading is on screen (the reader
// followed a link to it), else the heading the reader has scrolled to; the
// link is kept current as the reader scrolls, so that a copied or
// middle-clicked link is right too.
(() => {
  const bar = document.querySelector('#mdbook-menu-bar .right-buttons');
  if (!bar || typeof path_to_root !== 'string') return;
  const zh = document.documentElement.lang === 'zh-CN';
  // This edition's root, and the page's path below it (X.html, ch07-bench/Y.html).
  const root = new URL(path_to_root || './', location.href);
  const here = location.href.split('#')[0].split('?')[0];
  const page = here.startsWith(root.href) ? here.slice(root.href.length) : '';
  const other = new URL(page, zh ? new URL('../', root) : new URL('zh-CN/', root)).href;

  const link = document.createElement('a');
  link.id = 'language-switch';
  link.hreflang = zh ? 'en' : 'zh-CN';
  link.lang = link.hreflang;
  link.textContent = zh ? 'English' : '中文';
  link.title = zh ? 'Read this page in English' : '阅读本页的中文版';
  link.setAttribute('aria-label', link.title);
  bar.prepend(link);

  const headings = () => document.querySelectorAll('main h2[id], main h3[id], main h4[id], main h5[id], main h6[id]');
  // The menu bar covers the top of the window.
  const top = () => {
    const menu = document.getElementById('mdbook-menu-bar');
    return menu ? menu.getBoundingClientRect().bottom : 0;
  };
  const section = () => {
    const target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (target) {
      const r = target.getBoundingClientRect();
      if (r.bottom > top() && r.top < window.innerHeight) return target.id;
    }
    let current = '';
    for (const h of headings()) {
      if (h.getBoundingClientRect().top > top() + 8) break;
      current = h.id;
    }
    return current;
  };
  const update = () => {
    const id = section();
    link.href = other + (id ? '#' + encodeURIComponent(id) : '');
  };
  update();
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      update();
    });
  };
  window.addEventListener('hashchange', update);
  window.addEventListener('scroll', later, { passive: true });
  window.addEventListener('load', update);
  // Right before the link is followed, whatever moved since.
  link.addEventListener('pointerdown', update);
  link.addEventListener('focus', update);
  link.addEventListener('click', update);
})();
