import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, formatPretty } from './logger.ts';

function capture(format: 'json' | 'pretty') {
  const stream = new PassThrough();
  const out: string[] = [];
  stream.setEncoding('utf8').on('data', (d: string) => out.push(d));
  return { log: createLogger({ stream, format, color: false }), out };
}

describe('logger', () => {
  test('JSON mode: one bunyan record per line, with peer and reason fields', async () => {
    const { log, out } = capture('json');
    log.info(
      { peer: 'tor-a', from: 'OpenConfirm', to: 'Established', reason: 'KeepaliveReceived' },
      'session Established',
    );
    await new Promise((r) => setImmediate(r));
    const lines = out.join('').split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.peer, 'tor-a');
    assert.equal(rec.reason, 'KeepaliveReceived');
    assert.equal(rec.level, 30);
    assert.equal(rec.name, 'tsbgp');
    assert.equal(rec.v, 0);
  });

  test('pretty mode: time, level, peer, message, then the other fields', async () => {
    const { log, out } = capture('pretty');
    log.warn({ peer: '192.0.2.1', reason: 'HoldTimerExpired', from: 'Established' }, 'session down');
    await new Promise((r) => setImmediate(r));
    assert.match(
      out.join(''),
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}peer=192\.0\.2\.1 session down reason=HoldTimerExpired from=Established\n$/,
    );
  });

  test('pretty mode quotes values with spaces and shows errors with their stack', () => {
    const err = new Error('connect ECONNREFUSED');
    const line = formatPretty(
      {
        level: 50,
        time: new Date('2026-01-01T10:11:12.345Z'),
        msg: 'failed',
        text: 'two words',
        err: { message: err.message, stack: err.stack ?? '' },
      },
      false,
    );
    const [first, ...stack] = line.split('\n');
    assert.equal(first, '10:11:12.345 ERROR failed text="two words" err="connect ECONNREFUSED"');
    assert.ok(stack.length > 0 && stack.every((l) => l.startsWith('    ')));
  });

  test('pretty mode shows the configured name beside the address', () => {
    const line = formatPretty(
      {
        level: 30,
        time: new Date(0),
        msg: 'session established',
        peer: '10.0.1.1',
        peerName: 'tor',
        component: 'bgp',
      },
      false,
    );
    assert.equal(line, '00:00:00.000 INFO  [bgp] peer=tor(10.0.1.1) session established');
  });

  test('colour only when asked', () => {
    const rec = { level: 30, time: new Date(0), msg: 'x' };
    assert.ok(formatPretty(rec, true).includes('\x1b['));
    assert.ok(!formatPretty(rec, false).includes('\x1b['));
  });
});
