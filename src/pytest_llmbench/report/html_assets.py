"""The HTML report's inline style sheet and script (no network fetch, see html.py)."""

CSS = """
:root{--fg:#1d2430;--mut:#5b6473;--bd:#d9dee7;--bg:#f6f7f9;--ok:#1f8f4e;--bad:#c53030;--err:#b7791f}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
 margin:0;background:var(--bg)}
header{background:#1d2430;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c9d1dd}
main{max-width:1200px;margin:0 auto;padding:8px 28px 40px}
section{background:#fff;border:1px solid var(--bd);border-radius:8px;padding:14px 18px;
 margin:16px 0}
h2{font-size:17px;margin:0 0 10px} h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;
 border-bottom:1px solid var(--bd);vertical-align:top} th{color:var(--mut);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px}
.packs{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:6px 26px}
.bar-row{display:grid;grid-template-columns:minmax(90px,34%) 1fr 118px;gap:8px;align-items:center;
 margin:3px 0;font-size:12.5px}
.bar-row .lbl{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:var(--mut)}
.bar{background:#eceff4;border-radius:4px;height:14px;overflow:hidden}
.fill{height:100%;border-radius:4px}
.val{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;min-width:44px;text-align:center;border-radius:4px;padding:0 5px;
 font-size:11.5px;font-weight:700;color:#fff}
.passed{background:var(--ok)} .failed{background:var(--bad)} .error{background:var(--err)}
.missing{background:#a0aec0}
.matrix td a{text-decoration:none}
.controls{display:flex;gap:14px;align-items:center;margin-bottom:8px;flex-wrap:wrap}
.controls input[type=search]{padding:5px 8px;border:1px solid var(--bd);border-radius:5px;
 width:280px}
details.sc{border:1px solid var(--bd);border-radius:6px;margin:4px 0;background:#fff}
details.sc>summary{cursor:pointer;padding:5px 8px;list-style-position:inside}
details.sc[open]>summary{border-bottom:1px solid var(--bd);background:#f9fafb}
details.sc .body{padding:6px 12px 10px}
details.run>summary{cursor:pointer;font-weight:600;padding:4px 0}
.det{color:var(--mut);font-size:12.5px}
pre{background:#f3f5f8;border:1px solid var(--bd);border-radius:5px;padding:8px;margin:4px 0 8px;
 white-space:pre-wrap;word-break:break-word;max-height:420px;overflow:auto;font-size:12px}
.role{font-size:11.5px;font-weight:700;color:var(--mut);text-transform:uppercase;margin-top:6px}
.hidden{display:none}
svg text{font:11px system-ui,sans-serif;fill:#5b6473}
"""

JS = """
(function(){
  var q=document.getElementById('q'), fo=document.getElementById('failedonly');
  function apply(){
    var t=(q.value||'').toLowerCase(), f=fo.checked;
    document.querySelectorAll('details.sc').forEach(function(d){
      var show=(!t||d.dataset.name.indexOf(t)>=0)&&(!f||d.dataset.status!=='passed');
      d.classList.toggle('hidden',!show);
    });
    document.querySelectorAll('tr.mrow').forEach(function(r){
      var show=(!t||r.dataset.name.indexOf(t)>=0)&&(!f||r.dataset.allpass!=='1');
      r.classList.toggle('hidden',!show);
    });
  }
  q.addEventListener('input',apply); fo.addEventListener('change',apply);
  function openHash(){
    var id=location.hash.slice(1); if(!id) return;
    var el=document.getElementById(id); if(!el) return;
    for(var p=el;p;p=p.parentElement){ if(p.tagName==='DETAILS') p.open=true; }
    el.scrollIntoView();
  }
  window.addEventListener('hashchange',openHash); openHash();
})();
"""
