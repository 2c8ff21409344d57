// Capabilities advertisement (RFC 5492 §4): code, length, value. Known kinds decode into typed
// objects; every other capability is kept verbatim so that nothing the peer said is lost.

import { copyBytes } from './attributes.ts';
import { fail } from './errors.ts';
import { type Capability, CapabilityCode, type Codec, type DecodeResult, NotificationCode } from './types.ts';

const EMPTY = new Uint8Array(0);

function openError(reason: string): DecodeResult<Capability> {
  // A malformed capability value: OPEN Message Error, subcode unspecific (as BIRD and GoBGP do)
  return fail(NotificationCode.OpenMessageError, 0, EMPTY, reason);
}

/** The capability code of a capability object. */
export function capabilityCode(cap: Capability): number {
  switch (cap.kind) {
    case 'multiprotocol':
      return CapabilityCode.Multiprotocol;
    case 'route-refresh':
      return CapabilityCode.RouteRefresh;
    case 'extended-next-hop':
      return CapabilityCode.ExtendedNextHop;
    case 'extended-message':
      return CapabilityCode.ExtendedMessage;
    case 'graceful-restart':
      return CapabilityCode.GracefulRestart;
    case 'four-octet-as':
      return CapabilityCode.FourOctetAs;
    case 'add-path':
      return CapabilityCode.AddPath;
    case 'enhanced-route-refresh':
      return CapabilityCode.EnhancedRouteRefresh;
    case 'long-lived-graceful-restart':
      return CapabilityCode.LongLivedGracefulRestart;
    case 'fqdn':
      return CapabilityCode.Fqdn;
    case 'role':
      return CapabilityCode.Role;
    case 'unknown':
      return cap.code;
  }
}

const utf8 = new TextEncoder();

/** Length of the capability value (without the 2-octet code/length header). */
export function capabilityValueLength(cap: Capability): number {
  switch (cap.kind) {
    case 'multiprotocol':
    case 'four-octet-as':
      return 4;
    case 'route-refresh':
    case 'extended-message':
    case 'enhanced-route-refresh':
      return 0;
    case 'extended-next-hop':
      return 6 * cap.entries.length;
    case 'graceful-restart':
      return 2 + 4 * cap.families.length;
    case 'add-path':
      return 4 * cap.families.length;
    case 'long-lived-graceful-restart':
      return 7 * cap.families.length;
    case 'fqdn':
      return 2 + utf8.encode(cap.hostname).length + utf8.encode(cap.domainName).length;
    case 'role':
      return 1;
    case 'unknown':
      return cap.data.length;
  }
}

function put16(buf: Uint8Array, p: number, v: number): void {
  buf[p] = v >>> 8;
  buf[p + 1] = v;
}

function writeValue(cap: Capability, buf: Uint8Array, p: number): number {
  switch (cap.kind) {
    case 'multiprotocol':
      put16(buf, p, cap.afi);
      buf[p + 2] = 0;
      buf[p + 3] = cap.safi;
      return p + 4;
    case 'four-octet-as':
      buf[p] = cap.asn >>> 24;
      buf[p + 1] = cap.asn >>> 16;
      buf[p + 2] = cap.asn >>> 8;
      buf[p + 3] = cap.asn;
      return p + 4;
    case 'route-refresh':
    case 'extended-message':
    case 'enhanced-route-refresh':
      return p;
    case 'extended-next-hop':
      for (const e of cap.entries) {
        put16(buf, p, e.afi);
        put16(buf, p + 2, e.safi);
        put16(buf, p + 4, e.nextHopAfi);
        p += 6;
      }
      return p;
    case 'graceful-restart':
      put16(
        buf,
        p,
        (cap.restartState ? 0x8000 : 0) | (cap.notification ? 0x4000 : 0) | (cap.restartTime & 0x0fff),
      );
      p += 2;
      for (const f of cap.families) {
        put16(buf, p, f.afi);
        buf[p + 2] = f.safi;
        buf[p + 3] = f.forwardingState ? 0x80 : 0;
        p += 4;
      }
      return p;
    case 'add-path':
      for (const f of cap.families) {
        put16(buf, p, f.afi);
        buf[p + 2] = f.safi;
        buf[p + 3] = f.mode;
        p += 4;
      }
      return p;
    case 'long-lived-graceful-restart':
      for (const f of cap.families) {
        put16(buf, p, f.afi);
        buf[p + 2] = f.safi;
        buf[p + 3] = f.forwardingState ? 0x80 : 0;
        buf[p + 4] = f.staleTime >>> 16;
        buf[p + 5] = f.staleTime >>> 8;
        buf[p + 6] = f.staleTime;
        p += 7;
      }
      return p;
    case 'fqdn': {
      const host = utf8.encode(cap.hostname);
      const domain = utf8.encode(cap.domainName);
      buf[p++] = host.length;
      buf.set(host, p);
      p += host.length;
      buf[p++] = domain.length;
      buf.set(domain, p);
      return p + domain.length;
    }
    case 'role':
      buf[p] = cap.role;
      return p + 1;
    case 'unknown':
      buf.set(cap.data, p);
      return p + cap.data.length;
  }
}

const utf8Decoder = new TextDecoder('utf-8');

/** Decodes one capability value buf[start, end) of the given code. */
export function decodeCapabilityValue(
  code: number,
  buf: Uint8Array,
  start: number,
  end: number,
): DecodeResult<Capability> {
  const len = end - start;
  const u16 = (p: number): number => (buf[p]! << 8) | buf[p + 1]!;
  const ok = (value: Capability): DecodeResult<Capability> => ({ ok: true, value });
  switch (code) {
    case CapabilityCode.Multiprotocol:
      if (len !== 4) return openError(`multiprotocol capability length ${len}, expected 4`);
      return ok({ kind: 'multiprotocol', afi: u16(start), safi: buf[start + 3]! });
    case CapabilityCode.RouteRefresh:
      if (len !== 0) return openError(`route-refresh capability length ${len}, expected 0`);
      return ok({ kind: 'route-refresh' });
    case CapabilityCode.ExtendedMessage:
      if (len !== 0) return openError(`extended-message capability length ${len}, expected 0`);
      return ok({ kind: 'extended-message' });
    case CapabilityCode.EnhancedRouteRefresh:
      if (len !== 0) return openError(`enhanced-route-refresh capability length ${len}, expected 0`);
      return ok({ kind: 'enhanced-route-refresh' });
    case CapabilityCode.FourOctetAs:
      if (len !== 4) return openError(`four-octet-as capability length ${len}, expected 4`);
      return ok({
        kind: 'four-octet-as',
        asn: ((buf[start]! << 24) | (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!) >>> 0,
      });
    case CapabilityCode.Role:
      if (len !== 1) return openError(`BGP role capability length ${len}, expected 1`);
      return ok({ kind: 'role', role: buf[start]! });
    case CapabilityCode.ExtendedNextHop: {
      if (len % 6 !== 0)
        return openError(`extended-next-hop capability length ${len} is not a multiple of 6`);
      const entries: { afi: number; safi: number; nextHopAfi: number }[] = [];
      for (let p = start; p < end; p += 6)
        entries.push({ afi: u16(p), safi: u16(p + 2), nextHopAfi: u16(p + 4) });
      return ok({ kind: 'extended-next-hop', entries });
    }
    case CapabilityCode.GracefulRestart: {
      if (len < 2 || (len - 2) % 4 !== 0)
        return openError(`graceful-restart capability length ${len} is malformed`);
      const head = u16(start);
      const families: { afi: number; safi: number; forwardingState: boolean }[] = [];
      for (let p = start + 2; p < end; p += 4) {
        families.push({ afi: u16(p), safi: buf[p + 2]!, forwardingState: (buf[p + 3]! & 0x80) !== 0 });
      }
      return ok({
        kind: 'graceful-restart',
        restartState: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0x0fff,
        families,
      });
    }
    case CapabilityCode.AddPath: {
      if (len % 4 !== 0) return openError(`add-path capability length ${len} is not a multiple of 4`);
      const families: { afi: number; safi: number; mode: number }[] = [];
      for (let p = start; p < end; p += 4)
        families.push({ afi: u16(p), safi: buf[p + 2]!, mode: buf[p + 3]! });
      return ok({ kind: 'add-path', families });
    }
    case CapabilityCode.LongLivedGracefulRestart: {
      if (len % 7 !== 0)
        return openError(`long-lived-graceful-restart capability length ${len} is not a multiple of 7`);
      const families: { afi: number; safi: number; forwardingState: boolean; staleTime: number }[] = [];
      for (let p = start; p < end; p += 7) {
        families.push({
          afi: u16(p),
          safi: buf[p + 2]!,
          forwardingState: (buf[p + 3]! & 0x80) !== 0,
          staleTime: (buf[p + 4]! << 16) | (buf[p + 5]! << 8) | buf[p + 6]!,
        });
      }
      return ok({ kind: 'long-lived-graceful-restart', families });
    }
    case CapabilityCode.Fqdn: {
      if (len < 1) return openError('FQDN capability is empty');
      const hl = buf[start]!;
      if (start + 1 + hl + 1 > end) return openError('FQDN capability hostname overruns the capability');
      const dl = buf[start + 1 + hl]!;
      if (start + 2 + hl + dl > end) return openError('FQDN capability domain name overruns the capability');
      // Hostnames are ASCII in practice; decode as UTF-8 (invalid sequences become U+FFFD, never an error)
      return ok({
        kind: 'fqdn',
        hostname: utf8Decoder.decode(buf.subarray(start + 1, start + 1 + hl)),
        domainName: utf8Decoder.decode(buf.subarray(start + 2 + hl, start + 2 + hl + dl)),
      });
    }
    default:
      return ok({ kind: 'unknown', code, data: copyBytes(buf, start, end) });
  }
}

/**
 * Decodes a sequence of capabilities (the value of a Capabilities optional parameter, RFC 5492 §4)
 * and appends them to out. Returns null or the error.
 */
export function decodeCapabilities(
  buf: Uint8Array,
  start: number,
  end: number,
  out: Capability[],
): DecodeResult<Capability> | null {
  let p = start;
  while (p < end) {
    if (p + 2 > end) return openError('capability header truncated');
    const code = buf[p]!;
    const len = buf[p + 1]!;
    if (p + 2 + len > end)
      return openError(`capability ${code} length ${len} overruns the optional parameter`);
    const r = decodeCapabilityValue(code, buf, p + 2, p + 2 + len);
    if (!r.ok) return r;
    out.push(r.value);
    p += 2 + len;
  }
  return null;
}

/** Codec of one capability TLV (code, length, value). */
export const capabilityCodec: Codec<Capability> = {
  encodingLength: (cap) => 2 + capabilityValueLength(cap),
  encode(cap, _opts, buf, offset) {
    const len = capabilityValueLength(cap);
    if (len > 255)
      throw new RangeError(`capability ${capabilityCode(cap)} value of ${len} octets exceeds 255`);
    buf[offset] = capabilityCode(cap);
    buf[offset + 1] = len;
    return writeValue(cap, buf, offset + 2) - offset;
  },
  decode(buf, start, end) {
    if (end - start < 2) return openError('capability header truncated');
    const code = buf[start]!;
    const len = buf[start + 1]!;
    if (start + 2 + len !== end)
      return openError(`capability ${code} length ${len} does not match ${end - start - 2} octets`);
    return decodeCapabilityValue(code, buf, start + 2, end);
  },
};
