/**
 * The live ring page (`/_ring` asked by a browser). It shows what the server
 * it came from knows, whatever the browser can reach: that server's
 * membership (alive, suspect, dead, left) and the figures it gathers from the
 * other members over the peer protocol, polled from its `/_ring` JSON, and
 * its traffic, which `/_events` streams. Self-contained: no build step,
 * nothing fetched from elsewhere.
 */
import { escapeHtml } from './pages.js';
import { RING_MODEL_SOURCE } from './ring-model.js';

const STYLE = `
  :root { color-scheme: dark; --alive: #3ddc84; --suspect: #ffc107; --dead: #e5534b; --left: #8b949e; --muted: #9fb0c0; }
  * { box-sizing: border-box; }
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #0f1720; color: #e6edf3; }
  header { padding: .8rem 1rem .6rem; display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; align-items: baseline; }
  h1 { font-size: 1.15rem; margin: 0; overflow-wrap: anywhere; }
  h2 { font-size: .95rem; margin: .2rem 0 .4rem; }
  #summary, #here { color: var(--muted); }
  #health { padding: 0 .5rem; border-radius: 1rem; font-size: .85rem; }
  #health.ok { background: #1f6f43; } #health.bad { background: #6e2226; } #health:empty { display: none; }
  #trouble { margin: 0 1rem .6rem; padding: .4rem .8rem; border-radius: 8px; background: #6e2226; }
  #trouble:empty { display: none; }
  body.stale main { opacity: .55; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 31rem); gap: 1rem; padding: 0 1rem 1rem; align-items: start; }
  @media (max-width: 880px) { main { grid-template-columns: minmax(0, 1fr); } }
  #stage { min-width: 0; }
  svg { display: block; margin: 0 auto; max-width: 100%; background: #131d28; border-radius: 12px; }
  .arc { fill: none; stroke: #2d3b4a; stroke-width: 2; }
  .server { transition: transform .4s ease; }
  .server circle { stroke-width: 3; }
  .server[data-self="true"] circle { stroke-width: 5; }
  .server text { fill: #e6edf3; font-size: 13px; text-anchor: middle; }
  .server .sub { fill: var(--muted); font-size: 12px; }
  .server .label { font-size: 12px; text-anchor: start; dominant-baseline: central; }
  .server .label.end { text-anchor: end; }
  .server[data-self="true"] text.address, .server[data-self="true"] .label { font-weight: 700; }
  .server[data-status="alive"] circle { fill: #1f6f43; stroke: var(--alive); }
  .server[data-status="suspect"] circle { fill: #6b5200; stroke: var(--suspect); }
  .server[data-status="dead"] circle { fill: #3a1f22; stroke: var(--dead); }
  .server[data-status="left"] circle { fill: #262c33; stroke: var(--left); }
  .dot { pointer-events: none; }
  .PUT, .FORWARD_PUT { fill: #58a6ff; } .GET, .FORWARD_GET { fill: #3ddc84; } .UPDATE, .INSERT { fill: #d2a8ff; }
  .PING, .CHECK, .ACK, .PING_REQ { fill: #6e7681; } .DELETE { fill: #e5534b; } .DIGEST, .LIST { fill: #ffa657; }
  #outside-box { margin: .6rem 0 0; } #outside-box[hidden] { display: none; }
  #outside { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .3rem .6rem; font: 12.5px/1.5 ui-monospace, monospace; }
  #outside li { padding: .05rem .5rem; border-radius: 1rem; background: #1a2430; border: 1px solid #2d3b4a; }
  #outside li[data-status="dead"] { border-color: var(--dead); }
  #outside li[data-status="left"] { color: var(--left); }
  i.mark { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .35rem; vertical-align: -1px; }
  [data-status="alive"] > i.mark, i.mark.alive { background: var(--alive); }
  [data-status="suspect"] > i.mark, i.mark.suspect { background: var(--suspect); }
  [data-status="dead"] > i.mark, i.mark.dead { background: var(--dead); }
  [data-status="left"] > i.mark, i.mark.left { background: var(--left); }
  .legend { font-size: .85rem; color: var(--muted); } .legend span { margin-right: .8rem; white-space: nowrap; }
  table { width: 100%; border-collapse: collapse; font: 12.5px/1.5 ui-monospace, monospace; }
  th { text-align: left; color: var(--muted); font-weight: 600; border-bottom: 1px solid #2d3b4a; }
  td, th { padding: .1rem .35rem; white-space: nowrap; }
  td.num, th.num { text-align: right; }
  td.version { white-space: normal; overflow-wrap: anywhere; }
  tr.member[data-self="true"] td.address { font-weight: 700; }
  tr.member[data-status="dead"] td, tr.member[data-status="left"] td { color: var(--muted); }
  td.status { white-space: nowrap; }
  #traffic { margin-top: 1rem; }
  ol { list-style: none; padding-left: 0; margin: 0; font: 12px/1.5 ui-monospace, monospace; color: var(--muted); max-height: 14rem; overflow: auto; overflow-wrap: anywhere; }
  @media (max-width: 480px) { .heard { display: none; } header { padding: .6rem .75rem .4rem; } main { padding: 0 .75rem .75rem; } }
`;

const SCRIPT = `
const SELF = document.body.dataset.self;
const SVG = 'http://www.w3.org/2000/svg';
const STATUSES = ['alive', 'suspect', 'dead', 'left'];
const nodes = new Map();     // address -> its <g> on the circle, kept so moves animate
const positions = new Map(); // address -> [x, y] of its node, for the traffic dots
let report;                  // the last /_ring this server answered
let failedSince = 0;

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function html(name, attributes, text) {
  const element = document.createElement(name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 2500);
  try {
    const response = await fetch('/_ring', { headers: { accept: 'application/json' }, cache: 'no-store', signal: controller.signal });
    if (!response.ok) throw new Error('it answered ' + response.status);
    report = await response.json();
    failedSince = 0;
    document.getElementById('trouble').textContent = '';
    document.body.classList.remove('stale');
    render();
  } catch (err) {
    if (!failedSince) failedSince = Date.now();
    const seconds = Math.round((Date.now() - failedSince) / 1000);
    document.getElementById('trouble').textContent = 'No report from ' + SELF + ' for ' + seconds + ' s (' +
      (err && err.name === 'AbortError' ? 'no answer' : err && err.message || err) + '): showing what it last said.';
    document.body.classList.add('stale');
  } finally {
    clearTimeout(timer);
    setTimeout(poll, 1000);
  }
}

function render() {
  if (!report) return;
  const model = ringModel(report);
  renderHeader(model);
  renderOutside(model);
  renderCircle(model);
  renderTable(model);
}

function renderHeader(model) {
  const total = model.circle.length + model.outside.length;
  document.getElementById('summary').textContent = total + (total === 1 ? ' member: ' : ' members: ') +
    STATUSES.filter((s) => s === 'alive' || model.counts[s] > 0).map((s) => model.counts[s] + ' ' + s).join(', ');
  document.getElementById('here').textContent = model.here.items + ' items (' + model.here.bytes + ') here · up ' +
    model.here.uptime + (model.here.version === '–' ? '' : ' · version ' + model.here.version);
  const health = document.getElementById('health');
  health.textContent = model.health ? model.health.text : '';
  health.className = model.health ? (model.health.ok ? 'ok' : 'bad') : '';
}

function renderCircle(model) {
  const stage = document.getElementById('stage');
  const top = stage.getBoundingClientRect().top + window.scrollY;
  const below = document.getElementById('outside-box').getBoundingClientRect().height;
  const wide = window.matchMedia('(min-width: 881px)').matches;
  // Wide windows: the circle and the list under it fit the height left under the header; narrow ones scroll down.
  const room = wide ? window.innerHeight - top - below - 24 : Infinity;
  const side = Math.floor(Math.max(240, Math.min(stage.clientWidth, room, 760)));
  const longest = Math.max(1, ...model.circle.map((m) => m.label.length));
  const layout = ringLayout(model.circle.length, side, longest);
  const drawing = document.getElementById('ring');
  drawing.setAttribute('width', side);
  drawing.setAttribute('height', side);
  drawing.setAttribute('viewBox', '0 0 ' + side + ' ' + side);
  const arc = document.getElementById('arc');
  arc.setAttribute('cx', side / 2); arc.setAttribute('cy', side / 2); arc.setAttribute('r', layout.radius);
  const group = document.getElementById('servers');
  const onCircle = new Set(model.circle.map((m) => m.address));
  for (const [address, g] of nodes) if (!onCircle.has(address)) { g.remove(); nodes.delete(address); positions.delete(address); }
  model.circle.forEach((member, i) => {
    const place = layout.places[i];
    let g = nodes.get(member.address);
    if (!g) {
      g = svg('g', { class: 'server' });
      g.style.transform = 'translate(' + place.x + 'px, ' + place.y + 'px)';
      group.appendChild(g);
      nodes.set(member.address, g);
    }
    g.dataset.address = member.address;
    g.dataset.status = member.status;
    g.dataset.self = String(member.self);
    g.style.transform = 'translate(' + place.x + 'px, ' + place.y + 'px)';
    positions.set(member.address, [place.x, place.y]);
    g.textContent = '';
    g.appendChild(svg('title', {}, member.address + ': ' + member.status + ', ' + member.items + ' items, in sync: ' +
      member.inSync + ', version ' + member.version + ', heard ' + member.heard));
    const r = layout.nodeRadius;
    g.appendChild(svg('circle', { r }));
    if (layout.mode === 'full') {
      g.appendChild(svg('text', { class: 'address', y: -(r + 10) }, member.address));
      g.appendChild(svg('text', { class: 'count', y: r + 20 }, member.items + ' items'));
      const known = [member.inSync === 'yes' ? 'in sync' : member.inSync === 'no' ? 'out of sync' : '', member.version === '–' ? '' : 'v' + member.version];
      const figures = known.filter((text) => text !== '').join(' · ');
      if (figures !== '') g.appendChild(svg('text', { class: 'sub', y: r + 36 }, figures));
    } else {
      const left = Math.cos(place.angle) < -1e-9;
      const degrees = (place.angle * 180) / Math.PI + (left ? 180 : 0);
      const gap = r + 6;
      // Rotated into the node's own frame, the label points away from the centre; on the left half it is
      // turned over and right-aligned so it never reads upside down.
      g.appendChild(svg('text', { class: left ? 'label end' : 'label', x: left ? -gap : gap, transform: 'rotate(' + degrees + ')' },
        member.label));
    }
  });
}

function renderOutside(model) {
  const list = document.getElementById('outside');
  list.textContent = '';
  document.getElementById('outside-box').hidden = model.outside.length === 0;
  for (const member of model.outside) {
    const item = html('li', { class: 'server', 'data-address': member.address, 'data-status': member.status, 'data-self': member.self });
    item.appendChild(html('i', { class: 'mark' }));
    item.appendChild(document.createTextNode(member.address + ' ' + member.status));
    list.appendChild(item);
  }
}

function renderTable(model) {
  const body = document.getElementById('members');
  body.textContent = '';
  for (const member of [...model.circle, ...model.outside]) {
    const row = html('tr', { class: 'member', 'data-address': member.address, 'data-status': member.status, 'data-self': member.self });
    const cell = (cls, text) => row.appendChild(html('td', { class: cls }, text));
    cell('address', member.address);
    const status = cell('status', '');
    status.appendChild(html('i', { class: 'mark ' + member.status }));
    status.appendChild(document.createTextNode(member.status));
    cell('num items', member.items);
    cell('sync', member.inSync);
    cell('version', member.version);
    cell('num heard', member.heard);
    body.appendChild(row);
  }
}

const dots = [];
function animate(event) {
  const line = html('li', {}, new Date().toLocaleTimeString() + ' ' + event.type + ' ' + event.from + ' → ' + event.to);
  const log = document.getElementById('log');
  log.prepend(line);
  while (log.children.length > 40) log.lastChild.remove();
  const from = positions.get(event.from), to = positions.get(event.to);
  if (!from || !to || dots.length >= 80) return;
  const dot = svg('circle', { class: 'dot ' + event.type, r: 5, cx: from[0], cy: from[1] });
  document.getElementById('dots').appendChild(dot);
  dots.push(dot);
  const start = performance.now();
  (function step(now) {
    const t = Math.min(1, (now - start) / 600);
    dot.setAttribute('cx', String(from[0] + (to[0] - from[0]) * t));
    dot.setAttribute('cy', String(from[1] + (to[1] - from[1]) * t));
    if (t < 1) requestAnimationFrame(step);
    else { dot.remove(); dots.splice(dots.indexOf(dot), 1); }
  })(start);
}

new EventSource('/_events').onmessage = (message) => animate(JSON.parse(message.data));
window.addEventListener('resize', render);
poll();
`;

export function ringPage(self: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ring of ${escapeHtml(self)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body data-self="${escapeHtml(self)}">
<header><h1>The ring seen from ${escapeHtml(self)}</h1><span id="health"></span><span id="summary">loading…</span><span id="here"></span>
<span class="legend"><span><i class="mark alive"></i>alive</span><span><i class="mark suspect"></i>suspect</span><span><i class="mark dead"></i>dead</span><span><i class="mark left"></i>left</span></span></header>
<div id="trouble" role="status"></div>
<main>
<section id="stage"><svg id="ring" width="600" height="600" viewBox="0 0 600 600" role="img" aria-label="the live ring of servers, in ring order"><circle id="arc" class="arc" cx="300" cy="300" r="220"></circle><g id="dots"></g><g id="servers"></g></svg>
<div id="outside-box" hidden><h2>Not in the ring</h2><ul id="outside"></ul></div></section>
<aside><h2>Members, as this server knows them</h2>
<table><thead><tr><th>server</th><th>status</th><th class="num">items</th><th>in sync</th><th>version</th><th class="num heard">heard</th></tr></thead><tbody id="members"></tbody></table>
<section id="traffic"><h2>Traffic of this server</h2><ol id="log"></ol></section></aside>
</main>
<script>
${RING_MODEL_SOURCE}
${SCRIPT}
</script>
</body></html>
`;
}
