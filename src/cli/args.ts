// Shared by every command's flag parsing.

/**
 * `--cents -5` as `--cents=-5`. node's parseArgs refuses a value starting with a dash as "ambiguous", in three lines
 * that advise typing `--cents=-5` — which the command then refuses anyway. Joined, the value reaches the flag's own
 * check, which refuses it in one line naming the flag, the value and the range (no flag here takes a negative
 * number). Only a number is joined: `--name --database-url x` is a forgotten value, and stays refused as one.
 */
export function joinNegativeNumbers(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg.startsWith('--') && arg.length > 2 && !arg.includes('=') && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}
