/**
 * JSON text exactly as Python's `json.dumps` writes it with default settings:
 * `", "` and `": "` separators, and every character outside printable ASCII
 * escaped as \uXXXX (ensure_ascii). The original program writes its messages
 * this way, so ours are byte-for-byte alike on the wire.
 */

const NON_ASCII = /[\u007f-\uffff]/g;
const HAS_NON_ASCII = /[\u007f-\uffff]/;

function escapeChar(ch: string): string {
  return '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
}

export function pyString(value: string): string {
  const json = JSON.stringify(value);
  return HAS_NON_ASCII.test(json) ? json.replace(NON_ASCII, escapeChar) : json;
}

export type PyJson = string | number | boolean | null | PyJson[] | { [key: string]: PyJson | undefined };

/** Encodes plain data; object keys keep their insertion order, undefined values are left out. */
export function pyDumps(value: PyJson): string {
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('pyDumps: numbers must be finite');
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  if (Array.isArray(value)) return '[' + value.map(pyDumps).join(', ') + ']';
  const parts: string[] = [];
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== undefined) parts.push(pyString(key) + ': ' + pyDumps(inner));
  }
  return '{' + parts.join(', ') + '}';
}
