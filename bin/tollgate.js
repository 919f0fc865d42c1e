#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point for `npx tollgate …`; the CLI itself is TypeScript run directly by Node ≥ 24. The shebang's V8
// flags: src/config/runtime-flags.ts.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(`tollgate needs Node.js 24 or newer (this is ${process.versions.node}); run "bash scripts/run.sh" to bootstrap it.`);
  process.exit(1);
}
await import('../src/cli/main.ts');
