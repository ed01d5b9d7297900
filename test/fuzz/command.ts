/** What the fuzzers share when run from the command line. */

/** How long a fuzzer runs, from which seed, and where it reports (nowhere unless given). */
export interface FuzzOptions {
  seconds: number;
  seed: number;
  say?: (line: string) => void;
}

/**
 * Runs a fuzzer as a program: `--seconds N` (60 unless given), `--seed N`
 * (from the clock unless given); prints `NAME: PASS` or `NAME: FAIL` and exits 0 or 1.
 */
export function runFromCommandLine(name: string, run: (options: FuzzOptions) => Promise<boolean>): void {
  const number = (flag: string): number | undefined => {
    const at = process.argv.indexOf(flag);
    return at === -1 ? undefined : Number(process.argv[at + 1]);
  };
  const seconds = number('--seconds') ?? 60;
  const seed = number('--seed') ?? Date.now() % 1_000_000;
  run({ seconds, seed, say: (line) => console.log(line) }).then(
    (ok) => {
      console.log(`${name}: ${ok ? 'PASS' : 'FAIL'}`);
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      console.error(`${name}: FAIL: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
