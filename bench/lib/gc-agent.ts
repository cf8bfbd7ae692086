/**
 * Preloaded into a benchmarked gateway process (`--import`, after tsx, with `--expose-gc`): answers the parent's
 * `{ type: 'memory' }` IPC message with the process' memory after two full collections, so RSS deltas measure
 * live data, not garbage waiting for a collection, and `{ type: 'heap-snapshot', file }` by writing a V8 heap
 * snapshot there (bench:subscriber-memory compares two). It changes nothing in the gateway itself.
 */
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

/** What the agent answers to `{ type: 'memory' }` (the parent strips `type`). */
export interface GatewayMemory {
  rss: number;
  heapUsed: number;
  /** V8 heap committed (used + free space V8 keeps), and memory of C++ objects tied to JS ones (Buffers among them). */
  heapTotal: number;
  external: number;
  /** Bytes committed per V8 heap space (`new_space`, `old_space`, ...): the young generation grows under load. */
  spaces: Record<string, number>;
  /** False when the process was started without --expose-gc (figures then include garbage). */
  gc: boolean;
}
type MemoryReply = GatewayMemory & { type: 'memory' };

const collect = (globalThis as { gc?: () => void }).gc;

process.on('message', (message: unknown) => {
  const request = message as { type?: unknown; file?: unknown } | null;
  if (request?.type === 'heap-snapshot' && typeof request.file === 'string') {
    // A snapshot only holds what is reachable: no collection needed first.
    process.send?.({ type: 'heap-snapshot', file: writeHeapSnapshot(request.file) });
    return;
  }
  if (request?.type !== 'memory') return;
  collect?.();
  collect?.();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
  const reply: MemoryReply = { type: 'memory', rss, heapUsed, heapTotal, external, spaces, gc: !!collect };
  process.send?.(reply);
});
// The IPC channel must not keep a gateway alive that is otherwise shutting down.
process.channel?.unref();
