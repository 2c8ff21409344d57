// Decoded path attributes carry every field, undefined where the attribute is absent (see
// decodedAttributes in ../attributes.ts), while a test's expected value lists only the present
// ones. Both mean the same set of attributes; this drops the undefined fields before comparing.

/** A deep copy of plain objects and arrays without undefined-valued fields; other values as they are. */
export function presentFields<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => presentFields(v)) as T;
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype)
    return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = presentFields(v);
  return out as T;
}
