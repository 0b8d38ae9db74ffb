// The HTML report's style sheet and script, inlined into every page (no external assets).
#pragma once

namespace convguard::report {

/// Layout, tables, heat maps and print rules; outcome colours come from outcome_css().
inline constexpr const char* kPageCss = R"CSS(
:root{--fg:#1d2127;--muted:#5b6470;--line:#d9dde3;--head:#f1f3f6}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
header{padding:14px 24px 8px;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:0 0 2px}
.sub{color:var(--muted);margin:0}
main{max-width:1400px;margin:0 auto;padding:4px 24px 40px}
h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
code.wrap{word-break:break-all}
.badge,.swatch{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;line-height:18px;font-weight:600}
.swatch{width:18px;height:18px;padding:0;text-align:center;margin-right:5px;border:1px solid rgba(0,0,0,.15)}
.swatch-empty{background:#fff;border:1px dashed #999}
.count{margin-right:12px;white-space:nowrap}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:6px 0 12px;font-size:13px}
.legend-item{display:inline-flex;align-items:center}
.legend-item svg{margin-right:5px}
.maps{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure.map{margin:0;padding:8px 10px;border:1px solid var(--line);border-radius:6px;max-width:100%}
figcaption{font-weight:600;margin-bottom:4px}
svg.heatmap{max-width:100%;height:auto;display:block}
rect.plot-bg{fill:#fafafa;stroke:#ccc}
rect.cell{stroke:#fff;stroke-width:1}
rect.cell:hover{stroke:#000;stroke-width:2}
text.glyph{font:bold 11px sans-serif;text-anchor:middle;pointer-events:none}
text.tick{font:11px sans-serif;fill:#333;text-anchor:middle}
text.ytick{text-anchor:end}
text.axis-title{font:bold 12px sans-serif;fill:#222;text-anchor:middle}
path.boundary{fill:none;stroke:#0b57d0;stroke-width:3;stroke-linecap:round}
path.boundary-halo{fill:none;stroke:#fff;stroke-width:6;stroke-linecap:round}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0;z-index:1}
table.kv th{font-weight:500;color:var(--muted)}
table.kv td.kind{color:var(--muted);font-size:11px}
table.probes{width:100%;font-size:12.5px}
.probes th,.probes td{padding:4px 6px}
.table-wrap{overflow-x:auto}
.probes td.problem{min-width:250px}
.probes td.problem code{word-break:break-all}
.name{color:var(--muted);font-size:12px;word-break:break-word}
td.msg{min-width:170px;max-width:340px;word-break:break-word}
td.repro-cell code{display:none}
td.repro-cell button.copy{white-space:nowrap}
button.sort{all:unset;cursor:pointer;font-weight:600;white-space:nowrap}
button.sort::after{content:" \2195";color:#999}
th[aria-sort=ascending] button.sort::after{content:" \2191";color:#000}
th[aria-sort=descending] button.sort::after{content:" \2193";color:#000}
.controls{display:flex;gap:12px;align-items:center;margin:6px 0 8px;flex-wrap:wrap}
#filter{min-width:280px;padding:4px 8px}
#shown{color:var(--muted)}
.line{display:flex;gap:6px;align-items:flex-start;margin:2px 0}
.line code{flex:1;background:#f4f6f8;padding:2px 6px;border-radius:3px;word-break:break-all}
button.copy{font-size:12px;padding:1px 8px;cursor:pointer}
.repro{border-left:3px solid var(--line);padding:2px 10px;margin:6px 0}
.repro p{margin:2px 0}
details.run{border:1px solid var(--line);border-radius:6px;padding:6px 10px;margin:6px 0}
details.run summary{cursor:pointer}
.note{color:var(--muted);font-size:12px;font-weight:normal}
pre{white-space:pre-wrap;max-height:240px;overflow:auto;background:#f7f7f7;padding:6px;margin:4px 0}
@media print{
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  body{font-size:10.5px}
  main{max-width:none;padding:0 6px}
  header{padding:4px 6px}
  .controls,button.copy,button.sort::after{display:none}
  thead th{position:static}
  figure.map,.repro,tr,details.run{break-inside:avoid}
  h2{break-after:avoid}
  td.repro-cell,table.probes th:last-child{display:none}
  tr[hidden]{display:table-row}
}
)CSS";

/// Copy buttons (navigator.clipboard, with a hidden-textarea fallback where the clipboard
/// API is missing or refused), column sorting, row filtering, and a check that the
/// embedded data parses (its probe count lands in body[data-embedded-probes]).
inline constexpr const char* kPageJs = R"JS(
(function () {
  'use strict';
  function flash(btn, text) {
    btn.textContent = text;
    setTimeout(function () { btn.textContent = 'copy'; }, 1500);
  }
  function fallbackCopy(text, btn) {
    var ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    flash(btn, ok ? 'copied' : 'press Ctrl+C');
  }
  function copyText(text, btn) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { flash(btn, 'copied'); },
                                               function () { fallbackCopy(text, btn); });
    } else {
      fallbackCopy(text, btn);
    }
  }
  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest ? ev.target.closest('button.copy') : null;
    if (!btn) return;
    var code = btn.parentNode.querySelector('code');
    if (code) copyText(code.textContent, btn);
  });

  var table = document.getElementById('probes');
  if (table) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var sortCol = -1, sortDir = 1;
    var sortKey = function (row, col) {
      var cell = row.cells[col];
      var v = cell.getAttribute('data-v');
      if (v === null) v = cell.textContent;
      var n = Number(v);
      return v !== '' && !isNaN(n) ? n : v.toLowerCase();
    };
    heads.forEach(function (th, col) {
      th.querySelector('button.sort').addEventListener('click', function () {
        sortDir = sortCol === col ? -sortDir : 1;
        sortCol = col;
        rows.sort(function (a, b) {
          var x = sortKey(a, col), y = sortKey(b, col);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return x < y ? -sortDir : x > y ? sortDir : 0;
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      });
    });
    var text = document.getElementById('filter');
    var outcome = document.getElementById('outcome-filter');
    var failing = document.getElementById('failing-only');
    var shown = document.getElementById('shown');
    var apply = function () {
      var q = text.value.toLowerCase(), o = outcome.value, f = failing.checked, n = 0;
      rows.forEach(function (r) {
        var visible = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) &&
                      (!o || r.getAttribute('data-outcome') === o) &&
                      (!f || r.getAttribute('data-failure') === '1');
        r.hidden = !visible;
        if (visible) n++;
      });
      shown.textContent = 'showing ' + n + ' of ' + rows.length;
    };
    text.addEventListener('input', apply);
    outcome.addEventListener('change', apply);
    failing.addEventListener('change', apply);
    apply();
  }

  var data = document.getElementById('convguard-data');
  if (data) {
    var parsed = JSON.parse(data.textContent);
    document.body.setAttribute('data-embedded-probes', String(parsed.probes.length));
  }
})();
)JS";

}  // namespace convguard::report
