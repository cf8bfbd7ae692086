/**
 * Preloaded into a benchmarked gateway process (`--import`, after tsx, with `--expose-gc`): answers the parent's
 * `{ type: 'memory' }` IPC message with the process' memory after two full collections, so RSS deltas measure
 * live data, not garbage waiting for a collection. It changes nothing in the gateway itself.
 */
interface MemoryReply {
  type: 'memory';
  rss: number;
  heapUsed: number;
  gc: boolean;
}

const collect = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: unknown) => {
  if ((message as { type?: unknown } | null)?.type !== 'memory') return;
  collect?.();
  collect?.();
  const reply: MemoryReply = { type: 'memory', rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed, gc: !!collect };
  process.send?.(reply);
});
// The IPC channel must not keep a gateway alive that is otherwise shutting down.
process.channel?.unref();
