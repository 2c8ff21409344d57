#!/usr/bin/env node
// Entry point. The sources are TypeScript run through tsx's loader, so a checkout
// runs without a build step; `npm run build` still type-checks and emits dist/.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
