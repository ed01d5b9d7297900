/**
 * The README's shell examples, run as a new user runs them. Every `sh` block
 * after a `<!-- readme-test: ... -->` line runs with bash, in README order, in
 * one fresh folder, with `webserver` and `webclient` on PATH as `npm install -g .`
 * puts them there. A `servers` block holds one long-running server per line,
 * each in its own "terminal": the next starts once it prints its address. A
 * `run` block must exit 0, and its output must contain each `expect "TEXT"`
 * and match each `expect /REGEX/`. Everything runs in a network namespace of
 * the test's own, so the README's fixed ports are free, no lookup leaves the
 * machine, and the host name resolves as on a stock Ubuntu (127.0.1.1) and as
 * on many other hosts (127.0.0.1).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../../src/util/wait.js';
import { tempDir } from '../helpers.js';
import { WEBCLIENT, WEBSERVER } from '../processes.js';
import { createSandbox, sandboxUnavailable, type Sandbox } from '../sandbox.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const execFile = promisify(execFileCallback);

export interface Block {
  kind: 'servers' | 'run' | 'none';
  code: string;
  expects: (string | RegExp)[];
  line: number;
}

/** The README's `sh` blocks, with what the marker before each says. */
export function readmeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    assert.ok(end > i, `README line ${i + 1}: an sh block without its end`);
    const marker = /^<!-- readme-test: (servers|run)(.*) -->$/.exec(lines[i - 1] ?? '');
    const expects: (string | RegExp)[] = [];
    for (const match of (marker?.[2] ?? '').matchAll(/expect (?:"([^"]*)"|\/((?:\\.|[^/\\])+)\/)/g)) {
      expects.push(match[1] ?? new RegExp(match[2]!, 'm'));
    }
    blocks.push({ kind: (marker?.[1] as Block['kind']) ?? 'none', code: lines.slice(i + 1, end).join('\n'), expects, line: i + 1 });
    i = end;
  }
  return blocks;
}

/** The blocks not run, by their first line, and why. Any other unmarked block fails the test. */
const NOT_RUN = new Map([
  [
    'npm install && npm start     # start a server (a ring of one)',
    'installs from the registry and runs the whole suite, this test included',
  ],
  ['npm run bench                       # about 9½ minutes: prints the table, writes bench/results.json and bench/results.svg', 'minutes'],
]);

// The README's examples, then those of docs/SECURITY.md (the secret and TLS), which it links: run in that order, in one folder.
const readme = [await readFile(join(ROOT, 'README.md'), 'utf8'), await readFile(join(ROOT, 'docs', 'SECURITY.md'), 'utf8')].join('\n');
const blocks = readmeBlocks(readme);

test('every sh block of the README is run by this test, or is one of the few it names with the reason', () => {
  for (const block of blocks.filter((b) => b.kind === 'none')) {
    assert.ok(NOT_RUN.has(block.code.split('\n')[0]!), `README line ${block.line}: an sh block that nothing runs:\n${block.code}`);
  }
  assert.ok(blocks.filter((b) => b.kind === 'servers').length >= 3 && blocks.filter((b) => b.kind === 'run').length >= 6);
});

interface Terminal {
  child: ChildProcess;
  /** Standard output and error, as a terminal shows them. */
  output: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

const terminals = new Set<Terminal>();
after(() => stopAll());

async function stopAll(): Promise<void> {
  await Promise.all(
    [...terminals].map(async (terminal) => {
      try {
        process.kill(-terminal.child.pid!, 'SIGKILL'); // the whole process group: bash, ip netns exec, node
      } catch {
        // already gone
      }
      await terminal.exited;
      terminals.delete(terminal);
    }),
  );
}

/** Runs a piece of shell in the folder, inside the namespace, in a process group of its own. */
function shell(sandbox: Sandbox, cwd: string, env: NodeJS.ProcessEnv, code: string): Terminal {
  const [command, ...args] = [...sandbox.wrap, 'bash', '-e', '-o', 'pipefail', '-c', code];
  const child = spawn(command!, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    stdout += chunk.toString('utf8');
  });
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  const terminal = { child, output: () => output, stdout: () => stdout, exited };
  terminals.add(terminal);
  return terminal;
}

/** `webserver` and `webclient` on PATH, as the global install makes them. */
async function userEnv(dir: string): Promise<NodeJS.ProcessEnv> {
  const bin = join(dir, '.bin');
  await mkdir(bin);
  for (const [name, program] of [
    ['webserver', WEBSERVER],
    ['webclient', WEBCLIENT],
  ] as const) {
    await writeFile(join(bin, name), `#!/bin/sh\nexec '${process.execPath}' '${program}' "$@"\n`);
    await chmod(join(bin, name), 0o755);
  }
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(WEBSERVER|WEBCLIENT)_/.test(key)));
  return {
    ...env,
    PATH: `${bin}:${dirname(process.execPath)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    NO_COLOR: '1',
    npm_config_update_notifier: 'false',
  };
}

const unavailable = sandboxUnavailable();

for (const hostAddress of ['127.0.1.1', '127.0.0.1']) {
  test(`the README's examples work as written where the host name resolves to ${hostAddress}`, { skip: unavailable }, async (t) => {
    const sandbox = createSandbox(hostAddress);
    t.after(async () => {
      await stopAll();
      sandbox.destroy();
    });
    const dir = await tempDir(t);
    const env = await userEnv(dir);

    for (const block of blocks) {
      const where = `README line ${block.line}`;
      if (block.kind === 'servers') {
        for (const line of block.code.split('\n').filter((text) => text.trim() !== '' && !text.startsWith('#'))) {
          const server = shell(sandbox, dir, env, line);
          let ended = false;
          void server.exited.then(() => (ended = true));
          await waitFor(() => ended || /listening on \S+/.test(server.output()), { timeoutMs: 20_000, what: `${where}: ${line}` });
          assert.ok(!ended, `${where}: the server stopped:\n${line}\n${server.output()}`);
        }
      } else if (block.kind === 'run') {
        const run = shell(sandbox, dir, env, block.code);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 120 s'), 120_000)));
        const status = await Promise.race([run.exited, deadline]);
        clearTimeout(timer);
        if (status === 0) terminals.delete(run);
        assert.equal(status, 0, `${where} failed:\n${block.code}\n--- output:\n${run.output()}`);
        for (const expected of block.expects) {
          if (typeof expected === 'string') assert.ok(run.output().includes(expected), `${where}: no "${expected}" in:\n${run.output()}`);
          else assert.match(run.output(), expected, `${where}`);
        }
      }
    }

    // `npm run --silent client`, as the README says to write it without the global install: content only.
    const npm = shell(sandbox, ROOT, env, 'npm run --silent client -- -get index.html -p 4045');
    assert.equal(await npm.exited, 0, npm.output());
    assert.equal(npm.stdout(), await readFile(join(dir, 'index.html'), 'utf8'));
  });
}

test('npm install -g . in a fresh clone puts webserver and webclient on PATH, and they work', { timeout: 300_000 }, async (t) => {
  // The clone: every file git would commit, as the working tree has it (no node_modules, no dist/).
  const dir = await tempDir(t);
  const clone = join(dir, 'clone');
  const prefix = join(dir, 'global');
  const { stdout: files } = await execFile('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
  for (const file of files.split('\0').filter(Boolean)) {
    if (await stat(join(ROOT, file)).catch(() => undefined)) await cp(join(ROOT, file), join(clone, file));
  }
  // From npm's cache only (npm install filled it), so the test needs no registry.
  const env = {
    ...process.env,
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  try {
    await execFile('npm', ['install', '-g', '--prefix', prefix, '.'], { cwd: clone, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const output = `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    if (/ENOTCACHED/.test(output))
      return t.skip(`a dependency is not in npm's cache, and the test uses no registry: ${output.split('\n')[0]}`);
    assert.fail(`npm install -g . failed:\n${output}`);
  }
  // Run as a user runs them: the commands on PATH, through their #! lines.
  const bin = join(prefix, 'bin');
  const server = spawn(join(bin, 'webserver'), ['--listen', '127.0.0.1:0', '--memory'], { env: { ...process.env, NO_COLOR: '1' } });
  t.after(() => server.kill('SIGKILL'));
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const address = await waitFor(() => /listening on (\S+)/.exec(output)?.[1], { what: 'the installed webserver' });
  const [host, port] = address.split(':') as [string, string];
  await writeFile(join(dir, 'hello.txt'), 'installed');
  await execFile(join(bin, 'webclient'), ['-put', join(dir, 'hello.txt'), '-i', host, '-p', port]);
  const get = await execFile(join(bin, 'webclient'), ['-get', 'hello.txt', '-i', host, '-p', port]);
  assert.equal(get.stdout, 'installed');
});
