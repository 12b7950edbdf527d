#!/usr/bin/env node
// The `webmtl` command of an installed package: runs the built CLI (npm run build makes it). From a
// clone, `npm run webmtl -- <command>` runs it from source instead.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/node/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('webmtl: dist/node/cli.js is missing; run `npm run build` (or `npm run webmtl -- ...` from a clone)\n');
  process.exit(1);
}
await import(cli);
