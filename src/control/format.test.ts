import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PeerStatus, RouteView } from '../daemon/speaker-port.ts';
import {
  comparePrefixes,
  formatDuration,
  formatMemory,
  formatNeighbors,
  formatRoutes,
  formatSince,
  table,
} from './format.ts';

const now = Date.parse('2026-11-27T12:00:00Z');
function peer(over: Partial<PeerStatus>): PeerStatus {
  return {
    key: '192.0.2.1',
    id: '192.0.2.1',
    name: 'tor-a',
    address: '192.0.2.1',
    localAs: 65001,
    remoteAs: 65000,
    state: 'Established',
    adminDown: false,
    since: Date.parse('2026-11-27T11:58:03Z'),
    prefixesReceived: 12,
    prefixesSent: 3,
    timers: { holdTime: 90, keepaliveTime: 30, connectRetry: 5 },
    ...over,
  };
}

describe('CLI rendering', () => {
  test('table pads every column but the last', () => {
    assert.equal(
      table(
        ['A', 'Bee'],
        [
          ['xx', 'y'],
          ['z', ''],
        ],
      ),
      'A   Bee\nxx  y\nz',
    );
  });

  test('show neighbors: one row per session, like birdc show protocols', () => {
    const out = formatNeighbors(
      [
        peer({}),
        peer({
          name: 'tor-b',
          address: '192.0.2.2',
          remoteAs: 65000,
          state: 'Active',
          reason: 'TcpConnectionFailed',
          since: Date.parse('2026-11-26T08:00:00Z'),
          prefixesReceived: 0,
          prefixesSent: 0,
          lastError: {
            direction: 'received',
            code: 6,
            subcode: 2,
            text: 'Cease / Administrative Shutdown: bye',
            at: 0,
          },
        }),
        peer({
          name: 'rr',
          address: '192.0.2.3',
          adminDown: true,
          state: 'Idle',
          prefixesReceived: 0,
          prefixesSent: 0,
        }),
      ],
      now,
    );
    assert.equal(
      out,
      [
        'Name   Address    AS     State        Since       Rcvd  Sent  Info',
        'tor-a  192.0.2.1  65000  Established  11:58:03    12    3',
        'tor-b  192.0.2.2  65000  Active       2026-11-26  0     0     TcpConnectionFailed; last error: received Cease / Administrative Shutdown: bye',
        'rr     192.0.2.3  65000  Down         11:58:03    0     0     administratively down',
      ].join('\n'),
    );
  });

  test('routes are sorted IPv4 first, numerically', () => {
    const r = (prefix: string): RouteView => ({
      prefix,
      peer: '192.0.2.1',
      family: prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast',
      asPath: '65000',
      origin: 'igp',
      communities: [],
      largeCommunities: [],
    });
    const out = formatRoutes(
      [r('2001:db8::/32'), r('10.0.0.0/8'), r('9.0.0.0/8'), r('10.0.0.0/16')],
      [peer({})],
    );
    assert.deepEqual(
      out
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ['9.0.0.0/8', '10.0.0.0/8', '10.0.0.0/16', '2001:db8::/32'],
    );
    assert.match(out.split('\n')[1]!, /^9\.0\.0\.0\/8\s+tor-a\s+-\s+65000\s+i/);
    assert.ok(comparePrefixes('10.0.0.0/8', '9.0.0.0/8') > 0);
  });

  test('durations and times', () => {
    assert.equal(formatDuration(3_723_000), '01:02:03');
    assert.equal(formatDuration(90_061_000), '1d 01:01:01');
    assert.equal(formatSince(0, now), '-');
  });
  test("show memory: the process, the big tables' own mappings, and per family B/prefix", () => {
    const MiB = 2 ** 20;
    const text = formatMemory({
      process: {
        rss: 170 * MiB,
        heapTotal: 40 * MiB,
        heapUsed: 30 * MiB,
        external: 5 * MiB,
        arrayBuffers: 12 * MiB,
        hugePageMappings: 42 * MiB,
      },
      speaker: {
        rib: {
          attributeSets: 3000,
          families: [
            {
              family: 'ipv4-unicast',
              prefixes: 1_000_000,
              paths: 1_000_000,
              locRibBytes: 36 * MiB,
              updateGroups: 1,
              adjRibOutBytes: 6 * MiB,
            },
          ],
        },
        adjRibInBytes: 0,
        adjRibInRetained: 0,
        sessionAttributeSets: 3000,
      },
    });
    assert.match(text, /resident\s+170\.0 MiB/);
    assert.match(text, /table mappings\s+42\.0 MiB/);
    assert.match(
      text,
      /ipv4-unicast\s+1000000 prefixes, 1000000 paths: Loc-RIB 36\.0 MiB, Adj-RIB-Out 6\.0 MiB in 1 update group\(s\); 44 B\/prefix/,
    );
    assert.match(text, /attribute sets\s+3000 in the RIB, 3000 received/);
  });
});
