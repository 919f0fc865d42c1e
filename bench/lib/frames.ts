// Naming the code a V8 profile's frame belongs to, shared by the CPU profile summary (bench/profile.ts) and the
// allocation measurement (bench/alloc.ts): a file of the checkout at `root`, an npm package, node's own, or V8's.
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export function frameSource(url: string, root: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm ${pkg[1]}`;
  return path.startsWith(root) ? relative(root, path) : path;
}
