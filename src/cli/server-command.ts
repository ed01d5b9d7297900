/** The webserver's command line: its options with their variables and defaults, and its exit statuses. */
import { Command, Option } from 'commander';
import type { LogFormat } from '../log/logger.js';
import { DEFAULTS } from '../node/options.js';
import * as parse from './options.js';
import { VERSION } from '../version.js';

export interface ServerArgs {
  ip?: string;
  port?: number;
  verbose: boolean;
  listen?: parse.ListenSpec;
  join?: string[];
  joinTimeout: number;
  advertise?: string;
  heartbeat: number;
  suspicionTimeout?: number;
  roundTimeout: number;
  idleTimeout: number;
  maxMessage: number;
  logFormat: LogFormat;
  logTime: 'on' | 'off';
  data?: string;
  memory: boolean;
  repair: boolean;
  syncInterval: number;
  replicas?: number;
  minFree: number;
  tombstoneTtl: number;
  forgetAfter: number;
  requestTimeout: number;
  maxConnections: number;
  maxRequestsPerConnection: number;
  maxItem: number;
  maxName: number;
  namePattern?: RegExp;
  secret?: string;
  secretFile?: string;
  writeToken?: string;
  readToken?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

/** The exit statuses of webserver (systemd's RestartPreventExitStatus= lists those a restart cannot cure). */
export const EXIT = {
  /** Stopped by SIGINT or SIGTERM. */
  stopped: 0,
  /**
   * Bad arguments, a port it cannot bind, no ring within --join-timeout (JOIN_FAILED), a data directory
   * another running server holds (DATA_DIR_LOCKED): a restart may help.
   */
  failed: 1,
  joinFailed: 1,
  /** A secret, certificate or key file that cannot be read, or is empty. */
  unreadable: 2,
  /** A seed refused this server (JOIN_REFUSED: cluster secret, TLS, not a ring server). */
  joinRefused: 3,
  /**
   * A data directory it cannot use: it cannot be written (DATA_DIR_UNUSABLE), or its index is damaged
   * (DATA_DIR_DAMAGED, until started with --repair): restarting cannot help until it is fixed.
   */
  dataDir: 4,
  /** Its data directory was removed or replaced while it ran: it left the ring (a restart starts empty and refills). */
  storeLost: 5,
} as const;

export function serverCommand(): Command {
  return new Command('webserver')
    .description(
      'A server of the Co-op WebServers ring. Without a seed (-i/-p, or --join) it starts a ring of its own; ' +
        'with one it joins the server there, which becomes its predecessor.',
    )
    .version(VERSION, '-V, --version', 'print the version of webserver')
    .addOption(new Option('-i, --ip <HOST>', 'IP or host name of a running server to join (one seed; see --join)').env('WEBSERVER_JOIN_IP'))
    .addOption(
      new Option('-p, --port <PORT>', `port of the server to join (default ${parse.DEFAULT_PORT})`)
        .argParser(parse.port)
        .env('WEBSERVER_JOIN_PORT'),
    )
    .addOption(
      new Option(
        '--join <HOST:PORT,...>',
        'seeds to join, tried in turn until one takes this server in (host names are resolved at each try)',
      )
        .argParser(parse.seeds)
        .env('WEBSERVER_JOIN'),
    )
    .addOption(
      new Option('--join-timeout <SECONDS>', `how long to keep trying to join before exiting with status ${EXIT.joinFailed}`)
        .argParser(parse.seconds)
        .default(DEFAULTS.joinTimeoutMs / 1000)
        .env('WEBSERVER_JOIN_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--advertise <HOST[:PORT]>',
        'the address other servers reach this one at, and its name in the ring (default: the --listen address); lets --listen be 0.0.0.0 or [::]',
      )
        .argParser(parse.advertise)
        .env('WEBSERVER_ADVERTISE'),
    )
    .addOption(new Option('-v, --verbose', 'also log heartbeat traffic (PING, CHECK)').default(false).env('WEBSERVER_VERBOSE'))
    .addOption(
      new Option(
        '--listen <HOST[:PORT[+]]>',
        "address to listen on; PORT+ takes the next free port upward when PORT is taken, port 0 any free port (default: the host name's address, 4043+)",
      )
        .argParser(parse.listen)
        .env('WEBSERVER_LISTEN'),
    )
    .addOption(
      new Option('--heartbeat <SECONDS>', 'interval between heartbeats to the successor')
        .argParser(parse.seconds)
        .default(DEFAULTS.heartbeatMs / 1000)
        .env('WEBSERVER_HEARTBEAT'),
    )
    .addOption(
      new Option(
        '--suspicion-timeout <SECONDS>',
        'how long a silent server stays suspected before it is declared dead (default: 3 heartbeats)',
      )
        .argParser(parse.seconds)
        .env('WEBSERVER_SUSPICION_TIMEOUT'),
    )
    .addOption(
      new Option('--round-timeout <SECONDS>', 'how long a client waits for a PUT or lookup to go around the ring')
        .argParser(parse.seconds)
        .default(DEFAULTS.roundTimeoutMs / 1000)
        .env('WEBSERVER_ROUND_TIMEOUT'),
    )
    .addOption(
      new Option('--idle-timeout <SECONDS>', 'how long a connection may stay silent in the middle of a message or request')
        .argParser(parse.seconds)
        .default(DEFAULTS.idleTimeoutMs / 1000)
        .env('WEBSERVER_IDLE_TIMEOUT'),
    )
    .addOption(
      new Option(
        '--request-timeout <SECONDS>',
        'how long a connection may take to deliver a whole JSON message, an HTTP request head or a TLS handshake, however slowly it trickles',
      )
        .argParser(parse.seconds)
        .default(DEFAULTS.requestTimeoutMs / 1000)
        .env('WEBSERVER_REQUEST_TIMEOUT'),
    )
    .addOption(
      new Option('--max-message <BYTES>', 'largest message accepted (such as 64MiB)')
        .argParser(parse.bytes)
        .default(DEFAULTS.maxMessageBytes, '64MiB')
        .env('WEBSERVER_MAX_MESSAGE'),
    )
    .addOption(
      new Option('--max-item <BYTES>', 'largest item a client may store (such as 1GiB)')
        .argParser(parse.bytes)
        .default(DEFAULTS.maxItemBytes, '4GiB')
        .env('WEBSERVER_MAX_ITEM'),
    )
    .addOption(
      new Option('--max-name <BYTES>', 'longest item name a client may use, in UTF-8 bytes')
        .argParser(parse.integer(1, DEFAULTS.maxNameBytes))
        .default(DEFAULTS.maxNameBytes)
        .env('WEBSERVER_MAX_NAME'),
    )
    .addOption(
      new Option('--name-pattern <REGEX>', 'item names from clients must match REGEX whole, such as "[A-Za-z0-9._-]+" (default: any name)')
        .argParser(parse.namePattern)
        .env('WEBSERVER_NAME_PATTERN'),
    )
    .addOption(
      new Option(
        '--max-connections <N>',
        'connections held at once; past it the oldest one that has not sent a whole message is closed to make room',
      )
        .argParser(parse.integer(2, 1_000_000))
        .default(DEFAULTS.maxConnections)
        .env('WEBSERVER_MAX_CONNECTIONS'),
    )
    .addOption(
      new Option('--max-requests-per-connection <N>', 'HTTP requests on one keep-alive connection before it is closed (0: no limit)')
        .argParser(parse.integer(0, 1_000_000_000))
        .default(DEFAULTS.maxRequestsPerConnection)
        .env('WEBSERVER_MAX_REQUESTS_PER_CONNECTION'),
    )
    .addOption(
      new Option('--secret <SECRET>', 'cluster secret: peer messages are authenticated with it (prefer the variable or --secret-file)').env(
        'WEBSERVER_SECRET',
      ),
    )
    .addOption(new Option('--secret-file <FILE>', 'read the cluster secret from FILE').env('WEBSERVER_SECRET_FILE'))
    .addOption(new Option('--write-token <TOKEN>', 'PUT and DELETE need this token (webclient --token)').env('WEBSERVER_WRITE_TOKEN'))
    .addOption(
      new Option('--read-token <TOKEN>', 'GET, the ring page and metrics need this token or the write token').env('WEBSERVER_READ_TOKEN'),
    )
    .addOption(
      new Option('--tls-cert <FILE>', 'serve TLS (HTTPS and the JSON protocol) with this PEM certificate').env('WEBSERVER_TLS_CERT'),
    )
    .addOption(new Option('--tls-key <FILE>', 'the private key (PEM) of --tls-cert').env('WEBSERVER_TLS_KEY'))
    .addOption(
      new Option('--tls-ca <FILE>', "certificates (PEM) to trust when connecting to peers (default: the system's)").env('WEBSERVER_TLS_CA'),
    )
    .addOption(
      new Option('--data <DIR>', 'keep items on disk in DIR (default: data/IP_PORT under the working directory)').env('WEBSERVER_DATA'),
    )
    .addOption(
      new Option('--memory', 'keep items in memory only: they are gone when the server stops').default(false).env('WEBSERVER_MEMORY'),
    )
    .addOption(
      new Option('--repair', "move a damaged index of --data aside and start empty, refilled from the ring's copies")
        .default(false)
        .env('WEBSERVER_REPAIR'),
    )
    .addOption(
      new Option('--min-free <BYTES>', "free space kept on the data directory's disk: writes that would leave less are refused (NO_SPACE)")
        .argParser(parse.bytes)
        .default(DEFAULTS.minFreeBytes, '64MiB')
        .env('WEBSERVER_MIN_FREE'),
    )
    .addOption(
      new Option(
        '--replicas <R>',
        "keep each item on R servers chosen by hashing its name, so the ring holds more than one server's disk (default: every server holds every item); every server of a ring must give the same R",
      )
        .argParser(parse.integer(1, 1000))
        .env('WEBSERVER_REPLICAS'),
    )
    .addOption(
      new Option('--sync-interval <SECONDS>', 'how often to compare contents with a peer and repair differences')
        .argParser(parse.seconds)
        .default(DEFAULTS.syncIntervalMs / 1000)
        .env('WEBSERVER_SYNC_INTERVAL'),
    )
    .addOption(
      new Option('--tombstone-ttl <SECONDS>', 'how long a deleted item is remembered as deleted')
        .argParser(parse.seconds)
        .default(DEFAULTS.tombstoneTtlMs / 1000)
        .env('WEBSERVER_TOMBSTONE_TTL'),
    )
    .addOption(
      new Option('--forget-after <SECONDS>', 'dead and departed servers are dropped from the membership this long after they went')
        .argParser(parse.longSeconds)
        .default(DEFAULTS.forgetAfterMs / 1000)
        .env('WEBSERVER_FORGET_AFTER'),
    )
    .addOption(
      new Option('--log-format <FORMAT>', "pretty: the original's [INFO] lines; json: one JSON object per line")
        .choices(['pretty', 'json'])
        .default('pretty')
        .env('WEBSERVER_LOG_FORMAT'),
    )
    .addOption(
      new Option('--log-time <on|off>', 'start each log line with the time (ISO 8601, UTC, milliseconds; json: the time field)')
        .choices(['on', 'off'])
        .default('on')
        .env('WEBSERVER_LOG_TIME'),
    )
    .addHelpText(
      'after',
      '\nEach option can also be set by the environment variable shown beside it; an option on the command line wins\n' +
        'over the variable, and over the variable of an option it cannot be used with (--memory over WEBSERVER_DATA).\n' +
        `Exit status: ${EXIT.stopped} after SIGINT or SIGTERM; ${EXIT.failed} for bad arguments, or when it cannot start, or no ring answered\n` +
        `within --join-timeout; ${EXIT.unreadable} for an unreadable or empty secret, certificate or key; ${EXIT.joinRefused} when a seed\n` +
        `refused this server (cluster secret, TLS, not a ring server); ${EXIT.dataDir} for a data directory it cannot write or whose\n` +
        `index is damaged (see --repair): restarting cannot help. ${EXIT.storeLost} when its data directory was removed while it ran.\n` +
        "Examples: webserver -p 4043    (join the server at this host name's address, port 4043)\n" +
        '          webserver --listen 0.0.0.0:4043 --advertise 10.0.0.5:4043 --join seed1:4043,seed2:4043\n',
    );
}
