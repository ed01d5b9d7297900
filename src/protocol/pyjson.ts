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

/** Anything but printable ASCII, quote and backslash: a string without these is its own JSON text, quoted. */
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

export function pyString(value: string): string {
  // The usual content (plain text) is written quoted as it is, so no copy of it is
  // made here (JSON.stringify would copy every byte of a PUT's content).
  if (!NEEDS_ESCAPE.test(value)) return '"' + value + '"';
  const json = JSON.stringify(value);
  // ASCII with escapes (quotes, controls): its UTF-8 length is its length, and it has no DEL.
  if (Buffer.byteLength(value, 'utf8') === value.length && !value.includes('\u007f')) return json;
  return HAS_NON_ASCII.test(json) ? json.replace(NON_ASCII, escapeChar) : json;
}

/** Object keys are a few field names: each is encoded once, with its separator. */
const KEYS = new Map<string, string>();
const MAX_KEYS = 1000;

function pyKey(key: string): string {
  let encoded = KEYS.get(key);
  if (encoded === undefined) {
    encoded = pyString(key) + ': ';
    if (KEYS.size < MAX_KEYS) KEYS.set(key, encoded);
  }
  return encoded;
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
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ', ') + pyDumps(value[i]!);
    return out + ']';
  }
  out = '{';
  for (const key of Object.keys(value)) {
    const inner = value[key];
    if (inner !== undefined) out += (out.length === 1 ? '' : ', ') + pyKey(key) + pyDumps(inner);
  }
  return out + '}';
}
