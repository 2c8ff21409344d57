// Text images of a rendered state, for golden tests and `policy check --dump`: the ipset and
// iptables-restore input that would program it onto an empty host.
import { diffIpsets } from './ipset.ts';
import { diffTable } from './iptables.ts';
import { Names } from './names.ts';
import type { DesiredState } from './render.ts';

export function renderImage(state: DesiredState, prefix: string): string {
  const empty = { chains: new Map(), rules: new Map(), hooks: new Map() };
  return [
    '# ipset restore',
    diffIpsets(state.ipsets, new Map(), new Names(prefix)).before.trimEnd(),
    '# iptables-restore (IPv4)',
    diffTable(state.tables[4], empty).restore.trimEnd(),
    '# ip6tables-restore (IPv6)',
    diffTable(state.tables[6], empty).restore.trimEnd(),
    '',
  ].join('\n');
}
