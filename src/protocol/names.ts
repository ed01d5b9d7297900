/** Item names: any text a file could be called, but never empty, overlong or with control characters. */
import { CoopError } from '../errors.js';

export const MAX_NAME_BYTES = 255;

// C0 controls (NUL included), DEL and C1 controls: invisible, and dangerous in paths and logs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function checkItemName(name: unknown): string {
  if (typeof name !== 'string') throw new CoopError('BAD_FIELD', 'the item name must be a string');
  if (name.length === 0) throw new CoopError('BAD_NAME', 'the item name is empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new CoopError('BAD_NAME', `the item name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  if (CONTROL.test(name)) throw new CoopError('BAD_NAME', 'the item name contains a control character');
  if (!name.isWellFormed()) {
    throw new CoopError('BAD_NAME', 'the item name is not valid Unicode');
  }
  return name;
}
