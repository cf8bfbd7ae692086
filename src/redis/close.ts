/**
 * Closing an ioredis connection, one way for every connection the gateway opens (registry, pub/sub). Below
 * `jobs/` and `pubsub/` (it imports nothing from `src/`), so both can use it and imports still go down.
 */
import type { Redis } from 'ioredis';

/**
 * QUIT when the connection is up, so replies still in flight arrive first; a connection that is down is dropped at
 * once (QUIT would wait in the offline queue behind what it holds, or fail at once without one), and a QUIT that
 * fails (or times out on a silent link) drops it too. Never rejects.
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
