/**
 * The simple-request recognizer of the HTTP fast path: a table of simple and
 * not simple heads, partial heads, pipelining; and, on generated request
 * sequences, agreement with node:http's own parser on every request it calls simple.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { MAX_SIMPLE_HEAD_BYTES, MAX_SIMPLE_HEADERS, recognize } from '../../src/http/simple-request.js';
import { requestSequence } from '../fuzz/http-diff.js';

const head = (...lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('recognize: simple requests', () => {
  const simple: ReadonlyArray<{ why: string; text: string; method?: 'GET' | 'HEAD'; target: string }> = [
    { why: 'the least', text: head('GET / HTTP/1.1', 'Host: a'), target: '/' },
    { why: 'wrk', text: head('GET /small.txt HTTP/1.1', 'Host: 127.0.0.1:8080'), target: '/small.txt' },
    { why: 'HEAD', text: head('HEAD /x HTTP/1.1', 'Host: a'), method: 'HEAD', target: '/x' },
    {
      why: 'a query and odd visible bytes in the target',
      text: head('GET /a%20b?c=d&e=[f]#g HTTP/1.1', 'Host: a'),
      target: '/a%20b?c=d&e=[f]#g',
    },
    { why: 'an empty Host', text: head('GET /x HTTP/1.1', 'Host:'), target: '/x' },
    { why: 'names in any case', text: head('GET /x HTTP/1.1', 'hOsT: a', 'ACCEPT: */*'), target: '/x' },
    { why: 'optional whitespace around values', text: head('GET /x HTTP/1.1', 'Host: \t a \t', 'Accept:*/*'), target: '/x' },
    { why: 'Connection: keep-alive', text: head('GET /x HTTP/1.1', 'Host: a', 'Connection: Keep-Alive'), target: '/x' },
    { why: 'Connection: keep-alive with OWS', text: head('GET /x HTTP/1.1', 'Host: a', 'connection:  keep-alive\t'), target: '/x' },
    {
      why: 'a browser',
      text: head(
        'GET /index.html HTTP/1.1',
        'Host: 127.0.0.1:4043',
        'User-Agent: Mozilla/5.0 (X11; Linux x86_64)',
        'Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
        'Accept-Language: en-US,en;q=0.5',
        'Accept-Encoding: gzip, deflate, br',
        'Connection: keep-alive',
        'Cache-Control: max-age=0',
        'Sec-Fetch-Mode: navigate',
      ),
      target: '/index.html',
    },
    {
      why: 'headers up to the count',
      text: head('GET /x HTTP/1.1', 'Host: a', ...range(MAX_SIMPLE_HEADERS - 1).map((i) => `X-${i}: v`)),
      target: '/x',
    },
  ];
  for (const { why, text, method = 'GET', target } of simple) {
    test(why, () => {
      assert.deepEqual(recognize(bytes(text)), { kind: 'simple', method, target, length: text.length });
    });
  }

  test('a head of exactly the largest size', () => {
    const start = 'GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: ';
    const text = `${start}${'p'.repeat(MAX_SIMPLE_HEAD_BYTES - start.length - 4)}\r\n\r\n`;
    assert.equal(text.length, MAX_SIMPLE_HEAD_BYTES);
    assert.equal(recognize(bytes(text)).kind, 'simple');
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

describe('recognize: not simple', () => {
  const other: ReadonlyArray<{ why: string; text: string }> = [
    { why: 'POST', text: head('POST /x HTTP/1.1', 'Host: a') },
    { why: 'PUT', text: head('PUT /x HTTP/1.1', 'Host: a') },
    { why: 'lower-case get', text: head('get /x HTTP/1.1', 'Host: a') },
    { why: 'GETX', text: head('GETX /x HTTP/1.1', 'Host: a') },
    { why: 'HEADER', text: head('HEADER /x HTTP/1.1', 'Host: a') },
    { why: 'HTTP/1.0', text: head('GET /x HTTP/1.0', 'Host: a') },
    { why: 'HTTP/2.0', text: head('GET /x HTTP/2.0', 'Host: a') },
    { why: 'lower-case version', text: head('GET /x http/1.1', 'Host: a') },
    { why: 'no version (HTTP/0.9)', text: 'GET /x\r\n\r\n' },
    { why: 'two spaces after the method', text: head('GET  /x HTTP/1.1', 'Host: a') },
    { why: 'two spaces before the version', text: head('GET /x  HTTP/1.1', 'Host: a') },
    { why: 'a tab as separator', text: head('GET\t/x HTTP/1.1', 'Host: a') },
    { why: 'trailing space on the request line', text: head('GET /x HTTP/1.1 ', 'Host: a') },
    { why: 'asterisk form', text: head('GET * HTTP/1.1', 'Host: a') },
    { why: 'absolute form', text: head('GET http://a/x HTTP/1.1', 'Host: a') },
    { why: 'authority form', text: head('GET a:80 HTTP/1.1', 'Host: a') },
    { why: 'a byte above 0x7E in the target', text: head('GET /caf\u00e9 HTTP/1.1', 'Host: a') },
    { why: 'DEL in the target', text: head('GET /a\u007fb HTTP/1.1', 'Host: a') },
    { why: 'NUL in the target', text: head('GET /a\u0000b HTTP/1.1', 'Host: a') },
    { why: 'an empty line first', text: `\r\n${head('GET /x HTTP/1.1', 'Host: a')}` },
    { why: 'no Host', text: head('GET /x HTTP/1.1', 'Accept: */*') },
    { why: 'two Hosts', text: head('GET /x HTTP/1.1', 'Host: a', 'Host: b') },
    { why: 'two Hosts, cases differ', text: head('GET /x HTTP/1.1', 'Host: a', 'HOST: a') },
    { why: 'a duplicate header', text: head('GET /x HTTP/1.1', 'Host: a', 'Accept: a', 'accept: b') },
    { why: 'Content-Length', text: head('GET /x HTTP/1.1', 'Host: a', 'Content-Length: 0') },
    { why: 'Transfer-Encoding', text: head('GET /x HTTP/1.1', 'Host: a', 'Transfer-Encoding: chunked') },
    { why: 'Upgrade', text: head('GET /x HTTP/1.1', 'Host: a', 'Upgrade: websocket') },
    { why: 'Expect', text: head('GET /x HTTP/1.1', 'Host: a', 'Expect: 100-continue') },
    { why: 'Range', text: head('GET /x HTTP/1.1', 'Host: a', 'Range: bytes=0-1') },
    { why: 'If-Range', text: head('GET /x HTTP/1.1', 'Host: a', 'If-Range: "e"') },
    { why: 'If-None-Match', text: head('GET /x HTTP/1.1', 'Host: a', 'If-None-Match: "e"') },
    { why: 'If-Modified-Since', text: head('GET /x HTTP/1.1', 'Host: a', 'If-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT') },
    { why: 'If-Match', text: head('GET /x HTTP/1.1', 'Host: a', 'If-Match: *') },
    { why: 'Authorization', text: head('GET /x HTTP/1.1', 'Host: a', 'Authorization: Bearer t') },
    { why: 'Connection: close', text: head('GET /x HTTP/1.1', 'Host: a', 'Connection: close') },
    { why: 'Connection: upgrade', text: head('GET /x HTTP/1.1', 'Host: a', 'Connection: Upgrade') },
    { why: 'Connection: a list', text: head('GET /x HTTP/1.1', 'Host: a', 'Connection: keep-alive, TE') },
    { why: 'two Connection headers', text: head('GET /x HTTP/1.1', 'Host: a', 'Connection: keep-alive', 'Connection: keep-alive') },
    { why: 'bare LF line ends', text: 'GET /x HTTP/1.1\nHost: a\n\n' },
    { why: 'a bare LF after the request line', text: 'GET /x HTTP/1.1\nHost: a\r\n\r\n' },
    { why: 'a bare LF ending the head', text: 'GET /x HTTP/1.1\r\nHost: a\r\n\n' },
    { why: 'a bare CR in a value', text: head('GET /x HTTP/1.1', 'Host: a\rb') },
    { why: 'a bare CR ending a line', text: 'GET /x HTTP/1.1\r\nHost: a\rX: y\r\n\r\n' },
    { why: 'a bare LF in a value', text: head('GET /x HTTP/1.1', 'Host: a\nb') },
    { why: 'NUL in a value', text: head('GET /x HTTP/1.1', 'Host: a\u0000b') },
    { why: 'a control byte in a value', text: head('GET /x HTTP/1.1', 'Host: a', 'X: \u0001') },
    { why: 'a byte above 0x7E in a value', text: head('GET /x HTTP/1.1', 'Host: a', 'X: caf\u00e9') },
    { why: 'obs-fold', text: head('GET /x HTTP/1.1', 'Host: a', 'X: a', ' folded') },
    { why: 'obs-fold with a tab', text: head('GET /x HTTP/1.1', 'Host: a', 'X: a', '\tfolded') },
    { why: 'a folded Content-Length (the smuggling test)', text: head('GET /x HTTP/1.1', 'Host: a', ' Content-Length: 5') },
    { why: 'space before the colon', text: head('GET /x HTTP/1.1', 'Host : a') },
    { why: 'no colon', text: head('GET /x HTTP/1.1', 'Host: a', 'X') },
    { why: 'an empty name', text: head('GET /x HTTP/1.1', 'Host: a', ': v') },
    { why: 'a separator in a name', text: head('GET /x HTTP/1.1', 'Host: a', 'X(y): v') },
    { why: 'too many headers', text: head('GET /x HTTP/1.1', 'Host: a', ...range(MAX_SIMPLE_HEADERS).map((i) => `X-${i}: v`)) },
    { why: 'a head longer than the bound', text: head('GET /x HTTP/1.1', 'Host: a', `X: ${'p'.repeat(MAX_SIMPLE_HEAD_BYTES)}`) },
    { why: 'JSON', text: '{"type": "GET", "data": "x"}' },
    { why: 'TLS', text: '\u0016\u0003\u0001\u0002\u0000' },
  ];
  for (const { why, text } of other) {
    test(why, () => {
      assert.deepEqual(recognize(bytes(text)), { kind: 'other' });
    });
  }

  test('a partial head one byte over the bound is not simple, rather than waiting for ever', () => {
    const text = `GET /x HTTP/1.1\r\nHost: a\r\nX: ${'p'.repeat(MAX_SIMPLE_HEAD_BYTES)}`;
    assert.deepEqual(recognize(bytes(text.slice(0, MAX_SIMPLE_HEAD_BYTES - 1))), { kind: 'partial' });
    assert.deepEqual(recognize(bytes(text.slice(0, MAX_SIMPLE_HEAD_BYTES))), { kind: 'other' });
  });
});

describe('recognize: partial heads', () => {
  const whole = head('HEAD /a/b.css?v=1 HTTP/1.1', 'Host: a', 'Connection: keep-alive', 'Accept: */*');
  test('every proper prefix of a simple head needs more bytes', () => {
    for (let cut = 0; cut < whole.length; cut++) {
      assert.deepEqual(recognize(bytes(whole.slice(0, cut))), { kind: 'partial' }, JSON.stringify(whole.slice(0, cut)));
    }
    assert.equal(recognize(bytes(whole)).kind, 'simple');
  });

  test('a prefix that can no longer become simple is told at once, before the head ends', () => {
    for (const prefix of [
      'POST ',
      'GET x',
      'GET /x HTTP/1.0',
      'GET /x HTTP/1.1\n',
      'GET /x HTTP/1.1\r\nHost: a\n',
      'GET /x HTTP/1.1\r\nHost: a\r\nX: \u0000',
      'GET /x HTTP/1.1\r\nHost: a\r\n X',
      'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n',
      'GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n',
      'GET /x HTTP/1.1\r\nHost: a\r\n\rx',
    ]) {
      assert.deepEqual(recognize(bytes(prefix)), { kind: 'other' }, JSON.stringify(prefix));
    }
  });

  test('a forbidden header is told once its line is complete', () => {
    assert.deepEqual(recognize(bytes('GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5')), { kind: 'partial' });
    assert.deepEqual(recognize(bytes('GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r')), { kind: 'partial' });
    assert.deepEqual(recognize(bytes('GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n')), { kind: 'other' });
  });
});

describe('recognize: pipelined requests', () => {
  test('one after another from an offset, the boundary at each CRLFCRLF', () => {
    const first = head('GET /a HTTP/1.1', 'Host: a');
    const second = head('HEAD /b HTTP/1.1', 'Host: a');
    const third = head('PUT /c HTTP/1.1', 'Host: a', 'Content-Length: 1');
    const all = bytes(`${first}${second}${third}x${first.slice(0, 5)}`);
    assert.deepEqual(recognize(all), { kind: 'simple', method: 'GET', target: '/a', length: first.length });
    assert.deepEqual(recognize(all, first.length), { kind: 'simple', method: 'HEAD', target: '/b', length: second.length });
    assert.deepEqual(recognize(all, first.length + second.length), { kind: 'other' });
    assert.deepEqual(recognize(bytes(`${first}${first.slice(0, 5)}`), first.length), { kind: 'partial' });
  });

  test('what follows a head is never part of it', () => {
    const text = head('GET /a HTTP/1.1', 'Host: a');
    const followed = bytes(`${text}Content-Length: 5\r\n\r\nhello`);
    assert.deepEqual(recognize(followed), { kind: 'simple', method: 'GET', target: '/a', length: text.length });
  });

  test('the bound counts from the request, not from the buffer', () => {
    const text = head('GET /a HTTP/1.1', 'Host: a');
    const many = bytes(text.repeat(Math.ceil((2 * MAX_SIMPLE_HEAD_BYTES) / text.length)));
    let offset = 0;
    while (offset < many.length) {
      const got = recognize(many, offset);
      assert.equal(got.kind, 'simple');
      if (got.kind === 'simple') offset += got.length;
    }
    assert.equal(offset, many.length);
  });
});

/** What node:http's server takes from `bytes`, handed to it at once: each request's method, target and body, in order. */
async function nodeTakes(server: Server, bytes: Buffer): Promise<string[]> {
  const taken: Array<{ head: string; body: string }> = [];
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      done();
    },
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.socket !== socket) return;
    const request = { head: `${req.method} ${req.url}`, body: '' };
    taken.push(request);
    req.on('data', (chunk: Buffer) => (request.body += chunk.toString('latin1')));
    res.end();
  };
  server.on('request', onRequest);
  server.emit('connection', socket);
  socket.push(bytes);
  // node:http parses what it is handed at once; bodies and answers follow within a few turns.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  server.off('request', onRequest);
  socket.destroy();
  return taken.map(({ head, body }) => `${head} [${body}]`);
}

describe('recognize against node:http', () => {
  test('the simple requests at the start are the ones node:http takes, with the same method and target, no body, and the same end', async () => {
    const server = createServer();
    await fc.assert(
      fc.asyncProperty(requestSequence, async ({ bytes }) => {
        const ours: string[] = [];
        let end = 0;
        for (let head = recognize(bytes); head.kind === 'simple'; head = recognize(bytes, end)) {
          ours.push(`${head.method} ${head.target} []`);
          end += head.length;
        }
        const all = await nodeTakes(server, bytes);
        assert.deepEqual(all.slice(0, ours.length), ours);
        // node:http, handed only what follows, takes the same requests from there: the boundary is the same.
        assert.deepEqual(all.slice(ours.length), await nodeTakes(server, bytes.subarray(end)));
      }),
      { numRuns: 1500 },
    );
  });
});
