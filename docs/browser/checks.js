// What docs/browser/test_book.py measures in a page of the built book. The
// test prepends this file to each script it runs in the browser and calls
// one of the functions at the end: inspect(), cueFollows(), switchAfterHash(),
// chart(), figures(). Plain browser JavaScript, no modules.

// The distinct lines a Range is laid out on: its client rects, grouped by
// vertical overlap (a word split over two elements gives two rects on one
// line; a word broken across lines gives rects that do not overlap).
function lineCount(range) {
  const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0.5 && r.height > 0);
  const lines = [];
  for (const r of rects) {
    const mid = (r.top + r.bottom) / 2;
    if (!lines.some((l) => mid > l.top && mid < l.bottom)) lines.push(r);
  }
  return lines.length;
}

// A word: a run of characters that are neither space nor Chinese (Chinese
// text may break between any two characters). Inside a word, text may break
// only after a hyphen, a slash, a bar or a dash that follows a letter or a
// digit: "ch04-py- / selector" is fine, "- / max-size" and "Serv / er" are
// not.
const WORD = /[^\s\u2E80-\u9FFF\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFFEF\u3000-\u303F]+/g;
const BREAK_AFTER = /(?<=[\p{L}\p{N}][-/|\u2010-\u2015])/u;

// The words of an element that are broken across lines, written with the
// break: "Serv / er".
function brokenWords(el) {
  const nodes = [];
  let text = '';
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
  for (let n; (n = walk.nextNode()); ) {
    if (n.nodeType === 3) {
      nodes.push([n, text.length]);
      text += n.data;
    } else if (n.tagName === 'BR') {
      text += '\n';
    }
  }
  // The text node and offset of a position in text (end: the position ends a
  // range, so it may be a node's last offset).
  const at = (pos, end) => {
    for (const [n, start] of nodes) {
      const stop = start + n.data.length;
      if (end ? pos > start && pos <= stop : pos >= start && pos < stop) return [n, pos - start];
    }
    return null;
  };
  const range = (s, e) => {
    const [a, b] = [at(s, false), at(e, true)];
    const r = document.createRange();
    r.setStart(a[0], a[1]);
    r.setEnd(b[0], b[1]);
    return r;
  };
  const out = [];
  for (const m of text.matchAll(WORD)) {
    let pos = m.index;
    for (const part of m[0].split(BREAK_AFTER)) {
      if (part.length > 1 && lineCount(range(pos, pos + part.length)) > 1) {
        let k = 1;
        while (k < part.length && lineCount(range(pos, pos + k + 1)) === 1) k++;
        out.push(part.slice(0, k) + ' / ' + part.slice(k));
      }
      pos += part.length;
    }
  }
  return out;
}

// A colour as [r, g, b, a] (0-255, a 0-1), whatever CSS syntax it came in.
function rgba(css) {
  const c = document.createElement('canvas');
  c.width = c.height = 1;
  const ctx = c.getContext('2d');
  ctx.fillStyle = css;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}

// WCAG 2 relative luminance.
function luminance([r, g, b]) {
  const f = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

// WCAG contrast of an element's text against the page, its opacity counted.
function contrast(el) {
  const bg = rgba(getComputedStyle(document.documentElement).backgroundColor);
  const fg = rgba(getComputedStyle(el).color);
  let alpha = fg[3];
  for (let e = el; e && e !== document.documentElement; e = e.parentElement) {
    alpha *= parseFloat(getComputedStyle(e).opacity);
  }
  const mix = [0, 1, 2].map((i) => fg[i] * alpha + bg[i] * (1 - alpha));
  const [a, b] = [luminance(mix), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

// Whether an element holds text of its own (not only its children's).
function ownText(el) {
  return Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
}

const short = (s, n) => s.trim().replace(/\s+/g, ' ').slice(0, n);

// Byte-field figures: each fits the column, no label overflows its box or
// breaks inside a word, and no text is under minPx.
function figureProblems(figures, minPx) {
  const out = [];
  const main = document.querySelector('main').getBoundingClientRect();
  figures.forEach((fig, i) => {
    const name = `bytefield ${i + 1} (${short((fig.querySelector('figcaption') || fig).textContent, 30)})`;
    const r = fig.getBoundingClientRect();
    if (r.right > main.right + 1 || fig.scrollWidth > fig.clientWidth + 1) {
      out.push(`${name}: wider than the column (${Math.round(r.width)} px)`);
    }
    for (const li of fig.querySelectorAll('li')) {
      if (li.getBoundingClientRect().right > r.right + 1) {
        out.push(`${name}: field "${short(li.textContent, 30)}" sticks out of the figure`);
      }
      const box = li.querySelector('.bf-box');
      if (box && box.scrollWidth > box.clientWidth + 1) {
        out.push(`${name}: label "${short(box.textContent, 30)}" overflows its box`);
      }
    }
    for (const el of fig.querySelectorAll('*')) {
      if (!ownText(el)) continue;
      const px = parseFloat(getComputedStyle(el).fontSize);
      if (px < minPx - 0.05) out.push(`${name}: "${short(el.textContent, 30)}" is ${px.toFixed(1)} px; want >= ${minPx}`);
    }
    for (const el of fig.querySelectorAll('.bf-label, figcaption')) {
      for (const w of brokenWords(el)) out.push(`${name}: "${w}" breaks inside a word`);
    }
  });
  return out;
}

// Everything test_page asserts on, collected from the page as it is drawn.
function inspect(minFigurePx) {
  const html = document.documentElement;
  const main = document.querySelector('main');
  const out = {
    mermaid: html.dataset.mermaid,
    errors: window.mermaidErrors || [],
    diagrams: [],
    overflow: [],
    images: [],
    pageScrollWidth: html.scrollWidth,
    pageWidth: html.clientWidth,
  };

  // Diagrams. The text of an SVG is drawn at its computed font-size in SVG
  // units, and the SVG is scaled by (rendered width / viewBox width).
  document.querySelectorAll('pre.mermaid').forEach((pre, i) => {
    const svg = pre.querySelector('svg');
    const d = { index: i + 1, svg: !!svg, error: false, minFont: null, minText: '', scale: null, fits: true };
    out.diagrams.push(d);
    if (!svg) return;
    d.error = svg.getAttribute('aria-roledescription') === 'error' || /Syntax error/.test(svg.textContent);
    const vb = svg.viewBox && svg.viewBox.baseVal;
    const rect = svg.getBoundingClientRect();
    d.scale = vb && vb.width ? rect.width / vb.width : 1;
    d.fits = rect.width <= pre.clientWidth + 1;
    for (const el of svg.querySelectorAll('text, tspan, foreignObject *')) {
      if (!ownText(el)) continue;
      const px = parseFloat(getComputedStyle(el).fontSize) * d.scale;
      if (d.minFont === null || px < d.minFont) {
        d.minFont = px;
        d.minText = short(el.textContent, 40);
      }
    }
  });

  // Mermaid's bundle, if the page loaded it (not mermaid-init.js).
  out.hasDiagram = !!document.querySelector('pre.mermaid');
  out.mermaidBundle = performance
    .getEntriesByType('resource')
    .map((e) => e.name)
    .filter((n) => /\/mermaid[^/]*\.js$/.test(new URL(n).pathname) && !/mermaid-init/.test(n));
  if (typeof window.mermaid !== 'undefined' && !out.mermaidBundle.length) out.mermaidBundle.push('window.mermaid');

  // Anything in the page that has to scroll sideways, other than a code block.
  for (const el of main.querySelectorAll('*')) {
    if (el.scrollWidth <= el.clientWidth + 1) continue;
    const st = getComputedStyle(el);
    if (st.overflowX === 'visible' && el.tagName !== 'TABLE') continue;
    if (el.closest('pre') && !el.closest('pre.mermaid')) continue;
    const cls = el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '';
    out.overflow.push(`${el.tagName.toLowerCase()}${cls} ${el.scrollWidth}>${el.clientWidth}: ${short(el.textContent, 50)}`);
  }

  // A box that scrolls sideways shows it (a fade at the cut edge); a box
  // that fits does not.
  out.cues = [];
  main.querySelectorAll('pre > code, table, pre.mermaid').forEach((box) => {
    const st = getComputedStyle(box);
    const scrolls = box.scrollWidth > box.clientWidth + 1 && (st.overflowX === 'auto' || st.overflowX === 'scroll');
    const mask = st.maskImage && st.maskImage !== 'none' ? st.maskImage : st.webkitMaskImage;
    const fades = !!mask && mask !== 'none';
    const kind = { CODE: 'code block', TABLE: 'table' }[box.tagName] || 'diagram';
    const name = `${kind} "${short(box.textContent, 40)}"`;
    if (scrolls && box.scrollLeft < 1 && !fades) {
      out.cues.push(`${name} scrolls sideways (${box.scrollWidth} > ${box.clientWidth} px) with no cue at its cut edge`);
    }
    if (!scrolls && fades) out.cues.push(`${name} fits, yet fades at its edge`);
  });

  // Code, every highlighted token included, in a monospace font: ten i's as
  // wide as ten M's in the element's own computed font.
  out.fonts = [];
  const canvas = document.createElement('canvas').getContext('2d');
  const seen = new Set();
  for (const el of main.querySelectorAll('code, code *')) {
    if (!ownText(el)) continue;
    const st = getComputedStyle(el);
    const key = [el.tagName, el.className, st.fontFamily, st.fontWeight, st.fontStyle].join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    canvas.font = `${st.fontStyle} ${st.fontWeight} ${st.fontSize} ${st.fontFamily}`;
    const i = canvas.measureText('iiiiiiiiii').width;
    const m = canvas.measureText('MMMMMMMMMM').width;
    if (Math.abs(i - m) > 0.02 * m) {
      const cls = el.className ? '.' + String(el.className).split(' ')[0] : '';
      out.fonts.push(
        `${el.tagName.toLowerCase()}${cls} "${short(el.textContent, 30)}" is in a proportional font ` +
          `(${st.fontFamily.slice(0, 60)}): ten i ${i.toFixed(1)} px, ten M ${m.toFixed(1)} px`,
      );
    }
  }

  // Table cells: no word broken across lines.
  out.cells = [];
  for (const cell of main.querySelectorAll('table td, table th')) {
    for (const w of brokenWords(cell)) out.cells.push(`"${w}" (cell "${short(cell.textContent, 40)}")`);
  }

  // The label under the title, beside the page's first paragraph of text.
  const h1 = main.querySelector('h1');
  const meta = main.querySelector('.page-meta');
  const para = Array.from(main.querySelectorAll('p')).find(
    (p) => !p.closest('.page-meta, table, blockquote, figure') && p.textContent.trim(),
  );
  out.meta = meta && {
    text: short(meta.textContent, 200),
    afterTitle: !!h1 && h1.nextElementSibling === meta,
    px: parseFloat(getComputedStyle(meta).fontSize),
    textPx: para ? parseFloat(getComputedStyle(para).fontSize) : 16,
    contrast: contrast(meta),
    textContrast: para ? contrast(para) : 21,
  };

  out.figures = figureProblems(Array.from(main.querySelectorAll('figure.bytefield')), minFigurePx);
  const sw = document.getElementById('language-switch');
  out.lang = html.lang;
  out.languageSwitch = sw ? sw.href : null;
  out.fontFamily = getComputedStyle(document.querySelector('main p') || document.body).fontFamily;
  out.diagramText = Array.from(document.querySelectorAll('pre.mermaid svg'))
    .map((svg) => svg.textContent)
    .join(' ');
  out.headingIds = Array.from(main.querySelectorAll('h2[id], h3[id]')).map((h) => h.id);
  for (const img of document.images) {
    out.images.push({ src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0 });
  }
  return out;
}

const frames = (n) =>
  new Promise((resolve) => {
    const step = (k) => (k ? requestAnimationFrame(() => step(k - 1)) : resolve());
    step(n);
  });

// Scrolls the first box that scrolls sideways to its end: its fade must move
// from the end to the start.
async function cueFollows() {
  const box = Array.from(document.querySelectorAll('main pre > code, main table, main pre.mermaid')).find(
    (b) => b.scrollWidth > b.clientWidth + 1,
  );
  if (!box) return null;
  const before = box.className;
  box.scrollLeft = box.scrollWidth;
  await frames(2);
  const after = box.className;
  box.scrollLeft = 0;
  return { before, after, text: short(box.textContent, 40) };
}

// Moves to a section (location.hash), then reads the language switch.
async function switchAfterHash(id) {
  const moved = new Promise((resolve) => window.addEventListener('hashchange', resolve, { once: true }));
  location.hash = id;
  await moved;
  await frames(1);
  const sw = document.getElementById('language-switch');
  return sw ? sw.href : null;
}

// Loads an SVG image in a frame of the size the page gives it and measures
// its text there: a standalone SVG document, drawn as the <img> draws it
// (with its own fonts, not the page's), scaled to the frame. For each text:
// its size on screen, and how far it sticks out of the viewBox.
async function chart(src) {
  const img = Array.from(document.querySelectorAll('main img')).find((i) => i.getAttribute('src') === src);
  if (!img) return { error: `no <img src="${src}"> in main` };
  img.scrollIntoView();
  const r = img.getBoundingClientRect();
  const frame = document.createElement('iframe');
  frame.style.cssText = `position:absolute;left:-10000px;top:0;border:0;width:${r.width}px;height:${r.height}px`;
  const loaded = new Promise((resolve, reject) => {
    frame.onload = resolve;
    frame.onerror = reject;
  });
  frame.src = img.currentSrc || img.src;
  document.body.appendChild(frame);
  try {
    await loaded;
  } catch {
    return { error: `cannot load ${src}` };
  }
  const doc = frame.contentDocument;
  const svg = doc.documentElement;
  svg.setAttribute('width', '100%');
  svg.setAttribute('height', '100%');
  await frames(1);
  const vb = svg.viewBox.baseVal;
  const probe = doc.createElementNS('http://www.w3.org/2000/svg', 'rect');
  for (const [k, v] of Object.entries({ x: vb.x, y: vb.y, width: vb.width, height: vb.height })) {
    probe.setAttribute(k, v);
  }
  svg.appendChild(probe);
  const box = probe.getBoundingClientRect();
  probe.remove();
  const texts = [];
  for (const t of doc.querySelectorAll('text, tspan')) {
    if (!ownText(t)) continue;
    const m = t.getScreenCTM();
    const size = parseFloat(doc.defaultView.getComputedStyle(t).fontSize);
    const b = t.getBoundingClientRect();
    const past = { left: box.left - b.left, right: b.right - box.right, top: box.top - b.top, bottom: b.bottom - box.bottom };
    const side = Object.keys(past).reduce((x, y) => (past[y] > past[x] ? y : x));
    texts.push({ text: short(t.textContent, 40), size, px: size * Math.hypot(m.a, m.b), outside: past[side], side });
  }
  frame.remove();
  return { width: r.width, scale: box.width / vb.width, texts };
}

// Puts byte-field figures (HTML from scripts/mdbook-course) at the top of
// the page's text and checks them; rows: how many rows the first one takes.
function figures(htmlText, minPx) {
  const main = document.querySelector('main');
  main.insertAdjacentHTML('afterbegin', htmlText);
  const figs = Array.from(main.querySelectorAll('figure.bytefield'));
  const tops = new Set(Array.from(figs[0].querySelectorAll('li')).map((li) => Math.round(li.getBoundingClientRect().top)));
  return { problems: figureProblems(figs, minPx), rows: tops.size };
}
