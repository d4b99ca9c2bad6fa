// The language switch in the menu bar: every page links to the same page in
// the other edition. The English book is at the site's root, the Chinese one
// in zh-CN/ below it (docs/build.sh), with the same file names, so
//   /X.html  <->  /zh-CN/X.html
// (under any base path, e.g. a GitHub Pages project path). The page's edition
// is its <html lang>, which mdBook writes from book.language.
(() => {
  const bar = document.querySelector('#mdbook-menu-bar .right-buttons');
  if (!bar || typeof path_to_root !== 'string') return;
  const zh = document.documentElement.lang === 'zh-CN';
  // This edition's root, and the page's path below it (X.html, ch07-bench/Y.html).
  const root = new URL(path_to_root || './', location.href);
  // The heading anchors differ between editions (they come from the heading's
  // text), so the link goes to the top of the page.
  const here = location.href.split('#')[0].split('?')[0];
  const page = here.startsWith(root.href) ? here.slice(root.href.length) : '';
  const other = zh ? new URL('../', root) : new URL('zh-CN/', root);

  const link = document.createElement('a');
  link.id = 'language-switch';
  link.href = new URL(page, other).href;
  link.hreflang = zh ? 'en' : 'zh-CN';
  link.lang = link.hreflang;
  link.textContent = zh ? 'English' : '中文';
  link.title = zh ? 'Read this page in English' : '阅读本页的中文版';
  link.setAttribute('aria-label', link.title);
  bar.prepend(link);
})();
