/**
 * libfaketime (Debian's faketime package), preloaded into a server itself: the
 * faketime wrapper forks, so killing it would leave the server running.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };
export const LIBFAKETIME = `/usr/lib/${ARCH[process.arch] ?? process.arch}-linux-gnu/faketime/libfaketime.so.1`;

/** The environment that moves a program's wall clock by `offset` (such as "+1h", "+10s"); timers run on the monotonic clock, which stays. */
export function clockAhead(offset: string): Record<string, string> {
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

/** Why libfaketime cannot be used here, or undefined when it moves node's wall clock (checked with an hour ahead). */
export function faketimeMissing(): string | undefined {
  if (!existsSync(LIBFAKETIME)) return `${LIBFAKETIME} is missing (apt-get install faketime)`;
  const run = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(Date.now()))'], {
    env: { ...process.env, ...clockAhead('+1h') },
    encoding: 'utf8',
  });
  if (Number(run.stdout) < Date.now() + 3_600_000 - 60_000) return `libfaketime does not move node's clock (it printed ${run.stdout})`;
  return undefined;
}
