#!/usr/bin/env node
import { main } from './server-main.js';

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`webserver: ${(err as Error).message}\n`);
  process.exit(1);
});
