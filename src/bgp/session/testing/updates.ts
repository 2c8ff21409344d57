// UPDATE builders shared by the session layer's unit tests (Adj-RIB-In, attribute store).
import {
  type CodecOptions,
  emptyPrefixList,
  encodeMessage,
  type PathAttributes,
  prefixListFromStrings,
  type UpdateMessage,
} from '../../codec/index.ts';

/** 4-octet AS, no extended messages, no ADD-PATH. */
export const testCodecOptions: CodecOptions = {
  fourOctetAs: true,
  extendedMessage: false,
  addPath: new Set(),
};

/** The wire bytes of an UPDATE (header included), as a peer would send them. */
export function updateFrame(msg: UpdateMessage, opts: CodecOptions = testCodecOptions): Buffer {
  const e = encodeMessage(msg, opts);
  if (!e.ok) throw new Error(e.reason);
  return e.bytes;
}

/** An IPv4 UPDATE announcing `nlri` with `attrs` and withdrawing `withdrawn`. */
export function v4Update(nlri: string[], attrs: PathAttributes, withdrawn: string[] = []): UpdateMessage {
  return {
    type: 'update',
    withdrawn: withdrawn.length ? prefixListFromStrings(1, withdrawn) : emptyPrefixList(1),
    attributes: attrs,
    nlri: nlri.length ? prefixListFromStrings(1, nlri) : emptyPrefixList(1),
    treatAsWithdraw: false,
    errors: [],
  };
}
