/**
 * Who may do what. Peer messages (joins, ring updates, heartbeats, forwarded
 * rounds) need the cluster secret when one is set; writes (PUT, DELETE) need
 * the write token when one is set; reads need the read token (or the write
 * token) when one is set. A message that carried a valid peer tag comes from
 * a server of the ring and may do anything. Without a secret, a token or
 * both, that part stays open, as the original is.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CoopError } from '../errors.js';
import type { MessageType } from '../protocol/messages.js';

export type Access = 'peer' | 'write' | 'read';

const ACCESS: Record<MessageType, Access> = {
  INSERT: 'peer',
  UPDATE: 'peer',
  CHECK: 'peer',
  FORWARD_PUT: 'peer',
  FORWARD_GET: 'peer',
  PING: 'peer',
  PING_REQ: 'peer',
  STREAM: 'peer',
  HANDOVER: 'peer',
  PUT: 'write',
  DELETE: 'write',
  GET: 'read',
  RING: 'read',
  DIGEST: 'read',
  LIST: 'read',
};

export function accessOf(type: MessageType): Access {
  return ACCESS[type];
}

export interface AccessOptions {
  secret?: boolean;
  writeToken?: string | undefined;
  readToken?: string | undefined;
}

/** Compares digests, so neither the length nor the content of a token leaks through timing. */
function sameToken(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digestOf(given), expected);
}

function digestOf(token: string): Buffer;
function digestOf(token: string | undefined): Buffer | undefined;
function digestOf(token: string | undefined): Buffer | undefined {
  return token === undefined ? undefined : createHash('sha256').update(token).digest();
}

export class AccessPolicy {
  private readonly write: Buffer | undefined;
  private readonly read: Buffer | undefined;
  private readonly secret: boolean;

  constructor(options: AccessOptions = {}) {
    if (options.writeToken === '' || options.readToken === '') throw new Error('a token must not be empty');
    this.write = digestOf(options.writeToken);
    this.read = digestOf(options.readToken);
    this.secret = options.secret ?? false;
  }

  /** Anybody may read: no read token. */
  get readsOpen(): boolean {
    return !this.read;
  }

  /** Throws UNAUTHENTICATED, UNAUTHORIZED or FORBIDDEN when `access` is not granted. */
  check(access: Access, token: string | undefined, authenticPeer = false): void {
    if (authenticPeer) return;
    if (access === 'peer') {
      if (this.secret) throw new CoopError('UNAUTHENTICATED', 'peer messages need the cluster secret: this one has no valid tag');
      return;
    }
    const required = access === 'write' ? this.write : this.read;
    if (!required) return;
    if (token === undefined) throw new CoopError('UNAUTHORIZED', `${access === 'write' ? 'writing' : 'reading'} needs a token`);
    // The write token also grants reads.
    const accepted = access === 'write' ? [this.write] : [this.read, this.write];
    if (!accepted.some((expected) => expected !== undefined && sameToken(token, expected))) {
      throw new CoopError('FORBIDDEN', `the token is not the ${access} token`);
    }
  }
}
