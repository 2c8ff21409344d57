// Public API of the policy engine: configuration types, compilation, cached import/export
// filters (RFC 8212, well-known communities), max-prefix.
export * from './communities.ts';
export * from './compile.ts';
export type * from './config.ts';
export * from './filters.ts';
export * from './max-prefix.ts';
