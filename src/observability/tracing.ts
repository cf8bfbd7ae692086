/**
 * OpenTelemetry traces. The SDK (`@opentelemetry/sdk-node`) starts only when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and is only loaded then (it costs ~20 MB RSS and ~250 ms at start-up).
 * Every other standard OTEL_* variable is read by the SDK itself: OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by
 * default, http/json, grpc), OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS, OTEL_BSP_*,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME (default here `frames-gateway`), OTEL_SDK_DISABLED, OTEL_LOG_LEVEL …
 *
 * Instrumentation is manual (the GraphQL plugin in http/graphql-tracing.ts, the upstream client, the webhook route):
 * nothing is monkey-patched, so the SDK need not be loaded before the other modules (no `node --import` hook, which
 * ESM would otherwise need) — starting it first thing in main(), before any request can arrive, is enough.
 */
import { context, diag, DiagLogLevel, propagation, trace, type DiagLogFunction, type ProxyTracerProvider } from '@opentelemetry/api';
import type { Logger } from '../logger.js';
import { setTracingEnabled } from './spans.js';

/** The running SDK. */
export interface Tracing {
  /** Exports every finished span now. */
  forceFlush(): Promise<void>;
  /** Flushes (waiting at most `SHUTDOWN_FLUSH_MS`) and unregisters the SDK. Idempotent. */
  shutdown(): Promise<void>;
}

export const DEFAULT_SERVICE_NAME = 'frames-gateway';
/** Shutdown gives pending spans this long to leave: a collector that is down must not hold the exit up. */
export const SHUTDOWN_FLUSH_MS = 2_000;

/** Whether `env` asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim() !== 'none';
}

/**
 * Starts the SDK when {@link tracingRequested}; undefined (nothing loaded, the API stays a no-op) otherwise. The SDK
 * reads `process.env` itself: `env` only decides whether it starts. Metrics and logs stay with Prometheus and stderr:
 * their OTLP exporters start only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
 */
export async function startTracing(options: { env: NodeJS.ProcessEnv; logger: Logger }): Promise<Tracing | undefined> {
  const { env, logger } = options;
  if (!tracingRequested(env)) return undefined;
  const [{ NodeSDK }, { defaultResource, resourceFromAttributes }, { W3CTraceContextPropagator }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  if (!env.OTEL_LOG_LEVEL) diag.setLogger(diagToLogger(logger), DiagLogLevel.WARN);
  const sdk = new NodeSDK({
    // Detected resources (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) are merged over this one, so they win.
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME })),
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
  });
  sdk.start();
  setTracingEnabled(new W3CTraceContextPropagator());
  logger.info('tracing: OpenTelemetry SDK started', {
    endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT,
    protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf',
  });

  let stopped: Promise<void> | undefined;
  return {
    forceFlush: async () => {
      const provider = trace.getTracerProvider() as Partial<ProxyTracerProvider>;
      const delegate = (provider.getDelegate?.() ?? provider) as { forceFlush?: () => Promise<void> };
      await delegate.forceFlush?.();
    },
    shutdown: () =>
      (stopped ??= (async () => {
        setTracingEnabled(null);
        const flushed = await settlesWithin(sdk.shutdown(), SHUTDOWN_FLUSH_MS);
        if (!flushed) logger.warn('tracing: spans still unexported at shutdown were dropped', { afterMs: SHUTDOWN_FLUSH_MS });
        // Unregistered, so a later start (tests) registers afresh instead of being refused as a duplicate.
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      })()),
  };
}

/** SDK complaints (an unreachable collector, a bad OTEL_* value) as warn lines on our log, unless OTEL_LOG_LEVEL is set. */
function diagToLogger(logger: Logger) {
  const forward =
    (level: 'warn' | 'debug'): DiagLogFunction =>
    (message, ...args) =>
      logger[level](`opentelemetry: ${message}`, args.length > 0 ? { detail: args.map(describe) } : undefined);
  return { error: forward('warn'), warn: forward('warn'), info: forward('debug'), debug: forward('debug'), verbose: forward('debug') };
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref();
    promise.then(
      () => resolve(true),
      () => resolve(true),
    ).finally(() => clearTimeout(timer));
  });
}
