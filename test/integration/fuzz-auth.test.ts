/**
 * Property-based fuzzing (fast-check) of tokens, with auth on (AUTH_JWT_SECRET): random Authorization values,
 * JWT-shaped forgeries (alg none, made-up signatures) and real JWTs that must still fail (another key, expired, not
 * yet valid, no usable tenant). Over POST, GET and SSE each is HTTP 401 coded UNAUTHENTICATED; over graphql-ws the
 * socket closes with 4401. Never an upstream call, never a task. And a tenant with a valid token who obtained no id
 * through the gateway gets every id refused (well-formed ones too) without an upstream call. Seeded
 * (test/helpers/fuzz.ts).
 */
import fc from 'fast-check';
import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { forgedAuthorizationArbitrary, fuzzParams, ID_FIELDS, idArbitrary } from '../helpers/fuzz.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';

const JWT_SECRET = 'fuzz-auth-secret-0123456789abcdef-XYZ';
const key = (secret: string) => new TextEncoder().encode(secret);
const nowSeconds = () => Math.floor(Date.now() / 1000);

let fake: FakeUpstream;
let gw: TestGateway;
let assetId: string;

beforeAll(async () => {
  fake = await startFakeUpstream({ rps: 0 });
  gw = await startTestGateway({ upstreamUrl: fake.url, env: { AUTH_JWT_SECRET: JWT_SECRET, UPSTREAM_RPS: '1000' } });
  assetId = fake.addAsset({ filename: 'a.mp4' });
});

afterAll(async () => {
  await gw?.close();
  await fake?.close();
});

const sign = (claims: Record<string, unknown>, secret = JWT_SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key(secret));

/** Real, well-signed JWTs that must be refused all the same. */
const refusedJwtArbitrary: fc.Arbitrary<Promise<string>> = fc.oneof(
  // Signed with another key.
  fc
    .record({ tenant: fc.string({ minLength: 1 }), secret: fc.string({ minLength: 32, maxLength: 64 }) })
    .filter(({ secret }) => secret !== JWT_SECRET)
    .map(({ tenant, secret }) => sign({ tenant, exp: nowSeconds() + 600 }, secret)),
  // Expired, or not valid yet.
  fc.integer({ min: 1, max: 1e8 }).map((ago) => sign({ tenant: 'acme', exp: nowSeconds() - ago })),
  fc.integer({ min: 120, max: 1e8 }).map((ahead) => sign({ tenant: 'acme', nbf: nowSeconds() + ahead, exp: nowSeconds() + ahead + 60 })),
  // No usable tenant: missing, empty, not a string, too long, control characters.
  fc
    .oneof(fc.constant(undefined), fc.constant(''), fc.integer(), fc.boolean(), fc.array(fc.string()), fc.string({ minLength: 257, maxLength: 400 }))
    .map((tenant) => sign({ ...(tenant === undefined ? {} : { tenant }), exp: nowSeconds() + 600 })),
  fc.tuple(fc.string(), fc.integer({ min: 0, max: 31 })).map(([t, c]) => sign({ tenant: `${t}${String.fromCharCode(c)}`, exp: nowSeconds() + 600 })),
).map(async (token) => `Bearer ${await token}`);

const anyRefusedAuthorization = fc.oneof(
  forgedAuthorizationArbitrary.map((v) => Promise.resolve(v)),
  refusedJwtArbitrary,
);

const EXTRACT = 'mutation($id: ID!) { extractFrames(assetId: $id, force: true) { __typename } }';

/** Sends the billed mutation with `authorization` over one of the HTTP transports. */
async function send(transport: 'post' | 'get' | 'sse', authorization: string | undefined): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const endpoint = `${gw.url}/graphql`;
  const res =
    transport === 'get'
      ? await fetch(`${endpoint}?query=${encodeURIComponent('query($id: ID!) { videoAsset(id: $id) { id } }')}&variables=${encodeURIComponent(JSON.stringify({ id: assetId }))}`, {
          headers: { ...headers, accept: 'application/graphql-response+json' },
        })
      : await fetch(endpoint, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', accept: transport === 'sse' ? 'text/event-stream' : 'application/graphql-response+json' },
          body: JSON.stringify({ query: EXTRACT, variables: { id: assetId } }),
        });
  return { status: res.status, text: await res.text() };
}

describe('fuzzing tokens', () => {
  it('lets a valid token through (the control for the properties below)', async () => {
    const { status, text } = await send('post', `Bearer ${await sign({ tenant: 'acme', exp: nowSeconds() + 600 })}`);
    expect(status).toBe(200);
    expect(text).not.toContain('UNAUTHENTICATED');
  });

  it('answers any missing, malformed, forged, expired or tenant-less token with 401 UNAUTHENTICATED over POST, GET and SSE', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('post', 'get', 'sse') as fc.Arbitrary<'post' | 'get' | 'sse'>, anyRefusedAuthorization, async (transport, authorization) => {
        const before = fake.calls.length;
        const { status, text } = await send(transport, await authorization);
        expect(status).toBe(401);
        // SSE replies carry the same JSON error in their data line.
        const json = transport === 'sse' ? text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1) : text;
        const body = JSON.parse(json) as GraphQLResponse;
        expect(body.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
        expect(fake.calls.length).toBe(before);
        expect(fake.tasks.size).toBe(0);
      }),
      fuzzParams(150),
    );
  });

  it('closes a graphql-ws connection whose connection_init carries any refused token with 4401', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyRefusedAuthorization, fc.constant(Promise.resolve(undefined))), async (authorization) => {
        const before = fake.calls.length;
        const value = await authorization;
        const client = createClient({
          url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: true,
          connectionParams: value === undefined ? {} : { authorization: value },
        });
        try {
          const closed = await new Promise<unknown>((resolve) => {
            client.subscribe({ query: EXTRACT, variables: { id: assetId } }, { next: () => resolve('next'), error: resolve, complete: () => resolve('complete') });
          });
          expect((closed as { code?: number }).code).toBe(4401);
        } finally {
          await client.dispose();
        }
        expect(fake.calls.length).toBe(before);
        expect(fake.tasks.size).toBe(0);
      }),
      fuzzParams(40),
    );
  });

  it('refuses an authenticated tenant every id it never obtained through the gateway, without an upstream call', async () => {
    const authorization = `Bearer ${await sign({ tenant: 'fuzz-tenant', exp: nowSeconds() + 600 })}`;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ID_FIELDS), fc.oneof(idArbitrary, fc.constant(assetId)), async (field, id) => {
        const before = fake.calls.length;
        const res = await fetch(`${gw.url}/graphql`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', accept: 'application/graphql-response+json' },
          body: JSON.stringify({ query: field.query, variables: { id } }),
        });
        expect(res.status).toBeLessThan(500);
        const body = (await res.json()) as GraphQLResponse;
        expect((body.errors ?? []).filter((e) => /unexpected error/i.test(e.message))).toEqual([]);
        // Not even the account's own asset: the upstream knows it, but this tenant never uploaded it here.
        expect(fake.calls.slice(before)).toEqual([]);
        expect(fake.tasks.size).toBe(0);
      }),
      fuzzParams(150),
    );
  });
});
