// The V8 flags a Tollgate server process starts with. They cannot be set from inside a running process (the heap
// is configured when the isolate is created), so the launchers pass them: `scripts/run.sh`, `npm start` and the
// benchmark's Tollgate (test/runtime-flags.test.ts keeps them in step). `bin/tollgate.js` keeps a plain `node`
// shebang, since BusyBox's `env` (Alpine images) has no -S; with npx, set NODE_OPTIONS (docs/operations.md).
//
// --max-semi-space-size=4: V8 lets the young generation grow to 16 MB semi-spaces and, on a server that allocated a
// lot while starting (schemas compiled, contract parsed), never gives it back. Capped at 4 MB: idle RSS 157 → 137 MB
// and 1,000 concurrent slow streams 243 → 177 MB (npm run bench -- --soak, 2026-12-02), with no CPU difference
// per request measurable against the bare proxy in the same minute (requests are short-lived: a scavenge copies
// only the few in flight).
export const V8_FLAGS = ['--max-semi-space-size=4'] as const;
