// Whether the start-up warm-up's optimised code survives the first real table. The warm-up
// (src/daemon/warm-up.ts) exists to have the hot paths optimised before the sessions start; V8
// throws optimised code away when it meets something its feedback never saw, and each shape of a
// real table the warm-up's synthetic one lacked did that once the real table came (docs/
// PERFORMANCE.md, eleventh session). This runs the daemon as the convergence benchmark does, a
// route reflector between a fixed-stream injector and a BIRD 2 receiver on a bridge, with V8's
// own `--trace-deopt`, and checks that none of the functions that were thrown away then is
// thrown away now. The stream has more attribute sets than the id-indexed tables start with, /25
// to /32 prefixes, UPDATEs of 4 prefixes and End-of-RIB; the daemon resolves next hops against
// the namespace's kernel routes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { canUseNamespaces, Lab, run, waitFor } from '../lib/lab.ts';
import {
  birdReceiverConfig,
  buildReflectorLan,
  logOf,
  tsbgpReflectorConfig,
  tsbgpRunArgs,
} from '../lib/reflector-lan.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');
const INJ = '10.98.0.1';
const RR = '10.98.0.2';
const RCV = '10.98.0.3';
const LAN = { inj: INJ, rr: RR, rcv: RCV };
const ROUTES = 30_000;
const SETS = 3_000;
const PER_UPDATE = 4;

/**
 * Functions the first real table deoptimised before the warm-up was shaped like a real table:
 * the first growth of the id-indexed tables ("code dependencies"), the per-speaker resolver
 * closure ("wrong call target"), NLRI of 2 and 4 address octets and End-of-RIB entries.
 */
const WATCHED = [
  'ref',
  'unref',
  'derive',
  'upsert',
  'unlinkPath',
  'applyFrame',
  'importUpdate',
  'resultFor',
  'select',
  'igpCost',
  'parsePrefixes',
  'encodePrefixes',
  'applyUpdate',
];

/**
 * The deoptimisations in a `--trace-deopt --trace-gc` log after the warm-up: its full collection
 * (a Mark-Compact with reason "testing", from global.gc()) marks where the warm-up ends.
 */
function deoptsAfterWarmUp(log: string): { name: string; reason: string }[] {
  const lines = log.split('\n');
  const end = lines.findIndex((l) => /Mark-Compact.*testing/.test(l));
  if (end < 0) return [];
  const out: { name: string; reason: string }[] = [];
  for (const l of lines.slice(end + 1)) {
    const bailout = /bailout \(kind: [^,]+, reason: ([^)]*)\).*<JSFunction ([^ >]+)/.exec(l);
    if (bailout) out.push({ name: bailout[2]!, reason: bailout[1]! });
    const marked = /marking dependent code .*<SharedFunctionInfo ([^>]+)>.*reason: ([^\]]+)/.exec(l);
    if (marked) out.push({ name: marked[1]!, reason: marked[2]! });
  }
  return out;
}

describe('the warm-up against the first real table', { skip: !canUseNamespaces() && 'needs root' }, () => {
  const lab = new Lab('wdo');
  after(async () => {
    await lab.dispose();
  });

  test('its optimised code for the hot paths is not thrown away', { timeout: 180_000 }, async (t) => {
    if ((await run('which', ['bird'])).code !== 0) {
      t.skip('BIRD 2 is not installed');
      return;
    }
    await buildReflectorLan(lab, LAN);
    const rcvConf = join(lab.dir, 'rcv.conf');
    const rcvSock = join(lab.dir, 'rcv.ctl');
    writeFileSync(rcvConf, birdReceiverConfig(LAN));
    lab.spawn('rcv', 'bird', 'bird', ['-f', '-c', rcvConf, '-s', rcvSock]);
    const injector = lab.spawn('inj', 'replay', process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'conformance', 'bench', 'replay-injector.ts'),
      INJ,
      RR,
      String(ROUTES),
      String(PER_UPDATE),
      String(SETS),
    ]);
    const cfg = join(lab.dir, 'tsbgp.yaml');
    writeFileSync(cfg, tsbgpReflectorConfig(LAN));
    const daemon = lab.spawn(
      'rr',
      'tsbgp',
      process.execPath,
      tsbgpRunArgs(TSBGP, {
        config: cfg,
        controlSocket: join(lab.dir, 'tsbgp.sock'),
        logLevel: 'warn',
        nodeFlags: ['--trace-deopt', '--trace-gc'],
      }),
    );
    const birdc = (cmd: string) => lab.tryExec('rcv', 'birdc', ['-s', rcvSock, cmd]);
    await waitFor('replay stream built', async () => /^ready/m.test(logOf(injector)), 60_000);
    await waitFor(
      'receiver session Established',
      async () => /Established/.test((await birdc('show protocols torr')).stdout),
      60_000,
    );
    injector.child.kill('SIGUSR1');
    await waitFor(
      `receiver holding ${ROUTES} routes`,
      async () => {
        const m = /(\d+) of \d+ routes/.exec((await birdc('show route count')).stdout);
        return m !== null && Number(m[1]) >= ROUTES;
      },
      60_000,
    );

    const log = logOf(daemon);
    assert.match(log, /Mark-Compact.*testing/, 'the warm-up ran and collected (its end marks the log)');
    const deopts = deoptsAfterWarmUp(log);
    const hit = deopts.filter((d) => WATCHED.includes(d.name));
    assert.deepEqual(hit, [], `deoptimised after the warm-up: ${JSON.stringify(hit)}`);
  });
});
