/** The webserver program: parse argv, start one RingNode, print, stop on a signal. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatAddress } from '../protocol/address.js';
import { createLogger, surviveClosedStandardStreams } from '../log/logger.js';
import { RingNode, type NodeOptions } from '../node/node.js';
import { isCoopError } from '../errors.js';
import { isCommitFailure } from '../store/disk-errors.js';
import * as parse from './options.js';
import { settleExclusiveOptions } from './exclusive.js';
import { EXIT, serverCommand, type ServerArgs } from './server-command.js';

/** The default data directory: one per server, under the working directory, named after its address. */
export function defaultDataDir(self: string): string {
  return join('data', self.replace(/[^A-Za-z0-9.]+/g, '_').replace(/^_|_$/g, ''));
}

/** The secret and TLS files, read once at start; a file that cannot be read is a clear error. */
async function readSecrets(args: ServerArgs): Promise<Pick<NodeOptions, 'secret' | 'tls'>> {
  const read = async (file: string, what: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const secret = args.secretFile === undefined ? args.secret : (await read(args.secretFile, 'secret file')).toString('utf8').trim();
  if (secret === '') throw new Error('the cluster secret is empty');
  if ((args.tlsCert === undefined) !== (args.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (args.writeToken === '' || args.readToken === '') throw new Error('a token must not be empty');
  const tls =
    args.tlsCert === undefined || args.tlsKey === undefined
      ? undefined
      : {
          cert: await read(args.tlsCert, 'certificate'),
          key: await read(args.tlsKey, 'key'),
          ca: args.tlsCa === undefined ? undefined : await read(args.tlsCa, 'CA file'),
        };
  return { secret, tls };
}

export async function main(argv: string[]): Promise<RingNode | undefined> {
  surviveClosedStandardStreams();
  const command = serverCommand();
  command.parse(argv, { from: 'user' });
  const overridden = settleExclusiveOptions(command);
  const args = command.opts<ServerArgs>();
  const log = createLogger({ format: args.logFormat, verbose: args.verbose, time: args.logTime === 'on' });
  for (const line of overridden) log.info(line);
  // The store keeps LMDB off a full disk (--min-free); should a commit fail all the same (a disk filled
  // faster than the server looks), the write gets NO_SPACE, and lmdb-js also rejects a promise nobody
  // can handle. The library overruns a buffer reporting such a failure, so the process ends here, loudly.
  process.on('unhandledRejection', (reason) => {
    if (!isCommitFailure(reason)) throw reason;
    log.error(
      "the item database (LMDB) failed to commit a write, most likely for want of space on the data directory's disk; " +
        'exiting, since the library may have damaged its memory: free space (or raise --min-free) and start the server again',
    );
    process.exit(EXIT.failed);
  });
  // Installed first: a signal while the server starts or joins must stop it too (as PID 1, a signal
  // without a handler is ignored, so `docker stop` would wait for its SIGKILL).
  let node: RingNode | undefined = undefined;
  let joined = false;
  let stopping = false;
  const shutdown = (signal: string): void => {
    // A second signal (a second Ctrl-C; npm passing on the terminal's SIGINT) must not cut the leave short.
    if (stopping) {
      log.info(`${signal}: already ${joined ? 'leaving the ring' : 'stopping'}`);
      return;
    }
    stopping = true;
    log.info(joined ? `${signal}: leaving the ring` : `${signal}: stopping (not joined yet: the join is given up)`);
    // Leave gracefully, but never hang: the process is gone within a second and a half. A server
    // still joining may already be in its seed's ring, so it leaves too, without waiting for start().
    const exit = (): never => process.exit(EXIT.stopped);
    setTimeout(exit, 1500).unref();
    void (node ? node.leave() : Promise.resolve()).then(exit, exit);
  };
  const onSigint = (): void => shutdown('SIGINT');
  const onSigterm = (): void => shutdown('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const failed = (status: number): RingNode | undefined => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.exitCode = status;
    return node;
  };

  const listen = args.listen ?? { host: undefined, port: parse.DEFAULT_PORT, probeUpward: true };
  const host = listen.host === undefined ? await parse.hostAddress() : await parse.resolveHost(listen.host);
  // -i/-p is the one-seed spelling of --join; its host name, like theirs, is resolved at each try.
  const join =
    args.join ??
    (args.ip !== undefined || args.port !== undefined
      ? [formatAddress(args.ip ?? (await parse.hostAddress()), args.port ?? parse.DEFAULT_PORT)]
      : undefined);

  let secrets;
  try {
    secrets = await readSecrets(args);
  } catch (err) {
    log.error((err as Error).message);
    return failed(EXIT.unreadable);
  }
  if (stopping) return undefined;
  node = new RingNode({
    host,
    port: listen.port,
    probeUpward: listen.probeUpward,
    join,
    joinTimeoutMs: args.joinTimeout * 1000,
    advertise: args.advertise,
    heartbeatMs: args.heartbeat * 1000,
    suspicionTimeoutMs: args.suspicionTimeout === undefined ? undefined : args.suspicionTimeout * 1000,
    roundTimeoutMs: args.roundTimeout * 1000,
    idleTimeoutMs: args.idleTimeout * 1000,
    maxMessageBytes: args.maxMessage,
    dataDir: args.memory ? undefined : (self) => resolve(args.data ?? defaultDataDir(self)),
    repair: args.repair,
    syncIntervalMs: args.syncInterval * 1000,
    replicas: args.replicas,
    minFreeBytes: args.minFree,
    tombstoneTtlMs: args.tombstoneTtl * 1000,
    forgetAfterMs: args.forgetAfter * 1000,
    requestTimeoutMs: args.requestTimeout * 1000,
    maxConnections: args.maxConnections,
    maxRequestsPerConnection: args.maxRequestsPerConnection,
    maxItemBytes: args.maxItem,
    maxNameBytes: args.maxName,
    namePattern: args.namePattern,
    writeToken: args.writeToken,
    readToken: args.readToken,
    ...secrets,
    log,
  });
  try {
    await node.start();
  } catch (err) {
    // Stopped by a signal: the shutdown ends the process.
    if (stopping) return node;
    log.error(isCoopError(err) ? err.message : String(err));
    if (isCoopError(err, 'DATA_DIR_UNUSABLE') || isCoopError(err, 'DATA_DIR_DAMAGED')) return failed(EXIT.dataDir);
    return failed(isCoopError(err, 'JOIN_REFUSED') ? EXIT.joinRefused : EXIT.failed);
  }
  joined = true;
  // The node has logged why and left the ring already.
  node.on('failed', () => process.exit(EXIT.storeLost));
  return node;
}
