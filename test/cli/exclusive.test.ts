/** Options that exclude each other: the command line wins over the environment; the same source twice is an error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { serverCommand } from '../../src/cli/server-command.js';
import { settleExclusiveOptions } from '../../src/cli/exclusive.js';

/** Parses `argv` with `env` as the only WEBSERVER_ variables, then settles; process.env is restored after. */
function settle(argv: string[], env: Record<string, string>): { opts: Record<string, unknown>; dropped: string[] } {
  const saved = { ...process.env };
  for (const name of Object.keys(process.env)) if (name.startsWith('WEBSERVER_')) delete process.env[name];
  Object.assign(process.env, env);
  try {
    const command = serverCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined });
    command.parse(argv, { from: 'user' });
    const dropped = settleExclusiveOptions(command);
    return { opts: command.opts(), dropped };
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

function conflict(argv: string[], env: Record<string, string>, message: RegExp): void {
  assert.throws(
    () => settle(argv, env),
    (err: unknown) => err instanceof CommanderError && err.code === 'commander.conflictingOption' && message.test(err.message),
  );
}

test('--memory on the command line wins over WEBSERVER_DATA; --data over WEBSERVER_MEMORY', () => {
  const memory = settle(['--memory'], { WEBSERVER_DATA: '/data' });
  assert.equal(memory.opts.memory, true);
  assert.equal(memory.opts.data, undefined);
  assert.deepEqual(memory.dropped, ['WEBSERVER_DATA is ignored: --memory on the command line wins over it']);
  const data = settle(['--data', '/srv'], { WEBSERVER_MEMORY: '1' });
  assert.equal(data.opts.memory, false);
  assert.equal(data.opts.data, '/srv');
});

test('--secret wins over WEBSERVER_SECRET_FILE, --secret-file over WEBSERVER_SECRET, -i/-p over WEBSERVER_JOIN', () => {
  const secret = settle(['--secret', 's'], { WEBSERVER_SECRET_FILE: '/run/secrets/coop' });
  assert.deepEqual([secret.opts.secret, secret.opts.secretFile], ['s', undefined]);
  const file = settle(['--secret-file', '/f'], { WEBSERVER_SECRET: 's' });
  assert.deepEqual([file.opts.secret, file.opts.secretFile], [undefined, '/f']);
  const join = settle(['-p', '5000'], { WEBSERVER_JOIN: 'seed:4043' });
  assert.deepEqual([join.opts.join, join.opts.port], [undefined, 5000]);
  const seeds = settle(['--join', 'a:1'], { WEBSERVER_JOIN_IP: 'b', WEBSERVER_JOIN_PORT: '2' });
  assert.deepEqual([seeds.opts.join, seeds.opts.ip, seeds.opts.port], [['a:1'], undefined, undefined]);
});

test('both from the command line, or both from the environment: an error, as commander words it', () => {
  conflict(['--memory', '--data', '/d'], {}, /option '--data <DIR>' cannot be used with option '--memory'/);
  conflict(
    [],
    { WEBSERVER_DATA: '/d', WEBSERVER_MEMORY: '1' },
    /environment variable 'WEBSERVER_DATA' cannot be used with environment variable 'WEBSERVER_MEMORY'/,
  );
  conflict(['--secret', 's', '--secret-file', '/f'], {}, /option '--secret <SECRET>' cannot be used with option '--secret-file <FILE>'/);
  conflict(['--join', 'a:1', '-i', 'b'], {}, /option '--join <HOST:PORT,...>' cannot be used with option '-i, --ip <HOST>'/);
});

test('options without a conflict are left as they are', () => {
  const plain = settle(['--memory', '--secret', 's'], { WEBSERVER_JOIN: 'seed:4043' });
  assert.deepEqual(plain.dropped, []);
  assert.deepEqual([plain.opts.memory, plain.opts.secret, plain.opts.join], [true, 's', ['seed:4043']]);
});
