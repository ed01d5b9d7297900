// npm's `prepare` step: compiles the TypeScript into dist/. Plain JavaScript,
// since it runs before anything is compiled.
//
// `npm install -g .` in a fresh clone links the global package to this folder
// and runs `prepare` here without installing any dependency (npm's way with a
// folder), so neither the compiler nor the programs' own dependencies are
// there. Then this installs them into this folder first, as `npm install`
// would, so the linked `webserver` and `webclient` find what they import.
/* global process, console */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync(tsc) && process.env.COOP_PREPARE_INSTALLING === undefined) {
  console.error('prepare: installing the dependencies into this folder first (npm install)');
  // The install npm is running may be global; this one is this folder's own, dev dependencies included.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_config_(global|location|prefix|omit|production|only)$/i.test(key)),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--global=false', '--include=dev'], { ...env, COOP_PREPARE_INSTALLING: '1' });
  // That install ran this step again, inside it, and compiled.
  process.exit(0);
}
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
