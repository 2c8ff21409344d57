// What a reload has to do, as a pure function of the old and the new config. Neighbours are
// matched by key (address or range). A change that alters what goes into our OPEN or how the TCP
// session is made needs a session reset (the peer only learns it from a new OPEN, RFC 4271 §4.2,
// RFC 5492); anything else is applied in place, as BIRD's `configure` and FRR do.
import type { Config, NeighborConfig, OriginatedPrefix } from './types.ts';

/** Fields whose change needs the session torn down and re-formed. */
const RESET_FIELDS = [
  'asn',
  'address',
  'range',
  'localAddress',
  'port',
  'holdTime',
  'families',
  'addPath',
  'gracefulRestart',
  'enhancedRouteRefresh',
  'ttlSecurity',
  'multihop',
] as const satisfies readonly (keyof NeighborConfig)[];

/** Fields applied to a running session without a reset. */
const IN_PLACE_FIELDS = [
  'name',
  'keepaliveTime',
  'passive',
  'connectRetry',
  'connectRetryMax',
  'idleHold',
  'idleHoldMax',
  'errorForget',
  'description',
  'shutdown',
  'import',
  'export',
  'routeReflectorClient',
  'allowasIn',
  'maxPrefix',
  'softReconfigurationInbound',
] as const satisfies readonly (keyof NeighborConfig)[];

export type NeighborField = (typeof RESET_FIELDS)[number] | (typeof IN_PLACE_FIELDS)[number];

export interface NeighborChange {
  key: string;
  old: NeighborConfig;
  new: NeighborConfig;
  /** Every field that differs. */
  fields: NeighborField[];
}

export interface ConfigDiff {
  /** Nothing at all differs (the daemon logs "no changes"). */
  unchanged: boolean;
  /**
   * Global settings that go into every OPEN (local AS, router-id) changed: every session resets.
   * Listed neighbours that otherwise did not change appear in `resetNeighbors`.
   */
  globalReset: ('asn' | 'routerId')[];
  listenChanged: boolean;
  addedNeighbors: NeighborConfig[];
  removedNeighbors: NeighborConfig[];
  /** Neighbours that must be reset to apply the change. */
  resetNeighbors: NeighborChange[];
  /** Neighbours updated without a reset (description, shutdown flag, policy, ...). */
  inPlaceNeighbors: NeighborChange[];
  unchangedNeighbors: string[];
  originateAdded: OriginatedPrefix[];
  originateRemoved: OriginatedPrefix[];
  /** Same prefix, different attributes: re-advertised, no session impact. */
  originateChanged: OriginatedPrefix[];
  /** Sections owned by later layers that changed (policies, kernel, pools, ...), by top-level key. */
  otherSections: string[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function diffConfig(oldConfig: Config, newConfig: Config): ConfigDiff {
  const globalReset: ('asn' | 'routerId')[] = [];
  if (oldConfig.asn !== newConfig.asn) globalReset.push('asn');
  if (oldConfig.routerId !== newConfig.routerId) globalReset.push('routerId');

  const oldByKey = new Map(oldConfig.neighbors.map((n) => [n.key, n]));
  const newByKey = new Map(newConfig.neighbors.map((n) => [n.key, n]));
  const addedNeighbors = newConfig.neighbors.filter((n) => !oldByKey.has(n.key));
  const removedNeighbors = oldConfig.neighbors.filter((n) => !newByKey.has(n.key));
  const resetNeighbors: NeighborChange[] = [];
  const inPlaceNeighbors: NeighborChange[] = [];
  const unchangedNeighbors: string[] = [];
  for (const n of newConfig.neighbors) {
    const o = oldByKey.get(n.key);
    if (!o) continue;
    const resetFields = RESET_FIELDS.filter((f) => !same(o[f], n[f]));
    const inPlaceFields = IN_PLACE_FIELDS.filter((f) => !same(o[f], n[f]));
    const fields: NeighborField[] = [...resetFields, ...inPlaceFields];
    // `internal` resolves against the local AS: a local AS change resets iBGP/eBGP neighbours too.
    if (resetFields.length > 0 || globalReset.length > 0)
      resetNeighbors.push({ key: n.key, old: o, new: n, fields });
    else if (inPlaceFields.length > 0) inPlaceNeighbors.push({ key: n.key, old: o, new: n, fields });
    else unchangedNeighbors.push(n.key);
  }

  const oldOrig = new Map(oldConfig.originate.map((o) => [o.prefix, o]));
  const newOrig = new Map(newConfig.originate.map((o) => [o.prefix, o]));
  const originateAdded = newConfig.originate.filter((o) => !oldOrig.has(o.prefix));
  const originateRemoved = oldConfig.originate.filter((o) => !newOrig.has(o.prefix));
  const originateChanged = newConfig.originate.filter((o) => {
    const prev = oldOrig.get(o.prefix);
    return prev !== undefined && !same(prev, o);
  });

  const otherKeys = [
    'prefixLists',
    'policies',
    'routeReflector',
    'bestPath',
    'gracefulRestart',
    'kernel',
    'pools',
    'ipip',
    'mtu',
    'workloads',
    'control',
    'warmUpRoutes',
    'warmUpKeepWarm',
  ] as const satisfies readonly (keyof Config)[];
  const otherSections = otherKeys.filter((k) => !same(oldConfig[k], newConfig[k]));
  const listenChanged = !same(oldConfig.listen, newConfig.listen);

  const unchanged =
    globalReset.length === 0 &&
    !listenChanged &&
    addedNeighbors.length === 0 &&
    removedNeighbors.length === 0 &&
    resetNeighbors.length === 0 &&
    inPlaceNeighbors.length === 0 &&
    originateAdded.length === 0 &&
    originateRemoved.length === 0 &&
    originateChanged.length === 0 &&
    otherSections.length === 0;

  return {
    unchanged,
    globalReset,
    listenChanged,
    addedNeighbors,
    removedNeighbors,
    resetNeighbors,
    inPlaceNeighbors,
    unchangedNeighbors,
    originateAdded,
    originateRemoved,
    originateChanged,
    otherSections,
  };
}

/** One-line summary for the log and for `tsbgp reload`. */
export function summarizeDiff(d: ConfigDiff): string {
  if (d.unchanged) return 'no changes';
  const parts: string[] = [];
  if (d.globalReset.length) parts.push(`${d.globalReset.join(', ')} changed: all sessions reset`);
  if (d.listenChanged) parts.push('listen changed');
  if (d.addedNeighbors.length) parts.push(`added ${d.addedNeighbors.map((n) => n.name).join(', ')}`);
  if (d.removedNeighbors.length) parts.push(`removed ${d.removedNeighbors.map((n) => n.name).join(', ')}`);
  if (d.resetNeighbors.length) {
    parts.push(
      `reset ${d.resetNeighbors.map((c) => `${c.new.name} (${c.fields.join(', ') || 'global'})`).join(', ')}`,
    );
  }
  if (d.inPlaceNeighbors.length) {
    parts.push(
      `updated ${d.inPlaceNeighbors.map((c) => `${c.new.name} (${c.fields.join(', ')})`).join(', ')}`,
    );
  }
  const orig = d.originateAdded.length + d.originateRemoved.length + d.originateChanged.length;
  if (orig) {
    parts.push(
      `originate +${d.originateAdded.length} -${d.originateRemoved.length} ~${d.originateChanged.length}`,
    );
  }
  if (d.otherSections.length) parts.push(`sections changed: ${d.otherSections.join(', ')}`);
  return parts.join('; ');
}
