// Shared by the User-Mode Linux harnesses (conformance/ipip/uml*.ts, conformance/e2e/ipip-uml*.ts).
// This machine's kernel has no ipip module; the UML 6.1 kernel started by uml-run has one.
//
// Host side: umlAvailable() and runScenariosInUml() boot UML and run a scenarios file inside it.
// UML side: veth links, background tools, tunl0 counters and workloads for the scenarios files,
// with two workarounds for Lab in that kernel: veths are made without the IPv6 DAD sysctl (the UML
// kernel has no IPv6), and background tools are collected through pipes (Lab.spawn pipes stdout and
// stderr into one file stream and fails with "write after end" when a tool such as tcpdump writes
// stderr after closing stdout). Both noted for the lab owner.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canUseNamespaces, type Lab, run, runOk, waitFor } from './lab.ts';

/**
 * uml-run: $UML_RUN, else ../shared/tools/uml-run beside the checkout (where the machine provides
 * it), else /work/shared/tools/uml-run (a checkout cloned elsewhere on the same machine).
 */
export const UML_RUN =
  [
    process.env.UML_RUN,
    fileURLToPath(new URL('../../../shared/tools/uml-run', import.meta.url)),
    '/work/shared/tools/uml-run',
  ].find((p): p is string => p !== undefined && p !== '' && existsSync(p)) ??
  fileURLToPath(new URL('../../../shared/tools/uml-run', import.meta.url));

/** false when UML can run here, else why not (a `skip` reason for node:test). */
export async function umlAvailable(): Promise<string | false> {
  if (!canUseNamespaces()) return 'needs root';
  if (!existsSync(UML_RUN)) return `${UML_RUN} not found`;
  const r = await run('sh', ['-c', 'command -v linux.uml']);
  return r.code === 0 ? false : 'user-mode-linux (linux.uml) not installed';
}

/**
 * Boots UML and runs `node --test` on `scenarios` inside it, bounded by uml-run --timeout.
 * Prints the pass/fail lines and the time taken; returns the exit code and the whole output.
 */
export async function runScenariosInUml(
  scenarios: string,
  timeoutSeconds: number,
): Promise<{ code: number | null; out: string }> {
  const t0 = Date.now();
  // uml-run carries our environment into the UML kernel; without this variable removed, the
  // inner `node --test` would think it is a subprocess of this runner and report nothing.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const c = spawn(
      UML_RUN,
      [
        '--timeout',
        String(timeoutSeconds),
        '--',
        process.execPath,
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        scenarios,
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out }));
  });
  console.log(
    r.out
      .split('\n')
      .filter((l) => /✔|✖|ok |not ok|# (pass|fail)/.test(l))
      .join('\n'),
  );
  console.log(`  UML run took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r;
}

export interface LinkEnd {
  node: string;
  ifname: string;
  addrs: string[];
  mtu?: number;
}

let vethSeq = 0;

/** Lab.link without the IPv6 DAD sysctl (no IPv6 in the UML kernel). IPv4 addresses only. */
export async function umlLink(lab: Lab, tmpPrefix: string, a: LinkEnd, b: LinkEnd): Promise<void> {
  const tmpA = `${tmpPrefix}${process.pid % 10000}a${vethSeq}`;
  const tmpB = `${tmpPrefix}${process.pid % 10000}b${vethSeq++}`;
  await runOk('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  for (const [tmp, end] of [
    [tmpA, a],
    [tmpB, b],
  ] as const) {
    await runOk('ip', ['link', 'set', tmp, 'netns', lab.nsName(end.node)]);
    await lab.exec(end.node, 'ip', ['link', 'set', tmp, 'name', end.ifname]);
    if (end.mtu) await lab.exec(end.node, 'ip', ['link', 'set', end.ifname, 'mtu', String(end.mtu)]);
    for (const addr of end.addrs) await lab.exec(end.node, 'ip', ['addr', 'add', addr, 'dev', end.ifname]);
    await lab.exec(end.node, 'ip', ['link', 'set', end.ifname, 'up']);
  }
}

/** A background command in `node` whose stdout and stderr are collected through pipes. */
export function background(
  lab: Lab,
  node: string,
  cmd: string,
  args: string[],
): { child: ChildProcess; output: Promise<string>; soFar: () => string } {
  const child = spawn('ip', ['netns', 'exec', lab.nsName(node), cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const output = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
  return { child, output, soFar: () => out };
}

/**
 * A workload `name` behind host `host`: veth cali<name> <-> eth0 with a /32, wired as Calico
 * does (/32 host route, proxy ARP, default route). IP forwarding on the host is the caller's.
 */
export async function addUmlWorkload(
  lab: Lab,
  tmpPrefix: string,
  host: string,
  name: string,
  addr: string,
  mtu: number,
): Promise<void> {
  await lab.addNode(name);
  const hostIf = `cali${name}`;
  await umlLink(
    lab,
    tmpPrefix,
    { node: host, ifname: hostIf, addrs: [], mtu },
    { node: name, ifname: 'eth0', addrs: [`${addr}/32`], mtu },
  );
  await lab.exec(name, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
  await lab.exec(host, 'sysctl', ['-qw', `net.ipv4.conf.${hostIf}.proxy_arp=1`]);
  await lab.exec(host, 'ip', ['route', 'add', `${addr}/32`, 'dev', hostIf, 'proto', 'boot', 'scope', 'link']);
}

/** Packets received and sent on `node`'s tunl0. */
export async function tunlCounters(lab: Lab, node: string): Promise<{ rx: number; tx: number }> {
  const j = JSON.parse(await lab.exec(node, 'ip', ['-s', '-j', 'link', 'show', 'tunl0'])) as Array<{
    stats64: { rx: { packets: number }; tx: { packets: number } };
  }>;
  return { rx: j[0]!.stats64.rx.packets, tx: j[0]!.stats64.tx.packets };
}

/**
 * Sends 4 MB over TCP from workload `client` to `serverAddr` (port 5001) on workload `server`
 * behind host `serverHost`, while capturing the SYNs on the server's eth0 and any fragmented
 * IP-in-IP packet on the host's underlay eth0. Returns the MSS values the SYNs announced and what
 * the fragment capture saw, for the caller to judge.
 */
export async function tcpTransferThroughTunnel(
  lab: Lab,
  opts: { client: string; server: string; serverHost: string; serverAddr: string },
): Promise<{ synText: string; mss: number[]; fragOutput: string }> {
  const syns = background(lab, opts.server, 'tcpdump', [
    '-i',
    'eth0',
    '-nn',
    '-v',
    '-c',
    '2',
    'tcp[tcpflags] & tcp-syn != 0',
  ]);
  const frags = background(lab, opts.serverHost, 'timeout', [
    '20',
    'tcpdump',
    '-i',
    'eth0',
    '-nn',
    '-c',
    '1',
    'ip proto 4 and (ip[6:2] & 0x3fff != 0)',
  ]);
  await new Promise((r) => setTimeout(r, 2000));
  const sinkFile = join(lab.dir, 'sink.bin');
  const srv = background(lab, opts.server, 'sh', ['-c', `nc -l -p 5001 > ${sinkFile}`]);
  await new Promise((r) => setTimeout(r, 1000));
  await lab.exec(opts.client, 'sh', [
    '-c',
    `head -c 4000000 /dev/zero | nc -q 1 -w 10 ${opts.serverAddr} 5001`,
  ]);
  await waitFor(
    'the receiver got 4 MB',
    () => statSync(sinkFile, { throwIfNoEntry: false })?.size === 4_000_000,
    20_000,
    200,
  );
  srv.child.kill();
  const synText = await syns.output;
  const mss = [...synText.matchAll(/mss (\d+)/g)].map((m) => Number(m[1]));
  return { synText, mss, fragOutput: await frags.output };
}
