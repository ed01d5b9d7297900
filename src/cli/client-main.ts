/**
 * The webclient program. GET writes the content, byte for byte, to standard
 * output; every message goes to standard error. Exit status: see EXIT.
 */
import { once } from 'node:events';
import { open, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { progress, type ProgressStream } from './progress.js';
import { deleteItem, fetchParts, getRing, getStatus, PART_BYTES, putBytes, type ClientOptions } from '../client/client.js';
import { httpPut } from '../client/http-transfer.js';
import { formatAddress } from '../protocol/address.js';
import { checkItemName } from '../protocol/names.js';
import { formatRing } from '../ring/ring.js';
import { isCoopError } from '../errors.js';
import * as parse from './options.js';
import { formatStatus } from './status-table.js';
import { VERSION } from '../version.js';

export const EXIT = {
  OK: 0,
  NOT_FOUND: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  SERVER_ERROR: 4,
  DENIED: 5,
  OUTCOME_UNKNOWN: 6,
} as const;

interface ClientArgs {
  get?: string;
  put?: string;
  delete?: string;
  ring?: boolean;
  status?: boolean;
  json: boolean;
  version?: boolean;
  ip?: string;
  port: number;
  timeout: number;
  token?: string;
  tls: boolean;
  tlsCa?: string;
}

/** The original's single-dash long options, spelled the way commander reads them. */
const SINGLE_DASH = new Map([
  ['-get', '--get'],
  ['-put', '--put'],
  ['-delete', '--delete'],
  ['-ring', '--ring'],
  ['-status', '--status'],
  ['-ip', '--ip'],
  ['-port', '--port'],
  ['-timeout', '--timeout'],
  ['-token', '--token'],
]);

export interface Io {
  stdout: NodeJS.WritableStream;
  /** Messages; and a progress bar for a large item when it is a terminal. */
  stderr: ProgressStream;
}

/** Writes and waits while the pipe is full, so a slow reader bounds the memory used; a reader that goes away is an error. */
async function writeOut(stream: NodeJS.WritableStream, bytes: Buffer): Promise<void> {
  if (!stream.write(bytes)) await once(stream, 'drain');
}

export function clientCommand(io: Io): Command {
  return new Command('webclient')
    .description(
      'Stores a file in the ring (-put), fetches one (-get), deletes one (--delete), or shows the ring (--ring) and its members (--status).',
    )
    .addOption(
      new Option('--get <NAME>', 'fetch item NAME and write it to standard output (also -get)').conflicts([
        'put',
        'ring',
        'delete',
        'status',
      ]),
    )
    .addOption(new Option('--put <FILE>', 'store FILE under its base name (also -put)').conflicts(['ring', 'delete', 'status']))
    .addOption(new Option('--delete <NAME>', 'delete item NAME everywhere').conflicts(['ring', 'status']))
    .addOption(new Option('--ring', "print the server's view of the ring").conflicts(['status']))
    .addOption(new Option('--status', 'print every member as the server sees it: state, incarnation, version, items, in sync, last heard'))
    .addOption(new Option('--json', 'with --status: print the status as JSON, for scripts').default(false))
    .addOption(new Option('-V, --version', 'print the version of webclient'))
    .addOption(new Option('-i, --ip <IP>', "server's IP (default: the host name's address)").env('WEBCLIENT_IP'))
    .addOption(new Option('-p, --port <PORT>', "server's port").argParser(parse.port).default(parse.DEFAULT_PORT).env('WEBCLIENT_PORT'))
    .addOption(
      // Longer than the servers' round timeout (30 s), so that a server's own answer about a lost round comes first.
      new Option('--timeout <SECONDS>', 'give up after this long').argParser(parse.seconds).default(35).env('WEBCLIENT_TIMEOUT'),
    )
    .addOption(
      new Option('--token <TOKEN>', "the server's write token (for -put, --delete) or read token (prefer the environment variable)").env(
        'WEBCLIENT_TOKEN',
      ),
    )
    .addOption(new Option('--tls', 'speak TLS to a server started with --tls-cert').default(false).env('WEBCLIENT_TLS'))
    .addOption(
      new Option('--tls-ca <FILE>', "trust the certificates in FILE (PEM), such as the server's own; implies --tls").env(
        'WEBCLIENT_TLS_CA',
      ),
    )
    .addHelpText(
      'after',
      '\nExit status: 0 success, 1 not found (404), 2 bad arguments, 3 server unreachable or timed out, 4 error reply, 5 token missing or wrong.\n' +
        "Examples (without -i: the server at this host name's address):\n" +
        '  webclient -put index.html -p 4043\n  webclient -get index.html -p 4044 > copy.html\n  webclient --ring -i 10.0.0.5 -p 4043\n  webclient --status -p 4043\n',
    )
    .configureOutput({ writeOut: (text) => io.stderr.write(text), writeErr: (text) => io.stderr.write(text) })
    .exitOverride();
}

export async function main(argv: string[], io: Io = process): Promise<number> {
  const command = clientCommand(io);
  let args: ClientArgs;
  try {
    command.parse(
      argv.map((arg) => SINGLE_DASH.get(arg) ?? arg),
      { from: 'user' },
    );
    args = command.opts<ClientArgs>();
    if (args.version) {
      io.stdout.write(`${VERSION}\n`);
      return EXIT.OK;
    }
    const chosen = [args.get, args.put, args.delete, args.ring, args.status].filter((value) => value !== undefined).length;
    if (chosen !== 1) {
      throw new CommanderError(
        EXIT.USAGE,
        'webclient.usage',
        'error: give exactly one of -get NAME, -put FILE, --delete NAME, --ring or --status\n',
      );
    }
    if (args.json && !args.status) throw new CommanderError(EXIT.USAGE, 'webclient.usage', 'error: --json goes with --status\n');
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK;
      if (err.code === 'webclient.usage') io.stderr.write(err.message);
      io.stderr.write("(see 'webclient --help')\n");
      return EXIT.USAGE;
    }
    throw err;
  }

  let server: string;
  try {
    server = formatAddress(await parse.resolveHost(args.ip ?? (await parse.hostAddress())), args.port);
  } catch (err) {
    // A name that does not resolve is a server we cannot reach, like a refused connection.
    io.stderr.write(`webclient: ${(err as Error).message}\n`);
    return EXIT.UNREACHABLE;
  }
  let options: ClientOptions;
  try {
    const ca = args.tlsCa === undefined ? undefined : await readFile(args.tlsCa);
    options = { timeoutMs: args.timeout * 1000, token: args.token, tls: args.tls || ca ? { ca } : undefined };
  } catch (err) {
    io.stderr.write(`webclient: cannot read ${args.tlsCa}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
    return EXIT.USAGE;
  }
  try {
    if (args.ring) {
      io.stdout.write(formatRing(await getRing(server, options)) + '\n');
      return EXIT.OK;
    }
    if (args.status) {
      const status = await getStatus(server, options);
      io.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return EXIT.OK;
    }
    if (args.get !== undefined) {
      // Range by range (raw bytes beside each reply, several at once), so a large item never sits whole in memory.
      const bar = progress(io.stderr, `GET ${args.get}`);
      let done = 0;
      const found = await fetchParts(
        server,
        checkItemName(args.get),
        async (bytes, info) => {
          await writeOut(io.stdout, bytes);
          bar.update((done += bytes.length), info.size);
        },
        options,
      ).finally(() => bar.stop());
      if (!found) {
        io.stderr.write(`webclient: 404 NOT FOUND: no item named ${JSON.stringify(args.get)} in the ring\n`);
        return EXIT.NOT_FOUND;
      }
      return EXIT.OK;
    }
    if (args.delete !== undefined) {
      const status = await deleteItem(server, checkItemName(args.delete), options);
      io.stderr.write(`webclient: DELETE ${args.delete}: ${status}\n`);
      return EXIT.OK;
    }
    const file = args.put!;
    let size: number;
    let handle;
    try {
      const info = await stat(file);
      if (!info.isFile()) {
        io.stderr.write(`webclient: cannot put ${file}: ${info.isDirectory() ? 'it is a directory' : 'not a regular file'}\n`);
        return EXIT.USAGE;
      }
      size = info.size;
      handle = await open(file, 'r');
    } catch (err) {
      io.stderr.write(`webclient: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
      return EXIT.USAGE;
    }
    try {
      const name = checkItemName(basename(file));
      const read = async (offset: number, length: number): Promise<Buffer> => {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      };
      const bar = progress(io.stderr, `PUT ${name}`);
      // A file of more than one part streams over HTTP: the server sends its parts around the ring several at once.
      const status = await (
        size > PART_BYTES
          ? httpPut(server, name, size, handle.createReadStream({ start: 0, end: size - 1, autoClose: false }), options, (done) =>
              bar.update(done, size),
            )
          : putBytes(server, name, size, read, options)
      )
        .then((answer) => (bar.update(size, size), answer))
        .finally(() => bar.stop());
      io.stderr.write(`webclient: PUT ${name} (${size} bytes): ${status}\n`);
      return EXIT.OK;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (!isCoopError(err)) throw err;
    io.stderr.write(`webclient: ${err.message}\n`);
    switch (err.code) {
      case 'CONNECT_FAILED':
      case 'TIMEOUT':
      case 'CLOSED':
        return EXIT.UNREACHABLE;
      case 'BAD_NAME':
        return EXIT.USAGE;
      case 'UNAUTHORIZED':
      case 'FORBIDDEN':
        return EXIT.DENIED;
      case 'OUTCOME_UNKNOWN':
        return EXIT.OUTCOME_UNKNOWN;
      default:
        return EXIT.SERVER_ERROR;
    }
  }
}
