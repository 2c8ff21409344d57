// The start-up warm-up (src/daemon/warm-up.ts) as `tsbgp run` does it, in a namespace of its own:
// with loopback up it runs before the daemon says it is running; with loopback down it gives up at
// once and the daemon starts cold, instead of retrying until the warm-up's 20 s timeout.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { canUseNamespaces, Lab, waitFor } from '../lib/lab.ts';

const TSBGP = join(resolve(import.meta.dirname, '..', '..'), 'bin', 'tsbgp.js');

interface LogRecord {
  msg: string;
  time: string;
  routes?: number;
  ms?: number;
  reason?: string;
}

function records(path: string): LogRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogRecord);
}

describe('start-up warm-up', { skip: !canUseNamespaces() && 'needs root (network namespaces)' }, () => {
  const lab = new Lab('wup');
  after(async () => {
    await lab.dispose();
  });

  const start = async (node: string, loopbackUp: boolean) => {
    await lab.addNode(node);
    if (!loopbackUp) await lab.exec(node, 'ip', ['link', 'set', 'lo', 'down']);
    const cfg = join(lab.dir, `${node}.yaml`);
    writeFileSync(cfg, 'asn: 65000\nrouterId: 192.0.2.1\nlisten: { addresses: [] }\n');
    const args = [TSBGP, 'run', '--config', cfg, '--control-socket', join(lab.dir, `${node}.sock`)];
    const p = lab.spawn(node, 'tsbgp', process.execPath, [...args, '--log-format', 'json']);
    await waitFor(
      'tsbgp running',
      async () => records(p.logPath).some((r) => r.msg === 'tsbgp running'),
      30_000,
    );
    return records(p.logPath);
  };

  test('with loopback: 50,000 routes run through before the daemon is running', async () => {
    const log = await start('up', true);
    const i = log.findIndex((r) => r.msg.startsWith('warm-up: '));
    assert.ok(i >= 0, 'a warm-up line');
    assert.equal(log[i]!.routes, 50_000);
    assert.ok(log[i]!.ms! > 0 && log[i]!.ms! < 15_000, `took ${log[i]!.ms} ms`);
    assert.ok(i < log.findIndex((r) => r.msg === 'tsbgp running'));
  });

  test('with loopback down: abandoned at once with the reason, and the daemon runs', async () => {
    const log = await start('down', false);
    const w = log.find((r) => r.msg.startsWith('warm-up abandoned'));
    assert.ok(w, 'an abandoned line');
    assert.match(w.reason!, /127\.0\.0\.1/);
    assert.ok(w.ms! < 3000, `gave up after ${w.ms} ms`);
  });
});
