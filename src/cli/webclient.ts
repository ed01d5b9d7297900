#!/usr/bin/env node
import { main } from './client-main.js';

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (err: unknown) => {
    process.stderr.write(`webclient: ${(err as Error).message}\n`);
    process.exitCode = 4;
  },
);
