// MCP's Streamable HTTP transport: one JSON-RPC message (domain/json-rpc.ts) per POST, answered as JSON or as a
// stream of server-sent events whose `data` are messages.

/**
 * Splits a server-sent event stream into its events' `data` (lines joined with `\n`), fed chunk by chunk. An event
 * larger than `maxEvent` characters is skipped whole: what reads it only looks for the final answer's outcome. Not
 * eventsource-parser (translate/composed.ts): it holds an event whatever its size, and MCP servers are the tenants'.
 */
export class EventData {
  #buffer = '';
  #data: string[] = [];
  #size = 0;
  #skipping = false;

  readonly #maxEvent: number;

  constructor(maxEvent = 1 << 20) {
    this.#maxEvent = maxEvent;
  }

  push(chunk: string, onData: (data: string) => void): void {
    const text = this.#buffer + chunk;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      let line = text.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.#data.length > 0 && !this.#skipping) onData(this.#data.join('\n'));
        this.#data = [];
        this.#size = 0;
        this.#skipping = false;
        continue;
      }
      if (!line.startsWith('data:') || this.#skipping) continue;
      const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
      this.#size += value.length;
      if (this.#size > this.#maxEvent) {
        this.#skipping = true;
        this.#data = [];
        continue;
      }
      this.#data.push(value);
    }
    this.#buffer = text.slice(start);
    if (this.#buffer.length > this.#maxEvent) {
      this.#buffer = '';
      this.#skipping = true;
    }
  }
}
