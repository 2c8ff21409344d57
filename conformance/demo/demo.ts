// The live demo (README's main command, via scripts/demo.sh): two tsbgp hosts peer over eBGP with
// an FRR "top-of-rack" router, each in its own network namespace, each host originating workload
// prefixes. It shows the sessions and the exchanged routes with `tsbgp show ...` and vtysh, shows a
// reload, and tears everything down on exit or Ctrl-C.
//
//            host1 (tsbgp, AS 65001)          host2 (tsbgp, AS 65002)
//            10.0.1.2  fd00:1::2              10.0.2.2  fd00:2::2
//                    \                        /
//                     tor (FRR bgpd, AS 65000, lo 10.0.0.1)
//
// Usage: demo.ts [--once]   (--once, or stdin not a TTY: run through and tear down, for CI)
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Lab, run, runOk, type SpawnedProcess, waitFor } from '../lib/lab.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSBGP = join(ROOT, 'bin', 'tsbgp.js');
const FRR_BGPD = '/usr/lib/frr/bgpd';
const FRR_ZEBRA = '/usr/lib/frr/zebra';

const once = process.argv.includes('--once') || !process.stdin.isTTY;
const color = process.stdout.isTTY && process.env.NO_COLOR === undefined;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);

interface Host {
  node: string;
  asn: number;
  addr4: string;
  addr6: string;
  tor4: string;
  tor6: string;
  prefixes: string[];
  config: string;
  socket: string;
  proc?: SpawnedProcess;
}

function banner(text: string): void {
  process.stdout.write(`\n${bold(`== ${text}`)}\n`);
}

function showCmd(text: string): void {
  process.stdout.write(`${dim(`$ ${text}`)}\n`);
}

function hostConfig(h: Host, extra: string[] = []): string {
  // RFC 8212: eBGP sessions name their policies explicitly (accept everything in this demo).
  return `# tsbgp demo: ${h.node}
asn: ${h.asn}
routerId: ${h.addr4}
listen:
  addresses: [${h.addr4}, "${h.addr6}"]
neighbors:
  - name: tor
    address: ${h.tor4}
    asn: 65000
    localAddress: ${h.addr4}
    description: top-of-rack (FRR), IPv4 session
    import: [all]
    export: [all]
  - name: tor-v6
    address: "${h.tor6}"
    asn: 65000
    localAddress: "${h.addr6}"
    families: [ipv6-unicast]
    description: top-of-rack (FRR), IPv6 session
    import: [all]
    export: [all]
originate:
${[...h.prefixes, ...extra].map((p) => `  - ${p}`).join('\n')}
policies:
  all:
    default: accept
`;
}

function frrConfig(hosts: Host[], logFile: string): string {
  const l = [
    'frr defaults datacenter',
    'hostname tor',
    `log file ${logFile} informational`,
    '!',
    'router bgp 65000',
    ' bgp router-id 10.0.0.1',
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
  ];
  for (const h of hosts) {
    l.push(` neighbor ${h.addr4} remote-as ${h.asn}`, ` neighbor ${h.addr4} description ${h.node}`);
    l.push(` neighbor ${h.addr6} remote-as ${h.asn}`, ` neighbor ${h.addr6} description ${h.node}-v6`);
    l.push(` neighbor ${h.addr4} timers connect 2`, ` neighbor ${h.addr6} timers connect 2`);
  }
  l.push(' address-family ipv4 unicast', '  network 10.0.0.1/32');
  for (const h of hosts) l.push(`  neighbor ${h.addr4} activate`);
  l.push(' exit-address-family', ' address-family ipv6 unicast');
  for (const h of hosts) l.push(`  neighbor ${h.addr6} activate`);
  l.push(' exit-address-family', '!');
  return `${l.join('\n')}\n`;
}

async function tsbgp(h: Host, ...args: string[]): Promise<string> {
  const r = await run(process.execPath, [TSBGP, ...args, '--control-socket', h.socket]);
  if (r.code !== 0)
    throw new Error(`tsbgp ${args.join(' ')} on ${h.node} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface NeighborJson {
  name: string;
  state: string;
}
interface RouteJson {
  prefix: string;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('demo: run as root (network namespaces); first `bash scripts/setup.sh`');
    process.exit(1);
  }
  for (const bin of [FRR_BGPD, FRR_ZEBRA, '/usr/bin/vtysh']) {
    if (!existsSync(bin)) {
      console.error(`demo: ${bin} is missing; run \`bash scripts/setup.sh\` first`);
      process.exit(1);
    }
  }
  await removeStaleDemos();

  const lab = new Lab('demo');
  let cleaning: Promise<void> | undefined;
  const cleanup = (code: number) => {
    cleaning ??= (async () => {
      banner('tearing down');
      for (const h of hosts) {
        if (h.proc && h.proc.child.exitCode === null) {
          h.proc.child.kill('SIGTERM');
          const code = await h.proc.exited;
          process.stdout.write(`tsbgp on ${h.node} stopped (exit ${code}): Cease sent to the ToR\n`);
        }
      }
      await lab.dispose();
      process.stdout.write('namespaces and processes removed\n');
    })();
    void cleaning.finally(() => process.exit(code));
  };
  process.on('SIGINT', () => cleanup(130));
  process.on('SIGTERM', () => cleanup(143));

  const hosts: Host[] = [1, 2].map((i) => ({
    node: `host${i}`,
    asn: 65000 + i,
    addr4: `10.0.${i}.2`,
    addr6: `fd00:${i}::2`,
    tor4: `10.0.${i}.1`,
    tor6: `fd00:${i}::1`,
    prefixes: [`10.244.${i}.0/26`, `10.244.${i}.64/26`, `fd00:244:${i}::/64`],
    config: join(lab.dir, `host${i}.yaml`),
    socket: join(lab.dir, `host${i}.sock`),
  }));

  try {
    banner('topology');
    process.stdout.write(
      [
        '  host1 (tsbgp, AS 65001)              host2 (tsbgp, AS 65002)',
        '  10.0.1.2 fd00:1::2                   10.0.2.2 fd00:2::2',
        '  10.244.1.0/26 10.244.1.64/26         10.244.2.0/26 10.244.2.64/26',
        '  fd00:244:1::/64                      fd00:244:2::/64',
        '              \\                        /',
        '               tor (FRR, AS 65000, 10.0.0.1)',
        `  namespaces: ${lab.nsName('tor')}, ${lab.nsName('host1')}, ${lab.nsName('host2')}`,
        '',
      ].join('\n'),
    );
    await lab.addNode('tor');
    await lab.exec('tor', 'ip', ['addr', 'add', '10.0.0.1/32', 'dev', 'lo']);
    for (const h of hosts) {
      await lab.addNode(h.node);
      await lab.link(
        { node: 'tor', ifname: `to-${h.node}`, addrs: [`${h.tor4}/24`, `${h.tor6}/64`] },
        { node: h.node, ifname: 'eth0', addrs: [`${h.addr4}/24`, `${h.addr6}/64`] },
      );
      await lab.exec(h.node, 'ip', ['route', 'add', 'default', 'via', h.tor4]);
    }

    // FRR: zebra + bgpd as user frr, every file in one frr-owned directory; vtysh finds the
    // daemons through the same --vty_socket directory.
    const frrDir = join(lab.dir, 'frr');
    mkdirSync(frrDir, { recursive: true });
    chmodSync(lab.dir, 0o755);
    const uid = Number((await runOk('id', ['-u', 'frr'])).trim());
    const gid = Number((await runOk('id', ['-g', 'frr'])).trim());
    chownSync(frrDir, uid, gid);
    const frrConf = join(frrDir, 'frr.conf');
    writeFileSync(frrConf, frrConfig(hosts, join(frrDir, 'bgpd.log')));
    chownSync(frrConf, uid, gid);
    const zserv = join(frrDir, 'zserv.api');
    const frrArgs = (daemon: string) => [
      ...['-f', frrConf, '-i', join(frrDir, `${daemon}.pid`), '-z', zserv, '--vty_socket', frrDir],
      ...['-u', 'frr', '-g', 'frr', '-A', '127.0.0.1'],
    ];
    const zebra = lab.spawn('tor', 'zebra', FRR_ZEBRA, frrArgs('zebra'));
    await waitFor('FRR zebra', () => {
      if (zebra.child.exitCode !== null) throw new Error(`zebra exited; see ${zebra.logPath}`);
      return existsSync(zserv);
    });
    const bgpd = lab.spawn('tor', 'bgpd', FRR_BGPD, frrArgs('bgpd'));
    const vtysh = (cmd: string) => lab.exec('tor', 'vtysh', ['--vty_socket', frrDir, '-c', cmd]);
    await waitFor('FRR bgpd', async () => {
      if (bgpd.child.exitCode !== null) throw new Error(`bgpd exited; see ${bgpd.logPath}`);
      return (await vtysh('show bgp summary json')).includes('{');
    });
    process.stdout.write(`FRR started in ${lab.nsName('tor')} (vty sockets in ${frrDir})\n`);

    for (const h of hosts) {
      writeFileSync(h.config, hostConfig(h));
      h.proc = lab.spawn(h.node, 'tsbgp', process.execPath, [
        TSBGP,
        'run',
        '--config',
        h.config,
        '--control-socket',
        h.socket,
        '--log-format',
        'pretty',
      ]);
      process.stdout.write(`tsbgp started on ${h.node} (config ${h.config}, log ${h.proc.logPath})\n`);
    }

    const t0 = Date.now();
    for (const h of hosts) {
      await waitFor(
        `${h.node}: both sessions Established`,
        async () => {
          if (h.proc?.child.exitCode !== null)
            throw new Error(`tsbgp on ${h.node} exited; see ${h.proc?.logPath}`);
          const ns = JSON.parse(await tsbgp(h, 'show', 'neighbors', '--json')) as NeighborJson[];
          return ns.length === 2 && ns.every((n) => n.state === 'Established');
        },
        60_000,
        250,
      );
    }
    const tEstablished = Date.now() - t0;
    for (const [h, other] of [
      [hosts[0]!, hosts[1]!],
      [hosts[1]!, hosts[0]!],
    ] as const) {
      await waitFor(
        `${h.node}: the routes of ${other.node} via the ToR`,
        async () => {
          const rs = JSON.parse(await tsbgp(h, 'show', 'routes', '--json')) as RouteJson[];
          const have = new Set(rs.map((r) => r.prefix));
          return other.prefixes.every((p) => have.has(p));
        },
        60_000,
        250,
      );
    }
    const tRoutes = Date.now() - t0;
    process.stdout.write(
      `\nsessions Established ${(tEstablished / 1000).toFixed(1)} s, routes exchanged ${(tRoutes / 1000).toFixed(1)} s after the daemons were launched (process start-up included)\n`,
    );

    for (const h of hosts) {
      banner(`${h.node}: tsbgp show neighbors`);
      showCmd(`bin/tsbgp.js show neighbors --control-socket ${h.socket}`);
      process.stdout.write(await tsbgp(h, 'show', 'neighbors'));
      banner(`${h.node}: tsbgp show routes`);
      showCmd(`bin/tsbgp.js show routes --control-socket ${h.socket}`);
      process.stdout.write(await tsbgp(h, 'show', 'routes'));
    }
    banner('tor: vtysh -c "show bgp summary"');
    showCmd(`ip netns exec ${lab.nsName('tor')} vtysh --vty_socket ${frrDir} -c 'show bgp summary'`);
    process.stdout.write(await vtysh('show bgp summary'));
    banner('tor: vtysh -c "show bgp ipv4 unicast"');
    showCmd(`ip netns exec ${lab.nsName('tor')} vtysh --vty_socket ${frrDir} -c 'show bgp ipv4 unicast'`);
    process.stdout.write(await vtysh('show bgp ipv4 unicast'));
    banner('tor: vtysh -c "show bgp ipv6 unicast"');
    process.stdout.write(await vtysh('show bgp ipv6 unicast'));

    // A reload: host1 originates one more block; its sessions stay up.
    const h1 = hosts[0]!;
    const added = '10.244.1.128/26';
    banner(`host1: originate ${added} and reload`);
    const before = JSON.parse(await tsbgp(h1, 'show', 'neighbors', '--json')) as { since: number }[];
    writeFileSync(h1.config, hostConfig(h1, [added]));
    showCmd(`bin/tsbgp.js reload --control-socket ${h1.socket}`);
    process.stdout.write(await tsbgp(h1, 'reload'));
    await waitFor(`the ToR learns ${added}`, async () =>
      (await vtysh(`show bgp ipv4 unicast ${added} json`)).includes('"paths"'),
    );
    const after = JSON.parse(await tsbgp(h1, 'show', 'neighbors', '--json')) as { since: number }[];
    const undisturbed = before.every((b, i) => after[i]?.since === b.since);
    process.stdout.write(await vtysh(`show bgp ipv4 unicast ${added}`));
    process.stdout.write(
      `host1's sessions ${undisturbed ? 'stayed up through the reload' : 'were reset (unexpected)'}\n`,
    );

    if (!once) {
      banner('the topology is up: explore it, then press Enter (or Ctrl-C) to tear down');
      for (const h of hosts) {
        process.stdout.write(`  bin/tsbgp.js show neighbors --control-socket ${h.socket}\n`);
      }
      process.stdout.write(`  ip netns exec ${lab.nsName('tor')} vtysh --vty_socket ${frrDir}\n`);
      process.stdout.write(`  logs: ${lab.dir}/*.log (set TSBGP_KEEP_LAB=1 to keep them)\n`);
      await new Promise<void>((r) => process.stdin.once('data', () => r()));
    }

    // Stop host2 with SIGTERM and show what the ToR recorded: the Cease we sent.
    const h2 = hosts[1]!;
    banner('host2: SIGTERM (administrative shutdown)');
    h2.proc?.child.kill('SIGTERM');
    const code = await h2.proc?.exited;
    process.stdout.write(`tsbgp on host2 exited with ${code}\n`);
    const torView = async () => {
      const j = JSON.parse(await vtysh(`show bgp neighbors ${h2.addr4} json`)) as Record<
        string,
        Record<string, unknown>
      >;
      return Object.values(j)[0] ?? {};
    };
    const view = await waitFor('the ToR records the Cease', async () => {
      const v = await torView();
      return JSON.stringify(v).includes('Cease') ? v : undefined;
    });
    const fields = [
      'bgpState',
      'lastResetDueTo',
      'lastNotificationReason',
      'lastShutdownDescription',
      'lastErrorCodeSubcode',
    ];
    for (const f of fields) {
      if (view[f] !== undefined) process.stdout.write(`tor: ${h2.addr4} ${f}: ${String(view[f])}\n`);
    }
    if (code !== 0 || !undisturbed) throw new Error('demo checks failed');
    cleanup(0);
  } catch (e) {
    // Ctrl-C reaches every process of the terminal's group: the failures that follow are expected.
    if (cleaning) return;
    process.stderr.write(`\ndemo failed: ${(e as Error).message}\n`);
    for (const h of hosts) {
      if (h.proc) {
        const tail = await run('tail', ['-n', '20', h.proc.logPath]);
        process.stderr.write(`--- ${h.node} log (last 20 lines)\n${tail.stdout}`);
      }
    }
    cleanup(1);
  }
}

/** Namespaces of earlier demo runs whose process is gone (a killed terminal) are removed. */
async function removeStaleDemos(): Promise<void> {
  const list = await run('ip', ['netns', 'list']);
  for (const line of list.stdout.split('\n')) {
    const m = /^(tsbdemo(\d+)-\S+)/.exec(line);
    if (!m) continue;
    const pid = Number(m[2]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid !== process.pid;
    } catch {
      alive = false;
    }
    if (alive) continue;
    const pids = await run('ip', ['netns', 'pids', m[1]!]);
    for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // gone
      }
    }
    await run('ip', ['netns', 'del', m[1]!]);
  }
}

await main();
