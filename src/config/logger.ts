// Structured JSON logs (pino), written asynchronously. Secrets are redacted by path as a second line of
// defence: the code never logs a token or a provider-key value on purpose.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'token', '*.token', 'value', '*.value', 'apiKey', '*.apiKey', 'authorization', '*.authorization',
  'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]',
  'secret', '*.secret', 'sealedValue', '*.sealedValue',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'tollgate' } };
  if (destination) return pino(options, destination as pino.DestinationStream);
  // Batched writes (one syscall per ~8 KB of lines under load), flushed at least every second so a quiet
  // gateway's lines — warnings above all — never wait in memory for the buffer to fill.
  const batched = pino.destination({ sync: false, minLength: 8 * 1024 });
  setInterval(flushQuietly, 1000, batched).unref();
  return pino(options, batched);
}

function flushQuietly(destination: ReturnType<typeof pino.destination>): void {
  try {
    destination.flush();
  } catch {
    // Not open yet, or closed at exit: the next tick or pino's exit handler writes what is left.
  }
}
