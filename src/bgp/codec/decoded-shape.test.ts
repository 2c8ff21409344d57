// Decoded attribute sets share one V8 hidden class whatever attributes they hold and in whatever
// order they came (decodedAttributes in attributes.ts). Checked in a child process with V8's
// %HaveSameMap, because only V8 can say which hidden class an object has.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runV8Child } from '../../testing/v8-child.ts';

const ATTRIBUTES = fileURLToPath(new URL('./attributes.ts', import.meta.url));

// Three blocks: BIRD 2's iBGP set (no MED), a set with MED and numbers beyond V8's small
// integers, and one with the attributes in another order (RFC 4271 §5 allows any order).
const CHILD = `
const { decodePathAttributes, encodePathAttributes, pathAttributesLength } = await import(${JSON.stringify(ATTRIBUTES)});
const opts = { fourOctetAs: true, extendedMessage: false, addPath: new Set() };
const block = (a) => {
  const buf = new Uint8Array(pathAttributesLength(a, opts));
  encodePathAttributes(a, opts, buf, 0);
  return buf;
};
const decode = (buf) => {
  const r = decodePathAttributes(buf, 0, buf.length, opts);
  if (!r.ok) throw new Error(r.error.reason);
  return r.value.attributes;
};
const bird = block({ origin: 0, asPath: new Uint32Array(0), nextHop: 0x0a030002, localPref: 100, communities: Uint32Array.of(0xfde80001) });
const withMed = block({ origin: 2, asPath: Uint32Array.of(0x02000001, 4200000000), nextHop: 0xc0000201, med: 0xfffffff0, localPref: 0x80000000 });
// ORIGIN moved behind NEXT_HOP: the same attributes as bird, another order on the wire.
const o = bird.subarray(0, 4), rest = bird.subarray(4);
const reordered = new Uint8Array(bird.length);
const nh = 3 + rest[2]; // AS_PATH's length: header 3 + value
reordered.set(rest.subarray(0, nh + 7), 0);
reordered.set(o, nh + 7);
reordered.set(rest.subarray(nh + 7), nh + 11);
const a = decode(bird), b = decode(withMed), c = decode(reordered);
if (c.origin !== 0 || c.localPref !== 100) throw new Error('reordered block decoded wrong: ' + JSON.stringify(c));
console.log(JSON.stringify({ ab: %HaveSameMap(a, b), ac: %HaveSameMap(a, c) }));
`;

test('decoded attribute sets share one hidden class whatever attributes they hold', async () => {
  const r = await runV8Child<{ ab: boolean; ac: boolean }>(CHILD, ['--allow-natives-syntax']);
  assert.deepEqual(r, { ab: true, ac: true });
});

// A reused PrefixList has its fields rewritten (parsePrefixes into a pooled list). Code
// optimised on the list's fields must survive that: the shape is settled at load
// (settledPrefixListShape in prefix.ts). The control is an object whose fields V8 still treats
// as constants, and whose first rewrite must throw the code away, or the test shows nothing.
const PREFIX = fileURLToPath(new URL('./prefix.ts', import.meta.url));
const REWRITE_CHILD = `
const { parsePrefixes } = await import(${JSON.stringify(PREFIX)});
const list = { afi: 1, count: 0, lengths: new Uint8Array(16), words: new Uint32Array(16), pathIds: null };
const control = { lengths: new Uint8Array(16), count: 0 };
const readList = (l) => l.count + l.lengths.length;
const readControl = (c) => c.count + c.lengths.length;
for (const [f, o] of [[readList, list], [readControl, control]]) {
  %PrepareFunctionForOptimization(f);
  for (let i = 0; i < 20; i++) f(o);
  %OptimizeFunctionOnNextCall(f);
  f(o);
}
const r = parsePrefixes(Uint8Array.of(24, 10, 0, 0), 0, 4, 1, false, list);
if (r !== list || list.count !== 1) throw new Error('not parsed into the list');
control.count = 1;
control.lengths = new Uint8Array(32);
const optimised = (f) => (%GetOptimizationStatus(f) & 16) !== 0;
console.log(JSON.stringify({ list: optimised(readList), control: optimised(readControl) }));
`;

test('rewriting a reused PrefixList keeps code optimised on its fields', async () => {
  const r = await runV8Child<{ list: boolean; control: boolean }>(REWRITE_CHILD, ['--allow-natives-syntax']);
  assert.equal(r.control, false, 'V8 kept code across a first field rewrite: the test shows nothing');
  assert.equal(r.list, true);
});
