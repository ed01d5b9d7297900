/**
 * The layout keeps its promises: small files, no room holding most of the
 * code, no import circles, the server never reaching into the client, and
 * comments that say why rather than pointing at an issue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const MAX_LINES = 400;
const MAX_FOLDER_SHARE = 0.3;
/** The library's front door exports the client, and so do the programs that use it. */
const MAY_IMPORT_CLIENT = ['cli/', 'client/', 'index.ts'];
const ISSUE = /\bissues?\s*#?\d+/i;

interface Source {
  /** Path under src/, with forward slashes. */
  name: string;
  text: string;
  lines: number;
}

function listSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listSources(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

const sources: Source[] = listSources(SRC)
  .map((path) => {
    const text = readFileSync(path, 'utf8');
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    return { name: relative(SRC, path).split(sep).join('/'), text, lines };
  })
  .sort((a, b) => a.name.localeCompare(b.name));
const byName = new Map(sources.map((source) => [source.name, source]));

/** Every relative module a file names, type-only imports and re-exports included. */
const IMPORT =
  /\b(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importsOf(source: Source): string[] {
  const found = new Set<string>();
  for (const match of source.text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2];
    if (spec === undefined) continue;
    const target = relative(SRC, resolve(SRC, dirname(source.name), spec.replace(/\.js$/, '.ts')))
      .split(sep)
      .join('/');
    if (byName.has(target)) found.add(target);
  }
  return [...found].sort();
}

const graph = new Map(sources.map((source) => [source.name, importsOf(source)]));

/** Tarjan's strongly connected components: every group of files that import each other, directly or around a loop. */
function circles(edges: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    for (;;) {
      const member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      group.push(member);
      if (member === node) break;
    }
    if (group.length > 1 || (edges.get(node) ?? []).includes(node)) found.push(group.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The text of a file's comments: line comments and block comments, strings left out as far as a scan can tell. */
function commentsOf(text: string): string[] {
  const found: string[] = [];
  const pattern = /\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g;
  for (const match of text.matchAll(pattern)) {
    if (match[0].startsWith('/')) found.push(match[0]);
  }
  return found;
}

test('the layout finds the sources it checks', () => {
  assert.ok(sources.length > 50, `found only ${sources.length} files under ${SRC}`);
  assert.ok(byName.has('index.ts') && byName.has('client/client.ts'), 'src/index.ts or src/client/client.ts is missing');
  assert.ok((graph.get('index.ts') ?? []).includes('client/client.ts'), 'imports are not being read');
});

test(`no source file is over ${MAX_LINES} lines`, () => {
  const long = sources.filter((source) => source.lines > MAX_LINES).map((source) => `src/${source.name} (${source.lines})`);
  assert.deepEqual(long, [], `over ${MAX_LINES} lines: ${long.join(', ')}`);
});

test(`no folder of src/ holds over ${MAX_FOLDER_SHARE * 100}% of its lines`, () => {
  const total = sources.reduce((sum, source) => sum + source.lines, 0);
  const perFolder = new Map<string, number>();
  for (const source of sources) {
    const slash = source.name.indexOf('/');
    if (slash < 0) continue;
    const folder = source.name.slice(0, slash);
    perFolder.set(folder, (perFolder.get(folder) ?? 0) + source.lines);
  }
  const big = [...perFolder]
    .filter(([, lines]) => lines > MAX_FOLDER_SHARE * total)
    .map(([folder, lines]) => `src/${folder}/ (${((100 * lines) / total).toFixed(1)}% of ${total} lines)`);
  assert.deepEqual(big, [], `too large a share: ${big.join(', ')}`);
});

test('no import circles among the sources, type imports included', () => {
  const found = circles(graph).map((group) => group.map((name) => `src/${name}`).join(' <-> '));
  assert.deepEqual(found, [], `import circles: ${found.join('; ')}`);
});

test('the circle finder sees a loop through three files and a file importing itself', () => {
  const edges = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.deepEqual(circles(edges), [['a', 'b', 'c'], ['d']]);
});

test('no server code imports the client', () => {
  const reaching = sources
    .filter(
      (source) =>
        !MAY_IMPORT_CLIENT.some((allowed) => source.name === allowed || (allowed.endsWith('/') && source.name.startsWith(allowed))),
    )
    .filter((source) => (graph.get(source.name) ?? []).some((target) => target.startsWith('client/')))
    .map((source) => `src/${source.name}`);
  assert.deepEqual(reaching, [], `import src/client/: ${reaching.join(', ')}`);
});

test('no comment points at an issue number instead of saying why', () => {
  const pointing = sources.flatMap((source) =>
    commentsOf(source.text)
      .flatMap((comment) => comment.split('\n'))
      .filter((line) => ISSUE.test(line))
      .map((line) => `src/${source.name}: ${line.trim()}`),
  );
  assert.deepEqual(pointing, [], `comments naming an issue: ${pointing.join('; ')}`);
});
