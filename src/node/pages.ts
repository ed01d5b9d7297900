/**
 * The two HTML pages the HTTP face serves: the live ring page (`/_ring` asked
 * by a browser) and the 404 page. Self-contained: no build step, nothing
 * fetched from the internet. The ring page draws the ring as a circle from
 * `/_ring` of every member (CORS allows it), and animates the traffic of the
 * server it came from, which `/_events` streams.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export function notFoundPage(name: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>404 Not Found</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>404 Not Found</h1>
<p>No server in the ring holds <code>${escapeHtml(name)}</code>.</p>
<p>See <a href="/_ring">the ring</a>.</p>
</body></html>
`;
}

export function ringPage(self: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ring of ${escapeHtml(self)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #0f1720; color: #e6edf3; }
  header { padding: 1rem 1.5rem; display: flex; gap: 2rem; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 1.2rem; margin: 0; }
  #summary { color: #9fb0c0; }
  main { display: grid; grid-template-columns: minmax(420px, 1fr) 22rem; gap: 1rem; padding: 0 1.5rem 1.5rem; }
  svg { width: 100%; height: auto; background: #131d28; border-radius: 12px; }
  .server circle { stroke-width: 3; }
  .server[data-status="alive"] circle { fill: #1f6f43; stroke: #3ddc84; }
  .server[data-status="suspect"] circle { fill: #6b5200; stroke: #ffc107; }
  .server[data-status="gone"] circle { fill: #3a1f22; stroke: #e5534b; stroke-dasharray: 6 4; }
  .server text { fill: #e6edf3; font-size: 13px; text-anchor: middle; }
  .server .sub { fill: #9fb0c0; font-size: 12px; }
  .server[data-self="true"] circle { stroke-width: 5; }
  .arc { fill: none; stroke: #2d3b4a; stroke-width: 2; }
  .dot { r: 6; }
  .PUT, .FORWARD_PUT { fill: #58a6ff; } .GET, .FORWARD_GET { fill: #3ddc84; } .UPDATE, .INSERT { fill: #d2a8ff; }
  .PING, .CHECK, .ACK, .PING_REQ { fill: #6e7681; } .DELETE { fill: #e5534b; } .DIGEST, .LIST { fill: #ffa657; }
  aside h2 { font-size: 1rem; margin: .5rem 0; }
  ol { list-style: none; padding-left: 0; margin: 0; font: 12px/1.5 ui-monospace, monospace; color: #9fb0c0; max-height: 30rem; overflow: auto; }
  .legend span { margin-right: 1rem; } .legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 50%; margin-right: .3rem; vertical-align: -1px; }
</style></head>
<body>
<header><h1>Co-op WebServers: the ring seen from ${escapeHtml(self)}</h1><div id="summary">loading…</div>
<div class="legend"><span><i style="background:#3ddc84"></i>alive</span><span><i style="background:#ffc107"></i>suspected</span><span><i style="background:#e5534b"></i>gone</span></div></header>
<main>
<svg id="ring" viewBox="0 0 600 640" role="img" aria-label="the ring of servers"><circle class="arc" cx="300" cy="320" r="220"></circle><g id="servers"></g><g id="dots"></g></svg>
<aside><h2>Traffic of this server</h2><ol id="log"></ol></aside>
</main>
<script>
const SELF = ${JSON.stringify(self)};
const known = [];           // every server ever seen, in a stable drawing order
const info = new Map();     // address -> { status, items, digest }
const position = new Map(); // address -> [x, y]

function place(ring) {
  ring.forEach((address, i) => {
    if (known.includes(address)) return;
    const before = i > 0 ? known.indexOf(ring[i - 1]) : -1;
    known.splice(before === -1 ? known.length : before + 1, 0, address);
  });
}

async function fetchJson(url, ms) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  try { return await (await fetch(url, { signal: controller.signal, cache: 'no-store' })).json(); }
  finally { clearTimeout(timer); }
}

async function refresh() {
  let mine;
  try { mine = await fetchJson('/_ring', 2000); } catch { document.getElementById('summary').textContent = SELF + ' does not answer'; return; }
  place(mine.members.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => m.address));
  for (const m of mine.members) if (!known.includes(m.address)) known.push(m.address);
  await Promise.all(known.map(async (address) => {
    const member = mine.members.find((m) => m.address === address);
    const status = !member || member.status === 'dead' || member.status === 'left' ? 'gone' : member.status;
    const entry = { status, items: undefined, digest: undefined };
    if (status !== 'gone') {
      try {
        const theirs = address === SELF ? mine : await fetchJson('http://' + address + '/_ring', 1500);
        entry.items = theirs.items; entry.digest = theirs.digest;
      } catch { if (status === 'alive') entry.status = 'suspect'; }
    }
    info.set(address, entry);
  }));
  draw(mine);
}

function draw(mine) {
  const group = document.getElementById('servers');
  group.textContent = '';
  const digests = [...info.values()].filter((e) => e.digest).map((e) => e.digest);
  const common = digests.sort((a, b) => digests.filter((d) => d === b).length - digests.filter((d) => d === a).length)[0];
  known.forEach((address, i) => {
    const angle = (2 * Math.PI * i) / known.length - Math.PI / 2;
    const x = 300 + 220 * Math.cos(angle), y = 320 + 220 * Math.sin(angle);
    position.set(address, [x, y]);
    const e = info.get(address) || { status: 'gone' };
    const g = document.createElementNS('http://www.w3.org/2000/svg', 'g');
    g.setAttribute('class', 'server');
    g.dataset.address = address; g.dataset.status = e.status; g.dataset.self = String(address === SELF);
    const sync = e.status === 'gone' ? 'gone' : e.digest === undefined ? '?' : e.digest === common ? 'in sync' : 'syncing';
    g.innerHTML = '<circle cx="' + x + '" cy="' + y + '" r="34"></circle>' +
      '<text x="' + x + '" y="' + (y - 42) + '">' + address + '</text>' +
      '<text class="sub" x="' + x + '" y="' + (y + 4) + '">' + (e.items ?? '–') + ' items</text>' +
      '<text class="sub" x="' + x + '" y="' + (y + 54) + '">' + sync + '</text>';
    group.appendChild(g);
  });
  const alive = [...info.values()].filter((e) => e.status === 'alive').length;
  const gone = [...info.values()].filter((e) => e.status === 'gone').length;
  document.getElementById('summary').textContent = known.length + ' servers: ' + alive + ' alive, ' + gone + ' gone · ' +
    mine.items + ' items here · up ' + Math.round(mine.uptimeSeconds) + ' s';
}

function animate(event) {
  const from = position.get(event.from), to = position.get(event.to);
  const line = document.createElement('li');
  line.textContent = new Date().toLocaleTimeString() + ' ' + event.type + ' ' + event.from + ' → ' + event.to;
  const log = document.getElementById('log');
  log.prepend(line);
  while (log.children.length > 40) log.lastChild.remove();
  if (!from || !to) return;
  const dot = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
  dot.setAttribute('class', 'dot ' + event.type);
  dot.setAttribute('r', '6');
  document.getElementById('dots').appendChild(dot);
  const start = performance.now();
  (function step(now) {
    const t = Math.min(1, (now - start) / 600);
    dot.setAttribute('cx', String(from[0] + (to[0] - from[0]) * t));
    dot.setAttribute('cy', String(from[1] + (to[1] - from[1]) * t));
    if (t < 1) requestAnimationFrame(step); else dot.remove();
  })(start);
}

new EventSource('/_events').onmessage = (message) => animate(JSON.parse(message.data));
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
`;
}
