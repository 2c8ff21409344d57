// MRT (RFC 6396 / RFC 8050) routing-information export format: streaming reader.
export * from './reader.ts';
