/**
 * The original program, simulated as SPEC.md section 2 describes it, for
 * tests of mixed rings. Each connection gets one read of at most 1024 bytes
 * (a message that does not parse from it is lost, as it is there); a message
 * passed on is rebuilt from `creator`, `type` and `data` (the list, or `item`
 * and `content`) only; its own UPDATE, FORWARD_PUT and FORWARD_GET rounds
 * carry no id and end when they come back; a bare `{"type": "CHECK"}` goes to
 * the successor every `checkIntervalMs` (5 s there), and a failed connect
 * cuts the successor out and sends an UPDATE instead of the message (the
 * round is lost). Clients are answered in the original's exact form, waiting
 * GETs in arrival order (its defect 1), and only its first PUT (defect 3).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { parseAddress } from '../src/protocol/address.js';
import { pyDumps, type PyJson } from '../src/protocol/pyjson.js';
import { sendMessage } from '../src/transport/dial.js';

/** The original reads a message with one recv(1024). */
export const ORIGINAL_READ = 1024;
const NOT_FOUND = '404 NOT FOUND';

type Raw = { type?: unknown; creator?: unknown; data?: unknown };
type Item = { item: string; content: string };

export interface OriginalOptions {
  /** Heartbeat interval (the original's is 5 s). */
  checkIntervalMs?: number;
  host?: string;
  /**
   * Leave a connection open after a message that gets no answer (INSERT,
   * UPDATE, CHECK, an unknown type such as PING): the peer sees no reply and
   * no close until it gives up, as when the original's handler returns
   * without closing its socket.
   */
  keepOpen?: boolean;
}

export class OriginalServer {
  ring: string[] = [];
  self = '';
  readonly items = new Map<string, string>();
  /** Every message text as read (at most 1024 bytes each). */
  readonly received: string[] = [];
  /** Messages that did not parse from their one read: lost. */
  lost = 0;
  private readonly waitingGets: Socket[] = [];
  private readonly waitingPuts: Array<{ socket: Socket; item: string }> = [];
  private putsAnswered = 0;
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly checkIntervalMs: number;
  private readonly host: string;
  private readonly keepOpen: boolean;

  constructor(options: OriginalOptions = {}) {
    this.checkIntervalMs = options.checkIntervalMs ?? 5000;
    this.host = options.host ?? '127.0.0.1';
    this.keepOpen = options.keepOpen ?? false;
  }

  async start(): Promise<string> {
    this.server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, this.host, resolve));
    this.self = `${this.host}:${(this.server.address() as { port: number }).port}`;
    this.ring = [this.self];
    this.timer = setInterval(() => void this.heartbeat(), this.checkIntervalMs);
    return this.self;
  }

  /** Stops listening and heartbeating, and drops every connection (as a killed process would). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** `-i/-p`: asks `target` to place this server after it. */
  join(target: string): Promise<void> {
    return this.send(target, { type: 'INSERT', data: this.self });
  }

  /** Starts an UPDATE round of its ring as it now holds it, as it does after an INSERT or a failed CHECK. */
  announce(): Promise<void> {
    return this.toSuccessor({ creator: this.self, type: 'UPDATE', data: this.ring });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      const text = chunk.subarray(0, ORIGINAL_READ).toString('utf8');
      this.received.push(text);
      let message: Raw;
      try {
        message = JSON.parse(text) as Raw;
      } catch {
        this.lost++;
        socket.destroy();
        return;
      }
      void this.handle(message, socket).catch(() => undefined);
    });
  }

  private successor(): string {
    return this.ring[(this.ring.indexOf(this.self) + 1) % this.ring.length]!;
  }

  private send(to: string, message: Record<string, PyJson>): Promise<void> {
    return sendMessage(parseAddress(to), pyDumps(message), 1000);
  }

  /**
   * Sends to the successor; when the connect fails, cuts it out and sends an
   * UPDATE of its own instead, to the next one that answers.
   */
  private async toSuccessor(message: Record<string, PyJson>): Promise<void> {
    let payload = message;
    for (;;) {
      const next = this.successor();
      if (next === this.self) return;
      try {
        await this.send(next, payload);
        return;
      } catch {
        this.ring = this.ring.filter((address) => address !== next);
        payload = { creator: this.self, type: 'UPDATE', data: this.ring };
      }
    }
  }

  /** Passes a message on, rebuilt from the fields the original knows. */
  private pass(creator: string, type: string, data: PyJson): Promise<void> {
    return this.toSuccessor({ creator, type, data });
  }

  private async heartbeat(): Promise<void> {
    const next = this.successor();
    if (next === this.self) return;
    const alive = await new Promise<boolean>((resolve) => {
      const socket = createConnection(parseAddress(next));
      socket.on('connect', () => {
        socket.end(pyDumps({ type: 'CHECK' }));
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (alive || !this.server) return;
    this.ring = this.ring.filter((address) => address !== next);
    await this.toSuccessor({ creator: this.self, type: 'UPDATE', data: this.ring }).catch(() => undefined);
  }

  private answer(socket: Socket | undefined, reply: Record<string, PyJson>): void {
    // The original does not close first: the client reads its one chunk.
    socket?.end(pyDumps(reply));
  }

  private async handle(message: Raw, socket: Socket): Promise<void> {
    const creator = typeof message.creator === 'string' ? message.creator : '';
    const data = (message.data ?? {}) as Item;
    switch (message.type) {
      case 'INSERT':
        this.done(socket);
        this.ring.splice(this.ring.indexOf(this.self) + 1, 0, message.data as string);
        return this.pass(this.self, 'UPDATE', this.ring);
      case 'UPDATE':
        this.done(socket);
        if (creator === this.self) return;
        this.ring = [...(message.data as string[])];
        return this.pass(creator, 'UPDATE', this.ring);
      case 'CHECK':
        this.done(socket);
        return;
      case 'PUT':
        this.items.set(data.item, data.content);
        this.waitingPuts.push({ socket, item: data.item });
        if (this.ring.length === 1) return this.endPut();
        return this.pass(this.self, 'FORWARD_PUT', { item: data.item, content: data.content });
      case 'GET': {
        const item = message.data as string;
        const held = this.items.get(item);
        if (held !== undefined) return this.answer(socket, { type: 'GET', data: { item, content: held } });
        if (this.ring.length === 1) return this.answer(socket, { type: 'GET', data: { item, content: NOT_FOUND } });
        this.waitingGets.push(socket);
        return this.pass(this.self, 'FORWARD_GET', { item, content: NOT_FOUND });
      }
      case 'FORWARD_PUT':
        socket.end();
        if (creator === this.self) return this.endPut();
        this.items.set(data.item, data.content);
        return this.pass(creator, 'FORWARD_PUT', { item: data.item, content: data.content });
      case 'FORWARD_GET': {
        socket.end();
        // What comes back, or passes a server that lacks the item, is stored: "404 NOT FOUND" too.
        const held = creator === this.self ? undefined : this.items.get(data.item);
        const content = held ?? data.content;
        this.items.set(data.item, content);
        if (creator === this.self) return this.answer(this.waitingGets.shift(), { type: 'GET', data: { item: data.item, content } });
        return this.pass(creator, 'FORWARD_GET', { item: data.item, content });
      }
      default:
        this.done(socket);
    }
  }

  /** A message that gets no answer: the connection is closed, or left open (`keepOpen`). */
  private done(socket: Socket): void {
    if (!this.keepOpen) socket.end();
  }

  /** A PUT round of its own is back: only the first PUT this server ever took is answered. */
  private endPut(): void {
    const put = this.waitingPuts.shift();
    if (!put || this.putsAnswered++ > 0) return;
    this.answer(put.socket, { type: 'PUT', data: { item: put.item, status: '200 OK' } });
  }
}

/**
 * The original client: one connection, one message, one read of at most
 * 1024 bytes, parsed. Resolves with the text read and its parse (undefined
 * when it does not parse, as the original client would fail).
 */
export function originalClient(
  server: string,
  message: Record<string, PyJson>,
  timeoutMs = 5000,
): Promise<{ text: string; reply: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(parseAddress(server));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${server} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => socket.write(pyDumps(message)));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      const text = chunk.subarray(0, ORIGINAL_READ).toString('utf8');
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        reply = undefined;
      }
      resolve({ text, reply });
    });
  });
}
