/**
 * Faults: the ring under what the clock, the disk, the network and the
 * descriptor table can do, each scenario reporting acknowledged writes lost
 * and wrong answers (both must be 0), errors by code, crashes and false
 * removals. `npm run faults -- --only clock --seconds 60`; exits 1 when a
 * scenario lost an acknowledged write, gave a wrong answer, had a server exit
 * by itself, or could not run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killAll } from '../processes.js';
import { dataDirs, SCENARIOS, skippedResult, type Scenario, type ScenarioOptions, type ScenarioResult } from './fault-scenarios.js';

const RESULT = 'FAULTS-RESULT ';
const SELF = fileURLToPath(import.meta.url);
/** What to undo if the run is interrupted: namespaces, child processes. */
const aborts = new Set<() => void>();

/** Runs one scenario: skipped when the machine lacks what it needs, in a child process where it needs a namespace. */
export async function runScenario(scenario: Scenario, options: ScenarioOptions): Promise<ScenarioResult> {
  const missing = scenario.unavailable();
  if (missing) return skippedResult(scenario.name, missing);
  try {
    return scenario.inside ? await runInside(scenario, options) : await scenario.run(options);
  } catch (err) {
    return { ...skippedResult(scenario.name, ''), skipped: undefined, failed: (err as Error).message.split('\n')[0] };
  }
}

async function runInside(scenario: Scenario, options: ScenarioOptions): Promise<ScenarioResult> {
  const place = scenario.inside!.prepare();
  aborts.add(place.destroy);
  try {
    const args = [SELF, '--inside', scenario.name, '--seconds', String(options.seconds), '--seed', String(options.seed)];
    if (options.logs) args.push('--logs', options.logs);
    const [command, ...prefix] = [...place.wrap, process.execPath];
    const child = spawn(command!, [...prefix, ...args], { env: { ...process.env, ...place.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = () => child.kill('SIGTERM');
    aborts.add(stop);
    let result: ScenarioResult | undefined;
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith(RESULT)) result = JSON.parse(line.slice(RESULT.length)) as ScenarioResult;
        else options.say(line);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    aborts.delete(stop);
    if (!result)
      throw new Error(
        `the ${scenario.name} scenario's process ended (${code}) without a result: ${stderr.trim().split('\n').slice(-3).join(' / ')}`,
      );
    return result;
  } finally {
    aborts.delete(place.destroy);
    place.destroy();
  }
}

/** A scenario passes with no acknowledged write lost, no wrong answer, and no server that exited by itself. */
export function passed(result: ScenarioResult): boolean {
  if (result.skipped !== undefined) return true;
  return result.failed === undefined && result.lost.length === 0 && result.wrong.length === 0 && result.crashes.length === 0;
}

function verdict(result: ScenarioResult): string {
  const faults = [
    result.lost.length > 0 ? 'writes lost' : '',
    result.wrong.length > 0 ? 'wrong answers' : '',
    result.crashes.length > 0 ? 'server crashed' : '',
  ].filter(Boolean);
  return faults.length === 0 ? 'pass' : `FAIL: ${faults.join(', ')}`;
}

function errorsText(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort(([, a], [, b]) => b - a);
  return entries.map(([code, count]) => `${code} ${count}`).join(', ') || '-';
}

/** The results as a Markdown table, then what happened in each scenario. */
export function formatResults(results: ScenarioResult[]): string {
  const rows = [
    '| scenario | writes | acknowledged | lost | wrong answers | crashes | false removals | longest stall | errors by code | result |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  const details: string[] = [];
  for (const r of results) {
    if (r.skipped !== undefined) {
      rows.push(`| ${r.name} | | | | | | | | | skipped: ${r.skipped} |`);
      continue;
    }
    if (r.failed !== undefined) {
      rows.push(`| ${r.name} | | | | | | | | | FAIL: ${r.failed} |`);
      continue;
    }
    const removals = r.falseRemovals === undefined ? '-' : String(r.falseRemovals);
    const stall = `${(r.longestStallMs / 1000).toFixed(1)} s`;
    rows.push(
      `| ${r.name} | ${r.attempted} | ${r.acknowledged} | ${r.lost.length} | ${r.wrong.length} | ${r.crashes.length} | ${removals} | ${stall} | ${errorsText(r.errors)} | ${verdict(r)} |`,
    );
    details.push(`${r.name}: ${[...r.notes, `${r.staleReads} stale reads while faults went on`].join('; ')}`);
    for (const crash of r.crashes.slice(0, 3)) details.push(`  crash: ${crash}`);
    for (const lost of r.lost.slice(0, 5)) details.push(`  lost: ${lost}`);
    for (const wrong of r.wrong.slice(0, 5)) details.push(`  wrong: ${wrong}`);
  }
  return [...rows, '', ...details].join('\n');
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at === -1 ? undefined : process.argv[at + 1];
}

async function main(): Promise<number> {
  const seconds = Number(option('--seconds') ?? 20);
  const seed = Number(option('--seed') ?? Date.now() % 1_000_000);
  const say = (line: string) => console.log(line);
  const logs = option('--logs');
  const inside = option('--inside');
  if (inside !== undefined) {
    const scenario = SCENARIOS.find((s) => s.name === inside)!;
    console.log(RESULT + JSON.stringify(await scenario.run({ seconds, seed, say, logs })));
    return 0;
  }
  const only = option('--only');
  const chosen = SCENARIOS.filter((s) => only === undefined || only.split(',').includes(s.name));
  if (chosen.length === 0) {
    console.error(`faults: no scenario ${only}; there are ${SCENARIOS.map((s) => s.name).join(', ')}`);
    return 1;
  }
  console.log(`faults: ${seconds} s per scenario, seed ${seed}`);
  const results: ScenarioResult[] = [];
  for (const scenario of chosen) {
    say(`${scenario.name}: ${scenario.what}`);
    results.push(await runScenario(scenario, { seconds, seed, say, logs }));
  }
  console.log(`\n${formatResults(results)}`);
  // A run in which every scenario was skipped proved nothing: it does not pass.
  if (results.every((result) => result.skipped !== undefined)) {
    console.log('faults: NOTHING RAN (every scenario was skipped: see why above)');
    return 1;
  }
  const ok = results.every(passed);
  console.log(
    ok ? 'faults: PASS' : 'faults: FAIL (acknowledged writes lost, wrong answers, a server crashed, or a scenario could not run)',
  );
  return ok ? 0 : 1;
}

if (process.argv[1]?.endsWith('faults.js')) {
  const abort = (signal: NodeJS.Signals) => {
    for (const undo of aborts) undo();
    void killAll().finally(() => {
      // A tmpfs of the disk scenario lives in its process's own mount namespace, gone with it.
      for (const dir of dataDirs) {
        // The disk scenario's tmpfs is mounted on one of them (in this process's own mount namespace).
        if (spawnSync('mountpoint', ['-q', dir]).status === 0) spawnSync('umount', ['-l', dir]);
        rmSync(dir, { recursive: true, force: true });
      }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  main().then(
    async (code) => {
      await killAll();
      process.exit(code);
    },
    async (err: unknown) => {
      console.error(`faults: FAIL: ${(err as Error).stack ?? String(err)}`);
      await killAll();
      process.exit(1);
    },
  );
}
