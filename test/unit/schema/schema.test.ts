import { readFileSync } from 'node:fs';
import { print } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { isObjectType, isInterfaceType, isEnumType, isUnionType, isInputObjectType, isScalarType } from 'graphql';
import { loadConfig } from '../../../src/config.js';
import { silentLogger } from '../../../src/logger.js';
import { schema } from '../../../src/schema/index.js';
import { printSchemaFile } from '../../../src/schema/print.js';
import { createGateway } from '../../../src/server.js';
import { StartFrameExtractionDocument } from '../../__generated__/graphql.js';

describe('schema/schema.graphql', () => {
  it('matches a fresh print of the Pothos schema (run `npm run codegen` after schema changes)', () => {
    const committed = readFileSync(new URL('../../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(printSchemaFile()).toBe(committed);
  });

  it('is a federation v2 subgraph SDL with the four entities', () => {
    const sdl = printSchemaFile();
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.6"');
    for (const type of ['FrameCollection', 'Frame', 'VideoAsset', 'FrameExtractionTask']) {
      expect(sdl).toMatch(new RegExp(`type ${type}\\s+@key\\(fields: "id"\\)`));
    }
  });

  it('describes every public type and field', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || type.name.startsWith('_') || ['String', 'Int', 'Float', 'Boolean', 'ID'].includes(type.name)) continue;
      if (['link__Import', 'link__Purpose', 'FieldSet'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (field.name.startsWith('_')) continue;
          if (!field.description) missing.push(`${type.name}.${field.name}`);
        }
      }
      if (isEnumType(type)) for (const v of type.getValues()) if (!v.description) missing.push(`${type.name}.${v.name}`);
      void isUnionType;
      void isScalarType;
    }
    expect(missing).toEqual([]);
  });
});

describe('typed documents (codegen client preset)', () => {
  const gateway = createGateway(
    loadConfig({ MAVI_API_KEY: 'sk-test', MAVI_WEBHOOK_SECRET: 'unit-test-secret-0123456789', MAVI_BASE_URL: 'http://127.0.0.1:9', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    { logger: silentLogger },
  );
  afterAll(() => gateway.stop());

  it('rejects a malformed asset id as a typed error without touching the upstream', async () => {
    const res = await gateway.yoga.fetch('http://gateway/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(StartFrameExtractionDocument), variables: { assetId: 'not-an-id' } }),
    });
    const body = (await res.json()) as { data: { extractFrames: Record<string, unknown> } };
    expect(body.data.extractFrames).toEqual({
      __typename: 'InvalidAssetIdError',
      message: '"not-an-id" is not a video asset id (expected re_<digits>)',
      code: 'INVALID_ASSET_ID',
    });
    expect(gateway.services.scheduler.started).toBe(0);
  });
});
