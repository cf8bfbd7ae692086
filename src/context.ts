/**
 * The GraphQL context: request-scoped loaders on top of process-wide services. `createContextFactory` builds a
 * fresh set of DataLoaders for every operation (and every subscription), never sharing them across callers.
 */
import { createLoaders, type Loaders } from './loaders/index.js';
import type { MetadataCache } from './loaders/metadata-cache.js';
import type { OwnershipStore } from './jobs/ownership.js';
import type { TaskService } from './jobs/tasks.js';
import type { PubSub } from './pubsub/index.js';
import type { UpstreamClient } from './upstream/client.js';
import type { Logger } from './logger.js';
import type { ImportLimits } from './ingest/import-video.js';
import type { UploadLimiter } from './ingest/upload-limiter.js';
import type { Quotas } from './jobs/quota.js';
import type { ImageSize, MediaVariant } from './media/variants.js';
import { LOCAL_CALLER, type Caller } from './tenancy.js';

/** Services shared by every operation. */
export interface Services {
  client: UpstreamClient;
  metadata: MetadataCache;
  tasks: TaskService;
  /** Who owns which asset, task and collection (checked for authenticated callers; the tenant lists). */
  ownership: OwnershipStore;
  pubsub: PubSub;
  logger: Logger;
  /** Signed gateway URL for a media id (`re_`, `im_`, `imc_`), or for a variant of it (rendition, sprite, preview). */
  mediaUrl: (id: string, variant?: MediaVariant | null) => string;
  /** Pixel size of a frame, from its cached original (costs its collection's one zip download on a miss). */
  mediaFrameSize: (frameId: string) => Promise<ImageSize>;
  /** How often a task subscription re-reads the registry in case an event was lost. */
  subscriptionRecheckMs: number;
  /** How long a task subscription stays open after TIMED_OUT for a late SUCCEEDED/FAILED (0 = completes at once). */
  lateResultGraceSeconds: number;
  /** The registry's clock (epoch ms): task timestamps such as `completedAt` are on it. */
  now: () => number;
  /** Fetches a remote video for `importVideo` (size cap, timeout, content-type check). */
  importLimits: ImportLimits;
  /** Slots shared by uploadVideo and importVideo (UPLOAD_CONCURRENCY); waiters fail fast past UPSTREAM_MAX_WAIT_MS. */
  uploads: UploadLimiter;
  /** Per-tenant hourly budgets of billed work (the client charges them; resolvers may refuse early). */
  quotas: Quotas;
  /** Drops this instance's cached media of an id deleted upstream (a collection's zip and frames with it). */
  evictMedia: (id: string) => Promise<void>;
}

export interface Context extends Services {
  loaders: Loaders;
  /** Who runs this operation: the authenticated tenant, or the local tenant when auth is off. */
  caller: Caller;
}

export function createContextFactory(services: Services): (caller?: Caller) => Context {
  return (caller = LOCAL_CALLER) => ({ ...services, loaders: createLoaders(services.metadata), caller });
}
