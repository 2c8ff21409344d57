// Reads a YAML config file, validates it, and reports every problem at once. Each problem names
// the file, the field path (`neighbors[2].holdTime`), the line and column, and what is wrong, so an
// operator can fix a file in one pass. Nothing here throws on bad input except ConfigError.
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { type HostAddress, type IssuePath, type PathIssue, resolveConfig } from './resolve.ts';
import { configSchema } from './schema.ts';
import type { Config } from './types.ts';

export interface ConfigIssue {
  file: string;
  /** Field path such as `neighbors[2].holdTime`; empty for a problem with the whole file. */
  path: string;
  line?: number | undefined;
  column?: number | undefined;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(file: string, issues: ConfigIssue[]) {
    super(
      `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `file:line:col: path: message`, the form editors and CI annotations understand. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file}:${i.line}:${i.column ?? 1}` : i.file;
  return `${where}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(part))
      out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

export interface LoadOptions {
  hostAddresses?: () => HostAddress[];
}

export function hostAddressesFromOs(): HostAddress[] {
  const out: HostAddress[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      out.push({
        interface: name,
        address: a.address,
        family: a.family === 'IPv6' ? 6 : 4,
        internal: a.internal,
      });
    }
  }
  return out;
}

/** Keys whose values are ASNs: a bare `1.10` there is asdot, not the float 1.1 YAML would make of it. */
const ASN_KEYS = new Set(['asn', 'asPathContains', 'originAs']);

/** Parses and validates config text. Throws ConfigError listing every problem. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: false });
  const issues: ConfigIssue[] = [];
  for (const e of doc.errors) {
    const pos = lineCounter.linePos(e.pos[0]);
    issues.push({
      file,
      path: '',
      line: pos.line,
      column: pos.col,
      message: `YAML: ${firstLine(e.message)}`,
    });
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  if (doc.contents === null) {
    throw new ConfigError(file, [{ file, path: '', line: 1, column: 1, message: 'the file is empty' }]);
  }
  if (!isMap(doc.contents)) {
    throw new ConfigError(file, [
      lineIssue(file, [], doc.contents, lineCounter, 'the top level must be a mapping of fields'),
    ]);
  }

  // asdot: `asn: 1.10` parses as the number 1.1; take the source text instead.
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'number' || Number.isInteger(node.value)) return;
      const source = node.srcToken && 'source' in node.srcToken ? node.srcToken.source : undefined;
      if (source === undefined || !/^\d+\.\d+$/.test(source)) return;
      for (let i = path.length - 1; i >= 0; i--) {
        const p = path[i];
        if (isPair(p)) {
          if (isScalar(p.key) && ASN_KEYS.has(String(p.key.value))) node.value = source;
          return;
        }
      }
    },
  });

  const parsed = configSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (!parsed.success) {
    for (const zi of flattenIssues(parsed.error.issues, [])) {
      issues.push(
        lineIssue(file, zi.path, nodeAt(doc.contents, zi.path, zi.keyOnly), lineCounter, zi.message),
      );
    }
    throw new ConfigError(file, issues);
  }
  const resolved = resolveConfig(parsed.data, file, {
    hostAddresses: options.hostAddresses ?? hostAddressesFromOs,
  });
  if (resolved.config === undefined) {
    for (const ri of resolved.issues) {
      issues.push(lineIssue(file, ri.path, nodeAt(doc.contents, ri.path, false), lineCounter, ri.message));
    }
    throw new ConfigError(file, issues);
  }
  return resolved.config;
}

/** Reads and validates a config file. Throws ConfigError (also for an unreadable file). */
export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(e);
    throw new ConfigError(file, [{ file, path: '', message: `cannot read the config: ${why}` }]);
  }
  return parseConfig(text, file, options);
}

interface FlatIssue extends PathIssue {
  /** True when the issue is about a key itself (an unknown field), so the key's line is wanted. */
  keyOnly: boolean;
}

type ZodIssue = z.core.$ZodIssue;

/**
 * Turns zod issues into one line each. A union reports the failure of the branch that got
 * furthest (e.g. "host bits set" rather than "expected object"), and an unknown key becomes one
 * issue per key, pointing at that key.
 */
function flattenIssues(zodIssues: readonly ZodIssue[], prefix: IssuePath): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const zi of zodIssues) {
    const path: IssuePath = [...prefix, ...zi.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (zi.code === 'unrecognized_keys') {
      for (const key of zi.keys)
        out.push({ path: [...path, key], message: `unknown field "${key}"`, keyOnly: true });
    } else if (zi.code === 'invalid_union') {
      const meaningful = zi.errors.filter((branch) => branch.some((b) => !isShallowTypeMismatch(b)));
      if (meaningful.length === 1) out.push(...flattenIssues(meaningful[0]!, path));
      else out.push({ path, message: zi.message, keyOnly: false });
    } else {
      out.push({ path, message: zi.message, keyOnly: false });
    }
  }
  return out;
}

function isShallowTypeMismatch(i: ZodIssue): boolean {
  return i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value');
}

/** The deepest YAML node along `path` (the key node itself for keyOnly issues). */
function nodeAt(root: Node, path: IssuePath, keyOnly: boolean): Node {
  let node: Node = root;
  for (let i = 0; i < path.length; i++) {
    const part = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) return node;
      if (last && keyOnly && isScalar(pair.key)) return pair.key;
      if (!pair.value || !isNodeLike(pair.value)) return isScalar(pair.key) ? pair.key : node;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part];
      if (!item || !isNodeLike(item)) return node;
      node = item;
    } else return node;
  }
  return node;
}

function isNodeLike(v: unknown): v is Node {
  return isMap(v) || isSeq(v) || isScalar(v) || (typeof v === 'object' && v !== null && 'range' in v);
}

function lineIssue(file: string, path: IssuePath, node: Node, lc: LineCounter, message: string): ConfigIssue {
  const offset = node.range?.[0];
  const pos = offset !== undefined ? lc.linePos(offset) : undefined;
  return { file, path: formatPath(path), line: pos?.line, column: pos?.col, message };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
