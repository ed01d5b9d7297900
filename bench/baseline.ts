/**
 * The bare baseline: the least a server of the original protocol can do.
 * It parses one JSON object per connection and answers GET from an in-memory
 * map (PUT stores), nothing else. Its rate is the limit of this protocol on
 * this machine, for the benchmark to compare against.
 * Run: node dist/bench/baseline.js PORT
 */
import { createServer } from 'node:net';
import { JsonObjectFramer } from '../src/protocol/framing.js';

const items = new Map<string, string>();
const port = Number(process.argv[2] ?? 0);

const server = createServer((socket) => {
  socket.setNoDelay(true);
  const framer = new JsonObjectFramer(1 << 26);
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    const frame = framer.push(chunk);
    if (!frame) return;
    const message = JSON.parse(frame.frame.toString()) as { type: string; data: string | { item: string; content: string } };
    if (message.type === 'GET' && typeof message.data === 'string') {
      const content = items.get(message.data) ?? '404 NOT FOUND';
      socket.end(JSON.stringify({ type: 'GET', data: { item: message.data, content } }));
    } else if (message.type === 'PUT' && typeof message.data === 'object') {
      items.set(message.data.item, message.data.content);
      socket.end(JSON.stringify({ type: 'PUT', data: { item: message.data.item, status: '200 OK' } }));
    } else {
      socket.end();
    }
  });
});
server.listen(port, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stderr.write(`listening on 127.0.0.1:${address.port}\n`);
});
