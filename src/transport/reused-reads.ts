/**
 * Reads a socket into one buffer used again for every read, instead of the
 * fresh buffer Node allocates for each (part-blocks.ts says why that
 * matters). Node offers this (`onread`) only to sockets it connects; an
 * accepted socket gets it by the same two fields and the same call on its
 * handle that `onread` sets up. Where those are missing (another version of
 * Node, a TLS socket), nothing is changed and false is returned.
 */
import type { Socket } from 'node:net';

/** The read size: the kernel hands over up to this much at once. */
const READ_BYTES = 256 * 1024;
/** One buffer for every socket: each read is handled whole, synchronously, before the next is made. */
let shared: Buffer | undefined;

interface StreamHandle {
  useUserBuffer?(buffer: Uint8Array): void;
}

/**
 * Where the socket can read into the reused buffer, the call that switches
 * it to that: from then on its reads go to `onBytes`, as views valid only
 * until it returns, and it emits no 'data' ('end' and 'close' are as before).
 * Undefined where it cannot: read it as usual.
 */
export function reusedReads(socket: Socket): ((onBytes: (bytes: Buffer) => void) => void) | undefined {
  if ((socket as Socket & { encrypted?: boolean }).encrypted) return undefined;
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((symbol) => symbol.description === 'kBuffer');
  const kBufferCb = symbols.find((symbol) => symbol.description === 'kBufferCb');
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (kBuffer === undefined || kBufferCb === undefined || typeof handle?.useUserBuffer !== 'function') return undefined;
  return (onBytes) => {
    const buffer = (shared ??= Buffer.allocUnsafeSlow(READ_BYTES));
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[kBuffer] = buffer;
    fields[kBufferCb] = (length: number, into: Buffer): void => onBytes(into.subarray(0, length));
    handle.useUserBuffer!(buffer);
  };
}
