/** A recording fake of `fetch` for unit tests: no sockets, replies decided per call by the test. */

export interface RecordedCall {
  url: string;
  method: string;
  headers: Headers;
  body: unknown;
  duplex: unknown;
  signal: AbortSignal | undefined;
}

export type Reply = Response | ((call: RecordedCall) => Response | Promise<Response>);

export interface FakeFetch {
  fetch: typeof fetch;
  calls: RecordedCall[];
  /** Queue replies for the next calls, in order. When the queue is empty, `fallback` answers. */
  reply(...replies: Reply[]): void;
}

export function createFakeFetch(fallback?: Reply): FakeFetch {
  const queue: Reply[] = [];
  const calls: RecordedCall[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const call: RecordedCall = {
      url: String(input),
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: init.body,
      duplex: (init as { duplex?: unknown }).duplex,
      signal: init.signal ?? undefined,
    };
    calls.push(call);
    const next = queue.shift() ?? fallback;
    if (next === undefined) throw new Error(`unexpected fetch ${call.method} ${call.url}`);
    return typeof next === 'function' ? next(call) : next;
  };
  return { fetch: fetchImpl as typeof fetch, calls, reply: (...replies) => queue.push(...replies) };
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function rawJson(text: string, status = 200): Response {
  return new Response(text, { status, headers: { 'content-type': 'application/json' } });
}

/** A fetch reply that never settles unless the request signal aborts (like real fetch). */
export function hang(call: RecordedCall): Promise<Response> {
  return new Promise((_, reject) => {
    call.signal?.addEventListener('abort', () => reject(call.signal?.reason), { once: true });
  });
}
