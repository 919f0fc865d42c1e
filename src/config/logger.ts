// Structured JSON logs (pino), batched in memory and written in large writes. Secrets are redacted by path as a second line of
// defence: the code never logs a token or a provider-key value on purpose.
import pino, { type Logger } from 'pino';
import { BatchedLogDestination } from './log-destination.ts';

export const REDACT_PATHS = [
  'token', '*.token', 'value', '*.value', 'apiKey', '*.apiKey', 'authorization', '*.authorization',
  'headers.authorization', 'headers["x-api-key"]', 'req.headers.authorization', 'req.headers["x-api-key"]',
  'secret', '*.secret', 'sealedValue', '*.sealedValue',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'tollgate' } };
  if (destination) return pino(options, destination as pino.DestinationStream);
  // Batched synchronous writes to stdout (log-destination.ts): a write per 64 KB of lines, at least every second.
  return pino(options, new BatchedLogDestination(1));
}
