/**
 * fast-check inputs for the fuzz tests: ids near and far from the id patterns, webhook bodies from noise to
 * almost-valid callbacks, media URL tampering, Authorization values and forged JWTs. One fixed seed (FUZZ_SEED
 * overrides it) so CI replays the same inputs; on a failure fast-check prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { ASSET_ID_PATTERN, COLLECTION_ID_PATTERN, FRAME_ID_PATTERN } from '../../src/upstream/types.js';

export const FUZZ_SEED = Number(process.env['FUZZ_SEED'] ?? 20261201);

/** Runs per property: enough to hit the boundaries below, small enough for the whole fuzz file to stay < 20 s. */
export const fuzzParams = (numRuns: number): fc.Parameters<unknown> => ({ seed: FUZZ_SEED, numRuns, endOnFailure: true });

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));

/** Printable ASCII (what fetch accepts in a header value), tabs included. */
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

/** Strings aimed at every id argument: well-formed ids of each kind, near misses, and arbitrary text. */
export const idArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  digits(1, 32).map((d) => `re_${d}`),
  digits(1, 32).map((d) => `im_${d}`),
  fc.tuple(digits(1, 32), digits(1, 11)).map(([c, i]) => `imc_${c}_${i}`),
  fc.tuple(fc.constantFrom('re_', 'im_', 'imc_', 'RE_', 're-', ''), printable).map(([p, rest]) => p + rest),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,140}$/),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    're_1\n',
    're_١٢٣',
    're_' + '9'.repeat(31),
    'imc_1_',
    'imc__1',
    '../../etc/passwd',
    '%2e%2e%2f',
    'x'.repeat(10_000),
    '{"$ne":null}',
    '__proto__',
  ),
);

/** A JSON value that is (almost) a callback: right keys, wrong or odd values. */
export function callbackLikeArbitrary(taskIds: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  const anything = fc.jsonValue({ maxDepth: 2 });
  return fc.record(
    {
      code: fc.oneof(fc.constantFrom(200, '0000', 500, '200', 0, -1, 1e309, null), anything),
      message: fc.oneof(fc.constantFrom('SUCCESS', 'FAILED'), anything),
      task_id: taskIds,
      data: fc.oneof(
        fc.constant(null),
        anything,
        fc.record(
          {
            asset_id: fc.oneof(idArbitrary, anything),
            asset_ch_ids: fc.oneof(fc.array(idArbitrary, { maxLength: 4 }), anything),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  );
}

/** A webhook body: noise, any JSON, or a callback-like object, as text. */
export function webhookBodyArbitrary(taskIds: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    callbackLikeArbitrary(taskIds).map((body) => JSON.stringify(body)),
    // Truncated and duplicated-key variants of a callback-like body.
    fc.tuple(callbackLikeArbitrary(taskIds), fc.nat()).map(([body, cut]) => {
      const text = JSON.stringify(body);
      return text.slice(0, cut % (text.length + 1));
    }),
    callbackLikeArbitrary(taskIds).map((body) => JSON.stringify(body).replace(/^\{/, '{"task_id":1,')),
  );
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Authorization header values that carry no valid token (given no key an attacker could know). */
export const forgedAuthorizationArbitrary: fc.Arbitrary<string> = fc.oneof(
  printable,
  printable.map((t) => `Bearer ${t}`),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer null', 'Bearer undefined', `Bearer ${'a'.repeat(9000)}`),
  // JWT-shaped: a header (alg none, HS256, RS256, junk), claims naming a tenant, and a made-up or empty signature.
  fc
    .tuple(
      fc.oneof(fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'HS512', 'NONE', ''), printable),
      fc.record({ tenant: fc.oneof(fc.constant('acme'), printable), sub: printable, exp: fc.integer() }, { requiredKeys: [] }),
      fc.oneof(fc.constant(''), fc.stringMatching(/^[A-Za-z0-9_-]{1,86}$/)),
    )
    .map(([alg, claims, sig]) => `Bearer ${b64url({ alg, typ: 'JWT' })}.${b64url(claims)}.${sig}`),
);

/**
 * Every field with an id argument, `$id` in each; `pattern` is what makes the id well-formed (null: the field never
 * reaches the upstream, whatever the id).
 */
export const ID_FIELDS = [
  { query: 'query($id: ID!) { videoAsset(id: $id) { id filename } }', pattern: ASSET_ID_PATTERN },
  { query: 'query($id: ID!) { frameCollection(id: $id) { id frameCount } }', pattern: COLLECTION_ID_PATTERN },
  { query: 'query($id: ID!) { frame(id: $id) { id index url } }', pattern: FRAME_ID_PATTERN },
  { query: 'query($id: ID!) { frameExtractionTask(id: $id) { id status } }', pattern: null },
  {
    query: 'mutation($id: ID!) { extractFrames(assetId: $id) { __typename ... on Error { message code } } }',
    pattern: ASSET_ID_PATTERN,
  },
  {
    query: 'mutation($id: ID!) { extractFrames(assetId: "re_1", force: true, idempotencyKey: $id) { __typename ... on Error { code } } }',
    pattern: /^/, // the key is anything; the asset re_1 is well-formed (and unknown upstream)
  },
  { query: 'mutation($id: ID!) { deleteVideoAsset(id: $id) { __typename ... on Error { code } } }', pattern: ASSET_ID_PATTERN },
  { query: 'mutation($id: ID!) { deleteFrameCollection(id: $id) { __typename ... on Error { code } } }', pattern: COLLECTION_ID_PATTERN },
] as const;
