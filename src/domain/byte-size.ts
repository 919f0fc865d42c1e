// A byte limit as ngrok's error pages write one ("Max 32 MiB.", "Max 16 MiB."): in the largest binary unit it is a
// whole number of, so a configured limit reads exactly and a default one reads as ngrok's would.
const UNITS = [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const;

export function byteSize(bytes: number): string {
  for (const [unit, size] of UNITS) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
