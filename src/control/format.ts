// Human-readable renderings of control-socket answers, shaped like `birdc show protocols` and
// `show bgp neighbors`, so operators of BIRD and FRR read them at a glance. `--json` prints the
// raw answer instead.
import { addressBytes } from '../config/net.ts';
import type { DaemonMemory, DaemonState, ReloadResult } from '../daemon/daemon.ts';
import type { MessageCounters, PeerStatus, RouteView } from '../daemon/speaker-port.ts';

/** Pads columns to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** BIRD style: the time of day for today, the date otherwise. */
export function formatSince(epochMs: number, now = Date.now()): string {
  if (!epochMs) return '-';
  const d = new Date(epochMs);
  const today = new Date(now).toISOString().slice(0, 10);
  const iso = d.toISOString();
  return iso.slice(0, 10) === today ? iso.slice(11, 19) : iso.slice(0, 10);
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

function info(p: PeerStatus): string {
  if (p.adminDown) return `administratively down${p.lastError ? `; ${p.lastError.text}` : ''}`;
  const parts: string[] = [];
  if (p.state !== 'Established' && p.reason) parts.push(p.reason);
  if (p.lastError) parts.push(`last error: ${p.lastError.direction} ${p.lastError.text}`);
  return parts.join('; ');
}

export function formatNeighbors(peers: PeerStatus[], now = Date.now()): string {
  if (peers.length === 0) return 'no neighbours configured';
  const rows = peers.map((p) => [
    p.name,
    p.address ?? p.range ?? '-',
    p.remoteAs !== undefined ? String(p.remoteAs) : '-',
    p.adminDown ? 'Down' : p.state,
    formatSince(p.since, now),
    String(p.prefixesReceived),
    String(p.prefixesSent),
    info(p),
  ]);
  return table(['Name', 'Address', 'AS', 'State', 'Since', 'Rcvd', 'Sent', 'Info'], rows);
}

function counters(c: MessageCounters): string {
  return `open ${c.open}, update ${c.update}, keepalive ${c.keepalive}, notification ${c.notification}, route-refresh ${c.routeRefresh}`;
}

export function formatNeighborDetail(p: PeerStatus, now = Date.now()): string {
  const lines: [string, string][] = [
    ['Neighbor', `${p.name}${p.address && p.address !== p.name ? ` (${p.address})` : ''}`],
  ];
  if (p.range) lines.push(['Dynamic range', p.range]);
  if (p.description) lines.push(['Description', p.description]);
  lines.push(['Local AS', String(p.localAs)]);
  lines.push(['Remote AS', p.remoteAs !== undefined ? String(p.remoteAs) : '-']);
  if (p.remoteRouterId) lines.push(['Remote router-id', p.remoteRouterId]);
  lines.push([
    'State',
    `${p.adminDown ? 'Down (administratively)' : p.state} for ${formatDuration(now - p.since)}, since ${new Date(p.since).toISOString()}`,
  ]);
  if (p.reason) lines.push(['Last transition', p.reason]);
  if (p.localAddress) lines.push(['Local', `${p.localAddress}${p.localPort ? ` port ${p.localPort}` : ''}`]);
  if (p.remotePort) lines.push(['Remote port', String(p.remotePort)]);
  const t = p.timers;
  lines.push([
    'Timers',
    `hold ${t.holdTime} s, keepalive ${t.keepaliveTime} s, connect retry ${t.connectRetry} s` +
      (t.negotiatedHoldTime !== undefined
        ? `; negotiated hold ${t.negotiatedHoldTime} s, keepalive ${t.negotiatedKeepalive ?? '-'} s`
        : ''),
  ]);
  if (p.families?.length) lines.push(['Families', p.families.join(', ')]);
  if (p.capabilities) {
    lines.push(['Capabilities sent', p.capabilities.local.join(', ') || '-']);
    lines.push(['Capabilities received', p.capabilities.remote.join(', ') || '-']);
    lines.push(['Capabilities in use', p.capabilities.negotiated.join(', ') || '-']);
  }
  lines.push(['Prefixes', `received ${p.prefixesReceived}, sent ${p.prefixesSent}`]);
  if (p.counters) {
    lines.push(['Messages received', counters(p.counters.received)]);
    lines.push(['Messages sent', counters(p.counters.sent)]);
  }
  if (p.lastError) {
    lines.push([
      'Last error',
      `${p.lastError.direction} ${p.lastError.text} (code ${p.lastError.code}/${p.lastError.subcode}) at ${new Date(p.lastError.at).toISOString()}`,
    ]);
  }
  const w = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(w)} ${v}`).join('\n');
}

/** Orders prefixes as routers print them: IPv4 before IPv6, then numerically, then by length. */
export function comparePrefixes(a: string, b: string): number {
  const ka = prefixSortKey(a);
  const kb = prefixSortKey(b);
  for (let i = 0; i < ka.length; i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function prefixSortKey(prefix: string): number[] {
  const [addr = '', len = '0'] = prefix.split('/');
  const bytes = addressBytes(addr);
  if (!bytes) return [9];
  return [bytes.length, ...bytes, Number(len)];
}

export function formatRoutes(routes: RouteView[], peers: PeerStatus[]): string {
  if (routes.length === 0) return 'no routes';
  const names = new Map(peers.map((p) => [p.id, p.name]));
  const sorted = [...routes].sort(
    (a, b) => comparePrefixes(a.prefix, b.prefix) || (a.peer < b.peer ? -1 : a.peer > b.peer ? 1 : 0),
  );
  const rows = sorted.map((r) => [
    r.prefix + (r.pathId ? ` #${r.pathId}` : ''),
    names.get(r.peer) ?? r.peer,
    r.nextHop ?? '-',
    r.asPath || '(empty)',
    r.origin === 'igp' ? 'i' : r.origin === 'egp' ? 'e' : '?',
    r.med !== undefined ? String(r.med) : '',
    r.localPref !== undefined ? String(r.localPref) : '',
    [...r.communities, ...r.largeCommunities].join(' '),
  ]);
  return table(['Prefix', 'From', 'Next hop', 'AS path', 'Origin', 'MED', 'LocPrf', 'Communities'], rows);
}

export function formatStatus(s: DaemonState, now = Date.now()): string {
  const established = s.neighbors.filter((n) => n.state === 'Established').length;
  const lines = [
    `tsbgp ${s.version}, pid ${s.pid}, up ${formatDuration(now - s.startedAt)}`,
    `AS ${s.asn}, router-id ${s.routerId} (${s.routerIdSource})`,
    `config ${s.configSource}`,
    `neighbours: ${s.neighbors.length}, established ${established}`,
  ];
  if (s.lastReload) {
    lines.push(
      `last reload ${new Date(s.lastReload.at).toISOString()} (${s.lastReload.reason}): ${s.lastReload.ok ? 'ok' : 'refused'}: ${s.lastReload.summary}`,
    );
  }
  return lines.join('\n');
}

export function formatReload(r: ReloadResult): string {
  if (!r.ok) return `reload refused, running configuration kept:\n${r.error}`;
  const lines = [`reloaded: ${r.summary}`];
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

/** `tsbgp show memory`, laid out as BIRD's `show memory`: what holds the bytes. */
export function formatMemory(m: DaemonMemory): string {
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1).padStart(8)} MiB`;
  const lines = [
    'Process:',
    `  resident        ${mib(m.process.rss)}`,
    `  JS heap         ${mib(m.process.heapUsed)} used of ${mib(m.process.heapTotal).trim()}`,
    `  array buffers   ${mib(m.process.arrayBuffers)}`,
    `  table mappings  ${mib(m.process.hugePageMappings)}  (big tables on huge pages: address space, resident as written)`,
  ];
  const s = m.speaker;
  if (s !== undefined) {
    lines.push(
      'Routes:',
      `  Adj-RIB-In      ${mib(s.adjRibInBytes)}  (${s.adjRibInRetained} session(s) keep pre-policy routes)`,
    );
    for (const f of s.rib.families) {
      const per =
        f.prefixes > 0 ? ` ${((f.locRibBytes + f.adjRibOutBytes) / f.prefixes).toFixed(0)} B/prefix` : '';
      lines.push(
        `  ${f.family.padEnd(14)}  ${f.prefixes} prefixes, ${f.paths} paths: Loc-RIB ${mib(f.locRibBytes).trim()}, Adj-RIB-Out ${mib(f.adjRibOutBytes).trim()} in ${f.updateGroups} update group(s);${per}`,
      );
    }
    lines.push(`  attribute sets  ${s.rib.attributeSets} in the RIB, ${s.sessionAttributeSets} received`);
  }
  return lines.join('\n');
}
