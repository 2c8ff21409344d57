import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { matchSelector, parseSelector, printSelector, SelectorError } from './selector.ts';

const labels = { app: 'web', tier: 'front', 'example.com/team': 'blue' };
const m = (s: string, l: Record<string, string> = labels): boolean => matchSelector(parseSelector(s), l);

describe('selector language', () => {
  test('each form evaluates as Calico defines it', () => {
    assert.equal(m("app == 'web'"), true);
    assert.equal(m("app == 'db'"), false);
    assert.equal(m("app != 'db'"), true);
    assert.equal(m("missing != 'x'"), true, 'a missing key is unequal to any value');
    assert.equal(m('has(tier)'), true);
    assert.equal(m('!has(tier)'), false);
    assert.equal(m('has(example.com/team)'), true);
    assert.equal(m("app in {'db', 'web'}"), true);
    assert.equal(m("app in {'db'}"), false);
    assert.equal(m("app not in {'db'}"), true);
    assert.equal(m("missing in {'x'}"), false);
    assert.equal(m('all()'), true);
    assert.equal(m('all()', {}), true);
    assert.equal(m("app == 'web' && tier == 'back'"), false);
    assert.equal(m("app == 'db' || tier == 'front'"), true);
  });

  test('&& binds tighter than ||, and parentheses override', () => {
    // true || (false && false) = true; (true || false) && false = false
    assert.equal(m("app == 'web' || app == 'db' && tier == 'back'"), true);
    assert.equal(m("(app == 'web' || app == 'db') && tier == 'back'"), false);
    assert.equal(m("!(app == 'web' && has(tier))"), false);
  });

  test('errors name the problem and the column', () => {
    const cases: [string, RegExp][] = [
      ["app == 'web' &&", /expected a label key.*end of selector at column 16/],
      ["app = 'web'", /unexpected character "=" at column 5/],
      ['app == web', /expected a quoted value, found "web" at column 8/],
      ["app == 'web", /unterminated string at column 8/],
      ["has('x')", /has\(\) needs a label key/],
      ["(app == 'a'", /expected '\)', found end of selector/],
      ["app in {'a' 'b'}", /expected ',' or '}'/],
      ["app == 'a' app", /unexpected "app" at column 12/],
    ];
    for (const [src, re] of cases) {
      assert.throws(
        () => parseSelector(src),
        (e: unknown) => e instanceof SelectorError && re.test(e.message),
        src,
      );
    }
  });

  test('printing is canonical: reparsing the print gives the same print and the same verdicts', () => {
    const key = fc.constantFrom('a', 'b', 'c');
    const val = fc.constantFrom('x', 'y');
    const leaf = fc.oneof(
      fc.tuple(key, val).map(([k, v]) => `${k} == '${v}'`),
      fc.tuple(key, val).map(([k, v]) => `${k} != '${v}'`),
      key.map((k) => `has(${k})`),
      key.map((k) => `!has(${k})`),
      fc
        .tuple(key, fc.array(val, { minLength: 1, maxLength: 2 }))
        .map(([k, vs]) => `${k} in {${vs.map((v) => `'${v}'`).join(',')}}`),
      fc.constant('all()'),
    );
    const expr = fc.letrec((tie) => ({
      e: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) && (${b})`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) || (${b})`),
        tie('e').map((a) => `!(${a})`),
      ),
    })).e as fc.Arbitrary<string>;
    const lab = fc.dictionary(key, val);
    fc.assert(
      fc.property(expr, lab, (src, l) => {
        const ast = parseSelector(src);
        const printed = printSelector(ast);
        assert.equal(printSelector(parseSelector(printed)), printed);
        assert.equal(matchSelector(parseSelector(printed), l), matchSelector(ast, l));
      }),
      { numRuns: 300 },
    );
  });
});
