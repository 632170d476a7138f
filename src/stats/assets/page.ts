/**
 * stats/assets/page: the live dashboard (HTML, CSS, script), served by the stats server itself: no
 * external fetches, no build step. The script polls `/live.json` once a second and draws req/s and
 * latency over the last five minutes on canvases, the workers, memory, listen queues and the recent
 * respawns and reloads. Readable on a phone (one column under 700 px).
 * Must not: change anything (the stats server is read-only), or load anything from elsewhere.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>usher</title>
<link rel="stylesheet" href="/dashboard.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1>usher <span id="version"></span></h1>
  <p id="summary">connecting…</p>
</header>
<main>
  <section class="figures">
    <div class="figure"><span class="label">req/s</span><span class="value" id="rps">–</span></div>
    <div class="figure"><span class="label">latency p50 / p99</span><span class="value" id="latency">–</span></div>
    <div class="figure"><span class="label">in flight</span><span class="value" id="inflight">–</span></div>
    <div class="figure"><span class="label">listen queue</span><span class="value" id="lq">–</span></div>
    <div class="figure"><span class="label">workers RSS</span><span class="value" id="rss">–</span></div>
    <div class="figure"><span class="label">uptime</span><span class="value" id="uptime">–</span></div>
  </section>
  <section class="charts">
    <figure><figcaption>requests per second, last 5 minutes</figcaption><canvas id="chart-rps" height="140"></canvas></figure>
    <figure><figcaption>response time (ms), last 5 minutes: <span class="key p50">p50</span> <span class="key p95">p95</span> <span class="key p99">p99</span></figcaption><canvas id="chart-latency" height="140"></canvas></figure>
  </section>
  <section>
    <h2>Workers</h2>
    <div class="scroll"><table id="workers">
      <thead><tr><th>slot</th><th>pid</th><th>status</th><th>requests</th><th>req/s</th><th>avg ms</th><th>exc</th><th>RSS</th><th>respawns</th><th>up</th></tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
  <section class="two">
    <div>
      <h2>Sockets</h2>
      <div class="scroll"><table id="sockets"><thead><tr><th>socket</th><th>proto</th><th>queue</th><th>max</th></tr></thead><tbody></tbody></table></div>
    </div>
    <div>
      <h2>Recent respawns and reloads</h2>
      <ul id="recent"><li class="muted">none yet</li></ul>
    </div>
  </section>
</main>
<footer>read-only · served by the usher master · <a href="/metrics">/metrics</a></footer>
<script src="/dashboard.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `:root { color-scheme: light dark; --fg: #1d2330; --muted: #6b7385; --bg: #f6f7f9; --card: #fff; --line: #2f6fde; --line2: #c2571a; --line3: #8a5cc2; --grid: #e3e6ec; --busy: #c2571a; --idle: #2a8a4a; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ee; --muted: #9aa2b3; --bg: #14171d; --card: #1d2129; --grid: #2c313b; --line: #6aa0ff; --line2: #ff9a5c; --line3: #b894f0; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 14px; }
h1 { font-size: 22px; margin: 0; }
h1 span { font-size: 14px; color: var(--muted); font-weight: normal; }
h2 { font-size: 16px; margin: 18px 0 8px; }
#summary { margin: 4px 0 12px; color: var(--muted); }
.figures { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; }
.figure { background: var(--card); border-radius: 8px; padding: 10px 12px; display: flex; flex-direction: column; }
.label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.value { font-size: 24px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-top: 10px; }
figure { margin: 0; background: var(--card); border-radius: 8px; padding: 10px 12px; }
figcaption { font-size: 12px; color: var(--muted); margin-bottom: 4px; }
.key { font-weight: 600; margin-left: 4px; }
.key.p50 { color: var(--line); } .key.p95 { color: var(--line3); } .key.p99 { color: var(--line2); }
canvas { width: 100%; height: 140px; display: block; }
.scroll { overflow-x: auto; background: var(--card); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 6px 10px; white-space: nowrap; border-bottom: 1px solid var(--grid); }
th:first-child, td:first-child, #sockets td:nth-child(2) { text-align: left; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
.busy { color: var(--busy); font-weight: 600; }
.idle { color: var(--idle); }
.cheap, .muted { color: var(--muted); }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
#recent { list-style: none; margin: 0; padding: 6px 12px; background: var(--card); border-radius: 8px; max-height: 260px; overflow-y: auto; }
#recent li { padding: 3px 0; border-bottom: 1px solid var(--grid); font-size: 14px; }
#recent time { color: var(--muted); margin-right: 8px; font-variant-numeric: tabular-nums; }
footer { color: var(--muted); font-size: 12px; padding: 18px 16px; }
footer a { color: inherit; }
@media (max-width: 700px) {
  .figures { grid-template-columns: repeat(2, 1fr); }
  .charts, .two { grid-template-columns: 1fr; }
  .value { font-size: 20px; }
}
`;

export const PAGE_JS = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var failures = 0;

  function bytes(n) {
    if (!n) return '0';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
  }
  function num(n, digits) { return n.toLocaleString('en-US', { maximumFractionDigits: digits || 0 }); }
  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h' + Math.floor(s % 3600 / 60) + 'm';
    return Math.floor(s / 86400) + 'd' + Math.floor(s % 86400 / 3600) + 'h';
  }
  function clock(t) { var d = new Date(t); return d.toLocaleTimeString('en-GB', { hour12: false }); }
  function cell(row, text, cls) { var td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; row.appendChild(td); }
  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  // keys: one [field, color] per line, drawn on one scale (the largest of them).
  function chart(canvas, points, keys, now) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    var g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    var span = 300000, left = 34, top = 6, bottom = h - 16, right = w - 4;
    var max = 0;
    points.forEach(function (p) { keys.forEach(function (k) { if (p[k[0]] > max) max = p[k[0]]; }); });
    var scale = max <= 0 ? 1 : Math.pow(10, Math.ceil(Math.log10(max * 1.1)));
    if (max > 0 && max * 1.1 < scale / 2) scale /= 2;
    if (max > 0 && max * 1.1 < scale / 2) scale /= 2.5;
    g.strokeStyle = css('--grid'); g.fillStyle = css('--muted'); g.lineWidth = 1; g.font = '11px system-ui, sans-serif';
    for (var i = 0; i <= 2; i++) {
      var y = bottom - (bottom - top) * i / 2;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
      g.fillText(num(scale * i / 2, 2), 0, y + 4);
    }
    g.fillText('-5m', left, h - 2); g.fillText('now', right - 22, h - 2);
    keys.forEach(function (k) {
      g.strokeStyle = k[1]; g.lineWidth = 2; g.beginPath();
      points.forEach(function (p, i) {
        var x = left + (right - left) * (1 - (now - p.t) / span);
        var y = bottom - (bottom - top) * (p[k[0]] / scale);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    });
  }

  function render(d) {
    var now = d.now;
    $('version').textContent = d.version;
    var last = d.history.length > 0 ? d.history[d.history.length - 1] : null;
    var workers = d.slots.filter(function (s) { return s.role === 'worker'; });
    var ready = workers.filter(function (s) { return s.state === 'ready'; }).length;
    $('summary').textContent = 'master pid ' + d.pid + ' · ' + ready + '/' + workers.length + ' workers ready · reloads ' + d.reloads.ok +
      (d.reloads.failed ? ' (' + d.reloads.failed + ' failed)' : '') + ' · updated ' + clock(now);
    $('rps').textContent = last ? num(last.rps, last.rps < 10 ? 1 : 0) : '0';
    $('latency').textContent = last && last.p50Ms > 0 ? num(last.p50Ms, last.p50Ms < 10 ? 1 : 0) + ' / ' + num(last.p99Ms, last.p99Ms < 10 ? 1 : 0) + ' ms' : '–';
    $('inflight').textContent = last ? num(last.inflight) : '0';
    $('lq').textContent = num(d.listenQueue);
    $('rss').textContent = bytes(last ? last.rss : 0);
    $('uptime').textContent = duration(now - d.startedAt);
    chart($('chart-rps'), d.history, [['rps', css('--line')]], now);
    chart($('chart-latency'), d.history, [['p50Ms', css('--line')], ['p95Ms', css('--line3')], ['p99Ms', css('--line2')]], now);

    var tbody = $('workers').tBodies[0];
    tbody.textContent = '';
    d.slots.forEach(function (s) {
      var tr = document.createElement('tr');
      var rate = s.rps;
      cell(tr, s.role + ' ' + s.id);
      cell(tr, s.pid ? String(s.pid) : '–');
      cell(tr, s.state === 'ready' || s.state === 'absent' ? s.status : s.state, s.status);
      cell(tr, num(s.requests));
      cell(tr, num(Math.max(0, rate), rate < 10 ? 1 : 0));
      cell(tr, s.avgRtMs > 0 ? num(s.avgRtMs, 2) : '–');
      cell(tr, num(s.exceptions));
      cell(tr, s.rss ? bytes(s.rss) : '–');
      cell(tr, num(s.respawns));
      cell(tr, s.startedAt ? duration(now - s.startedAt) : '–');
      tbody.appendChild(tr);
    });

    var sockets = $('sockets').tBodies[0];
    sockets.textContent = '';
    d.sockets.forEach(function (s) {
      var tr = document.createElement('tr');
      cell(tr, s.name); cell(tr, s.proto); cell(tr, num(s.queue), s.queue > 0 ? 'busy' : ''); cell(tr, num(s.max));
      sockets.appendChild(tr);
    });

    var list = $('recent');
    list.textContent = '';
    if (d.recent.length === 0) { var li0 = document.createElement('li'); li0.className = 'muted'; li0.textContent = 'none yet'; list.appendChild(li0); }
    d.recent.forEach(function (e) {
      var li = document.createElement('li');
      var t = document.createElement('time'); t.textContent = clock(e.at);
      li.appendChild(t); li.appendChild(document.createTextNode(e.text));
      list.appendChild(li);
    });
  }

  function poll() {
    fetch('/live.json', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (d) {
      failures = 0;
      render(d);
    }).catch(function () {
      failures++;
      $('summary').textContent = 'usher is not answering (retrying)…';
    }).then(function () {
      setTimeout(poll, failures > 0 ? 2000 : 1000);
    });
  }
  poll();
})();
`;
