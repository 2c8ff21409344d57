// Label selectors, in the subset of Calico's selector language that operators use most:
//   key == 'v'   key != 'v'   has(key)   !has(key)   key in {'a','b'}   key not in {'a'}
//   all()   expr && expr   expr || expr   !expr   ( expr )
// A selector is parsed once to an AST; evaluation is a tree walk over an endpoint's labels.
// `&&` binds tighter than `||`, as in Calico and C.

export type SelectorAst =
  | { kind: 'all' }
  | { kind: 'eq'; key: string; value: string }
  | { kind: 'ne'; key: string; value: string }
  | { kind: 'has'; key: string }
  | { kind: 'in'; key: string; values: readonly string[] }
  | { kind: 'notin'; key: string; values: readonly string[] }
  | { kind: 'not'; expr: SelectorAst }
  | { kind: 'and'; left: SelectorAst; right: SelectorAst }
  | { kind: 'or'; left: SelectorAst; right: SelectorAst };

export class SelectorError extends Error {
  constructor(
    readonly source: string,
    readonly offset: number,
    problem: string,
  ) {
    super(`selector ${JSON.stringify(source)}: ${problem} at column ${offset + 1}`);
    this.name = 'SelectorError';
  }
}

type Token =
  | { t: 'ident'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'op'; v: '==' | '!=' | '&&' | '||' | '!' | '(' | ')' | '{' | '}' | ','; at: number }
  | { t: 'end'; at: number };

// Label keys follow Kubernetes: an optional DNS prefix and '/', then name characters.
const IDENT = /[A-Za-z0-9_.\-/]/;

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '&&' || two === '||') {
      out.push({ t: 'op', v: two, at: i });
      i += 2;
      continue;
    }
    if (c === '!' || c === '(' || c === ')' || c === '{' || c === '}' || c === ',') {
      out.push({ t: 'op', v: c, at: i });
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const close = src.indexOf(c, i + 1);
      if (close < 0) throw new SelectorError(src, i, 'unterminated string');
      out.push({ t: 'string', v: src.slice(i + 1, close), at: i });
      i = close + 1;
      continue;
    }
    if (IDENT.test(c)) {
      const start = i;
      while (i < src.length && IDENT.test(src[i]!)) i++;
      out.push({ t: 'ident', v: src.slice(start, i), at: start });
      continue;
    }
    throw new SelectorError(src, i, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

/** Parses a selector expression; throws SelectorError naming the column of the first problem. */
export function parseSelector(src: string): SelectorAst {
  const toks = tokenize(src);
  let pos = 0;
  const peek = (): Token => toks[pos]!;
  const next = (): Token => toks[pos++]!;
  const describe = (t: Token): string => (t.t === 'end' ? 'end of selector' : JSON.stringify(t.v));
  const expectOp = (v: string): void => {
    const t = next();
    if (t.t !== 'op' || t.v !== v)
      throw new SelectorError(src, t.at, `expected '${v}', found ${describe(t)}`);
  };
  const isOp = (t: Token, v: string): boolean => t.t === 'op' && t.v === v;

  const parseOr = (): SelectorAst => {
    let left = parseAnd();
    while (isOp(peek(), '||')) {
      next();
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): SelectorAst => {
    let left = parseUnary();
    while (isOp(peek(), '&&')) {
      next();
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseStringSet = (): string[] => {
    expectOp('{');
    const values: string[] = [];
    if (isOp(peek(), '}')) {
      next();
      return values;
    }
    for (;;) {
      const t = next();
      if (t.t !== 'string')
        throw new SelectorError(src, t.at, `expected a quoted value, found ${describe(t)}`);
      values.push(t.v);
      const sep = next();
      if (isOp(sep, '}')) return values;
      if (!isOp(sep, ','))
        throw new SelectorError(src, sep.at, `expected ',' or '}', found ${describe(sep)}`);
    }
  };
  const parseUnary = (): SelectorAst => {
    const t = next();
    if (isOp(t, '!')) return { kind: 'not', expr: parseUnary() };
    if (isOp(t, '(')) {
      const inner = parseOr();
      expectOp(')');
      return inner;
    }
    if (t.t !== 'ident')
      throw new SelectorError(src, t.at, `expected a label key, has(), all() or '(', found ${describe(t)}`);
    if ((t.v === 'has' || t.v === 'all') && isOp(peek(), '(')) {
      next();
      if (t.v === 'all') {
        expectOp(')');
        return { kind: 'all' };
      }
      const key = next();
      if (key.t !== 'ident')
        throw new SelectorError(src, key.at, `has() needs a label key, found ${describe(key)}`);
      expectOp(')');
      return { kind: 'has', key: key.v };
    }
    const op = next();
    if (isOp(op, '==') || isOp(op, '!=')) {
      const v = next();
      if (v.t !== 'string')
        throw new SelectorError(src, v.at, `expected a quoted value, found ${describe(v)}`);
      return isOp(op, '==') ? { kind: 'eq', key: t.v, value: v.v } : { kind: 'ne', key: t.v, value: v.v };
    }
    if (op.t === 'ident' && op.v === 'in') return { kind: 'in', key: t.v, values: parseStringSet() };
    if (op.t === 'ident' && op.v === 'not') {
      const kw = next();
      if (kw.t !== 'ident' || kw.v !== 'in') throw new SelectorError(src, kw.at, `expected 'in' after 'not'`);
      return { kind: 'notin', key: t.v, values: parseStringSet() };
    }
    throw new SelectorError(
      src,
      op.at,
      `expected ==, !=, in or not in after ${JSON.stringify(t.v)}, found ${describe(op)}`,
    );
  };

  const ast = parseOr();
  const rest = peek();
  if (rest.t !== 'end') throw new SelectorError(src, rest.at, `unexpected ${describe(rest)}`);
  return ast;
}

/** Evaluates a selector against labels. A missing key is unequal to every value, as in Calico. */
export function matchSelector(ast: SelectorAst, labels: Readonly<Record<string, string>>): boolean {
  switch (ast.kind) {
    case 'all':
      return true;
    case 'eq':
      return labels[ast.key] === ast.value;
    case 'ne':
      return labels[ast.key] !== ast.value;
    case 'has':
      return Object.hasOwn(labels, ast.key);
    case 'in': {
      const v = labels[ast.key];
      return v !== undefined && ast.values.includes(v);
    }
    case 'notin': {
      const v = labels[ast.key];
      return v === undefined || !ast.values.includes(v);
    }
    case 'not':
      return !matchSelector(ast.expr, labels);
    case 'and':
      return matchSelector(ast.left, labels) && matchSelector(ast.right, labels);
    case 'or':
      return matchSelector(ast.left, labels) || matchSelector(ast.right, labels);
  }
}

const quote = (v: string): string => `'${v}'`;

/**
 * Canonical text of a selector: equal selectors written differently (spacing, quotes, redundant
 * parentheses) print the same, so they share one ipset.
 */
export function printSelector(ast: SelectorAst): string {
  switch (ast.kind) {
    case 'all':
      return 'all()';
    case 'eq':
      return `${ast.key} == ${quote(ast.value)}`;
    case 'ne':
      return `${ast.key} != ${quote(ast.value)}`;
    case 'has':
      return `has(${ast.key})`;
    case 'in':
      return `${ast.key} in {${[...ast.values].sort().map(quote).join(',')}}`;
    case 'notin':
      return `${ast.key} not in {${[...ast.values].sort().map(quote).join(',')}}`;
    case 'not':
      return `!(${printSelector(ast.expr)})`;
    case 'and':
      return `(${printSelector(ast.left)} && ${printSelector(ast.right)})`;
    case 'or':
      return `(${printSelector(ast.left)} || ${printSelector(ast.right)})`;
  }
}
