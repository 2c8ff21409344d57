// Public API of the RIB: attribute interning, Loc-RIB with best path and ECMP, loop checks,
// Adj-RIB-Out update groups, graceful-restart helper logic.
//
// Wiring, per address family (the daemon does this once the session layer is in):
//   attrs   = new AttrTable()                          one per daemon (shared by families)
//   peers   = new PeerTable(routerId, localAs)         index 0 = our own routes
//   rib     = new LocRib({ afi, attrs, decision: new DecisionProcess(attrs, peers,
//               decisionOptionsFromConfig(config.bestPath), kernelResolver) })
//   groups  = new UpdateGroups(rib, family, (s) => new ExportFilter(attrs, peers, compiler, s))
//   per neighbour: peers.add(...); new ImportFilter({ attrs, compiler, afi, neighbor, policies, loop })
// On each received UPDATE (or Adj-RIB-In batch entry):
//   id = attrs.intern(storedFromUpdate(update.attributes)); importFilter.importUpdate(rib, peer, id, nlri);
//   attrs.unref(id); rib.withdraw(peer, withdrawn)
// After a batch: source.publish(family, rib.commit()) (RibExportSource), kernel sync reads the
// same RibChanges (multipathOf), then attrs.collect().
// Session loss: graceful-restart.ts decides (onSessionLoss) and markPeerStale / flushPeer act.
export { AttrFlag, AttrTable, NO_ATTR } from './attr-table.ts';
export * from './attrs.ts';
export * from './best-path.ts';
export * from './export-source.ts';
export * from './graceful-restart.ts';
export { LocRib, type LocRibOptions, PathFlag, RibChange, RibChanges } from './loc-rib.ts';
export * from './loop-check.ts';
export * from './peers.ts';
export * from './prefix.ts';
export * from './show.ts';
export * from './update-group.ts';
