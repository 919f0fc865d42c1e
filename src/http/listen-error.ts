// A server that cannot listen says which setting to change: Node's own message ("getaddrinfo ENOTFOUND x",
// "listen EADDRINUSE …") names neither the variable nor which of the two planes failed.

/** `error` from listen(), explained in terms of the host and port settings the operator gave (flag or variable). */
export function listenError(error: unknown, portSetting: string, hostSetting: string, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const original = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'EADDRINUSE':
      return new Error(`${portSetting} ${port} on ${host} is in use by another process (${original})`);
    case 'EACCES':
      return new Error(`${portSetting} ${port} on ${host}: permission denied (ports below 1024 need privileges) (${original})`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new Error(`${hostSetting} "${host}" does not resolve to an address (${original})`);
    case 'EADDRNOTAVAIL':
      return new Error(`${hostSetting} "${host}" is not an address of this machine (${original})`);
    default:
      return error instanceof Error ? error : new Error(original);
  }
}
