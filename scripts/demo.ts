/**
 * `npm run demo`: a ring of three servers on free ports in this process, a
 * small site stored in it, and the addresses to open. Ctrl-C stops them all.
 */
import { createTestCluster } from '../src/node/cluster.js';
import { createLogger } from '../src/log/logger.js';
import { putItem } from '../src/client/client.js';

const SITE: Record<string, string> = {
  'index.html': `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Co-op WebServers demo</title>
<link rel="stylesheet" href="style.css"></head>
<body><main>
<img src="logo.svg" alt="a ring of three servers" width="160" height="160">
<h1>Served by a ring</h1>
<p>This page, its stylesheet and its image were stored once and copied to every server of the ring.
Open it from any of them; stop one with Ctrl-C in its terminal, or watch <a href="/_ring">the ring</a>.</p>
</main></body></html>
`,
  'style.css': `body { font: 18px/1.5 system-ui, sans-serif; background: #f6f8fa; color: #1f2328; }
main { max-width: 40rem; margin: 4rem auto; text-align: center; }
h1 { color: #0969da; }
`,
  'logo.svg': `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 160">
<circle cx="80" cy="80" r="55" fill="none" stroke="#8c959f" stroke-width="4"/>
<circle cx="80" cy="25" r="18" fill="#2da44e"/><circle cx="128" cy="108" r="18" fill="#2da44e"/><circle cx="32" cy="108" r="18" fill="#2da44e"/>
</svg>
`,
};

async function main(): Promise<void> {
  const log = createLogger({ prefixNode: true });
  const cluster = await createTestCluster(3, { heartbeatMs: 1000, syncIntervalMs: 5000, log });
  for (const [name, content] of Object.entries(SITE)) await putItem(cluster.addresses[0]!, name, content);
  const [first] = cluster.addresses;
  process.stdout.write(
    `\nA ring of three is running:\n` +
      cluster.addresses.map((address) => `  http://${address}/`).join('\n') +
      `\n\nThe live ring page: http://${first}/_ring\nMetrics:           http://${first}/metrics\n` +
      `JSON protocol:     webclient -get index.html -i ${first!.split(':')[0]} -p ${first!.split(':')[1]}\n\nCtrl-C stops all three.\n\n`,
  );
  const stop = (): void => {
    void cluster.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
