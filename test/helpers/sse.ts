/** A reader for `text/event-stream` response bodies (GraphQL over SSE, distinct connections mode). */

/**
 * Each call resolves with the next `next` event's data parsed as JSON, `'complete'` at the complete event, and
 * `'eof'` once the body has ended. Events without data (keep-alives) are skipped.
 */
export function readSseEvents<T = unknown>(body: ReadableStream<Uint8Array>): () => Promise<T | 'complete' | 'eof'> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async function next() {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (/^event: complete/m.test(block)) return 'complete';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) return JSON.parse(data) as T;
        continue;
      }
      const chunk = await reader.read();
      if (chunk.done) return 'eof';
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
}
