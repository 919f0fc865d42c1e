#!/usr/bin/env node
// Entry point for `npx tollgate …`; the CLI itself is TypeScript run directly by Node ≥ 24. A plain `node`
// shebang (BusyBox `env` has no -S): `scripts/run.sh` and `npm start` add the V8 flags of src/config/runtime-flags.ts,
// and `NODE_OPTIONS=--max-semi-space-size=4 npx tollgate start` does the same here.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`tollgate needs Node.js 24 or newer (this is ${process.versions.node}); run "bash scripts/run.sh" to bootstrap it.`);
  process.exit(1);
}
await import('../src/cli/main.ts');
