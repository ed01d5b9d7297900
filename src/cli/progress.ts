/**
 * webclient's progress bar for a large PUT or GET (cli-progress), drawn on
 * stderr only when it is a terminal: a pipe or a file gets no bar.
 */
import cliProgress from 'cli-progress';
import { PART_BYTES } from '../protocol/content.js';

/** Where the bar is drawn: stderr, with what a terminal has. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  /** `done` bytes of `total` have moved. */
  update(done: number, total: number): void;
  stop(): void;
}

const NONE: Progress = { update: () => undefined, stop: () => undefined };

/** A bar for moving an item, its size given with each update; none off a terminal or for an item of one part. */
export function progress(stream: ProgressStream, label: string): Progress {
  if (!stream.isTTY) return NONE;
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done, total) {
      if (total <= PART_BYTES) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            stream: stream as NodeJS.WritableStream,
            format: `webclient: ${label} [{bar}] {percentage}% | {done} of {size} MB`,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { done: '0.0', size: (total / 1e6).toFixed(1) });
      }
      bar.update(done, { done: (done / 1e6).toFixed(1) });
    },
    stop() {
      bar?.stop();
    },
  };
}
