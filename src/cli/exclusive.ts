/**
 * Options that exclude each other, settled by where each came from: an option
 * on the command line wins over the other one's environment variable (an
 * image's WEBSERVER_DATA against `--memory`, a compose file's
 * WEBSERVER_SECRET_FILE against `--secret`); given the same way, both are an
 * error. Commander's `.conflicts()` cannot tell the two apart.
 */
import type { Command, Option } from 'commander';

/** Pairs of option keys (commander's attribute names) that cannot be used together. */
export const EXCLUSIVE_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['data', 'memory'],
  ['secret', 'secretFile'],
  ['join', 'ip'],
  ['join', 'port'],
];

type Source = 'cli' | 'env';

function sourceOf(command: Command, key: string): Source | undefined {
  const value: unknown = command.getOptionValue(key);
  if (value === undefined || value === false) return undefined;
  const source = command.getOptionValueSource(key);
  return source === 'cli' ? 'cli' : source === 'env' ? 'env' : undefined;
}

function optionOf(command: Command, key: string): Option {
  return command.options.find((option) => option.attributeName() === key)!;
}

/** How commander names an option in its messages, after where it came from. */
function named(option: Option, source: Source): string {
  return source === 'env' ? `environment variable '${option.envVar}'` : `option '${option.flags}'`;
}

/**
 * Drops the environment's side of each pair the command line overrides, and
 * returns what was dropped, for the log. Both from the command line (or both
 * from the environment) is commander's usage error: exit status 1.
 */
export function settleExclusiveOptions(command: Command): string[] {
  const dropped: string[] = [];
  for (const [first, second] of EXCLUSIVE_OPTIONS) {
    const [a, b] = [sourceOf(command, first), sourceOf(command, second)];
    if (a === undefined || b === undefined) continue;
    const [optionA, optionB] = [optionOf(command, first), optionOf(command, second)];
    if (a === b) {
      command.error(`error: ${named(optionA, a)} cannot be used with ${named(optionB, b)}`, { code: 'commander.conflictingOption' });
    }
    const [winner, loser, loserKey] = a === 'cli' ? [optionA, optionB, second] : [optionB, optionA, first];
    command.setOptionValueWithSource(loserKey, loser.isBoolean() ? false : undefined, 'default');
    dropped.push(`${loser.envVar} is ignored: ${winner.long} on the command line wins over it`);
  }
  return dropped;
}
