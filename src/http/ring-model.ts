/**
 * What the ring page shows, as pure functions of a server's `/_ring` report and
 * the size of the drawing. The page's script embeds these functions by their
 * source, so each may use only its arguments, the others exported here and the
 * language's built-ins (no imports, no module state).
 */

export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** One entry of `members` in `/_ring`; the figures are there only when the server could gather them. */
export interface MemberReport {
  address: string;
  status: MemberStatus;
  incarnation?: number;
  lastHeardMsAgo?: number;
  version?: string;
  items?: number;
  bytes?: number;
  digest?: string;
  inSync?: boolean;
}

/** `GET /_ring` as JSON. */
export interface RingReport {
  self: string;
  uptimeSeconds?: number;
  incarnation?: number;
  ring?: string[];
  members?: MemberReport[];
  items?: number;
  bytes?: number;
  digest?: string;
  version?: string;
  health?: { ok: boolean; reason?: string };
}

export interface MemberView {
  address: string;
  status: MemberStatus;
  self: boolean;
  /** Drawn beside a small node: the port alone when every member shares one host. */
  label: string;
  items: string;
  bytes: string;
  inSync: string;
  version: string;
  heard: string;
}

export interface RingModel {
  self: string;
  /** The live ring from this server, in ring order: drawn as the circle. */
  circle: MemberView[];
  /** Dead and left members: listed apart from the circle. */
  outside: MemberView[];
  counts: Record<MemberStatus, number>;
  /** This server's own figures, for the header. */
  here: { items: string; bytes: string; uptime: string; version: string };
  health: { ok: boolean; text: string } | undefined;
}

export const UNKNOWN = '–';

export function formatCount(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–';
}

export function formatBytes(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return '–';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let size = value;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit++;
  }
  return (unit === 0 || size >= 100 ? String(Math.round(size)) : size.toFixed(1)) + ' ' + units[unit];
}

/** A duration in seconds, in its largest sensible unit: "0.4 s", "17 s", "3 min", "2 h", "5 d". */
export function formatSeconds(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return '–';
  if (value < 10) return value.toFixed(1) + ' s';
  if (value < 120) return Math.round(value) + ' s';
  if (value < 7200) return Math.round(value / 60) + ' min';
  if (value < 172800) return Math.round(value / 3600) + ' h';
  return Math.round(value / 86400) + ' d';
}

export function ringModel(report: RingReport): RingModel {
  const self = String(report.self);
  const members = Array.isArray(report.members) ? report.members : [];
  const ring = Array.isArray(report.ring) ? report.ring : [];
  const byAddress = new Map(members.map((member) => [member.address, member]));
  const all = [...new Set([...ring, ...members.map((member) => member.address)])];
  const hosts = new Set(all.map((address) => address.slice(0, address.lastIndexOf(':'))));
  const view = (address: string): MemberView => {
    const member = byAddress.get(address);
    const here = address === self;
    const status: MemberStatus = member && ['alive', 'suspect', 'dead', 'left'].includes(member.status) ? member.status : 'alive';
    const version = member?.version ?? (here ? report.version : undefined);
    return {
      address,
      status,
      self: here,
      label: hosts.size === 1 ? address.slice(address.lastIndexOf(':')) : address,
      items: formatCount(member?.items ?? (here ? report.items : undefined)),
      bytes: formatBytes(member?.bytes ?? (here ? report.bytes : undefined)),
      inSync: member?.inSync === true ? 'yes' : member?.inSync === false ? 'no' : '–',
      version: typeof version === 'string' && version !== '' ? version : '–',
      heard: here ? 'here' : formatSeconds(member?.lastHeardMsAgo === undefined ? undefined : member.lastHeardMsAgo / 1000),
    };
  };
  const circle = ring.map(view);
  const severity = { alive: 0, suspect: 1, dead: 2, left: 3 };
  const outside = all
    .filter((address) => !ring.includes(address))
    .map(view)
    .sort((a, b) => severity[a.status] - severity[b.status] || (a.address < b.address ? -1 : 1));
  const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
  for (const member of [...circle, ...outside]) counts[member.status]++;
  const health = report.health;
  return {
    self,
    circle,
    outside,
    counts,
    here: {
      items: formatCount(report.items),
      bytes: formatBytes(report.bytes),
      uptime: formatSeconds(report.uptimeSeconds),
      version: typeof report.version === 'string' && report.version !== '' ? report.version : '–',
    },
    health:
      health && typeof health.ok === 'boolean'
        ? { ok: health.ok, text: health.ok ? 'healthy' : 'unhealthy' + (health.reason ? ': ' + health.reason : '') }
        : undefined,
  };
}

export interface Placement {
  x: number;
  y: number;
  /** Radians, clockwise from three o'clock (SVG's y points down). */
  angle: number;
}

export interface RingLayout {
  /** 'full': address above each node, figures in and below it; 'radial': one short label pointing outward. */
  mode: 'full' | 'radial';
  side: number;
  radius: number;
  nodeRadius: number;
  places: Placement[];
}

/** Widest label in pixels, at the page's 12-13 px label fonts (a generous average glyph width). */
export function labelWidth(chars: number): number {
  return chars * 7.5;
}

/**
 * Where `count` members go in a square drawing of `side` pixels: the first
 * (this server) at the top, the others clockwise in ring order. Sizes are in
 * pixels, so text keeps its size on a phone; few members on a wide enough
 * drawing get their figures beside them, many get short radial labels.
 */
export function ringLayout(count: number, side: number, longestLabel: number): RingLayout {
  const centre = side / 2;
  // Figures beside the nodes need neighbours an address and a margin apart.
  const fullRadius = (nodeRadius: number): number => centre - Math.max(nodeRadius + 44, labelWidth(15) / 2 + 8);
  const full = count <= 6 && 2 * fullRadius(Math.min(26, side / 14)) * Math.sin(Math.PI / Math.max(count, 2)) >= labelWidth(15) + 60;
  let nodeRadius: number;
  let radius: number;
  if (full) {
    nodeRadius = Math.min(26, side / 14);
    radius = fullRadius(nodeRadius);
  } else {
    radius = Math.max(20, centre - labelWidth(longestLabel) - 14 - 10);
    nodeRadius = Math.min(14, Math.max(5, ((Math.PI * radius) / Math.max(count, 1)) * 0.55));
  }
  const places = Array.from({ length: count }, (_, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / count;
    return { x: centre + radius * Math.cos(angle), y: centre + radius * Math.sin(angle), angle };
  });
  return { mode: full ? 'full' : 'radial', side, radius, nodeRadius, places };
}

/** Every function the page's script needs, as source. */
export const RING_MODEL_SOURCE = [formatCount, formatBytes, formatSeconds, ringModel, labelWidth, ringLayout]
  .map((fn) => fn.toString())
  .join('\n\n');
