import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: from the printed subgraph SDL, typed documents for the test operations (client preset) with the
 * persisted-operation map for them (test/__generated__/persisted-documents.json), and typed documents for the demo
 * app's operations (web/src/gql/). Both validate their documents against the schema, so an operation that drifts from
 * it fails here.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: false,
  generates: {
    'test/__generated__/': {
      documents: ['test/operations/**/*.graphql'],
      preset: 'client',
      config: { emitLegacyCommonJSImports: false, useTypeImports: true, scalars: { DateTime: 'string', File: 'File' } },
      // persisted-documents.json: the { "<sha256>": "<document>" } map PERSISTED_OPERATIONS_FILE takes.
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
    },
    'web/src/gql/': {
      documents: ['web/operations/**/*.graphql'],
      preset: 'client',
      // documentMode string: documents stay strings in the bundle, so the page needs no GraphQL parser (graphql-js).
      config: {
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        documentMode: 'string',
        enumsAsTypes: true,
        scalars: { DateTime: 'string', File: 'File' },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
