// Public API of route reflection (RFC 4456).
export * from './reflector.ts';
