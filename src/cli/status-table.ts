/** `webclient --status`: a server's view of its ring as a table, the way `serf members` or `nodetool status` print theirs. */
import type { MemberView, RingStatus } from '../protocol/status.js';

/** "0.4s", "12s", "5m", "3h", "2d": how long ago, as short as it stays readable. */
export function formatAgo(ms: number | undefined): string {
  if (ms === undefined) return '-';
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s ago`;
  if (seconds < 120) return `${Math.round(seconds)}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

const COLUMNS = ['ADDRESS', 'STATE', 'INCARNATION', 'VERSION', 'ITEMS', 'IN SYNC', 'LAST HEARD'] as const;

function row(member: MemberView, self: string): string[] {
  return [
    member.address === self ? `${member.address} (this)` : member.address,
    member.status,
    String(member.incarnation),
    member.version ?? '-',
    member.items === undefined ? '-' : String(member.items),
    member.inSync === undefined ? '-' : member.inSync ? 'yes' : 'no',
    member.address === self ? '-' : formatAgo(member.lastHeardMsAgo),
  ];
}

/** The table, one line per member in ring order (the ones out of the ring after), preceded by a line about the asked server. */
export function formatStatus(status: RingStatus): string {
  const health = status.health.ok ? 'healthy' : `not ready: ${status.health.reason ?? 'unknown'}`;
  const placed = status.replicas === undefined ? '' : `, each item on ${status.replicas} servers (ITEMS: the ones each holds)`;
  const heading = `${status.self}: version ${status.version}, ${status.ring.length} in the ring${placed}, ${health}`;
  const position = (member: MemberView): number => {
    const at = status.ring.indexOf(member.address);
    return at === -1 ? status.ring.length : at;
  };
  const members = [...status.members].sort((a, b) => position(a) - position(b));
  const rows = [[...COLUMNS], ...members.map((member) => row(member, status.self))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((cells) => cells[i]!.length)));
  const lines = rows.map((cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  return [heading, ...lines].join('\n') + '\n';
}
