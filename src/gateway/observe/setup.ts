// Builds the gateway's observer from the config: the metrics (always), the tracer (only with an OTLP
// endpoint; its module, and OpenTelemetry with it, is imported only then) and the access log.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ObservabilityConfig } from '../../config/observability.ts';
import { GatewayMetrics, type MetricsSources } from './metrics.ts';
import { GatewayObserver, SURFACE_LABELS } from './observer.ts';

export interface ObserverSources {
  usageBacklog(): number;
  usageRefused(): number;
  balances(): Iterable<{ accountId: string; balancePico: bigint }>;
  /** Provider keys cooling after a rate limit (key-cooldown.ts); absent: none. */
  keysCooling?(): number;
  /** 1 while the gateway's LISTEN session hears nothing (GatewayState.listenDeaf); absent: 0. */
  listenDeaf?(): number;
}

export async function createGatewayObserver(config: ObservabilityConfig, registry: Registry, logger: Logger, sources: ObserverSources, serviceVersion: string): Promise<GatewayObserver> {
  // The observer owns in-flight and open-stream counts; the gauges read them through this indirection.
  let observer: GatewayObserver | undefined;
  const metricSources: MetricsSources = {
    inFlight: () => observer?.inFlight ?? 0,
    openStreams: () => observer?.openStreams ?? 0,
    usageBacklog: sources.usageBacklog,
    usageRefused: sources.usageRefused,
    balances: sources.balances,
    keysCooling: sources.keysCooling ?? (() => 0),
    listenDeaf: sources.listenDeaf ?? (() => 0),
  };
  const metrics = new GatewayMetrics(registry, { accessKeyLabel: config.metricsAccessKeyLabel, maxBalanceAccounts: config.metricsBalanceAccounts }, metricSources, SURFACE_LABELS);
  let tracer;
  if (config.otlpTracesUrl) {
    const { RequestTracer } = await import('./tracing.ts');
    tracer = new RequestTracer({ url: config.otlpTracesUrl, serviceName: config.serviceName, serviceVersion });
    logger.info({ url: loggableUrl(config.otlpTracesUrl) }, 'OpenTelemetry traces exported over OTLP/HTTP');
  }
  observer = new GatewayObserver({
    metrics, tracer, logger, accessLog: config.accessLog, logBodies: config.logBodies, metricsOnGateway: config.metricsOnGateway, metricsToken: config.metricsToken,
  });
  return observer;
}

/**
 * Where traces go, for the log: scheme, host and path only. A collector's credentials may sit in the endpoint itself
 * (`https://user:token@…`, which the exporter sends as Basic auth, or a `?api-key=` in the query): never logged.
 */
export function loggableUrl(text: string): string {
  const url = URL.parse(text);
  if (!url) return '(not a URL)';
  return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
}
