/**
 * The gateway's Prometheus metrics: one prom-client {@link Registry} per gateway (never the global one, so tests can
 * run several gateways in one process), the default process metrics, and every `frames_*` domain metric behind
 * typed handles. Lower layers never see prom-client: they get the plain callbacks of these handles through their
 * factories (`createUpstreamClient({ observer })`, `createTaskService({ onTransition })`, ...).
 *
 * Every label takes values from a closed list (never an id, a path or a client-chosen name), and every series of
 * those lists exists from the start at 0, so `rate()` and the dashboard see a series before its first event.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TaskStatus } from '../jobs/store.js';
import { UPSTREAM_ENDPOINTS, UPSTREAM_OUTCOMES, type UpstreamObserver } from '../upstream/observer.js';

export const TASK_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT'] as const satisfies readonly TaskStatus[];
/**
 * What the webhook route did with one delivery: the three results of applying it, `rejected` (refused: wrong
 * secret or method, too large, malformed), `spooled` (kept on disk while the registry is away) and `failed`
 * (answered 503: it could be neither applied nor spooled, a paid result the upstream will not redeliver).
 */
export const WEBHOOK_OUTCOMES = ['applied', 'duplicate', 'parked', 'rejected', 'spooled', 'failed'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];
/** A `/media` request (signature checked) served from the disk cache, through an upstream download, or not at all. */
export const MEDIA_RESULTS = ['hit', 'miss', 'error'] as const;
export type MediaResult = (typeof MEDIA_RESULTS)[number];
/** A metadata lookup answered by the shared cache, by a new upstream call, or by joining one in flight. */
export const METADATA_RESULTS = ['hit', 'miss', 'coalesced'] as const;
export type MetadataResult = (typeof METADATA_RESULTS)[number];
/** How a subscription reaches its client: graphql-ws, or yoga's SSE (the only streaming HTTP transport it serves). */
export const SUBSCRIPTION_TRANSPORTS = ['ws', 'sse'] as const;
export type SubscriptionTransport = (typeof SUBSCRIPTION_TRANSPORTS)[number];

/** Values read when Prometheus scrapes (cheap reads only). */
export interface ScrapeSources {
  /** PENDING tasks in the registry (one ZCARD with Redis). */
  tasksPending?: () => Promise<number>;
  /** Bytes of the media disk cache. */
  mediaCacheBytes?: () => number;
}

export interface MetricsOptions {
  /** Whether the task registry is shared (REDIS_URL): `frames_tasks_pending` is then cluster-wide. */
  sharedRegistry?: boolean;
  /** Process metrics (`process_*`, `nodejs_*`). Default true. */
  defaultMetrics?: boolean;
  /** How long a scrape waits for a source before reporting NaN. Default 1000 ms. */
  sourceTimeoutMs?: number;
}

/** Typed handles over one registry. */
export interface Metrics {
  readonly registry: Registry;
  readonly upstream: Required<UpstreamObserver>;
  readonly tasks: { transition(status: TaskStatus): void };
  readonly webhooks: { delivery(outcome: WebhookOutcome): void; published(seconds: number): void };
  readonly media: { request(result: MediaResult): void };
  readonly metadataCache: { lookup(result: MetadataResult): void };
  /** Counts one subscription as active; the returned function (idempotent) ends it. */
  readonly subscriptions: { opened(transport: SubscriptionTransport): () => void };
  /** The `graphql_envelop_*` series that both @graphql-yoga/plugin-prometheus and our subscription plugin feed. */
  readonly graphql: GraphQLOperationSeries;
  /** Sets the sources the scrape-time gauges read (once the services they read from exist). */
  readAtScrape(sources: ScrapeSources): void;
  /** The text exposition of every metric. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/**
 * The operation series of @envelop/prometheus, created here (names, help and labels as the plugin would, less the
 * client-chosen `operationName` and error `path`) so that http/metrics-route.ts can hand them to the plugin for
 * queries and mutations and feed subscriptions itself, from the one stream wrapper the subscription gauge already
 * needs: the plugin's own subscribe hooks wrap every stream in three more iterators for its whole life.
 */
export interface GraphQLOperationSeries {
  readonly requests: Counter<'operationType'>;
  readonly requestDuration: Histogram<'operationType'>;
  readonly subscribePhase: Histogram<'operationType'>;
  readonly errors: Counter<'operationType' | 'phase'>;
}

// Seconds. The upstream allows one call per second per account: waits of many seconds are normal under load.
const QUEUE_WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];
const PUBLISH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Creates a registry with every metric of the gateway. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  let sources: ScrapeSources = {};
  return {
    registry,
    upstream: upstreamMetrics(registers),
    tasks: taskMetrics(registers, () => sources, options),
    webhooks: webhookMetrics(registers),
    ...cacheMetrics(registers, () => sources),
    subscriptions: subscriptionMetrics(registers),
    graphql: graphqlOperationSeries(registers),
    readAtScrape(next) {
      sources = next;
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function upstreamMetrics(registers: Registry[]): Metrics['upstream'] {
  const requests = new Counter({
    name: 'frames_upstream_requests_total',
    help: 'HTTP exchanges with the upstream API by endpoint and outcome (each retry is one; a download counts when its body ends).',
    labelNames: ['endpoint', 'outcome'] as const,
    registers,
  });
  for (const endpoint of UPSTREAM_ENDPOINTS) for (const outcome of UPSTREAM_OUTCOMES) requests.inc({ endpoint, outcome }, 0);
  const downloadBytes = new Counter({
    name: 'frames_upstream_download_bytes_total',
    help: 'Body bytes received from upstream downloads (zips, frames, videos); the upstream bills per GB.',
    registers,
  });
  const queueWait = new Histogram({
    name: 'frames_upstream_queue_wait_seconds',
    help: 'Time an upstream call waited for its start slot (local queue, plus the shared Redis pacer with REDIS_URL).',
    buckets: QUEUE_WAIT_BUCKETS,
    registers,
  });
  const queueDepth = new Gauge({
    name: 'frames_upstream_queue_depth',
    help: 'Upstream calls on this instance waiting for their start slot.',
    registers,
  });
  return {
    exchange: (endpoint, outcome) => requests.inc({ endpoint, outcome }),
    downloadBytes: (bytes) => downloadBytes.inc(bytes),
    queueWait: (seconds) => queueWait.observe(seconds),
    queueDepth: (delta) => queueDepth.inc(delta),
  };
}

function taskMetrics(registers: Registry[], sources: () => ScrapeSources, options: MetricsOptions): Metrics['tasks'] {
  const transitions = new Counter({
    name: 'frames_tasks_total',
    help: 'Task state transitions made by this instance: PENDING at submit, then the terminal state it applied.',
    labelNames: ['status'] as const,
    registers,
  });
  for (const status of TASK_STATUSES) transitions.inc({ status }, 0);
  const timeoutMs = options.sourceTimeoutMs ?? 1000;
  new Gauge({
    name: 'frames_tasks_pending',
    help: options.sharedRegistry
      ? 'PENDING tasks in the shared Redis registry: cluster-wide, every instance reports the same value (use max, not sum). NaN when Redis cannot be read.'
      : "PENDING tasks in this instance's in-memory registry. NaN when it cannot be read.",
    registers,
    async collect() {
      const read = sources().tasksPending;
      if (read) this.set(await readOrNaN(read, timeoutMs));
    },
  });
  return { transition: (status) => transitions.inc({ status }) };
}

function webhookMetrics(registers: Registry[]): Metrics['webhooks'] {
  const deliveries = new Counter({
    name: 'frames_webhook_deliveries_total',
    help: 'Webhook deliveries received by this instance, by what was done with them.',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of WEBHOOK_OUTCOMES) deliveries.inc({ outcome }, 0);
  const callbackToPublish = new Histogram({
    name: 'frames_callback_to_publish_seconds',
    help: 'From a webhook request arriving to its task event being published (applied deliveries only).',
    buckets: PUBLISH_BUCKETS,
    registers,
  });
  return {
    delivery: (outcome) => deliveries.inc({ outcome }),
    published: (seconds) => callbackToPublish.observe(seconds),
  };
}

function cacheMetrics(registers: Registry[], sources: () => ScrapeSources): Pick<Metrics, 'media' | 'metadataCache'> {
  const media = new Counter({
    name: 'frames_media_requests_total',
    help: '/media requests with a valid signature: served from the disk cache (hit), through an upstream download (miss), or failed (error).',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of MEDIA_RESULTS) media.inc({ result }, 0);
  new Gauge({
    name: 'frames_media_cache_bytes',
    help: "Bytes of media (frames, zips, small videos) in this instance's disk cache.",
    registers,
    collect() {
      const read = sources().mediaCacheBytes;
      if (read) this.set(read());
    },
  });
  const metadata = new Counter({
    name: 'frames_metadata_cache_requests_total',
    help: 'Metadata lookups: answered by the shared cache (hit), by a new upstream call (miss), or by joining one in flight (coalesced).',
    labelNames: ['result'] as const,
    registers,
  });
  for (const result of METADATA_RESULTS) metadata.inc({ result }, 0);
  return {
    media: { request: (result) => media.inc({ result }) },
    metadataCache: { lookup: (result) => metadata.inc({ result }) },
  };
}

function subscriptionMetrics(registers: Registry[]): Metrics['subscriptions'] {
  const active = new Gauge({
    name: 'frames_subscriptions_active',
    help: 'GraphQL subscriptions open on this instance, by transport.',
    labelNames: ['transport'] as const,
    registers,
  });
  for (const transport of SUBSCRIPTION_TRANSPORTS) active.set({ transport }, 0);
  return {
    opened(transport) {
      active.inc({ transport });
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        active.dec({ transport });
      };
    },
  };
}

function graphqlOperationSeries(registers: Registry[]): GraphQLOperationSeries {
  const labelNames = ['operationType'] as const;
  return {
    requests: new Counter({ name: 'graphql_envelop_request', help: 'Counts the amount of GraphQL requests executed through Envelop', labelNames, registers }),
    requestDuration: new Histogram({
      name: 'graphql_envelop_request_duration',
      help: 'Time spent on running the GraphQL operation from parse to execute',
      labelNames,
      registers,
    }),
    subscribePhase: new Histogram({ name: 'graphql_envelop_phase_subscribe', help: 'Time spent on running the GraphQL "subscribe" function', labelNames, registers }),
    errors: new Counter({
      name: 'graphql_envelop_error_result',
      help: 'Counts the amount of errors reported from all phases',
      labelNames: ['operationType', 'phase'] as const,
      registers,
    }),
  };
}

/** The source's value, or NaN when it fails or takes longer than `timeoutMs` (a scrape must not hang on Redis). */
async function readOrNaN(read: () => Promise<number>, timeoutMs: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<number>((resolve) => {
    timer = setTimeout(() => resolve(Number.NaN), timeoutMs);
  });
  try {
    return await Promise.race([read().catch(() => Number.NaN), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
