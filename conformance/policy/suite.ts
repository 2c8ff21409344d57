// Policy sidecar conformance suite with real traffic, run once per iptables backend.
// Topology (all in namespaces of one Lab):
//
//   w1 (web)  eth0 10.65.0.1/32 fd65::1 ─┐
//   w2 (db)   eth0 10.65.0.2/32 fd65::2 ─┤ cali1..3   h1 ("host": ip_forward, /32 routes,
//   w3 (other)eth0 10.65.0.3/32 fd65::3 ─┤            proxy ARP, the sidecar) ── eth1 10.66.0.1/24
//   w4 (no endpoint)        10.65.0.9/32 ─┘ cali9                                    │
//                                                                       h2 eth0 10.66.0.2/24
//
// The sidecar runs inside h1 (`ip netns exec`), so it sees and changes only h1's tables.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canUseNamespaces, Lab, run, type SpawnedProcess, waitFor } from '../lib/lab.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'tsbgp.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MAC = ['02:00:00:65:00:01', '02:00:00:65:00:02', '02:00:00:65:00:03'];

/**
 * Two tiers before the default one, for db (w2) ingress. security passes web's traffic and
 * other's TCP to 5432, and drops everything else at its end; platform allows other's TCP to
 * 5432 (which db-ingress, in the default tier, would not), denies web's UDP (which db-ingress
 * would allow) and passes the rest on to the default tier.
 */
const TIERED_POLICIES = `  - name: sec-gate
    tier: security
    order: 1
    selector: app == 'db'
    ingress:
      - {action: pass, source: {selector: "app == 'web'"}}
      - {action: pass, protocol: tcp, source: {selector: "app == 'other'"}, destination: {ports: [5432]}}
  - name: platform-db
    tier: platform
    order: 1
    selector: app == 'db'
    ingress:
      - {action: allow, protocol: tcp, source: {selector: "app == 'other'"}, destination: {ports: [5432]}}
      - {action: deny, protocol: udp, source: {selector: "app == 'web'"}}
      - {action: pass}
tiers:
  - {name: platform, order: 200}
  - {name: security, order: 100}
`;

/** `w3Client` gives w3 the label that puts it in the db rule's source selector, and no other. */
function policyYaml(opts: {
  w3Client?: boolean;
  dbPorts: number[];
  extraDbPort?: number;
  tiers?: boolean;
}): string {
  const ports = [...opts.dbPorts, ...(opts.extraDbPort ? [opts.extraDbPort] : [])];
  return `# written by the conformance test
endpoints:
  - {name: w1, interface: cali1, ipv4: [10.65.0.1], ipv6: ['fd65::1'], mac: '${MAC[0]}', labels: {app: web}, profiles: [default]}
  - {name: w2, interface: cali2, ipv4: [10.65.0.2], ipv6: ['fd65::2'], mac: '${MAC[1]}', labels: {app: db}, profiles: [default]}
  - {name: w3, interface: cali3, ipv4: [10.65.0.3], ipv6: ['fd65::3'], mac: '${MAC[2]}', labels: {app: other${opts.w3Client ? ', role: client' : ''}}, profiles: [default]}
policies:
  - name: db-ingress
    order: 10
    selector: app == 'db'
    ingress:
${ports.length ? `      - {action: allow, protocol: tcp, source: {selector: "app == 'web' || role == 'client'"}, destination: {ports: [${ports.join(', ')}]}}` : '      - {action: deny, protocol: tcp, destination: {ports: [1]}}'}
      - {action: allow, protocol: udp, source: {selector: "app == 'web'"}, destination: {ports: [5353]}}
      - {action: allow, protocol: icmp, source: {selector: "app == 'web'"}}
      - {action: allow, protocol: icmpv6, source: {selector: "app == 'web'"}}
  - name: web-ingress
    order: 20
    selector: app == 'web'
    ingress:
      - {action: allow, protocol: tcp, source: {addressSets: [lab-hosts]}, destination: {ports: [8080]}}
${opts.tiers ? TIERED_POLICIES : ''}profiles:
  - name: default
    egress:
      - {action: allow}
addressSets:
  - {name: lab-hosts, nets: [10.66.0.2/32]}
`;
}

const ECHO_SERVER = `import net from 'node:net';
for (const p of process.argv.slice(2)) net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(Number(p));
`;
// Sends a byte every 100 ms on one long-lived connection and logs the time of every echo.
const STREAM_CLIENT = `import net from 'node:net';
const s = net.connect(Number(process.argv[3]), process.argv[2]);
s.on('connect', () => { console.log('connected ' + Date.now()); setInterval(() => s.write('x'), 100); });
s.on('data', () => console.log('echo ' + Date.now()));
s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
`;

export function policySuite(backend: 'legacy' | 'nft'): void {
  const skip = !canUseNamespaces() ? 'needs root and network namespaces' : false;
  describe(`policy sidecar with iptables-${backend}`, { skip }, () => {
    const lab = new Lab(backend === 'legacy' ? 'pl' : 'pn');
    const policyDir = join(lab.dir, 'policy');
    let sidecar: SpawnedProcess;
    let before4 = '';
    let before6 = '';
    let beforeSets = '';

    const save = (fam: 4 | 6, counters = false) =>
      lab.exec('h1', `${fam === 4 ? 'iptables' : 'ip6tables'}-${backend}-save`, [
        '-t',
        'filter',
        ...(counters ? ['-c'] : []),
      ]);
    const ourHashes = async (): Promise<string[]> => {
      const text = (await save(4)) + (await save(6));
      return [...text.matchAll(/tsb:([A-Za-z0-9_-]{16})/g)].map((m) => m[1]!).sort();
    };
    const normalise = (s: string) =>
      s
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.replace(/\[\d+:\d+\]/g, '[]'))
        .join('\n');
    const writePolicy = (yaml: string) => {
      // Write-then-rename, as config managers do, so the watcher never sees half a file.
      const tmp = join(lab.dir, 'policy.tmp');
      writeFileSync(tmp, yaml);
      return run('mv', [tmp, join(policyDir, 'policy.yaml')]);
    };
    const tcp = async (from: string, ip: string, port: number) =>
      (await lab.tryExec(from, 'nc', ['-z', '-w', '2', ip, String(port)])).code === 0;
    const ping = async (from: string, ip: string) =>
      (await lab.tryExec(from, 'ping', ['-c', '1', '-W', '1', '-q', ip])).code === 0;
    /** Sends one UDP datagram (optionally from a given source) and reports whether w2's receiver got it. */
    const udpToW2 = async (from: string, token: string, source?: string) => {
      await lab.tryExec(
        from,
        'socat',
        ['-u', 'STDIN', `UDP-SENDTO:10.65.0.2:5353${source ? `,bind=${source}` : ''}`],
        `${token}\n`,
      );
      await sleep(300);
      const got = await lab.tryExec('w2', 'cat', [join(lab.dir, 'udp-received')]);
      return got.stdout.includes(token);
    };
    const counter = async (chain: string, comment: string): Promise<number> => {
      const text = await save(4, true);
      const line = text.split('\n').find((l) => l.includes(`-A ${chain} `) && l.includes(comment));
      assert.ok(line, `no rule "${comment}" in ${chain}`);
      return Number(/^\[(\d+):/.exec(line)![1]);
    };
    /** The sidecar's log so far. */
    const sidecarLog = async (): Promise<string> => (await run('cat', [sidecar.logPath])).stdout;
    /** Conntrack entries the sidecar has deleted so far, from its log. */
    const conntrackFlushes = async (): Promise<number> => {
      const text = await sidecarLog();
      let n = 0;
      for (const line of text.split('\n')) {
        const m = /"conntrackFlushed":(\d+)/.exec(line);
        if (m) n += Number(m[1]);
      }
      return n;
    };
    const lastEcho = (p: SpawnedProcess) =>
      run('cat', [p.logPath]).then((r) => {
        const lines = r.stdout
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('echo '));
        return lines.length ? Number(lines.at(-1)!.slice(5)) : 0;
      });

    /** Back to the initial policy, waiting until it is installed (so one failure does not cascade). */
    const restorePolicy = async () => {
      await writePolicy(policyYaml({ dbPorts: [5432] }));
      await waitFor(
        'the initial policy',
        async () => {
          const t = await save(4);
          return (
            t.includes('dports 5432 ') && !(await lab.exec('h1', 'ipset', ['save'])).includes(' 10.65.0.3')
          );
        },
        15_000,
      );
    };

    before(async () => {
      await run('mkdir', ['-p', policyDir]);
      for (const n of ['h1', 'h2', 'w1', 'w2', 'w3', 'w4']) await lab.addNode(n);
      await lab.exec('h1', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
      // The second host first: h1's default route points at it, which also lets proxy ARP answer
      // for the workloads' gateway 169.254.1.1 (proxy ARP needs a route out of another interface).
      await lab.link(
        { node: 'h1', ifname: 'eth1', addrs: ['10.66.0.1/24'] },
        { node: 'h2', ifname: 'eth0', addrs: ['10.66.0.2/24'] },
      );
      await lab.exec('h2', 'ip', ['route', 'add', '10.65.0.0/24', 'via', '10.66.0.1']);
      await lab.exec('h1', 'ip', ['route', 'add', 'default', 'via', '10.66.0.2']);
      const ws: [string, string, string, string | undefined, string | undefined][] = [
        ['w1', 'cali1', '10.65.0.1', 'fd65::1', MAC[0]],
        ['w2', 'cali2', '10.65.0.2', 'fd65::2', MAC[1]],
        ['w3', 'cali3', '10.65.0.3', 'fd65::3', MAC[2]],
        ['w4', 'cali9', '10.65.0.9', undefined, undefined],
      ];
      for (const [node, hostIf, v4, v6, mac] of ws) {
        await lab.link(
          { node: 'h1', ifname: hostIf, addrs: ['fe80::1/64'] },
          { node, ifname: 'eth0', addrs: [`${v4}/32`, ...(v6 ? [`${v6}/128`] : [])] },
        );
        if (mac) await lab.exec(node, 'ip', ['link', 'set', 'eth0', 'address', mac]);
        // Calico's workload wiring: a /32 route on the host side, proxy ARP for the gateway.
        // proxy_delay 0 as Felix sets it: otherwise each proxied ARP reply waits up to 0.8 s.
        await lab.exec('h1', 'sysctl', [
          '-qw',
          `net.ipv4.conf.${hostIf}.proxy_arp=1`,
          `net.ipv4.neigh.${hostIf}.proxy_delay=0`,
        ]);
        await lab.exec('h1', 'ip', ['route', 'add', `${v4}/32`, 'dev', hostIf]);
        if (v6) await lab.exec('h1', 'ip', ['-6', 'route', 'add', `${v6}/128`, 'dev', hostIf]);
        await lab.exec(node, 'ip', ['route', 'add', '169.254.1.1', 'dev', 'eth0']);
        await lab.exec(node, 'ip', ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
        if (v6)
          await lab.exec(node, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
      }

      // Servers: TCP echo on w2 (5432, 2222, 6000), w1 and w3 (8080); UDP receiver on w2.
      const echo = join(lab.dir, 'echo.mjs');
      writeFileSync(echo, ECHO_SERVER);
      writeFileSync(join(lab.dir, 'stream.mjs'), STREAM_CLIENT);
      lab.spawn('w2', 'echo', process.execPath, [echo, '5432', '2222', '6000']);
      lab.spawn('w1', 'echo', process.execPath, [echo, '8080']);
      lab.spawn('w3', 'echo', process.execPath, [echo, '8080']);
      lab.spawn('w2', 'udp', 'socat', [
        '-u',
        'UDP-RECV:5353',
        `OPEN:${join(lab.dir, 'udp-received')},creat,append`,
      ]);
      await waitFor('echo servers', () => tcp('h1', '10.65.0.2', 5432), 10_000);
      await waitFor('w1 server', () => tcp('h1', '10.65.0.1', 8080), 10_000);
      // Without policy everything flows: the baseline the denials are measured against.
      assert.equal(await tcp('w3', '10.65.0.2', 5432), true, 'no policy yet: w3 reaches w2');

      // Rules and a set of someone else's, which we must leave exactly as they are.
      for (const fam of ['iptables', 'ip6tables']) {
        await lab.exec('h1', `${fam}-${backend}`, [
          '-A',
          'INPUT',
          '-p',
          'tcp',
          '--dport',
          '9',
          '-j',
          'ACCEPT',
        ]);
        await lab.exec('h1', `${fam}-${backend}`, ['-N', 'other-chain']);
        await lab.exec('h1', `${fam}-${backend}`, [
          '-A',
          'FORWARD',
          '-p',
          'udp',
          '--dport',
          '9',
          '-j',
          'other-chain',
        ]);
      }
      await lab.exec('h1', 'ipset', ['create', 'foreign-set', 'hash:ip']);
      before4 = normalise(await save(4));
      before6 = normalise(await save(6));
      beforeSets = (await lab.exec('h1', 'ipset', ['list', '-n'])).split('\n').sort().join('\n');

      await writePolicy(policyYaml({ dbPorts: [5432] }));
      sidecar = lab.spawn('h1', 'policy', process.execPath, [
        BIN,
        'policy',
        '--config',
        policyDir,
        '--backend',
        backend,
        '--resync-interval',
        '2',
        '--log-level',
        'debug',
      ]);
      await waitFor(
        'the sidecar to program the host',
        async () => (await save(4)).includes('-j tsb-FORWARD'),
        20_000,
      );
      await waitFor(
        'the db policy to be enforced',
        async () => !(await tcp('w3', '10.65.0.2', 5432)),
        20_000,
      );
    });

    after(async () => {
      await lab.dispose();
    });

    test('allowed TCP, UDP and ICMP flows pass', async () => {
      assert.equal(await tcp('w1', '10.65.0.2', 5432), true, 'web → db:5432');
      assert.equal(await udpToW2('w1', 'allowed-udp'), true, 'web → db udp 5353');
      assert.equal(await ping('w1', '10.65.0.2'), true, 'web → db ICMP');
      assert.equal(await ping('w1', 'fd65::2'), true, 'web → db ICMPv6');
      assert.equal(await tcp('h2', '10.65.0.1', 8080), true, 'second host → web:8080 (address set)');
    });

    test('denied flows drop', async () => {
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false, 'other → db:5432');
      assert.equal(await tcp('w1', '10.65.0.2', 2222), false, 'web → db:2222 (port not allowed)');
      assert.equal(await udpToW2('w3', 'denied-udp'), false, 'other → db udp');
      assert.equal(await ping('w3', '10.65.0.2'), false, 'other → db ICMP');
      assert.equal(await ping('w3', 'fd65::2'), false, 'other → db ICMPv6');
      assert.equal(await tcp('h2', '10.65.0.3', 8080), false, 'second host → other:8080 (default drop)');
      assert.equal(await ping('w4', '10.65.0.1'), false, 'unknown workload interface');
      assert.equal(await tcp('h1', '10.65.0.2', 2222), true, 'the host may always reach its workloads');
    });

    test('a forged source IP or MAC is dropped by anti-spoofing', async () => {
      // Forged source address: w1 adds one it does not own.
      await lab.exec('w1', 'ip', ['addr', 'add', '10.65.0.99/32', 'dev', 'eth0']);
      const ipDrops = await counter('tsb-fw-cali1', 'Anti-spoof: source address');
      assert.equal(await udpToW2('w1', 'forged-ip', '10.65.0.99'), false);
      assert.ok((await counter('tsb-fw-cali1', 'Anti-spoof: source address')) > ipDrops);
      await lab.exec('w1', 'ip', ['addr', 'del', '10.65.0.99/32', 'dev', 'eth0']);
      // Forged MAC: the same datagram from the right address but another MAC.
      const macDrops = await counter('tsb-fw-cali1', 'Anti-spoof: MAC');
      await lab.exec('w1', 'ip', ['link', 'set', 'eth0', 'address', '02:00:00:65:00:77']);
      try {
        assert.equal(await udpToW2('w1', 'forged-mac'), false);
        assert.ok((await counter('tsb-fw-cali1', 'Anti-spoof: MAC')) > macDrops);
      } finally {
        await lab.exec('w1', 'ip', ['link', 'set', 'eth0', 'address', MAC[0]!]);
      }
      assert.equal(
        await udpToW2('w1', 'genuine-again'),
        true,
        'with its own MAC and address it passes again',
      );
    });

    test('a DHCP request (UDP 68 → 67) from a workload hits the DHCP allowance; port 68 to another port does not', async () => {
      const udpFrom68 = (port: number) =>
        lab.tryExec('w1', 'socat', ['-u', 'STDIN', `UDP-SENDTO:10.65.0.2:${port},sourceport=68`], 'dhcp\n');
      const before = await counter('tsb-fw-cali1', 'DHCP');
      await udpFrom68(67);
      const after = await counter('tsb-fw-cali1', 'DHCP');
      assert.ok(after > before, `DHCP rule counter ${before} → ${after}`);
      // Both ports must match (two multiport matches, not one --ports): 68 → 5353 is not DHCP.
      await udpFrom68(5353);
      assert.equal(await counter('tsb-fw-cali1', 'DHCP'), after);
    });

    test('an established connection survives a change that still allows it; one the new policy denies stops', async () => {
      const client = lab.spawn('w1', 'stream', process.execPath, [
        join(lab.dir, 'stream.mjs'),
        '10.65.0.2',
        '5432',
      ]);
      await waitFor('echoes on the stream', async () => (await lastEcho(client)) > 0, 10_000);
      try {
        // Still allowed: another port added to the same rule, so the db policy chain is rewritten
        // and w2's inbound conntrack entries are deleted: the flow must be picked up again.
        const flushesBefore = await conntrackFlushes();
        await writePolicy(policyYaml({ dbPorts: [5432], extraDbPort: 6000 }));
        await waitFor('the rewritten rule', async () => (await save(4)).includes('5432,6000'), 15_000);
        await waitFor('the conntrack flush', async () => (await conntrackFlushes()) > flushesBefore, 10_000);
        await sleep(1500);
        assert.ok(
          Date.now() - (await lastEcho(client)) < 1000,
          'the stream still echoes after an allowing change',
        );
        assert.equal(client.child.exitCode, null);
        // Denied: the port is no longer allowed.
        await writePolicy(policyYaml({ dbPorts: [6000] }));
        await waitFor('the narrowed rule', async () => !(await save(4)).includes('5432'), 15_000);
        await waitFor(
          'the stream to stop after a denying change',
          async () => Date.now() - (await lastEcho(client)) > 2000,
          15_000,
        );
        assert.equal(await tcp('w1', '10.65.0.2', 6000), true, 'the newly allowed port works');
      } finally {
        client.child.kill('SIGKILL');
        await restorePolicy();
      }
    });

    test('adding an address to a selector set takes effect with no rule rewritten', async () => {
      const hashesBefore = await ourHashes();
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false);
      await writePolicy(policyYaml({ w3Client: true, dbPorts: [5432] }));
      await waitFor(
        'w3 in the selector set',
        async () => (await lab.exec('h1', 'ipset', ['save'])).includes(' 10.65.0.3'),
        15_000,
      );
      try {
        assert.equal(await tcp('w3', '10.65.0.2', 5432), true, 'w3 now matches the selector');
        assert.deepEqual(await ourHashes(), hashesBefore, 'every rule hash is unchanged');
      } finally {
        await restorePolicy();
      }
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false);
    });

    test('a rule deleted by hand, and a removed hook, are repaired by the resync', async () => {
      const want = await ourHashes();
      // The sidecar resyncs every 2 s: start just after one, so that the deletions and the bypass
      // check below fall well inside one interval instead of racing the repair.
      const resyncs = async () => ((await sidecarLog()).match(/resync: in sync/g) ?? []).length;
      const seen = await resyncs();
      await waitFor('a resync', async () => (await resyncs()) > seen, 10_000, 50);
      // Delete w2's policy jump: w3 would then fall through to the profile — still dropped, but
      // the point is the repair. Also take out the FORWARD hook.
      await lab.exec('h1', `iptables-${backend}`, ['-D', 'tsb-tw-cali2', '4']);
      await lab.exec('h1', `iptables-${backend}`, ['-D', 'FORWARD', '1']);
      assert.notDeepEqual(await ourHashes(), want);
      assert.equal(await tcp('w3', '10.65.0.2', 5432), true, 'without the hook the policy is bypassed');
      await waitFor(
        'resync to repair',
        async () => JSON.stringify(await ourHashes()) === JSON.stringify(want),
        15_000,
      );
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false);
      const log = await sidecarLog();
      assert.match(log, /resync found drift in the installed policy and repaired it/);
    });

    test('tiers: a pass in the first tier lets the second allow; a deny in the second drops', async () => {
      // The default tier alone (db-ingress): other → db:5432 is dropped, web → db UDP allowed.
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false);
      assert.equal(await udpToW2('w1', 'udp-before-tiers'), true);
      await writePolicy(policyYaml({ dbPorts: [5432], tiers: true }));
      await waitFor(
        'the tiers installed',
        async () => (await save(4)).includes('End of tier platform: drop'),
        15_000,
      );
      try {
        const endOfFirst = await counter('tsb-tw-cali2', 'End of tier security: drop');
        assert.equal(
          await tcp('w3', '10.65.0.2', 5432),
          true,
          'other → db:5432: passed by security, allowed by platform',
        );
        assert.equal(await tcp('w3', '10.65.0.2', 2222), false, 'other → db:2222: not passed by security');
        assert.ok(
          (await counter('tsb-tw-cali2', 'End of tier security: drop')) > endOfFirst,
          "the first tier's end dropped it",
        );
        const endOfSecond = await counter('tsb-tw-cali2', 'End of tier platform: drop');
        assert.equal(
          await udpToW2('w1', 'udp-denied-by-platform'),
          false,
          'web → db UDP: denied by platform',
        );
        assert.equal(
          await tcp('w1', '10.65.0.2', 5432),
          true,
          'web → db:5432: passed by both tiers, allowed by the default tier',
        );
        assert.equal(
          await counter('tsb-tw-cali2', 'End of tier platform: drop'),
          endOfSecond,
          "a deny and a pass never reach the second tier's end",
        );
      } finally {
        await restorePolicy();
        await waitFor('the tiers removed', async () => !(await save(4)).includes('End of tier'), 15_000);
      }
      assert.equal(await tcp('w3', '10.65.0.2', 5432), false);
    });

    test('policy show prints endpoints, chains and per-rule counters, also as JSON', async () => {
      const r = await lab.exec('h1', process.execPath, [
        BIN,
        'policy',
        'show',
        '--backend',
        backend,
        '--config',
        policyDir,
        '--json',
      ]);
      const shown = JSON.parse(r) as {
        endpoints: {
          name: string;
          chains: { chain: string; installed: boolean; rules: { packets: number; rule: string }[] }[];
        }[];
      };
      const w2 = shown.endpoints.find((e) => e.name === 'w2')!;
      const tw = w2.chains.find((c) => c.chain === 'tsb-tw-cali2')!;
      assert.ok(tw.installed);
      assert.ok(
        tw.rules.some((x) => x.packets > 0),
        'traffic was counted',
      );
      const text = await lab.exec('h1', process.execPath, [BIN, 'policy', 'show', '--backend', backend]);
      assert.match(text, /endpoint cali1 \(interface cali1\)/);
      assert.match(text, /pkts .* bytes/);
    });

    test('--cleanup leaves the tables as they were before', async () => {
      sidecar.child.kill('SIGTERM');
      await sidecar.exited;
      const r = await lab.exec('h1', process.execPath, [
        BIN,
        'policy',
        '--cleanup',
        '--backend',
        backend,
        '--json',
      ]);
      assert.equal((JSON.parse(r) as { ok: boolean }).ok, true);
      assert.equal(normalise(await save(4)), before4);
      assert.equal(normalise(await save(6)), before6);
      assert.equal((await lab.exec('h1', 'ipset', ['list', '-n'])).split('\n').sort().join('\n'), beforeSets);
      assert.equal(await tcp('w3', '10.65.0.2', 5432), true, 'with our rules gone, traffic flows as before');
    });
  });
}
