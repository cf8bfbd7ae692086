/**
 * The upload request is sent without a replay copy. Node's fetch can only follow a 307 with a body because it kept a
 * tee'd copy of that body, and that unread copy held the whole file in memory until the upload ended. So if the
 * copy is gone, a 307 answer fails the upload and the redirect target never receives anything (the body and key are
 * never sent to it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createUpstreamClient } from '../../src/upstream/client.js';
import { createScheduler } from '../../src/upstream/rate-limit.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

it('fails an upload answered with a redirect instead of replaying the file to the new location', async () => {
  const elsewhere: string[] = [];
  const target = await serve((req, res) => {
    elsewhere.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":200,"msg":"success","data":{"asset_id":"re_1"}}');
  });
  const upstream = await serve((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(307, { location: `${target}/upload` }).end());
  });
  const scheduler = createScheduler({ rps: 1000 });
  const client = createUpstreamClient({ baseUrl: upstream, apiKey: 'sk-mavi-test', scheduler, timeoutMs: 5000 });

  const error = await client.upload({ body: new Blob(['video-bytes']), filename: 'clip.mp4', contentType: 'video/mp4' }).catch((e: unknown) => e);
  scheduler.dispose();
  expect(error).toMatchObject({ name: 'UpstreamError', kind: 'UPSTREAM_ERROR' });
  expect(elsewhere).toEqual([]);
});
