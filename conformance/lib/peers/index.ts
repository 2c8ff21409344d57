// One start function per real implementation, all with the same options and driver interface.
import { startBird1, startBird2 } from './bird.ts';
import { startExabgp } from './exabgp.ts';
import { startFrr } from './frr.ts';
import { startGobgp } from './gobgp.ts';
import { startOpenbgpd } from './openbgpd.ts';
import type { Implementation, StartPeer } from './types.ts';

export * from './types.ts';
export { startBird1, startBird2, startExabgp, startFrr, startGobgp, startOpenbgpd };

export const startPeer: Record<Implementation, StartPeer> = {
  bird2: startBird2,
  bird1: startBird1,
  frr: startFrr,
  gobgp: startGobgp,
  exabgp: startExabgp,
  openbgpd: startOpenbgpd,
};
