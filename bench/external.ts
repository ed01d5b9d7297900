/** nginx and wrk for the benchmark: the reference web server and a load generator not written in Node. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type Proc } from './servers.js';
import { waitFor } from '../src/util/wait.js';

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Installs a Debian package when missing and this is root; says why when it cannot. */
export function ensure(command: string, pkg: string, say: (line: string) => void): boolean {
  if (has(command) || existsInSbin(command)) return true;
  if (process.getuid?.() !== 0) {
    say(`${command} is not installed (apt-get install ${pkg}); its rows are skipped`);
    return false;
  }
  say(`installing ${pkg} with apt-get ...`);
  const result = spawnSync(
    'sh',
    ['-c', `apt-get install -y -qq ${pkg} >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq ${pkg} >/dev/null 2>&1)`],
    {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  if (result.status !== 0 || !(has(command) || existsInSbin(command))) {
    say(`${pkg} could not be installed; its rows are skipped`);
    return false;
  }
  return true;
}

function existsInSbin(command: string): boolean {
  return spawnSync('sh', ['-c', `test -x /usr/sbin/${command}`]).status === 0;
}

/** nginx with one worker, serving `files` from a directory, on a free loopback port. */
export async function nginx(files: Record<string, string | Buffer>): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'coop-nginx-'));
  const root = join(dir, 'www');
  mkdirSync(root);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content, { mode: 0o644 });
  // nginx's worker drops root's rights: it must be able to read what it serves.
  chmodSync(dir, 0o755);
  chmodSync(root, 0o755);
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000;  # nginx's default, and the webserver's --max-requests-per-connection
  server { listen 127.0.0.1:${port}; root ${root}; }
}
`,
  );
  const binary = has('nginx') ? 'nginx' : '/usr/sbin/nginx';
  const child = spawn(binary, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  await waitFor(
    async () =>
      (await fetch(`http://${address}/`).then(
        (r) => r.status,
        () => 0,
      )) !== 0,
    { timeoutMs: 10_000, what: 'nginx' },
  );
  return {
    address,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** wrk's requests per second for `url` with one thread and `connections` connections. */
export function wrk(url: string, connections: number, seconds: number): number {
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, url], { encoding: 'utf8' });
  const match = /Requests\/sec:\s+([\d.]+)/.exec(out);
  return match ? Number(match[1]) : NaN;
}
