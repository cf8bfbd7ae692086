/**
 * The distributed {@link PubSub}: `@graphql-yoga/redis-event-target` over two ioredis connections (a subscriber
 * connection can do nothing else), passed as `eventTarget` to {@link createPubSub}. A webhook applied on instance
 * A then reaches subscribers on instance B. A publish goes through Redis even for local listeners, so every
 * listener gets each event once.
 *
 * Redis pub/sub is at-most-once (an instance that is reconnecting misses events): events stay hints, the task
 * registry stays the truth. Payloads travel as JSON, so they must be plain JSON (TaskRecord is).
 *
 * Across a Redis outage: the subscriber connection re-subscribes its channels on reconnect (ioredis
 * `autoResubscribe`), and SUBSCRIBEs issued meanwhile wait for it however long the outage lasts; publishes issued
 * meanwhile wait in the publisher's offline queue for up to 20 reconnects (ioredis' default), then are dropped and
 * logged. Subscribers learn what they missed from a registry re-read as soon as the subscriber connection is back
 * (`resync`), not at their next periodic one.
 */
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { closeRedis } from '../redis/close.js';
import { createPubSub, type EventTargetLike, type PubSub } from './index.js';

export interface RedisPubSubOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  url: string;
  /** Prepended to every channel, so deployments sharing one Redis never hear each other. Default `frames:`. */
  channelPrefix?: string;
  /** Per-subscription buffer (see {@link createPubSub}). */
  bufferSize?: number;
  /** Connection errors and failed publishes are logged here (they never throw into request handling). */
  logger?: Logger;
  /** Extra ioredis options for both connections; `connectionName` gets `-publish` / `-subscribe` appended. */
  redisOptions?: RedisOptions;
}

export interface RedisPubSub extends PubSub {
  /**
   * Resolves once both connections are ready (rejects if either fails first). Await it before serving: until the
   * subscriber connection is up, a SUBSCRIBE waits in ioredis' offline queue, and an event published meanwhile is
   * missed by a subscriber that already read the registry.
   */
  ready(): Promise<void>;
  /** 'ok' while both connections are ready, else which one is not (for `/readyz`). */
  health(): string;
}

/** Creates the Redis-backed PubSub; `dispose()` ends every subscription, then quits both connections. */
export function createRedisPubSub(options: RedisPubSubOptions): RedisPubSub {
  const prefix = options.channelPrefix ?? 'frames:';
  const logger = options.logger;
  const name = options.redisOptions?.connectionName ?? 'frames-pubsub';
  const publisher = new Redis(options.url, { ...options.redisOptions, connectionName: `${name}-publish` });
  // A SUBSCRIBE dropped after 20 reconnects would leave its listener deaf for good (the event target subscribes a
  // channel once): let it wait for the connection however long that takes.
  const subscriber = new Redis(options.url, { maxRetriesPerRequest: null, ...options.redisOptions, connectionName: `${name}-subscribe` });
  for (const [role, client] of [['publish', publisher], ['subscribe', subscriber]] as const) {
    watchConnection(client, `pubsub-${role}`, logger);
  }
  const report = (action: string, channel: string) => (error: unknown) => {
    logger?.error('redis pubsub command failed', { action, channel, error });
  };

  // The event target fires and forgets publish/subscribe/unsubscribe; these adapters catch their rejections
  // (an unhandled rejection would take the process down while Redis is away) and add the channel prefix.
  const publishClient = {
    publish: (channel: string, message: string) => publisher.publish(prefix + channel, message).catch(report('publish', channel)),
  };
  const subscribeClient = {
    on(event: 'message', listener: (channel: string, message: string) => void) {
      subscriber.on(event, (channel: string, message: string) => {
        if (channel.startsWith(prefix)) listener(channel.slice(prefix.length), message);
      });
      return subscribeClient;
    },
    subscribe: (channel: string) => subscriber.subscribe(prefix + channel).catch(report('subscribe', channel)),
    unsubscribe: (channel: string) => subscriber.unsubscribe(prefix + channel).catch(report('unsubscribe', channel)),
  };
  const eventTarget: EventTargetLike = createRedisEventTarget({
    // Only the methods above are used by the event target (publish / on('message') / subscribe / unsubscribe).
    publishClient: publishClient as unknown as Redis,
    subscribeClient: subscribeClient as unknown as Redis,
  }) as unknown as EventTargetLike;

  const pubsub = createPubSub({
    eventTarget,
    ...(options.bufferSize === undefined ? {} : { bufferSize: options.bufferSize }),
    onDispose: async () => {
      await Promise.all([closeRedis(publisher), closeRedis(subscriber)]);
    },
  });
  resyncAfterReconnect(subscriber, pubsub, logger);
  return {
    ...pubsub,
    ready: () => Promise.all([whenReady(publisher), whenReady(subscriber)]).then(() => undefined),
    health: () => {
      const down = Object.entries({ publish: publisher, subscribe: subscriber })
        .filter(([, client]) => client.status !== 'ready')
        .map(([role, client]) => `${role} connection ${client.status}`);
      return down.length === 0 ? 'ok' : `unavailable (${down.join(', ')})`;
    },
  };
}

/**
 * Once the subscriber connection is back after a loss, wakes every subscription to re-read the registry: what was
 * published during the gap never arrives. ioredis emits 'ready' a tick after it re-sent SUBSCRIBE for the old
 * channels, so a PING sent now is answered after them: a re-read after its reply cannot miss an event published
 * between the re-read and the re-subscription.
 */
function resyncAfterReconnect(subscriber: Redis, pubsub: PubSub, logger: Logger | undefined): void {
  let everReady = subscriber.status === 'ready';
  subscriber.on('ready', () => {
    if (!everReady) {
      everReady = true;
      return;
    }
    subscriber.ping().then(
      () => pubsub.resync(),
      (error: unknown) => logger?.debug('pubsub resync ping failed (the next reconnect resyncs)', { error }),
    );
  });
}

/**
 * Logs a connection's losses and recoveries once each, and its errors once per distinct message (repeats at
 * debug), under `role`. Operators see when Redis went away and came back; tests await these lines.
 */
export function watchConnection(client: Redis, role: string, logger: Logger | undefined): void {
  let everReady = false;
  let up = false;
  let lastError = '';
  client.on('error', (error: unknown) => {
    // Every reconnect attempt of a long outage fails the same way: warn once per distinct error, not every 2 s.
    const message = error instanceof Error ? error.message : String(error);
    if (message === lastError) logger?.debug('redis connection error', { role, error });
    else logger?.warn('redis connection error', { role, error });
    lastError = message;
  });
  client.on('ready', () => {
    logger?.info(everReady ? 'redis connection restored' : 'redis connection ready', { role });
    everReady = true;
    up = true;
    lastError = '';
  });
  client.on('close', () => {
    // By the time 'close' is emitted, a deliberate quit has already moved the status to 'end'.
    if (up && client.status !== 'end') logger?.warn('redis connection lost', { role });
    up = false;
  });
}

/**
 * Resolves once `client` is ready; rejects on its first error or if it ends first. For start-up, where a Redis
 * that is not there yet should fail the start rather than be waited for.
 */
export function whenReady(client: Redis): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      client.off('error', onError);
      client.off('end', onEnd);
      resolve();
    };
    const onError = (error: unknown): void => {
      client.off('ready', onReady);
      client.off('end', onEnd);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const onEnd = (): void => onError(new Error('redis connection closed before it was ready'));
    client.once('ready', onReady);
    client.once('error', onError);
    client.once('end', onEnd);
  });
}
