// app.js: the unfold feature browser. Draws every page of `unfold serve` (data from the JSON API under /api/)
// and of `unfold features html` (data embedded in the page, opened from disk). Plain DOM, no library.
// Text from the database or the user only ever reaches the page through textContent / attribute values, never
// as markup, so corpus text such as <script> shows as text.
(function () {
  'use strict';

  const body = document.body;
  const MODE = body.dataset.mode || 'server';  // 'server' | 'static'
  const ROOT = body.dataset.root === undefined ? '/' : body.dataset.root;
  const PAGE = body.dataset.page || 'list';
  const DATA = (function () {
    const e = document.getElementById('unfold-data');
    return e ? JSON.parse(e.textContent) : null;
  })();
  const VOCAB = window.UNFOLD_VOCAB || null;
  const EXPORTED = DATA && DATA.exported ? new Set(DATA.exported) : null;

  // ---- DOM helpers ----------------------------------------------------------------------------------------
  function h(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) setAttrs(e, attrs);
    for (let i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) setAttrs(e, attrs);
    for (let i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function setAttrs(e, attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'text') e.textContent = v;
      else if (k === 'style') for (const p in v) e.style[p] = v[p];
      else if (k === 'dataset') { for (const p in v) if (v[p] !== undefined && v[p] !== null) e.dataset[p] = v[p]; }
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(e, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { append(e, k); }); return; }
    e.appendChild(typeof kid === 'string' || typeof kid === 'number' ? document.createTextNode(String(kid)) : kid);
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  // ---- numbers ----------------------------------------------------------------------------------------------
  function num(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '–';
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(Math.max(0, (digits || 3) - 1));
    return String(Number(v.toPrecision(digits || 3)));
  }
  function density(d) {
    if (!d) return '0';
    if (d >= 1e-3) return Number((d * 100).toPrecision(3)) + '%';
    return d.toExponential(2);
  }
  function int(n) { return Number(n).toLocaleString('en-US'); }

  // ---- links ------------------------------------------------------------------------------------------------
  function featureHref(id) {
    if (MODE === 'static') return EXPORTED && !EXPORTED.has(id) ? null : ROOT + 'feature/' + id + '.html';
    return ROOT + 'feature/' + id;
  }
  function listHref() { return MODE === 'static' ? ROOT + 'index.html' : ROOT; }
  function featureLink(id, text) {
    const href = featureHref(id);
    return href ? h('a', {href: href, class: 'flink'}, text === undefined ? '#' + id : text)
                : h('span', {class: 'flink nolink'}, text === undefined ? '#' + id : text);
  }

  // ---- data -------------------------------------------------------------------------------------------------
  async function api(path, params) {
    const q = params ? '?' + new URLSearchParams(params).toString() : '';
    const r = await fetch(ROOT + 'api/' + path + q, {headers: {Accept: 'application/json'}});
    let j;
    try { j = await r.json(); } catch (e) { throw new Error('HTTP ' + r.status); }
    if (!r.ok) throw new Error(j && j.error ? j.error : 'HTTP ' + r.status);
    return j;
  }
  async function getInfo() {
    if (MODE === 'static') return DATA.info;
    return api('info');
  }
  // a compact context of the static pages -> the API's form (token texts from vocab.js, text joined)
  function expandContext(c) {
    if (c.tokens) return c;
    const toks = c.ids.map(function (i) { return VOCAB && i < VOCAB.length ? VOCAB[i] : '<' + i + '>'; });
    const o = Object.assign({}, c);
    o.tokens = toks;
    o.text = toks.join('');
    return o;
  }

  // ---- tooltip ----------------------------------------------------------------------------------------------
  let tip = null;
  function showTip(target, lines) {
    if (!tip) { tip = h('div', {id: 'tip', role: 'tooltip'}); document.body.appendChild(tip); }
    clear(tip);
    lines.forEach(function (l, i) { tip.appendChild(h('div', {class: i === 0 ? 'tip-head' : 'tip-line'}, l)); });
    tip.style.display = 'block';
    const r = target.getBoundingClientRect();
    const tw = tip.offsetWidth, th = tip.offsetHeight;
    let x = r.left + r.width / 2 - tw / 2 + window.scrollX;
    x = Math.max(window.scrollX + 4, Math.min(x, window.scrollX + document.documentElement.clientWidth - tw - 4));
    let y = r.top + window.scrollY - th - 8;
    if (y < window.scrollY + 2) y = r.bottom + window.scrollY + 8;
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  function hideTip() { if (tip) tip.style.display = 'none'; }
  function withTip(e, linesFn) {
    e.addEventListener('mouseenter', function () { showTip(e, linesFn()); });
    e.addEventListener('mouseleave', hideTip);
    return e;
  }

  // ---- tokens -----------------------------------------------------------------------------------------------
  // a token's text as it reads in a strip: newlines and tabs made visible (spaces kept; the strip is white-space: pre)
  function visible(t) {
    return t.replace(/\n/g, '\u21b5').replace(/\t/g, '\u21e5').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, function (c) {
      return '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0');
    });
  }
  function quoteToken(t) { return '"' + visible(t) + '"'; }
  // background for an activation: orange in proportion to act / scale (blue for negative values)
  function shade(act, scale) {
    if (!act) return '';
    const x = Math.min(1, Math.abs(act) / (scale > 0 ? scale : 1));
    const a = (0.1 + 0.75 * x).toFixed(3);
    return act > 0 ? 'rgba(255, 115, 0, ' + a + ')' : 'rgba(40, 110, 255, ' + a + ')';
  }
  function tokenSpan(text, act, scale, opts) {
    opts = opts || {};
    const cls = 'tok' + (act ? ' on' : '') + (opts.max ? ' max' : '') + (opts.dim ? ' dim' : '');
    const e = h('span', {class: cls, dataset: {act: String(act), token: text}}, visible(text) || '\u2205');
    const bg = shade(act, scale);
    if (bg) e.style.backgroundColor = bg;
    if (opts.onclick) e.addEventListener('click', opts.onclick);
    withTip(e, function () {
      const lines = [quoteToken(text), 'activation ' + num(act, 4)];
      if (opts.extra) opts.extra().forEach(function (l) { lines.push(l); });
      return lines;
    });
    return e;
  }
  function contextRow(c, scale, label) {
    c = expandContext(c);
    const strip = h('div', {class: 'strip'});
    c.tokens.forEach(function (t, i) {
      strip.appendChild(tokenSpan(t, c.activations[i], scale, {max: i === c.max_index}));
    });
    return h('div', {class: 'ctx', dataset: {window: c.window, position: c.position}},
             h('span', {class: 'ctx-val', title: label || ''}, num(c.max, 3)), strip);
  }

  // ---- charts -----------------------------------------------------------------------------------------------
  // bars over equal bins: counts[i] over [x0 + i w, x0 + (i+1) w); opts: width, height, fill(i), tip(i), ticks,
  // overlay (second counts drawn over the first), onclick(i)
  function barChart(counts, opts) {
    const W = opts.width || 520, H = opts.height || 150, L = 40, B = 26, T = 8, R = 20;
    const n = counts.length;
    let top = 0;
    counts.forEach(function (c) { top = Math.max(top, c); });
    if (opts.log) top = Math.log10(top + 1);
    top = top || 1;
    const y = function (c) { return (opts.log ? Math.log10(c + 1) : c) / top * (H - B - T); };
    const bw = (W - L - R) / n;
    const g = s('svg', {viewBox: '0 0 ' + W + ' ' + H, class: 'chart', width: W, height: H, role: 'img'});
    g.appendChild(s('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis'}));
    // y ticks: 0 and the top
    const topCount = opts.log ? Math.round(Math.pow(10, top) - 1) : top;
    g.appendChild(s('text', {x: L - 5, y: H - B, class: 'tick', 'text-anchor': 'end'}, '0'));
    g.appendChild(s('text', {x: L - 5, y: T + 8, class: 'tick', 'text-anchor': 'end'}, int(topCount)));
    for (let i = 0; i < n; i++) {
      const c = counts[i];
      const hh = y(c);
      const x = L + i * bw;
      const bar = s('rect', {x: x + 0.5, y: H - B - hh, width: Math.max(0.5, bw - 1), height: hh,
                             class: 'bar', fill: opts.fill ? opts.fill(i) : '#8a94a6'});
      g.appendChild(bar);
      if (opts.overlay) {
        const o = opts.overlay[i], oh = y(o);
        if (o > 0) g.appendChild(s('rect', {x: x + 0.5, y: H - B - oh, width: Math.max(0.5, bw - 1), height: oh,
                                            class: 'bar overlay'}));
      }
      // a full-height hover target per bin
      const hit = s('rect', {x: x, y: T, width: bw, height: H - B - T, class: 'hit' + (opts.onclick ? ' click' : ''),
                             'data-bin': opts.binId ? opts.binId(i) : i});
      if (opts.tip) withTip(hit, function () { return opts.tip(i); });
      if (opts.onclick) hit.addEventListener('click', function () { opts.onclick(i); });
      g.appendChild(hit);
    }
    (opts.ticks || []).forEach(function (t) {
      const x = L + t.at * (W - L - R);
      g.appendChild(s('line', {x1: x, y1: H - B, x2: x, y2: H - B + 4, class: 'axis'}));
      g.appendChild(s('text', {x: x, y: H - B + 16, class: 'tick', 'text-anchor': 'middle'}, t.label));
    });
    if (opts.xlabel) g.appendChild(s('text', {x: W - R, y: H - 1, class: 'tick', 'text-anchor': 'end'}, opts.xlabel));
    return g;
  }

  // horizontal bars of token values (logit effects)
  function valueBars(items, cls, scale) {
    const t = h('table', {class: 'bars ' + cls});
    items.forEach(function (it) {
      const w = scale > 0 ? Math.min(100, Math.abs(it.value) / scale * 100) : 0;
      const bar = h('div', {class: 'vbar'});
      bar.style.width = w.toFixed(1) + '%';
      t.appendChild(h('tr', null,
                      h('td', {class: 'tokcell'}, h('span', {class: 'tokchip'}, visible(it.token) || '\u2205')),
                      h('td', {class: 'barcell'}, bar),
                      h('td', {class: 'numcell'}, (it.value > 0 ? '+' : '') + num(it.value, 3))));
    });
    return t;
  }

  // ---- page frame -------------------------------------------------------------------------------------------
  function frame(info, active) {
    const app = clear(document.getElementById('app'));
    const tabs = h('nav', {class: 'tabs'});
    const list = (info.tabs && info.tabs.length) ? info.tabs : [{id: 'features', title: 'Features', href: '/'}];
    list.forEach(function (t) {
      let href = t.href;
      if (MODE === 'static') href = t.id === 'features' ? listHref() : null;
      else if (href.startsWith('/')) href = ROOT + href.slice(1);
      if (!href) return;
      tabs.appendChild(h('a', {href: href, class: 'tab' + (t.id === active ? ' active' : ''), dataset: {tab: t.id}}, t.title));
    });
    const meta = [];
    if (info.hook) meta.push(info.hook);
    if (info.n_features !== undefined) meta.push(int(info.n_features) + ' features');
    if (info.tokens) meta.push(int(info.tokens) + ' tokens');
    const header = h('header', {class: 'top'},
                     h('a', {class: 'brand', href: listHref()}, h('span', {class: 'logo'}, '\u25e9'), 'unfold'),
                     tabs,
                     h('div', {class: 'dbmeta', title: info.database || ''}, meta.join(' \u00b7 ')));
    const main = h('main', {id: 'main'});
    app.appendChild(header);
    app.appendChild(main);
    return main;
  }
  function card(title, cls, kids, aside) {
    return h('section', {class: 'card ' + (cls || '')},
             title ? h('h2', null, title, aside ? h('span', {class: 'aside'}, aside) : null) : null, kids);
  }
  function errorBox(msg) { return h('div', {class: 'error', role: 'alert'}, msg); }
  function ready() { body.dataset.ready = '1'; }

  // ---- the feature list -------------------------------------------------------------------------------------
  // the static export answers the list's queries itself, over its embedded rows
  function localFeatures(p) {
    const rows = DATA.features;
    const key = p.sort || 'density';
    const order = p.order || (key === 'id' || key === 'label' ? 'asc' : 'desc');
    const q = (p.q || '').toLowerCase();
    const dense = p.dense === undefined ? 0.1 : Number(p.dense);
    const dmin = p.min_density === undefined ? 0 : Number(p.min_density);
    const dmax = p.max_density === undefined ? 2 : Number(p.max_density);
    const edges = DATA.info.density_histogram.bin_edges_log10;
    const counts = DATA.info.density_histogram.counts;
    const matched = counts.map(function () { return 0; });
    const col = {id: 0, fires: 1, density: 2, max: 3, label: 4}[key];
    const sorted = rows.slice().sort(function (a, b) {
      if (key === 'label' && (!a[4]) !== (!b[4])) return a[4] ? -1 : 1;
      let c = a[col] < b[col] ? -1 : a[col] > b[col] ? 1 : 0;
      if (order === 'desc') c = -c;
      return c || a[0] - b[0];
    });
    const out = [];
    let total = 0;
    sorted.forEach(function (r) {
      const f = p.filter || 'all';
      if (f === 'alive' && r[1] === 0) return;
      if (f === 'dead' && r[1] !== 0) return;
      if (f === 'dense' && !(r[2] > dense)) return;
      if (r[2] < dmin || r[2] >= dmax) return;
      if (q) {
        const text = (r[4] + '\n' + (r[5] ? r[5][0].join('') : '')).toLowerCase();
        if (text.indexOf(q) < 0) return;
      }
      const l = Math.log10(r[2] + 1e-10);
      let b = 0;
      while (b + 1 < edges.length - 1 && l >= edges[b + 1]) b++;
      matched[b]++;
      const off = Number(p.offset || 0), lim = Number(p.limit || 100);
      if (total >= off && total < off + lim)
        out.push({feature: r[0], fires: r[1], density: r[2], max_activation: r[3], label: r[4],
                  example: r[5] ? {tokens: r[5][0], activations: r[5][1], max_index: r[5][2]} : null});
      total++;
    });
    return {total: total, offset: Number(p.offset || 0), limit: Number(p.limit || 100), sort: key, order: order,
            features: out, n_features: DATA.info.n_features,
            histogram: {bin_edges_log10: edges, counts: counts, matched: matched}};
  }

  const LIST_KEYS = ['sort', 'order', 'q', 'filter', 'offset', 'limit', 'min_density', 'max_density'];
  function readListState() {
    const u = new URLSearchParams(location.search);
    const st = {};
    LIST_KEYS.forEach(function (k) { if (u.has(k) && u.get(k) !== '') st[k] = u.get(k); });
    return st;
  }

  async function pageList() {
    const info = await getInfo();
    const main = frame(info, 'features');
    let st = readListState();
    const search = h('input', {id: 'search', type: 'search', placeholder: 'Search labels and contexts…',
                               value: st.q || '', 'aria-label': 'search'});
    const filter = h('select', {id: 'filter', 'aria-label': 'filter'},
                     [['all', 'all features'], ['alive', 'alive'], ['dead', 'dead'], ['dense', 'dense (> 10%)']].map(function (o) {
                       return h('option', {value: o[0], selected: (st.filter || 'all') === o[0]}, o[1]);
                     }));
    const gotoBox = h('input', {id: 'goto', type: 'number', min: 0, max: info.n_features - 1, placeholder: 'feature #',
                                'aria-label': 'go to feature'});
    const gotoForm = h('form', {class: 'goto', onsubmit: function (ev) {
      ev.preventDefault();
      const v = parseInt(gotoBox.value, 10);
      if (v >= 0 && v < info.n_features && featureHref(v)) location.href = featureHref(v);
    }}, gotoBox, h('button', {type: 'submit'}, 'Go'));
    const histBox = h('div', {id: 'density-hist'});
    const rangeNote = h('span', {class: 'range-note'});
    const summary = h('div', {id: 'summary', class: 'summary'});
    const table = h('table', {id: 'feature-table', class: 'ftable'});
    const pager = h('div', {class: 'pager'});
    const controls = h('div', {class: 'controls'}, search, filter, gotoForm);
    main.appendChild(h('div', {class: 'list-head'},
                       card('Feature density', 'hist-card', [histBox, h('p', {class: 'note'},
                            'log\u2081\u2080 firing density of every feature (grey) and of those the current filter keeps ' +
                            '(blue). Click a bar to keep that density range.', rangeNote)]),
                       card('Features', 'intro', [
                         h('p', null, int(info.n_features) + ' features' + (info.hook ? ' at ' : ''),
                           info.hook ? h('code', null, info.hook) : null,
                           info.tokens ? ' over ' + int(info.tokens) + ' tokens.' : '.'),
                         h('div', {class: 'stats'}, stat('features', int(info.n_features)),
                           stat('alive', int(info.n_features - (info.dead || 0))), stat('dead', int(info.dead || 0)),
                           info.d_in ? stat('d_in', int(info.d_in)) : null),
                         info.model ? h('p', {class: 'muted'}, 'model ', h('code', null, info.model)) : null,
                         info.sae ? h('p', {class: 'muted'}, 'SAE ', h('code', null, info.sae)) : null,
                         controls])));
    main.appendChild(card(null, 'table-card', [summary, table, pager]));

    const columns = [
      {key: 'id', title: '#', cls: 'c-id'}, {key: 'label', title: 'Label', cls: 'c-label'},
      {key: null, title: 'Top activation', cls: 'c-ex'}, {key: 'density', title: 'Density', cls: 'c-num'},
      {key: 'fires', title: 'Firings', cls: 'c-num'}, {key: 'max', title: 'Max act', cls: 'c-num'}];

    function setState(changes, push) {
      st = Object.assign({}, st, changes);
      LIST_KEYS.forEach(function (k) { if (st[k] === undefined || st[k] === '' || st[k] === null) delete st[k]; });
      const qs = new URLSearchParams(st).toString();
      history[push ? 'pushState' : 'replaceState'](null, '', location.pathname + (qs ? '?' + qs : ''));
      load();
    }
    let seq = 0;
    async function load() {
      const my = ++seq;
      body.dataset.ready = '';
      const p = Object.assign({limit: 100}, st);
      let res;
      try {
        res = MODE === 'static' ? localFeatures(p) : await api('features', p);
      } catch (e) {
        if (my !== seq) return;
        clear(summary).appendChild(errorBox(e.message));
        clear(table);
        ready();
        return;
      }
      if (my !== seq) return;
      draw(res);
      ready();
    }
    function draw(res) {
      const sortKey = res.sort, order = res.order;
      // histogram
      const hist = res.histogram, edges = hist.bin_edges_log10, nb = hist.counts.length;
      // the bins shown: the first bin (dead features) when it holds any, then from a bin below the first
      // non-empty one up to the last
      let first = 1;
      while (first < nb - 1 && !hist.counts[first]) first++;
      first = Math.max(1, Math.min(first - 1, nb - 12));  // at least 12 bins (6 decades at 0.5)
      const bins = [];
      if (hist.counts[0]) bins.push(0);
      for (let i = first; i < nb; i++) bins.push(i);
      const ticks = [];
      bins.forEach(function (b, k) {
        const at = (k + 0.5) / bins.length;
        if (b === 0) ticks.push({at: at, label: 'dead'});
        else if (Number.isInteger(edges[b]) && edges[b] % 1 === 0 && (bins.length < 12 || edges[b] % 2 === 0))
          ticks.push({at: k / bins.length, label: '1e' + edges[b]});
      });
      if (edges[nb] === 0) ticks.push({at: 1, label: '1'});
      clear(histBox).appendChild(barChart(bins.map(function (b) { return hist.counts[b]; }), {
        width: 560, height: 160, overlay: bins.map(function (b) { return hist.matched[b]; }), ticks: ticks,
        binId: function (k) { return bins[k]; },
        tip: function (k) {
          const i = bins[k], a = edges[i], b = edges[i + 1];
          return [(i === 0 ? 'dead (or density below 1e' + b + ')' : 'density 1e' + a + ' to 1e' + b),
                  int(hist.counts[i]) + ' features, ' + int(hist.matched[i]) + ' kept by the filter'];
        },
        onclick: function (k) {
          const i = bins[k];
          const a = i === 0 ? 0 : Math.pow(10, edges[i]), b = i === nb - 1 ? 2 : Math.pow(10, edges[i + 1]);
          setState({min_density: String(a), max_density: String(b), offset: undefined}, true);
        }}));
      clear(rangeNote);
      if (st.min_density !== undefined || st.max_density !== undefined) {
        rangeNote.appendChild(document.createTextNode(' Density range ' + density(Number(st.min_density || 0)) + ' to ' +
                                                      (Number(st.max_density || 2) >= 1 ? '100%' : density(Number(st.max_density))) + ' '));
        rangeNote.appendChild(h('button', {class: 'linkish', id: 'clear-range', onclick: function () {
          setState({min_density: undefined, max_density: undefined, offset: undefined}, true);
        }}, 'clear'));
      }
      // summary
      const from = res.total ? res.offset + 1 : 0, to = Math.min(res.total, res.offset + res.features.length);
      clear(summary).appendChild(document.createTextNode(
        'Showing ' + int(from) + '\u2013' + int(to) + ' of ' + int(res.total) + ' features' +
        (res.total !== res.n_features ? ' (of ' + int(res.n_features) + ')' : '') + ', sorted by ' + sortKey +
        (order === 'desc' ? ' \u2193' : ' \u2191')));
      // table
      clear(table);
      const tr = h('tr');
      columns.forEach(function (c) {
        const th = h('th', {class: c.cls + (c.key ? ' sortable' : '') + (c.key === sortKey ? ' sorted' : ''),
                            dataset: c.key ? {sort: c.key} : {}}, c.title,
                     c.key === sortKey ? h('span', {class: 'arrow'}, order === 'desc' ? ' \u25bc' : ' \u25b2') : null);
        if (c.key) th.addEventListener('click', function () {
          const defDesc = !(c.key === 'id' || c.key === 'label');
          const nextOrder = c.key === sortKey ? (order === 'desc' ? 'asc' : 'desc') : (defDesc ? 'desc' : 'asc');
          setState({sort: c.key, order: nextOrder, offset: undefined}, true);
        });
        tr.appendChild(th);
      });
      table.appendChild(h('thead', null, tr));
      const tb = h('tbody');
      const logLo = edges[first], logHi = edges[nb];  // the density bars span the histogram's range
      res.features.forEach(function (f) {
        const ex = h('div', {class: 'strip small'});
        if (f.example) f.example.tokens.forEach(function (t, i) {
          ex.appendChild(tokenSpan(t, f.example.activations[i], f.max_activation, {max: i === f.example.max_index}));
        });
        const dbar = h('div', {class: 'dbar'});
        const frac = f.density > 0 ? (Math.log10(f.density) - logLo) / (logHi - logLo) : 0;
        dbar.style.width = (100 * Math.max(f.density > 0 ? 0.05 : 0, Math.min(1, frac))).toFixed(1) + '%';
        const row = h('tr', {dataset: {feature: f.feature}, class: f.fires === 0 ? 'dead' : ''},
                      h('td', {class: 'c-id'}, featureLink(f.feature)),
                      h('td', {class: 'c-label'}, f.label ? h('span', {class: 'label'}, f.label) : h('span', {class: 'muted'}, f.fires ? '(no label)' : 'dead')),
                      h('td', {class: 'c-ex'}, ex),
                      h('td', {class: 'c-num'}, h('div', {class: 'dcell'}, dbar, h('span', null, density(f.density)))),
                      h('td', {class: 'c-num'}, int(f.fires)),
                      h('td', {class: 'c-num'}, num(f.max_activation, 3)));
        tb.appendChild(row);
      });
      table.appendChild(tb);
      // pages
      clear(pager);
      const lim = res.limit || 100, pages = Math.max(1, Math.ceil(res.total / lim)), cur = Math.floor(res.offset / lim);
      const go = function (k) { setState({offset: k > 0 ? String(k * lim) : undefined}, true); };
      pager.appendChild(h('button', {id: 'prev', disabled: cur <= 0, onclick: function () { go(cur - 1); }}, '\u2190 Previous'));
      pager.appendChild(h('span', {class: 'pageno'}, 'page ' + int(cur + 1) + ' of ' + int(pages)));
      pager.appendChild(h('button', {id: 'next', disabled: cur + 1 >= pages, onclick: function () { go(cur + 1); }}, 'Next \u2192'));
    }
    let timer = null;
    search.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { setState({q: search.value, offset: undefined}, false); }, 200);
    });
    filter.addEventListener('change', function () { setState({filter: filter.value, offset: undefined}, true); });
    window.addEventListener('popstate', function () {
      st = readListState();
      search.value = st.q || '';
      filter.value = st.filter || 'all';
      load();
    });
    await load();
  }

  // ---- one feature ------------------------------------------------------------------------------------------
  async function pageFeature() {
    const id = parseInt(body.dataset.feature, 10);
    const info = await getInfo();
    const main = frame(info, 'features');
    let f, related = {};
    try {
      if (MODE === 'static') {
        f = DATA.feature;
        f.top_contexts = f.top_contexts.map(expandContext);
        f.interval_contexts = f.interval_contexts.map(expandContext);
        for (const k in DATA.related) related[k] = {label: DATA.related[k][0], density: DATA.related[k][1]};
      } else {
        f = await api('feature/' + id);
        const ids = f.cofiring.map(function (x) { return x.feature; }).concat(f.neighbours.map(function (x) { return x.feature; }));
        if (ids.length) {
          const r = await api('features', {ids: ids.join(','), sort: 'id', limit: ids.length});
          r.features.forEach(function (x) { related[x.feature] = x; });
        }
      }
    } catch (e) {
      main.appendChild(errorBox(e.message));
      ready();
      return;
    }
    document.title = 'unfold \u00b7 feature ' + id + (f.label ? ' \u00b7 ' + f.label : '');
    const scale = f.max_activation;
    // head
    const nav = h('div', {class: 'fnav'},
                  id > 0 && featureHref(id - 1) ? h('a', {href: featureHref(id - 1), id: 'prev-feature'}, '\u2190 #' + (id - 1)) : null,
                  h('a', {href: listHref()}, 'all features'),
                  id + 1 < info.n_features && featureHref(id + 1) ? h('a', {href: featureHref(id + 1), id: 'next-feature'}, '#' + (id + 1) + ' \u2192') : null,
                  MODE === 'server' ? h('a', {href: ROOT + 'api/feature/' + id, class: 'json'}, 'JSON') : null,
                  MODE === 'server' && info.live ? h('a', {href: ROOT + 'live?feature=' + id, class: 'steer-link'}, 'Trace / steer \u2192') : null);
    const chips = h('div', {class: 'chips'});
    (f.label_tokens || []).forEach(function (t) {
      chips.appendChild(withTip(h('span', {class: 'chip'}, h('span', {class: 'tokchip'}, visible(t.token) || '\u2205'),
                                  ' ' + Math.round(t.share * 100) + '%'), function () {
        return [quoteToken(t.token), 'share of firings ' + num(t.share * 100, 3) + '%', 'lift ' + num(t.lift, 3) + '\u00d7 its corpus frequency'];
      }));
    });
    const stats = h('div', {class: 'stats'},
                    stat('density', density(f.density), 'stat-density'), stat('firings', int(f.fires), 'stat-fires'),
                    stat('max activation', num(f.max_activation, 4), 'stat-max'),
                    stat('mean activation', num(f.mean_activation, 4), 'stat-mean'));
    main.appendChild(h('div', {class: 'fhead'},
                       h('div', null, h('h1', {id: 'feature-title'}, 'Feature ', h('span', {class: 'fid'}, '#' + id)),
                         h('div', {class: 'flabel', id: 'feature-label'}, f.label || (f.fires ? 'no over-represented token' : 'dead: never fired')),
                         chips),
                       h('div', null, nav, stats)));
    // row: histogram | logits | relations
    const hc = f.histogram.counts, nb = hc.length, bw = (f.histogram.hi - f.histogram.lo) / nb;
    let last = 0;
    hc.forEach(function (c, i) { if (c > 0) last = i; });
    const shown = hc.slice(0, Math.max(8, last + 1));
    const histo = f.fires ? barChart(shown, {
      width: 420, height: 170,
      fill: function (i) { return shade((i + 0.5) * bw, scale) || '#ddd'; },
      tip: function (i) { return ['activation ' + num(i * bw, 3) + ' to ' + num((i + 1) * bw, 3), int(shown[i]) + ' firings']; },
      ticks: [{at: 0, label: '0'}, {at: 0.5, label: num(shown.length * bw / 2, 3)}, {at: 1, label: num(shown.length * bw, 3)}],
      xlabel: ''}) : h('p', {class: 'muted'}, 'This feature never fired.');
    const histCard = card('Activation histogram', 'c-hist', [histo, h('p', {class: 'note'}, int(f.fires) + ' firings; bars shaded as the tokens are.')]);
    let logits;
    const pro = f.logit_effects.promoted, sup = f.logit_effects.suppressed;
    if (pro.length || sup.length) {
      let sc = 0;
      pro.concat(sup).forEach(function (x) { sc = Math.max(sc, Math.abs(x.value)); });
      logits = h('div', {class: 'logits'},
                 h('div', null, h('h3', null, 'Promoted'), valueBars(pro, 'pos', sc)),
                 h('div', null, h('h3', null, 'Suppressed'), valueBars(sup, 'neg', sc)));
    } else {
      logits = h('p', {class: 'muted'}, 'No path from this hook to the logits.');
    }
    const logitCard = card('Logit effects', 'c-logits', [logits, h('p', {class: 'note'}, 'Decoder direction through the rest of the residual path to the unembedding (final norm folded in).')]);
    const rel = [];
    if (f.neuron_alignment) {
      const na = f.neuron_alignment;
      rel.push(h('div', {class: 'neuron', id: 'neuron'}, h('h3', null, 'Neuron alignment'),
                 h('p', null, 'neuron ', h('b', null, String(na.neuron)), ', cos ' + num(na.cos, 3) + ', ' +
                   num(na.share * 100, 3) + '% of the direction\u2019s squared norm')));
    }
    function relList(title, items, key, fmtv, idAttr) {
      const t = h('table', {class: 'rel', id: idAttr});
      items.forEach(function (x) {
        const r = related[x.feature];
        t.appendChild(h('tr', null, h('td', null, featureLink(x.feature)),
                        h('td', {class: 'rel-label'}, r && r.label ? r.label : ''),
                        h('td', {class: 'numcell'}, fmtv(x[key]))));
      });
      return h('div', null, h('h3', null, title), items.length ? t : h('p', {class: 'muted'}, 'none'));
    }
    rel.push(relList('Co-fires with', f.cofiring, 'probability', function (v) { return 'p ' + num(v, 2); }, 'cofiring'));
    rel.push(relList('Nearest decoder directions', f.neighbours, 'cosine', function (v) { return 'cos ' + num(v, 2); }, 'neighbours'));
    const relCard = card('Related features', 'c-rel', rel);
    main.appendChild(h('div', {class: 'row3'}, histCard, logitCard, relCard));
    // contexts
    const top = h('div', {id: 'top-contexts', class: 'contexts'});
    f.top_contexts.forEach(function (c, i) { top.appendChild(contextRow(c, scale, 'rank ' + i)); });
    main.appendChild(card('Top activations', 'c-top', f.top_contexts.length ? top : h('p', {class: 'muted'}, 'none'),
                          'tokens shaded by activation (max ' + num(scale, 3) + '); hover a token for its value'));
    const iv = h('div', {id: 'interval-contexts'});
    let group = null, lastKey = null;
    f.interval_contexts.forEach(function (c) {
      const key = c.interval ? c.interval.join(',') : '';
      if (key !== lastKey) {
        lastKey = key;
        group = h('div', {class: 'contexts'});
        iv.insertBefore(h('details', {class: 'interval', open: c.interval[0] >= scale * 0.8},
                          h('summary', null, 'activation ' + num(c.interval[0], 3) + ' to ' + num(c.interval[1], 3)), group),
                        iv.firstChild);
      }
      group.appendChild(contextRow(c, scale));
    });
    if (f.interval_contexts.length)
      main.appendChild(card('Samples by activation interval', 'c-iv', iv, 'strongest interval first'));
    ready();
  }
  function stat(label, value, id) {
    return h('div', {class: 'stat', id: id}, h('div', {class: 'stat-v'}, value), h('div', {class: 'stat-l'}, label));
  }

  // ---- live: trace and steer --------------------------------------------------------------------------------
  async function pageLive() {
    const info = await getInfo();
    const main = frame(info, 'live');
    const u = new URLSearchParams(location.search);
    if (!info.live) { main.appendChild(errorBox('No model loaded: start unfold serve with --model and --sae.')); ready(); return; }
    // trace
    const text = h('textarea', {id: 'trace-text', rows: 3, spellcheck: 'false'});
    text.value = u.get('text') || 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';
    const onlyF = h('input', {id: 'trace-feature', type: 'number', min: 0, max: info.live.d_sae - 1, placeholder: 'any',
                              value: u.get('feature') || ''});
    const traceBtn = h('button', {id: 'trace-go', class: 'primary'}, 'Trace');
    const traceOut = h('div', {id: 'trace-out'});
    main.appendChild(card('Trace a text', 'c-trace', [
      h('p', {class: 'note'}, 'The features active at each token (the SAE at ', h('code', null, info.live.hook),
        '). Tokens are shaded by the selected feature; hover a token for its strongest features, click a feature to select it.'),
      text, h('div', {class: 'controls'}, h('label', null, 'feature ', onlyF), traceBtn), traceOut]));
    async function trace() {
      body.dataset.ready = '';
      clear(traceOut).appendChild(h('p', {class: 'muted'}, 'tracing…'));
      let r;
      try {
        r = await api('trace', {text: text.value, top: 8});
      } catch (e) { clear(traceOut).appendChild(errorBox(e.message)); ready(); return; }
      // per feature: its largest value over the text
      const best = {};
      r.tokens.forEach(function (t, p) {
        t.features.forEach(function (x) {
          if (!best[x.feature] || x.value > best[x.feature].max) best[x.feature] = {max: x.value, count: 0, at: p};
          best[x.feature].count++;
        });
      });
      const ranked = Object.keys(best).map(Number).sort(function (a, b) { return best[b].max - best[a].max; });
      let sel = onlyF.value !== '' ? parseInt(onlyF.value, 10) : (ranked.length ? ranked[0] : -1);
      const strip = h('div', {class: 'strip big', id: 'trace-strip'});
      const table = h('table', {class: 'rel', id: 'trace-features'});
      const selNote = h('p', {class: 'note', id: 'trace-selected'});
      function valueAt(t, feat) {
        for (const x of t.features) if (x.feature === feat) return x.value;
        return 0;
      }
      function drawStrip() {
        clear(strip);
        const scale = sel >= 0 && best[sel] ? best[sel].max : 1;
        r.tokens.forEach(function (t) {
          strip.appendChild(tokenSpan(t.token, sel >= 0 ? valueAt(t, sel) : 0, scale, {
            dim: t.position === 0 && /^<.*>$/.test(t.token),
            extra: function () {
              return t.features.length ? t.features.map(function (x) { return '#' + x.feature + '  ' + num(x.value, 4); })
                                       : ['no feature fires'];
            }}));
        });
        clear(selNote);
        if (sel >= 0) selNote.appendChild(document.createTextNode('shaded by feature #' + sel +
                                                                  (best[sel] ? ' (max ' + num(best[sel].max, 4) + ' here)' : ' (silent here)')));
        Array.prototype.forEach.call(table.querySelectorAll('tr'), function (row) {
          row.classList.toggle('selected', Number(row.dataset.feature) === sel);
        });
      }
      const listed = ranked.slice(0, 12);
      if (sel >= 0 && listed.indexOf(sel) < 0 && best[sel]) listed.push(sel);
      const labels = {};
      try {
        if (listed.length) {
          const lr = await api('features', {ids: listed.join(','), sort: 'id', limit: listed.length});
          lr.features.forEach(function (x) { labels[x.feature] = x.label; });
        }
      } catch (e) { /* labels are a nicety */ }
      listed.forEach(function (feat) {
        const row = h('tr', {dataset: {feature: feat}, class: 'pick'},
                      h('td', null, featureLink(feat)), h('td', {class: 'rel-label'}, labels[feat] || ''),
                      h('td', {class: 'numcell'}, 'max ' + num(best[feat].max, 3)),
                      h('td', {class: 'numcell'}, best[feat].count + ' tok'));
        row.addEventListener('click', function (ev) {
          if (ev.target.tagName === 'A') return;
          sel = feat;
          onlyF.value = String(feat);
          drawStrip();
        });
        table.appendChild(row);
      });
      drawStrip();
      clear(traceOut).appendChild(h('div', {class: 'trace-grid'}, h('div', null, selNote, strip),
                                    h('div', null, h('h3', null, 'Strongest features in this text'), table)));
      ready();
    }
    traceBtn.addEventListener('click', trace);
    // steer
    const prompt = h('input', {id: 'steer-prompt', type: 'text', value: u.get('prompt') || 'Once upon a time', spellcheck: 'false'});
    const feat = h('input', {id: 'steer-feature', type: 'number', min: 0, max: info.live.d_sae - 1, value: u.get('feature') || '0'});
    const val = h('input', {id: 'steer-value', type: 'number', step: 'any', value: u.get('value') || '10'});
    const steps = h('input', {id: 'steer-steps', type: 'number', min: 1, max: info.live.max_steps, value: u.get('steps') || '40'});
    const steerBtn = h('button', {id: 'steer-go', class: 'primary'}, 'Generate');
    const steerOut = h('div', {id: 'steer-out'});
    const featNote = h('span', {class: 'muted', id: 'steer-feature-note'});
    main.appendChild(card('Steer a feature', 'c-steer', [
      h('p', {class: 'note'}, 'Clamps the feature to the value at every position (the SAE\u2019s reconstruction with the ' +
        'edit plus its error term, as ', h('code', null, 'unfold lm generate --steer F=V --compare'), ') and continues the prompt greedily.'),
      h('div', {class: 'controls wrap'}, h('label', {class: 'grow'}, 'prompt ', prompt), h('label', null, 'feature ', feat),
        h('label', null, 'value ', val), h('label', null, 'tokens ', steps), steerBtn), featNote, steerOut]));
    async function describeFeature() {
      clear(featNote);
      const v = parseInt(feat.value, 10);
      if (!(v >= 0 && v < info.n_features)) return;
      try {
        const r = await api('features', {ids: String(v), sort: 'id', limit: 1});
        const x = r.features[0];
        featNote.appendChild(document.createTextNode('#' + v + ': ' + (x.label || 'no label') + ' \u00b7 max activation ' +
                                                     num(x.max_activation, 3)));
      } catch (e) { /* the feature box shows what is wrong when Generate runs */ }
    }
    feat.addEventListener('change', describeFeature);
    describeFeature();
    async function steer() {
      body.dataset.ready = '';
      clear(steerOut).appendChild(h('p', {class: 'muted'}, 'generating…'));
      let r;
      try {
        r = await api('steer', {prompt: prompt.value, steer: feat.value + '=' + val.value, steps: steps.value});
      } catch (e) { clear(steerOut).appendChild(errorBox(e.message)); ready(); return; }
      const col = function (title, id, o) {
        return h('div', {class: 'gen'}, h('h3', null, title),
                 h('div', {class: 'gen-text', id: id}, h('span', {class: 'prompt-part'}, r.prompt), h('span', {class: 'cont'}, o.text)));
      };
      clear(steerOut).appendChild(h('div', {class: 'gen-grid'}, col('Unedited', 'steer-unedited', r.unedited),
                                    col('Steered: ' + r.edits, 'steer-steered', r.steered)));
      ready();
    }
    steerBtn.addEventListener('click', steer);
    if (u.get('text')) await trace(); else ready();
  }

  // ---- start ------------------------------------------------------------------------------------------------
  const pages = {list: pageList, feature: pageFeature, live: pageLive};
  window.UNFOLD = {pages: pages, h: h, s: s, api: api, frame: frame, card: card, tokenSpan: tokenSpan, barChart: barChart};
  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape') hideTip();
  });
  // pages start once the document is parsed, so a script after this one can add a page (UNFOLD.pages.map = ...)
  function start() {
    const run = pages[PAGE];
    if (!run) {
      document.getElementById('app').appendChild(errorBox('unknown page ' + PAGE));
      ready();
      return;
    }
    run().catch(function (e) {
      document.getElementById('app').appendChild(errorBox('error: ' + e.message));
      ready();
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
