/**
 * The container recipe. Where a container engine answers (`docker info` or
 * `podman info`) with compose, the image is built and compose.yaml's ring of
 * three is started all at once, and a PUT at one server is read at another;
 * elsewhere that test is skipped with the reason. The other tests always run:
 * they hold the Dockerfile to what exists, and run the runtime stage's content
 * (package.json, dist/src and only the production dependencies, laid out as
 * the image lays them out) the way the image starts it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile as execFileCallback, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../../src/util/wait.js';
import { EXIT } from '../../src/cli/server-command.js';
import { tempDir } from '../helpers.js';
import { killAll, runProgram } from '../processes.js';
import { createSandbox, sandboxUnavailable } from '../sandbox.js';

const execFile = promisify(execFileCallback);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

after(killAll);

interface Instruction {
  name: string;
  args: string;
}

interface Stage {
  from: string;
  alias?: string;
  instructions: Instruction[];
}

/** A Dockerfile's stages and instructions, continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of logical) {
    const [, name, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { name: name!.toUpperCase(), args: args! };
    if (instruction.name === 'FROM') {
      const [, from, alias] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)!;
      stages.push({ from: from!, alias, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${line}: before any FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The exec form's JSON array. */
function execForm(args: string): string[] {
  const value: unknown = JSON.parse(args);
  assert.ok(Array.isArray(value) && value.every((item) => typeof item === 'string'), `not an exec form: ${args}`);
  return value as string[];
}

const dockerfile = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
const [build, runtime] = dockerfile as [Stage, Stage];
const one = (stage: Stage, name: string): string => {
  const found = stage.instructions.filter((instruction) => instruction.name === name);
  assert.equal(found.length, 1, `one ${name} in the stage from ${stage.from}`);
  return found[0]!.args;
};

test('the Dockerfile: two stages; the build copies files that exist; the runtime stage takes dist/src and node_modules from it, runs as a user, keeps /data', async () => {
  assert.equal(dockerfile.length, 2);
  assert.equal(build.alias, 'build');
  assert.equal(runtime.from, build.from, 'both stages on the same Node image, so native modules built in one load in the other');
  const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8')).split('\n').filter((line) => line && !line.startsWith('#'));
  for (const copy of build.instructions.filter((instruction) => instruction.name === 'COPY')) {
    const sources = copy.args.split(/\s+/).slice(0, -1);
    for (const source of sources) {
      await stat(join(ROOT, source)); // throws when the build would miss it
      assert.ok(!ignored.includes(source), `${source} is copied but .dockerignore leaves it out of the context`);
    }
  }
  const fromBuild = runtime.instructions
    .filter((instruction) => instruction.name === 'COPY')
    .map((instruction) => /^--from=build\s+(\S+)\s+(\S+)$/.exec(instruction.args)?.slice(1));
  assert.deepEqual(fromBuild, [
    ['/app/package.json', './'],
    ['/app/node_modules', './node_modules'],
    ['/app/dist/src', './dist/src'],
  ]);
  assert.equal(one(runtime, 'USER'), 'node');
  assert.equal(one(runtime, 'VOLUME'), '["/data"]');
  assert.match(one(runtime, 'ENV'), /WEBSERVER_DATA=\/data/);
  assert.deepEqual(execForm(one(runtime, 'ENTRYPOINT')), ['node', '/app/dist/src/cli/webserver.js']);
  await stat(join(ROOT, 'dist/src/cli/webserver.js'));
  assert.match(one(runtime, 'HEALTHCHECK'), /\/_health/);
});

/** The runtime stage's /app: package.json, dist/src, and the production dependencies only (what `npm prune --omit=dev` keeps). */
async function runtimeApp(dir: string): Promise<string> {
  const app = join(dir, 'app');
  await mkdir(join(app, 'node_modules'), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
  await cp(join(ROOT, 'dist/src'), join(app, 'dist/src'), { recursive: true });
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev) continue;
    const exists = await stat(join(ROOT, path)).then(
      () => true,
      () => false,
    );
    assert.ok(exists || entry.optional, `${path} is a production dependency but is not installed`);
    if (exists) await cp(join(ROOT, path), join(app, path), { recursive: true });
  }
  return app;
}

test("the runtime stage has all it needs: its layout, with the image's environment, runs a server that keeps its items in WEBSERVER_DATA", async (t) => {
  const dir = await tempDir(t);
  const app = await runtimeApp(dir);
  const data = join(dir, 'data');
  await mkdir(data);
  const entry = execForm(one(runtime, 'ENTRYPOINT'))[1]!.replace(/^\/app\//, `${app}/`);
  const webclient = join(app, 'dist/src/cli/webclient.js');

  const help = await runProgram(entry, ['--help']);
  assert.equal(help.status, 0, help.stderr);
  const server = spawn(process.execPath, [entry, '--listen', '127.0.0.1:0'], {
    cwd: app,
    env: { ...process.env, NODE_ENV: 'production', WEBSERVER_DATA: data, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => server.kill('SIGKILL'));
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const address = await waitFor(() => /listening on (\S+)/.exec(output)?.[1], { what: 'the server from the runtime stage' });
  assert.match(output, new RegExp(`data directory ${data}`));
  const [host, port] = address.split(':') as [string, string];
  const file = join(dir, 'hello.txt');
  await writeFile(file, 'from the image');
  const put = await runProgram(webclient, ['-put', file, '-i', host, '-p', port]);
  assert.equal(put.status, 0, put.stderr);
  const get = await runProgram(webclient, ['-get', 'hello.txt', '-i', host, '-p', port]);
  assert.equal(get.stdout.toString(), 'from the image');
  assert.ok((await stat(join(data, 'index'))).isDirectory(), 'the items are in WEBSERVER_DATA');
});

const noSandbox = sandboxUnavailable();

/** A stand-in for a server inside the namespace: 127.0.0.1:4043, answering `status` to GET /_health and 404 to anything else. */
async function standIn(wrap: string[], status: number): Promise<ChildProcess> {
  const script =
    "require('http').createServer((q, s) => { s.statusCode = q.url === '/_health' ? Number(process.argv[1]) : 404; s.end(); })" +
    ".listen(4043, '127.0.0.1', () => console.log('up'))";
  const child = spawn(wrap[0]!, [...wrap.slice(1), process.execPath, '-e', script, String(status)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit').then(() => {
    throw new Error('the stand-in server could not start');
  });
  await Promise.race([once(child.stdout!, 'data'), exited]);
  exited.catch(() => {}); // it exits when killed, later
  return child;
}

test(
  "the HEALTHCHECK command asks the host name's address, port 4043, /_health, and passes only on a 2xx",
  { skip: noSandbox },
  async (t) => {
    // In a namespace of its own, where the host name resolves to 127.0.0.1, as a container's resolves to its own address.
    const sandbox = createSandbox('127.0.0.1');
    t.after(() => sandbox.destroy());
    const [node, flag, script] = execForm(one(runtime, 'HEALTHCHECK').replace(/^(--\S+\s+)*CMD\s+/, ''));
    assert.deepEqual([node, flag], ['node', '-e']);
    const healthy = async (): Promise<boolean> => (await runProgram('-e', [script!], {}, sandbox.wrap)).status === 0;

    assert.equal(await healthy(), false, 'nothing listening');
    for (const [status, expected] of [
      [503, false],
      [200, true],
    ] as const) {
      const server = await standIn(sandbox.wrap, status);
      try {
        assert.equal(await healthy(), expected, `/_health answering ${status}`);
      } finally {
        server.kill('SIGKILL');
        await once(server, 'close');
      }
    }
  },
);

/** The container engine that answers here, if any, with compose; or why none does. */
async function engine(): Promise<{ engine: string } | { reason: string }> {
  const reasons: string[] = [];
  for (const name of ['docker', 'podman']) {
    try {
      await execFile(name, ['info'], { timeout: 20_000 });
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr?.trim().split('\n').at(-1) ?? (err as Error).message;
      reasons.push(`${name} info: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : detail}`);
      continue;
    }
    try {
      await execFile(name, ['compose', 'version'], { timeout: 20_000 });
    } catch {
      reasons.push(`${name} runs but has no compose`);
      continue;
    }
    // The image builds on a base image from a registry; an engine without it and without the registry cannot build it.
    try {
      await execFile(name, ['image', 'inspect', build.from], { timeout: 20_000 }).catch(() =>
        execFile(name, ['pull', build.from], { timeout: 5 * 60_000 }),
      );
      return { engine: name };
    } catch (err) {
      reasons.push(`${name} cannot get the base image ${build.from}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return { reason: `no container engine runs here (${reasons.join('; ')})` };
}

const found = await engine();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test(
  'the image builds, and compose.yaml starts a ring of three at once that replicates a PUT',
  { skip: 'reason' in found ? found.reason : false, timeout: 15 * 60_000 },
  async (t) => {
    const name = (found as { engine: string }).engine;
    const dir = await tempDir(t);
    const secret = join(dir, 'secret');
    await writeFile(secret, randomBytes(32).toString('hex'), { mode: 0o644 }); // readable by the image's user
    const ports = [await freePort(), await freePort(), await freePort()];
    const project = `coop-test-${randomBytes(3).toString('hex')}`;
    const env = {
      ...process.env,
      COOP_SECRET_FILE: secret,
      COOP_FIRST_PORT: String(ports[0]),
      COOP_SECOND_PORT: String(ports[1]),
      COOP_THIRD_PORT: String(ports[2]),
    };
    const compose = (...args: string[]): Promise<{ stdout: string }> =>
      execFile(name, ['compose', '-p', project, '-f', join(ROOT, 'compose.yaml'), ...args], {
        cwd: ROOT,
        env,
        timeout: 10 * 60_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    t.after(() => compose('down', '-v', '--remove-orphans').then(() => undefined));
    await compose('up', '-d', '--build');

    const urls = ports.map((port) => `http://127.0.0.1:${port}`);
    await waitFor(
      async () => {
        for (const url of urls) if ((await fetch(`${url}/_health`)).status !== 200) return false;
        return true;
      },
      { timeoutMs: 180_000, intervalMs: 500, what: 'all three servers to report healthy' },
    );
    const status = (await (await fetch(`${urls[0]}/_ring`)).json()) as { ring: string[] };
    assert.equal(status.ring.length, 3, JSON.stringify(status));
    assert.equal((await fetch(`${urls[0]}/hello.txt`, { method: 'PUT', body: 'from a container' })).status, 201);
    assert.equal(await (await fetch(`${urls[2]}/hello.txt`)).text(), 'from a container');
    // Every container reports healthy to the engine too, through the image's HEALTHCHECK.
    await waitFor(
      async () => {
        const { stdout } = await compose('ps', '--format', '{{.Service}} {{.Health}}');
        return (
          stdout
            .trim()
            .split('\n')
            .filter((line) => / healthy$/.test(line)).length === 3
        );
      },
      { timeoutMs: 180_000, intervalMs: 1000, what: 'the engine to see three healthy containers' },
    );
  },
);

/** Why systemd-analyze cannot check a unit here, or false. */
async function noSystemdAnalyze(): Promise<string | false> {
  try {
    await execFile('systemd-analyze', ['--version']);
    return false;
  } catch {
    return 'systemd-analyze is not installed';
  }
}

test(
  "docs/deploy.md's systemd unit passes systemd-analyze verify, restarts on failure and takes the secret from a file",
  { skip: await noSystemdAnalyze() },
  async (t) => {
    const docs = await readFile(join(ROOT, 'docs/deploy.md'), 'utf8');
    const unit = /```ini\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(unit, 'an ini block in docs/deploy.md');
    for (const line of [
      'Restart=on-failure',
      'StateDirectory=coop',
      'Environment=WEBSERVER_DATA=/var/lib/coop',
      'LoadCredential=secret:/etc/coop/secret',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    const dir = await tempDir(t);
    const file = join(dir, 'coop-webserver.service');
    await writeFile(file, unit);
    const { stdout, stderr } = await execFile('systemd-analyze', ['verify', file]);
    assert.equal(stdout + stderr, '', 'no complaint about the unit');
  },
);

test("docs/deploy.md's systemd unit does not restart a server for what a restart cannot cure: an unreadable secret (2), a refused join (3), an unusable data directory (4)", async () => {
  const docs = await readFile(join(ROOT, 'docs/deploy.md'), 'utf8');
  const unit = /```ini\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
  const prevented = /^RestartPreventExitStatus=(.*)$/m.exec(unit)?.[1]?.split(/\s+/).map(Number);
  assert.deepEqual(prevented?.sort(), [EXIT.unreadable, EXIT.joinRefused, EXIT.dataDir].sort());
  assert.match(unit, /^Restart=on-failure$/m, 'a join that timed out (exit 1) is tried again');
});

test("docs/OPERATIONS.md's container health check is the image's (the host name's address, which the server listens on by default)", async () => {
  const docs = await readFile(join(ROOT, 'docs/OPERATIONS.md'), 'utf8');
  const block = /```dockerfile\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
  const [documented] = parseDockerfile(`FROM scratch\n${block}`);
  assert.equal(one(documented!, 'HEALTHCHECK'), one(runtime, 'HEALTHCHECK'));
});
