/**
 * The distributed {@link PubSub}: `@graphql-yoga/redis-event-target` over two ioredis connections (a subscriber
 * connection can do nothing else), passed as `eventTarget` to {@link createPubSub}. A webhook applied on instance
 * A then reaches subscribers on instance B. A publish goes through Redis even for local listeners, so every
 * listener gets each event once.
 *
 * Redis pub/sub is at-most-once (an instance that is reconnecting misses events): events stay hints, the task
 * registry stays the truth. Payloads travel as JSON, so they must be plain JSON (TaskRecord is).
 */
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
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
}

/** Creates the Redis-backed PubSub; `dispose()` ends every subscription, then quits both connections. */
export function createRedisPubSub(options: RedisPubSubOptions): RedisPubSub {
  const prefix = options.channelPrefix ?? 'frames:';
  const logger = options.logger;
  const name = options.redisOptions?.connectionName ?? 'frames-pubsub';
  const publisher = new Redis(options.url, { ...options.redisOptions, connectionName: `${name}-publish` });
  const subscriber = new Redis(options.url, { ...options.redisOptions, connectionName: `${name}-subscribe` });
  for (const [role, client] of [['publish', publisher], ['subscribe', subscriber]] as const) {
    client.on('error', (error: unknown) => logger?.warn('redis pubsub connection error', { role, error }));
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
      await Promise.all([close(publisher), close(subscriber)]);
    },
  });
  return { ...pubsub, ready: () => Promise.all([whenReady(publisher), whenReady(subscriber)]).then(() => undefined) };
}

function whenReady(client: Redis): Promise<void> {
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

async function close(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
