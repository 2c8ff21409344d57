// Maximum-prefix limits per neighbour and family (RFC 4271 §8 leaves the limit to
// implementations; RFC 4486 §4 defines the Cease subcode and its data). Pure: the caller feeds
// the accepted-prefix count after each batch and acts on the decision.

import { CeaseSubcode, NotificationCode } from '../codec/types.ts';

export interface MaxPrefixConfig {
  /** the limit: more accepted prefixes than this trips it */
  readonly limit: number;
  /** warn when the count reaches this percentage of the limit (default 75, as FRR) */
  readonly warningPercent?: number;
  /** only log, never tear down (FRR `warning-only`) */
  readonly warningOnly?: boolean;
  /** re-establish after this many seconds (FRR `restart`, BIRD `receive limit ... action restart`); none = stay down */
  readonly restartAfterSeconds?: number;
}

export type MaxPrefixDecision =
  | { readonly kind: 'ok' }
  /** crossed the warning threshold (reported once per crossing) */
  | { readonly kind: 'warning'; readonly count: number; readonly threshold: number; readonly limit: number }
  /** over the limit with warningOnly (reported once per crossing) */
  | { readonly kind: 'over-limit'; readonly count: number; readonly limit: number }
  | {
      readonly kind: 'teardown';
      readonly count: number;
      readonly limit: number;
      /** Cease / Maximum Number of Prefixes Reached, data = AFI, SAFI, limit (RFC 4486 §4) */
      readonly notification: { readonly code: number; readonly subcode: number; readonly data: Uint8Array };
      readonly restartAfterSeconds: number | null;
    };

export class MaxPrefixGuard {
  private warned = false;
  private over = false;
  readonly threshold: number;

  constructor(
    readonly config: MaxPrefixConfig,
    readonly afi: number,
    readonly safi: number,
  ) {
    if (!Number.isInteger(config.limit) || config.limit < 1) {
      throw new Error(`max-prefix limit must be a positive integer (got ${config.limit})`);
    }
    const pct = config.warningPercent ?? 75;
    if (!(pct > 0 && pct <= 100)) throw new Error(`max-prefix warningPercent must be 1..100 (got ${pct})`);
    this.threshold = Math.ceil((config.limit * pct) / 100);
  }

  /** Call with the neighbour's current accepted-prefix count for the family. */
  check(count: number): MaxPrefixDecision {
    const limit = this.config.limit;
    if (count > limit) {
      if (this.config.warningOnly === true) {
        if (this.over) return { kind: 'ok' };
        this.over = true;
        return { kind: 'over-limit', count, limit };
      }
      const data = new Uint8Array(7);
      new DataView(data.buffer).setUint16(0, this.afi);
      data[2] = this.safi;
      new DataView(data.buffer).setUint32(3, limit);
      return {
        kind: 'teardown',
        count,
        limit,
        notification: {
          code: NotificationCode.Cease,
          subcode: CeaseSubcode.MaximumNumberOfPrefixesReached,
          data,
        },
        restartAfterSeconds: this.config.restartAfterSeconds ?? null,
      };
    }
    if (count <= limit) this.over = false;
    if (count >= this.threshold) {
      if (this.warned) return { kind: 'ok' };
      this.warned = true;
      return { kind: 'warning', count, threshold: this.threshold, limit };
    }
    this.warned = false;
    return { kind: 'ok' };
  }

  /** After a teardown, the session starts from zero. */
  reset(): void {
    this.warned = false;
    this.over = false;
  }
}
