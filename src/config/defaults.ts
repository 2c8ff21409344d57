// Default values, chosen to match what BIRD / FRR operators expect where the RFCs leave a choice.
export const DEFAULTS = {
  port: 179,
  /** RFC 4271 §10 suggests 90 s (GoBGP's default; BIRD uses 240, FRR 180). */
  holdTime: 90,
  /**
   * First connect retry after a failure; it doubles on each further failure up to connectRetryMax
   * (RFC 4271 §8.1.1 DampPeerOscillations). BIRD's `connect delay time` is 5 s too.
   */
  connectRetry: 5,
  /** RFC 4271 §10's ConnectRetryTime, the ceiling of the back-off; BIRD and FRR use 120 s. */
  connectRetryMax: 120,
  /**
   * IdleHoldTime after a session error (RFC 4271 §8.1.1), doubling per further error up to
   * idleHoldMax. BIRD's `error wait time` defaults to 60,300; these are shorter so that a data
   * centre's peers come back quickly after a one-off error.
   */
  idleHold: 1,
  idleHoldMax: 60,
  /** Established this long, a session's error count is forgotten (BIRD's `error forget time`). */
  errorForget: 300,
  /** RTPROT_BGP, shown by iproute2 as `proto bgp`. */
  kernelProtocol: 186,
  /** RFC 4724 §4.2 and FRR default. */
  grRestartTime: 120,
  /** FRR's default stale-path time. */
  grStalePathTime: 360,
  /** Calico's default MTUIfacePattern. */
  mtuInterfacePattern: '^((en|wl|ww|sl|ib)[Pcopsvx].*|(eth|wlan|wwan).*)',
  mtuFile: '/var/lib/tsbgp/mtu',
  controlSocket: '/run/tsbgp/tsbgp.sock',
  /** Routes of the start-up warm-up (src/daemon/warm-up.ts); 0 turns it off. */
  warmUpRoutes: 50_000,
  /** Keep V8's young generation at its working size while idle (src/daemon/young-generation.ts). */
  warmUpKeepWarm: true,
} as const;
