import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: typed documents for the test operations (client preset), from the printed subgraph SDL, and the
 * persisted-operation map for them (test/__generated__/persisted-documents.json).
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'test/__generated__/': {
      preset: 'client',
      config: { emitLegacyCommonJSImports: false, useTypeImports: true, scalars: { DateTime: 'string', File: 'File' } },
      // persisted-documents.json: the { "<sha256>": "<document>" } map PERSISTED_OPERATIONS_FILE takes.
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
    },
  },
};

export default config;
