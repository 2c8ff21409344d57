// Prints the interop matrix (implementation × check → pass / FAIL / n/a) from the JSON files the
// interop tests write (conformance/interop/results/<impl>.json), and writes docs/interop.md.
//
//   node --import tsx conformance/interop/matrix.ts [--no-write]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CHECKS, type CheckId, type CheckResult, RESULTS_DIR, type ResultFile } from './checks.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DOC = join(ROOT, 'docs', 'interop.md');
const ORDER = ['bird2', 'bird1', 'frr', 'gobgp', 'exabgp', 'openbgpd'] as const;

export const REPRODUCE = [
  'sudo bash scripts/setup.sh   # once: the implementations and tools',
  'sudo node --import tsx --test --test-concurrency=2 conformance/interop/*.test.ts',
  'node --import tsx conformance/interop/matrix.ts   # prints the matrix, writes docs/interop.md',
];

/**
 * What a failing check has been traced to, kept beside the matrix so a reader of docs/interop.md
 * sees the cause with the failure. Printed only while that check fails somewhere.
 */
const KNOWN_CAUSES: Partial<Record<CheckId, string>> = {
  'peer-initiated':
    'tsbgp refuses the connections of a peer that connects but does not listen. After our own connection attempt fails ' +
    '(the peer sends RST), src/bgp/session/fsm.ts `connectOrActive` (case TcpConnectionFails, no DelayOpen) moves the ' +
    'session to Idle with the connect-retry counter incremented, so the IdleHoldTimer (damping) keeps it in Idle, and in ' +
    'Idle `idle()` answers TcpConnectionConfirmed with DropTcp; src/bgp/session/speaker.ts logs "connection from X ' +
    'refused" (state Idle). The session is in Connect only for the few milliseconds of each outgoing attempt, so the ' +
    "peer's connections practically never land. RFC 4271 §8.2.2 does say Connect + TcpConnectionFails goes to Idle, but " +
    'BIRD, FRR and GoBGP keep listening for a configured, enabled neighbour in every state (BIRD and FRR go to Active); ' +
    'an automatically restarting, non-passive peer should accept an incoming connection while it waits ' +
    '(AutomaticStart_with_PassiveTcpEstablishment, Event 5), or go to Active instead of Idle on a failed connect.',
  notification:
    'No back-off against a peer that accepts the TCP connection and then closes it (FRR, GoBGP and OpenBGPD do so while the ' +
    'neighbour is shut down). src/bgp/session/fsm.ts, OpenSent + TcpConnectionFails: the session goes to Active and ' +
    'restarts the ConnectRetryTimer with `connectRetrySeconds(cfg, s.connectRetryCounter)` without incrementing ' +
    'connectRetryCounter, so every retry waits the base connectRetry (1 s here) forever: 8-9 attempts in 8 s instead ' +
    'of 1, 2, 4, 4 s. docs/configuration.md promises that the delay "doubles on each further failure"; a connection ' +
    'that closes before an OPEN arrives is such a failure. BIRD refuses the connection of a disabled protocol (RST), ' +
    'which takes the Connect -> Idle path, where the counter is incremented, so the BIRD columns pass.',
};

function loadResults(): ResultFile[] {
  const out: ResultFile[] = [];
  for (const impl of ORDER) {
    const f = join(RESULTS_DIR, `${impl}.json`);
    if (existsSync(f)) out.push(JSON.parse(readFileSync(f, 'utf8')) as ResultFile);
  }
  return out;
}

function cell(r: CheckResult | undefined): string {
  if (!r) return 'not run';
  return r.status === 'fail' ? 'FAIL' : r.status;
}

function textMatrix(results: ResultFile[]): string {
  const header = ['check', ...results.map((r) => r.label)];
  const rows = CHECKS.map((c) => [c.id, ...results.map((r) => cell(r.checks[c.id]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function markdown(results: ResultFile[]): string {
  const dates = results.map((r) => r.date).sort();
  const lastDate = dates[dates.length - 1] ?? new Date().toISOString();
  const l: string[] = [];
  l.push('# Interoperability', '');
  l.push(
    'tsbgp (`tsbgp run --config FILE`, driven through its control socket and `tsbgp show ... --json`) against the',
    'real implementations from Debian. Each implementation runs in its own set of network namespaces',
    '(`conformance/interop/<impl>.test.ts`, all sharing `conformance/interop/checks.ts`); this page is generated',
    'from their result files by `conformance/interop/matrix.ts`.',
    '',
  );
  l.push(
    `Results of the run finished ${lastDate.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}. To reproduce:`,
    '',
  );
  l.push('```', ...REPRODUCE, '```', '');
  l.push('| Implementation | Version | Suite time |', '|---|---|---|');
  for (const r of results) l.push(`| ${r.label} | ${r.version} | ${(r.durationMs / 1000).toFixed(0)} s |`);
  l.push('');
  for (const r of results) if (r.note) l.push(`- ${r.label}: ${r.note}`);
  if (results.some((r) => r.note)) l.push('');
  l.push('## Topology', '');
  l.push(
    'One lab per implementation; tsbgp (AS 4200000001, a 4-octet ASN) in node `t`, each peer in its own node:',
    '',
    '| Node | Role | Sessions |',
    '|---|---|---|',
    '| p | eBGP peer, AS 65002, offers hold time 30 (we offer 90) | over IPv4 (10.0.0.0/24, IPv4 unicast) and over IPv6 (fd00::/64, IPv6 unicast) |',
    '| q | iBGP peer, AS 4200000001 | over IPv4 (10.0.1.0/24) and over IPv6 (fd00:1::/64) |',
    '| r | 2-octet-only eBGP peer, AS 65003 (no RFC 6793 capability), where the implementation can be made so | IPv4 |',
    '| a | connect-only eBGP peer, AS 65004 (does not listen), where the driver can make it so | IPv4 |',
    '| m | `crafted-peer.py`, AS 65009: hand-built UPDATEs, well-formed and malformed | IPv4 |',
    '',
    'Routes are originated with communities, large communities and MED on both sides (LOCAL_PREF too on',
    "iBGP) and compared attribute by attribute in the peer's own table (its CLI) and in our Adj-RIB-In",
    '(`tsbgp show routes --peer X --json`). The RFC 7606 rows send each malformed UPDATE followed by a',
    'well-formed "sentinel" UPDATE: once the sentinel is in our Adj-RIB-In the malformed one has been',
    'handled, so "the route is absent" cannot be a race. The session with the crafted peer must stay up',
    '(same `establishedAt`) and receive no NOTIFICATION until the malformed NLRI; the sessions with the',
    'real peer must never reset during the whole sequence.',
    '',
  );
  l.push('## Matrix', '');
  l.push(`| Check | ${results.map((r) => r.label).join(' | ')} |`);
  l.push(`|---|${results.map(() => '---').join('|')}|`);
  for (const c of CHECKS) {
    l.push(`| ${c.title} | ${results.map((r) => cell(r.checks[c.id])).join(' | ')} |`);
  }
  l.push('');
  const failures = results.flatMap((r) =>
    CHECKS.filter((c) => r.checks[c.id]?.status === 'fail').map((c) => ({ r, c, res: r.checks[c.id] })),
  );
  l.push('## Failures', '');
  if (failures.length === 0) l.push('None.', '');
  const causes = new Set<CheckId>();
  for (const { r, c, res } of failures) {
    l.push(`- **${r.label}, ${c.id}**: ${res?.reason ?? ''}${res?.detail ? ` (seen: ${res.detail})` : ''}`);
    if (KNOWN_CAUSES[c.id]) causes.add(c.id);
  }
  if (causes.size > 0) {
    l.push('', '### Causes', '');
    for (const id of causes) l.push(`- **${id}**: ${KNOWN_CAUSES[id]}`);
  }
  l.push('', '## Not applicable', '');
  for (const r of results) {
    for (const c of CHECKS) {
      const res = r.checks[c.id];
      if (res?.status === 'n/a') l.push(`- **${r.label}, ${c.id}**: ${res.reason ?? ''}`);
    }
  }
  l.push('', '## What was measured', '');
  for (const r of results) {
    const notes = CHECKS.map((c) => [c.id, r.checks[c.id]?.detail] as const).filter(([, d]) => d);
    if (notes.length === 0) continue;
    l.push(`**${r.label}**`, '');
    for (const [id, d] of notes) l.push(`- ${id}: ${d}`);
    l.push('');
  }
  return `${l.join('\n').trimEnd()}\n`;
}

const results = loadResults();
if (results.length === 0) {
  console.error(`no results in ${RESULTS_DIR}; run the interop tests first:\n  ${REPRODUCE[1]}`);
  process.exit(1);
}
console.log(textMatrix(results));
if (!process.argv.includes('--no-write')) {
  writeFileSync(DOC, markdown(results));
  console.log(`\nwrote ${DOC}`);
}
