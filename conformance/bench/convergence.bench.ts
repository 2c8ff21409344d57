// Convergence benchmark (issue #4 §6): a route reflector under test between a BIRD 2 injector and
// a BIRD 2 receiver, tsbgp side by side with BIRD 2, FRR and GoBGP as the reflector, in one run;
// BIRD 1.6 and OpenBGPD (the rest of the issue's reference table) are there too.
//
//   node --import tsx conformance/bench/convergence.bench.ts [N ...] [--reps R]
//     [--only tsbgp,tsbgp-cold,bird2,frr,gobgp,bird1,openbgpd]
//     [--injector bird2|replay:K]
//   `--injector replay:K` replaces the BIRD 2 injector with replay-injector.ts: the same prefixes
//   and attribute sets in a fixed stream of ceil(N / K) UPDATEs, identical for every reflector.
//   (root; default N = 100000, R = 1, all six reflectors; the table shows medians)
//   BENCH_TRACE=1 prints, at every poll, the receiver's routes and the bytes taken from the injector.
//   BENCH_DEBUG=1 prints tsbgp's `show memory` before the injector comes up and after convergence.
//   BENCH_TWICE=1 loads the table a second time into the same reflector and prints that time.
//   BENCH_AFTER_S=S waits S seconds after the full withdrawal and prints the reflector's RSS then
//             (what an idle reflector gives back after losing its table).
//   BENCH_IDLE_S=S starts the injector S seconds after the reflector is up (default: at once).
//   BENCH_SETS=K gives the injector K distinct attribute sets instead of 3000 (what the per-set
//             work costs: 100k prefixes in 30 sets against 3000).
//   BENCH_BASELINE=DIR adds reflector `baseline`: tsbgp from another checkout (e.g. a
//   `git worktree` of an older commit), for before/after figures from the same interleaved runs.
//   BENCH_BASELINE_ENV='K=V ...' sets those variables for `baseline` alone: the same checkout under
//             another environment, e.g. BENCH_BASELINE=. BENCH_BASELINE_ENV=GLIBC_TUNABLES=glibc.malloc.hugetlb=1.
//
// Topology: one LAN (a bridge), three namespaces: inj (BIRD 2, AS 65000), rr (the reflector,
// AS 65000) and rcv (BIRD 2, AS 65000); inj and rcv are route-reflector clients of rr, so next
// hops are kept (the injector's address, direct on the LAN). The injector originates N IPv4
// prefixes with a table-like length mix (/24 63 %, /22-/23 22 %, /16-/21 13 %, longer 2 %) and
// 3000 distinct attribute sets (a community per set), as static routes with per-route attributes.
//
// Per reflector: start it, wait for rr–rcv Established, then enable the injector's session.
//   converge  from the injector reporting its session Established until the receiver holds N
//             (the receiver is polled over its control socket every 10 ms, and the injector is
//             sent a `show status` each time: see the comment in measure() on BIRD's stall);
//   withdraw  from disabling the injector's session until the receiver holds 0;
//   peak RSS  VmHWM of the reflector process(es) (FRR: bgpd + zebra) over the load: it is reset
//             to the RSS (/proc/PID/clear_refs) just before the injector comes up, so a start-up
//             peak (tsbgp's warm-up) is not charged to the routes; bytes per route are that peak
//             over the RSS before the injector came up (for tsbgp that is after its start-up
//             warm-up, whose garbage V8 has not yet collected then; `tsbgp-cold` runs without it).
//             The start-up peak is printed too, as "Start-up peak MiB";
//   CPU s     user + system seconds of the reflector between the two states;
//   injector / receiver CPU s
//             user + system seconds of the injector and of the receiver over the converge phase
//             only. The machine has two cores for the three processes, so when the reflector is
//             busy the others wait, and a reflector that sends the receiver more, smaller UPDATEs
//             (or makes the injector send smaller ones) costs them CPU that it then lacks itself.
//
// The reflectors other than tsbgp, and what is measured of each:
//   bird2     BIRD 2 (`bird`): one process.
//   bird1     BIRD 1.6 (/opt/bird1/usr/sbin/bird, the IPv4 daemon; BIRD 1.6 config syntax: no
//             channels, import/export and `rr client` on the protocol): one process.
//   frr       FRR bgpd (-n: no kernel installation) + zebra: the two are summed.
//   gobgp     gobgpd: one process.
//   openbgpd  OpenBGPD (`bgpd -d`, `fib-update no`, `route-reflector` on both neighbours, its own
//             control socket). bgpd's parent forks and re-executes itself as the session engine,
//             the route decision engine and the RTR engine, which chroot to /run/openbgpd and run
//             as _openbgpd. All four are measured, found as the parent's children (`pgrep -P`)
//             once the receiver's session is up: peak RSS and RSS are the sums of their VmHWM and
//             VmRSS (shared library pages count once per process, as with FRR's two daemons), and
//             CPU is the sum of each one's own utime + stime, read while all are alive, so no
//             child's time is lost to a missing wait() and none is counted twice.
// Next hops stay the injector's address in every case (iBGP reflection does not change them).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { canUseNamespaces, Lab, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';
import {
  birdReceiverConfig,
  buildReflectorLan,
  logOf,
  tsbgpReflectorConfig,
  tsbgpRunArgs,
} from '../lib/reflector-lan.ts';
import { BirdCtl, cpuSecondsOf, memoryOf, minorFaultsOf, resetPeakOf } from '../session/bird-ctl.ts';
import { prefixes } from './table-mix.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');
const FRR_BGPD = '/usr/lib/frr/bgpd';
const FRR_ZEBRA = '/usr/lib/frr/zebra';
const BIRD1 = '/opt/bird1/usr/sbin/bird';
const BIRD1_CTL = '/opt/bird1/usr/sbin/birdc';
/** OpenBGPD's engines chroot here (the directory Debian's unit creates as RuntimeDirectory). */
const OPENBGPD_CHROOT = '/run/openbgpd';

const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const repsAt = args.indexOf('--reps');
const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 1;
const only =
  onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : ['tsbgp', 'bird2', 'frr', 'gobgp', 'bird1', 'openbgpd'];
const injectorAt = args.indexOf('--injector');
/** `replay:K`: the fixed-stream injector (replay-injector.ts) with K prefixes per UPDATE; else BIRD 2. */
const replayPerUpdate = (() => {
  const v = injectorAt >= 0 ? (args[injectorAt + 1] ?? '') : 'bird2';
  if (v === 'bird2') return 0;
  const m = /^replay:(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1) {
    console.error(`convergence.bench: --injector takes bird2 or replay:K (K >= 1), not "${v}"`);
    process.exit(2);
  }
  return Number(m[1]);
})();
if (replayPerUpdate > 0 && process.env.BENCH_TWICE) {
  // The replay injector connects once per SIGUSR1 and never retries a refused connection; a run
  // with both hung at the second load until it was killed, so the combination is refused here.
  console.error('convergence.bench: BENCH_TWICE needs the BIRD 2 injector (not --injector replay:K)');
  process.exit(2);
}
const optionValues = new Set([onlyAt, repsAt, injectorAt].filter((i) => i >= 0).map((i) => i + 1));
const sizes = args.filter((a, i) => /^\d+$/.test(a) && !optionValues.has(i)).map(Number);
if (sizes.length === 0) sizes.push(100_000);

if (!canUseNamespaces()) {
  console.error('convergence.bench: needs root (network namespaces)');
  process.exit(1);
}

const INJ = '10.3.0.2';
const RR = '10.3.0.1';
const RCV = '10.3.0.3';
const ATTR_SETS = 3000;
const LAN = { inj: INJ, rr: RR, rcv: RCV };

function injectorConfig(dir: string, n: number): string {
  const routes = prefixes(n).map(
    (p, i) => `route ${p} unreachable { bgp_community.add((65000, ${1 + (i % ATTR_SETS)})); };`,
  );
  return `log "${dir}/inj.log" { info, warning, error, fatal };
router id ${INJ};
protocol device { }
protocol static injected { ipv4; ${routes.join('\n')} }
protocol bgp torr { local ${INJ} as 65000; neighbor ${RR} as 65000; direct; disabled;
  ipv4 { import none; export all; next hop self; }; }
`;
}

interface Reflector {
  readonly name: string;
  /** Starts the reflector; returns the processes to measure. */
  start(lab: Lab): Promise<SpawnedProcess[]>;
  /**
   * The pids to measure, when they are more than the started processes (a daemon that forks its
   * workers); called once the reflector is up. Without it, the started processes' pids.
   */
  measuredPids?(procs: SpawnedProcess[]): Promise<number[]>;
}

/** tsbgp as the reflector, run from the checkout at `root` (this one, or a baseline to compare). */
function tsbgpReflector(name: string, root: string, warmUp = true, extraEnv: string = ''): Reflector {
  const env = { ...process.env };
  for (const kv of extraEnv.split(' ').filter((w) => w !== '')) {
    const at = kv.indexOf('=');
    if (at <= 0) throw new Error(`BENCH_BASELINE_ENV: '${kv}' is not NAME=VALUE`);
    env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  const bin = join(root, 'bin', 'tsbgp.js');
  return {
    name,
    async start(lab) {
      const cfg = join(lab.dir, 'tsbgp.yaml');
      writeFileSync(cfg, tsbgpReflectorConfig(LAN, warmUp ? '' : 'warmUp: { routes: 0 }\n'));
      return [
        lab.spawn(
          'rr',
          name,
          process.execPath,
          tsbgpRunArgs(bin, {
            config: cfg,
            controlSocket: join(lab.dir, 'tsbgp.sock'),
            // BENCH_LOG_LEVEL=info puts the session events among --trace-opt's lines, to time them.
            logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
            nodeFlags: [
              '--max-old-space-size=4096',
              // e.g. TSBGP_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the reflector.
              ...(process.env.TSBGP_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''),
            ],
          }),
          env,
        ),
      ];
    },
  };
}

const reflectors: Record<string, Reflector> = {
  tsbgp: tsbgpReflector('tsbgp', ROOT),
  // The same daemon without its start-up warm-up (src/daemon/warm-up.ts): the first table on cold code.
  'tsbgp-cold': tsbgpReflector('tsbgp-cold', ROOT, false),
  // BENCH_BASELINE=/path/to/other/checkout adds `baseline`: the same daemon from another commit,
  // measured in the same interleaved runs (before/after figures that share the machine's noise).
  ...(process.env.BENCH_BASELINE
    ? {
        baseline: tsbgpReflector(
          'baseline',
          resolve(process.env.BENCH_BASELINE),
          true,
          process.env.BENCH_BASELINE_ENV ?? '',
        ),
      }
    : {}),
  bird2: {
    name: 'BIRD 2',
    async start(lab) {
      const cfg = join(lab.dir, 'rr-bird.conf');
      const nb = (name: string, addr: string) =>
        `protocol bgp ${name} { local ${RR} as 65000; neighbor ${addr} as 65000; direct; rr client;
  ipv4 { import all; export all; gateway direct; }; }`;
      writeFileSync(cfg, `router id ${RR};\nprotocol device { }\n${nb('inj', INJ)}\n${nb('rcv', RCV)}\n`);
      return [lab.spawn('rr', 'bird-rr', 'bird', ['-f', '-c', cfg, '-s', join(lab.dir, 'rr-bird.ctl')])];
    },
  },
  bird1: {
    name: 'BIRD 1.6',
    async start(lab) {
      const cfg = join(lab.dir, 'rr-bird1.conf');
      // BIRD 1.6: one IPv4 daemon, options on the protocol itself (no channels). Both sessions
      // use the implicit master table, named so that the configuration says where routes meet.
      const nb = (name: string, addr: string) =>
        `protocol bgp ${name} { table master; local ${RR} as 65000; neighbor ${addr} as 65000; direct;
  rr client; import all; export all; gateway direct; }`;
      writeFileSync(cfg, `router id ${RR};\nprotocol device { }\n${nb('inj', INJ)}\n${nb('rcv', RCV)}\n`);
      await lab.exec('rr', BIRD1, ['-p', '-c', cfg]);
      const sock = join(lab.dir, 'rr-bird1.ctl');
      const proc = lab.spawn('rr', 'bird1-rr', BIRD1, ['-f', '-c', cfg, '-s', sock]);
      await waitFor('BIRD 1.6 reflector up', async () => {
        if (proc.child.exitCode !== null) throw new Error(`BIRD 1.6 exited; see ${proc.logPath}`);
        const r = await lab.tryExec('rr', BIRD1_CTL, ['-s', sock, 'show status']);
        return r.code === 0 && r.stdout.includes('Daemon is up');
      });
      return [proc];
    },
  },
  openbgpd: {
    name: 'OpenBGPD',
    async start(lab) {
      mkdirSync(OPENBGPD_CHROOT, { recursive: true });
      const cfg = join(lab.dir, 'rr-openbgpd.conf');
      const sock = join(lab.dir, 'rr-openbgpd.sock');
      const nb = (addr: string) =>
        `neighbor ${addr} {\n  remote-as 65000\n  local-address ${RR}\n  route-reflector\n}`;
      writeFileSync(
        cfg,
        [
          'AS 65000',
          `router-id ${RR}`,
          `socket "${sock}"`,
          // A reflector here installs nothing, like the others (FRR's bgpd runs with -n).
          'fib-update no',
          `listen on ${RR}`,
          nb(INJ),
          nb(RCV),
          // bgpd.conf(5): with no matching filter rule an UPDATE is denied, iBGP included;
          // pass everything both ways, as the other reflectors do.
          'allow from any',
          'allow to any',
          '',
        ].join('\n'),
      );
      await lab.exec('rr', 'bgpd', ['-n', '-f', cfg]);
      const proc = lab.spawn('rr', 'openbgpd-rr', 'bgpd', ['-d', '-f', cfg]);
      await waitFor('OpenBGPD control socket', async () => {
        if (proc.child.exitCode !== null) throw new Error(`bgpd exited; see ${proc.logPath}`);
        return (await lab.tryExec('rr', 'bgpctl', ['-s', sock, 'show', 'summary'])).code === 0;
      });
      return [proc];
    },
    async measuredPids(procs) {
      const parent = procs[0]?.child.pid;
      if (parent === undefined) throw new Error('OpenBGPD: no parent pid');
      const r = await run('pgrep', ['-P', String(parent)]);
      const children = r.stdout.split(/\s+/).filter(Boolean).map(Number);
      // Session engine, route decision engine and RTR engine: without them the figures would be
      // the parent's alone, which does none of the routing work.
      if (children.length < 2) throw new Error(`OpenBGPD: expected its engines as children of ${parent}`);
      return [parent, ...children];
    },
  },
  frr: {
    name: 'FRR',
    async start(lab) {
      const dir = join(lab.dir, 'rr-frr');
      await run('mkdir', ['-p', dir]);
      await run('chown', ['frr:frr', dir]);
      await run('chmod', ['755', lab.dir]);
      const zserv = join(dir, 'zserv.api');
      const zconf = join(dir, 'zebra.conf');
      writeFileSync(zconf, '');
      const bconf = join(dir, 'bgpd.conf');
      const nb = (a: string) => [
        ` neighbor ${a} remote-as 65000`,
        ` neighbor ${a} update-source ${RR}`,
        ` neighbor ${a} timers connect 2`,
      ];
      writeFileSync(
        bconf,
        [
          'frr defaults traditional',
          'router bgp 65000',
          ` bgp router-id ${RR}`,
          ' no bgp default ipv4-unicast',
          ...nb(INJ),
          ...nb(RCV),
          ' address-family ipv4 unicast',
          `  neighbor ${INJ} activate`,
          `  neighbor ${INJ} route-reflector-client`,
          `  neighbor ${RCV} activate`,
          `  neighbor ${RCV} route-reflector-client`,
          ' exit-address-family',
          '',
        ].join('\n'),
      );
      await run('chown', ['-R', 'frr:frr', dir]);
      const zebra = lab.spawn('rr', 'frr-zebra', FRR_ZEBRA, [
        ...['-f', zconf, '-i', join(dir, 'zebra.pid'), '-z', zserv, '--vty_socket', dir],
        ...['-u', 'frr', '-g', 'frr', '-A', '127.0.0.1'],
      ]);
      await waitFor('zebra socket', async () => (await run('test', ['-e', zserv])).code === 0);
      // -n: no kernel installation (the other reflectors install nothing either).
      const bgpd = lab.spawn('rr', 'frr-bgpd', FRR_BGPD, [
        ...['-f', bconf, '-i', join(dir, 'bgpd.pid'), '-z', zserv, '--vty_socket', dir, '-n'],
        ...['-u', 'frr', '-g', 'frr', '-A', '127.0.0.1'],
      ]);
      return [bgpd, zebra];
    },
  },
  gobgp: {
    name: 'GoBGP',
    async start(lab) {
      const cfg = join(lab.dir, 'rr-gobgp.toml');
      const nb = (a: string) => `[[neighbors]]
  [neighbors.config]
    neighbor-address = "${a}"
    peer-as = 65000
  [neighbors.transport.config]
    local-address = "${RR}"
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "${RR}"
`;
      writeFileSync(
        cfg,
        `[global.config]
  as = 65000
  router-id = "${RR}"
  local-address-list = ["${RR}"]
${nb(INJ)}${nb(RCV)}`,
      );
      return [
        lab.spawn('rr', 'gobgpd', 'gobgpd', [
          '-f',
          cfg,
          '-t',
          'toml',
          '--api-hosts',
          '127.0.0.1:50051',
          '-l',
          'warn',
          '--pprof-disable',
        ]),
      ];
    },
  },
};

interface Result {
  reflector: string;
  n: number;
  convergeS: number;
  withdrawS: number;
  peakMiB: number;
  /** RSS just before the injector came up (the base of bytesPerRoute). */
  idleMiB: number;
  /** VmHWM before the injector came up: the start-up's peak, not counted in peakMiB. */
  startupPeakMiB: number;
  bytesPerRoute: number;
  cpuS: number;
  /**
   * The reflector's minor page faults over the converge phase: memory touched for the first time
   * (each a trap into the kernel, which zeroes a 4 KiB page; ~11 µs each on this VM).
   */
  minorFaults: number;
  /** The injector's and the receiver's CPU seconds over the converge phase. */
  injectorCpuS: number;
  receiverCpuS: number;
  /**
   * tsbgp only: UPDATEs it received from the injector and sent to the receiver. The BIRD injector
   * packs the same N prefixes into anything from ~120k to ~950k UPDATEs from run to run (it sends
   * what its buckets hold whenever the socket is writable), and the converge time follows that
   * count, so each run's figure is read with it.
   */
  updatesIn?: number;
  updatesOut?: number;
  /**
   * Bytes of BGP messages the reflector's kernel received from the injector by convergence (the
   * TCP socket's bytes_received, `ss -ti`), and from it an estimate of the injector's UPDATE count
   * for every reflector: (bytes − the NLRI's bytes) / UPDATE_OVERHEAD. It shows how the injector
   * packed for each reflector; for tsbgp it can be checked against updatesIn.
   */
  injBytes: number;
  injUpdates: number;
  /** Bytes the receiver got from the reflector by convergence. */
  rcvBytes?: number;
}

/**
 * Bytes per UPDATE besides its NLRI, as both injectors send them: header 19, the two length
 * fields 4, ORIGIN 4, empty AS_PATH 3, NEXT_HOP 7, LOCAL_PREF 7, COMMUNITIES 7. The OPEN and
 * KEEPALIVEs (a few hundred bytes) are in the estimate's error.
 */
const UPDATE_OVERHEAD = 51;

/** The NLRI encoding of the N prefixes: a length octet and ceil(len / 8) address octets each. */
function nlriBytes(n: number): number {
  let total = 0;
  for (const p of prefixes(n)) total += 1 + Math.ceil(Number(p.split('/')[1]) / 8);
  return total;
}

/** bytes_received of the reflector's TCP session(s) from `peer` (`ss -tin` in the rr namespace). */
async function bytesReceivedFrom(lab: Lab, peer: string, node = 'rr'): Promise<number> {
  const out = await lab.exec(node, 'ss', ['-tinH', 'dst', peer]);
  let total = 0;
  for (const m of out.matchAll(/bytes_received:(\d+)/g)) total += Number(m[1]);
  return total;
}

/** What measure() asks of the injector: BIRD's control socket, or the replay injector's signals. */
interface InjectorControl {
  command(cmd: string): Promise<string[]>;
  close(): void;
}

function logHas(p: SpawnedProcess, re: RegExp): boolean {
  return re.test(logOf(p));
}

/**
 * The replay injector behind the BIRD commands measure() uses: `enable` connects (SIGUSR1),
 * `disable` sends a Cease and closes (SIGUSR2), `show protocols` reports Established once it
 * printed so, `show status` is a no-op (the poke is for BIRD's stall only).
 */
function replayControl(p: SpawnedProcess): InjectorControl {
  const control: InjectorControl = {
    async command(cmd: string): Promise<string[]> {
      if (cmd.startsWith('enable')) p.child.kill('SIGUSR1');
      else if (cmd.startsWith('disable')) p.child.kill('SIGUSR2');
      else if (cmd.startsWith('show protocols'))
        return logHas(p, /^established/m) ? ['torr Established'] : [];
      return [];
    },
    close() {},
  };
  return control;
}

async function protoEstablished(ctl: InjectorControl, proto: string): Promise<boolean> {
  const reply = await ctl.command(`show protocols ${proto}`);
  return reply.some((l) => l.includes(proto) && /Established/.test(l));
}

async function measure(r: Reflector, n: number): Promise<Result> {
  const lab = new Lab('cvb');
  const spawned: SpawnedProcess[] = [];
  try {
    await buildReflectorLan(lab, LAN);
    const injConf = join(lab.dir, 'inj.conf');
    writeFileSync(injConf, injectorConfig(lab.dir, n));
    const rcvConf = join(lab.dir, 'rcv.conf');
    writeFileSync(rcvConf, birdReceiverConfig(LAN, `${lab.dir}/rcv.log`));
    const injSock = join(lab.dir, 'inj.ctl');
    const rcvSock = join(lab.dir, 'rcv.ctl');
    const replay =
      replayPerUpdate > 0
        ? lab.spawn('inj', 'replay-inj', process.execPath, [
            '--import',
            'tsx',
            join(import.meta.dirname, 'replay-injector.ts'),
            INJ,
            RR,
            String(n),
            String(replayPerUpdate),
            String(ATTR_SETS),
          ])
        : null;
    // `ip netns exec` execs the daemon, so these pids are BIRD's (or the replay program's).
    const injPid = (replay ?? lab.spawn('inj', 'bird-inj', 'bird', ['-f', '-c', injConf, '-s', injSock]))
      .child.pid;
    const rcvPid = lab.spawn('rcv', 'bird-rcv', 'bird', ['-f', '-c', rcvConf, '-s', rcvSock]).child.pid;
    await waitFor('injector and receiver sockets', async () => {
      return (
        (replay !== null || (await run('test', ['-S', injSock])).code === 0) &&
        (await run('test', ['-S', rcvSock])).code === 0
      );
    });
    const openCtl = (path: string) =>
      waitFor(`BIRD control socket ${path}`, () => BirdCtl.open(path).catch(() => undefined), 600_000);
    let inj: InjectorControl;
    // The injector's table must be loaded before the clock starts.
    if (replay) {
      inj = replayControl(replay);
      await waitFor('replay stream built', async () => logHas(replay, /^ready/m), 600_000);
    } else {
      const bird = await openCtl(injSock);
      inj = bird;
      await waitFor('injector routes loaded', async () => (await bird.routeCount()) >= n, 600_000);
    }
    const rcv = await openCtl(rcvSock);
    const step = (what: string) => {
      if (process.env.BENCH_DEBUG) process.stderr.write(`  ${what}\n`);
    };
    step('injector loaded');
    const procs = await r.start(lab);
    spawned.push(...procs);
    await waitFor('rr–rcv Established', () => protoEstablished(rcv, 'torr'), 60_000);
    step('reflector up');
    // BENCH_IDLE_S=S: the table comes S seconds after the reflector is up, not at once, as when
    // its peers come up later than it does (what an idle reflector's own collections do to it).
    const idleS = Number(process.env.BENCH_IDLE_S ?? 0);
    if (idleS > 0) await new Promise((res) => setTimeout(res, idleS * 1000));
    const pids = r.measuredPids
      ? await r.measuredPids(procs)
      : procs.map((p) => p.child.pid!).filter((p) => p > 0);
    const read = (p: string) => readFileSync(p, 'utf8');
    const rssBefore = pids.reduce((s, p) => s + memoryOf(p, read).rss, 0);
    const startupPeak = pids.reduce((s, p) => s + memoryOf(p, read).peak, 0);
    for (const p of pids) resetPeakOf(p, writeFileSync);
    // BENCH_SMAPS=PREFIX keeps the reflector's memory map before the injector and at convergence
    // (PREFIX-before-PID, PREFIX-after-PID), to see which mappings the routes grew.
    const keepSmaps = (when: string) => {
      const prefix = process.env.BENCH_SMAPS;
      if (prefix) for (const p of pids) writeFileSync(`${prefix}-${when}-${p}`, read(`/proc/${p}/smaps`));
    };
    keepSmaps('before');
    const cpuBefore = pids.reduce((s, p) => s + cpuSecondsOf(p, read), 0);
    const neighbourCpu = () => [injPid, rcvPid].map((p) => (p === undefined ? 0 : cpuSecondsOf(p, read)));
    if (process.env.BENCH_DEBUG && (r.name.startsWith('tsbgp') || r.name === 'baseline')) {
      const sock = join(lab.dir, 'tsbgp.sock');
      const shown = await run(process.execPath, [TSBGP, 'show', 'memory', '--control-socket', sock]);
      step(`before the injector:\n${shown.stdout}${shown.stderr}`);
    }
    await inj.command('enable torr');
    for (;;) {
      if (await protoEstablished(inj, 'torr')) break;
      await new Promise((res) => setTimeout(res, 2));
    }
    const faults0 = pids.reduce((s, p) => s + minorFaultsOf(p, read), 0);
    const t0 = performance.now();
    const [injCpu0 = 0, rcvCpu0 = 0] = neighbourCpu();
    for (;;) {
      // The injector is poked as often as the receiver is polled: BIRD 2 as the injector can
      // otherwise hold its last UPDATEs for ~3 s once a reflector's receive window has closed on
      // it, unless something arrives on one of its sockets (a reflector that sends nothing back
      // was charged ~3 s at 100k, one that sent it anything was not). A command on its control
      // socket wakes it; the cost is the same for every reflector.
      await inj.command('show status');
      const got = await rcv.importedRoutes('torr');
      if (process.env.BENCH_TRACE) {
        // The time series behind a figure: the receiver's routes against the bytes the reflector
        // has taken from the injector (one `ss` per poll, so the runs are slower with it).
        const bytes = await bytesReceivedFrom(lab, INJ);
        process.stderr.write(
          `  trace ${(performance.now() - t0).toFixed(0)} ms: receiver ${got}, from injector ${bytes} B\n`,
        );
      }
      if (got >= n) break;
      if (performance.now() - t0 > 900_000) throw new Error(`${r.name}: no convergence in 15 minutes`);
      await new Promise((res) => setTimeout(res, 10));
    }
    const convergeS = (performance.now() - t0) / 1000;
    const faults = pids.reduce((s, p) => s + minorFaultsOf(p, read), 0) - faults0;
    const [injCpu1 = 0, rcvCpu1 = 0] = neighbourCpu();
    keepSmaps('after');
    const injBytes = await bytesReceivedFrom(lab, INJ);
    // What the reflector sent the receiver: its packing is the receiver's work.
    const rcvBytes = await bytesReceivedFrom(lab, RR, 'rcv');
    let updatesIn: number | undefined;
    let updatesOut: number | undefined;
    if (r.name.startsWith('tsbgp') || r.name === 'baseline') {
      const sock = join(lab.dir, 'tsbgp.sock');
      if (process.env.BENCH_DEBUG) {
        const shown = await run(process.execPath, [TSBGP, 'show', 'memory', '--control-socket', sock]);
        step(shown.stdout + shown.stderr);
      }
      const peers = await run(process.execPath, [
        TSBGP,
        'show',
        'neighbors',
        '--json',
        '--control-socket',
        sock,
      ]);
      for (const p of JSON.parse(peers.stdout) as {
        name: string;
        outputQueuePeakBytes: number;
        inputQueuePeakBytes: number;
        outputBacklogPeakRoutes: number;
        inputPauses?: number;
        inputModerations?: number;
        counters: { sent: { update: number }; received: { update: number } };
      }[]) {
        if (p.name === 'inj') updatesIn = p.counters.received.update;
        if (p.name === 'rcv') updatesOut = p.counters.sent.update;
        if (!process.env.BENCH_DEBUG) continue;
        step(
          `${p.name}: input queue peak ${p.inputQueuePeakBytes} B, output queue peak ${p.outputQueuePeakBytes} B, ` +
            `output backlog peak ${p.outputBacklogPeakRoutes} routes, ` +
            `UPDATEs received ${p.counters.received.update}, sent ${p.counters.sent.update}, ` +
            `reads paused ${p.inputPauses ?? '-'}, moderated ${p.inputModerations ?? '-'}`,
        );
      }
      if (process.env.BENCH_KEEP_LOG) {
        const { copyFileSync } = await import('node:fs');
        copyFileSync(join(lab.dir, `rr-${r.name}.log`), process.env.BENCH_KEEP_LOG);
      }
    }
    const peak = pids.reduce((s, p) => s + memoryOf(p, read).peak, 0);
    const t1 = performance.now();
    await inj.command('disable torr');
    for (;;) {
      if ((await rcv.importedRoutes('torr')) === 0) break;
      if (performance.now() - t1 > 900_000) throw new Error(`${r.name}: no withdrawal in 15 minutes`);
      await new Promise((res) => setTimeout(res, 10));
    }
    const withdrawS = (performance.now() - t1) / 1000;
    const afterS = Number(process.env.BENCH_AFTER_S ?? 0);
    if (afterS > 0) {
      await new Promise((res) => setTimeout(res, afterS * 1000));
      const rssAfter = pids.reduce((s, p) => s + memoryOf(p, read).rss, 0);
      process.stderr.write(
        `  ${r.name}: RSS ${afterS} s after the withdrawal ${(rssAfter / 2 ** 20).toFixed(1)} MiB ` +
          `(before the injector ${(rssBefore / 2 ** 20).toFixed(1)}, peak ${(peak / 2 ** 20).toFixed(1)})\n`,
      );
    }
    if (process.env.BENCH_TWICE) {
      // The same table again into the same reflector process: what the first load paid for cold
      // code, growing tables and new attribute sets (printed, not in the table).
      await new Promise((res) => setTimeout(res, 1000));
      const cpu2 = pids.reduce((s, p) => s + cpuSecondsOf(p, read), 0);
      await inj.command('enable torr');
      for (;;) {
        if (await protoEstablished(inj, 'torr')) break;
        await new Promise((res) => setTimeout(res, 2));
      }
      const t2 = performance.now();
      for (;;) {
        await inj.command('show status');
        if ((await rcv.importedRoutes('torr')) >= n) break;
        await new Promise((res) => setTimeout(res, 10));
      }
      const cpu3 = pids.reduce((s, p) => s + cpuSecondsOf(p, read), 0);
      process.stderr.write(
        `  second: ${((performance.now() - t2) / 1000).toFixed(3)} s, cpu ${(cpu3 - cpu2).toFixed(2)}\n`,
      );
      await inj.command('disable torr');
    }
    const cpuS = pids.reduce((s, p) => s + cpuSecondsOf(p, read), 0) - cpuBefore;
    const peakAll = Math.max(
      peak,
      pids.reduce((s, p) => s + memoryOf(p, read).peak, 0),
    );
    inj.close();
    rcv.close();
    return {
      reflector: r.name,
      n,
      convergeS,
      withdrawS,
      peakMiB: peakAll / 2 ** 20,
      idleMiB: rssBefore / 2 ** 20,
      startupPeakMiB: startupPeak / 2 ** 20,
      bytesPerRoute: Math.max(0, peakAll - rssBefore) / n,
      cpuS,
      minorFaults: faults,
      injectorCpuS: injCpu1 - injCpu0,
      receiverCpuS: rcvCpu1 - rcvCpu0,
      injBytes,
      injUpdates: Math.round((injBytes - nlriBytes(n)) / UPDATE_OVERHEAD),
      rcvBytes,
      ...(updatesIn === undefined ? {} : { updatesIn, updatesOut }),
    };
  } catch (e) {
    // Show why before the lab (and its logs) go away.
    for (const p of spawned) {
      let text = '';
      try {
        text = readFileSync(p.logPath, 'utf8');
      } catch {}
      process.stderr.write(`--- ${p.logPath} (last lines)\n${text.split('\n').slice(-25).join('\n')}\n`);
    }
    throw e;
  } finally {
    await lab.dispose();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// Repetitions interleave the reflectors, so that a noisy minute hurts them all alike.
const samples: Result[] = [];
const failures: string[] = [];
for (const n of sizes) {
  for (let rep = 0; rep < reps; rep++) {
    for (const key of only) {
      const r = reflectors[key];
      if (!r) throw new Error(`unknown reflector ${key}`);
      process.stderr.write(`N=${n} rep ${rep + 1}/${reps}: ${r.name}...\n`);
      try {
        const res = await measure(r, n);
        process.stderr.write(`  ${JSON.stringify(res)}\n`);
        samples.push(res);
      } catch (e) {
        // One failed run (a noisy machine, a peer that did not come up) does not lose the others.
        failures.push(`N=${n} rep ${rep + 1} ${r.name}: ${(e as Error).message}`);
        process.stderr.write(`  FAILED: ${(e as Error).message}\n`);
      }
    }
  }
}
const results: Result[] = [];
for (const n of sizes) {
  for (const key of only) {
    const name = reflectors[key]!.name;
    const mine = samples.filter((x) => x.n === n && x.reflector === name);
    if (mine.length === 0) continue;
    results.push({
      reflector: name,
      n,
      convergeS: median(mine.map((x) => x.convergeS)),
      withdrawS: median(mine.map((x) => x.withdrawS)),
      peakMiB: median(mine.map((x) => x.peakMiB)),
      idleMiB: median(mine.map((x) => x.idleMiB)),
      startupPeakMiB: median(mine.map((x) => x.startupPeakMiB)),
      bytesPerRoute: median(mine.map((x) => x.bytesPerRoute)),
      cpuS: median(mine.map((x) => x.cpuS)),
      minorFaults: median(mine.map((x) => x.minorFaults)),
      injectorCpuS: median(mine.map((x) => x.injectorCpuS)),
      receiverCpuS: median(mine.map((x) => x.receiverCpuS)),
      injBytes: median(mine.map((x) => x.injBytes)),
      injUpdates: median(mine.map((x) => x.injUpdates)),
    });
  }
}
console.log(
  `\nmedians of ${reps} run(s) each; injector: ${replayPerUpdate > 0 ? `replay, ${replayPerUpdate} prefix(es) per UPDATE` : 'BIRD 2'}`,
);
for (const f of failures) console.log(`failed: ${f}`);
const f = (x: number, d = 2) => x.toFixed(d);
console.log(
  '\n| N | Reflector | Converge s | Withdraw s | Start-up peak MiB | RSS before MiB | Peak RSS MiB | B/route | CPU s | Injector CPU s | Receiver CPU s | Injector UPDATEs (est.) | conv. ratio (tsbgp/x) | B/route ratio |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const res of results) {
  const ts = results.find((x) => x.n === res.n && x.reflector === 'tsbgp');
  const ratio = ts ? f(ts.convergeS / res.convergeS) : '-';
  const mem = ts ? f(ts.bytesPerRoute / Math.max(1, res.bytesPerRoute)) : '-';
  console.log(
    `| ${res.n} | ${res.reflector} | ${f(res.convergeS)} | ${f(res.withdrawS)} | ${f(res.startupPeakMiB, 1)} | ${f(res.idleMiB, 1)} | ${f(res.peakMiB, 1)} | ${Math.round(res.bytesPerRoute)} | ${f(res.cpuS)} | ${f(res.injectorCpuS)} | ${f(res.receiverCpuS)} | ${res.injUpdates} | ${ratio} | ${mem} |`,
  );
}
