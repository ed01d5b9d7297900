/** `node static.js FILE PORT`: a bare Node static server for one file (createReadStream piped to the response), for the large-file GET. */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';

const [file, port] = process.argv.slice(2) as [string, string];
const size = statSync(file).size;
createServer((_req, res) => {
  res.writeHead(200, { 'content-length': size });
  createReadStream(file).pipe(res);
}).listen(Number(port), '127.0.0.1');
