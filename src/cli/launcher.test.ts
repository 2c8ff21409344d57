// bin/tsbgp.js chooses between dist/ and the sources. Each case runs a copy of it in a scratch
// tree whose two entry points say which one ran.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { testTempDir } from '../testing/temp-dir.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

function tree(): {
  root: string;
  touch: (rel: string, secondsAgo: number) => void;
  run: (env?: object) => string;
} {
  const root = testTempDir('tsbgp-launcher-');
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'tsbgp.js'), join(root, 'bin', 'tsbgp.js'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}');
  const put = (rel: string, text: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  put('src/cli/main.ts', "const from: string = 'src'; console.log(from);\n");
  put('src/bgp/codec/wire.ts', 'export const x = 1;\n');
  put('src/bgp/codec/wire.test.ts', 'export {};\n');
  put('src/bgp/codec/testing/helpers.ts', 'export {};\n');
  put('dist/cli/main.js', "console.log('dist');\n");
  put('dist/bgp/codec/wire.js', 'export const x = 1;\n');
  const touch = (rel: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    utimesSync(join(root, rel), t, t);
  };
  // Sources older than their builds, as after `npm run build`.
  for (const f of ['src/cli/main.ts', 'src/bgp/codec/wire.ts', 'src/bgp/codec/wire.test.ts']) touch(f, 60);
  for (const f of ['dist/cli/main.js', 'dist/bgp/codec/wire.js']) touch(f, 30);
  const run = (env: object = {}) =>
    execFileSync(process.execPath, [join(root, 'bin', 'tsbgp.js')], {
      env: { ...process.env, TSBGP_FROM_SOURCE: '', ...env },
      encoding: 'utf8',
    }).trim();
  return { root, touch, run };
}

describe('bin/tsbgp.js', () => {
  test('runs dist/ when every source has a build no older than itself (tests and test helpers aside)', () => {
    const t = tree();
    t.touch('src/bgp/codec/testing/helpers.ts', 0); // never built: not a reason to run the sources
    t.touch('src/bgp/codec/wire.test.ts', 0);
    assert.equal(t.run(), 'dist');
  });

  test('runs the sources when one of them changed after the build', () => {
    const t = tree();
    t.touch('src/bgp/codec/wire.ts', 0);
    assert.equal(t.run(), 'src');
  });

  test('runs the sources when a module has no build', () => {
    const t = tree();
    writeFileSync(join(t.root, 'src', 'bgp', 'codec', 'new-module.ts'), 'export {};\n');
    t.touch('src/bgp/codec/new-module.ts', 90);
    assert.equal(t.run(), 'src');
  });

  test('TSBGP_FROM_SOURCE=1 runs the sources over a current build', () => {
    const t = tree();
    assert.equal(t.run({ TSBGP_FROM_SOURCE: '1' }), 'src');
  });
});
