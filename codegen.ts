import type { CodegenConfig } from '@graphql-codegen/cli';

/** `npm run codegen`: typed documents for the test operations (client preset), from the printed subgraph SDL. */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'test/__generated__/': {
      preset: 'client',
      config: { emitLegacyCommonJSImports: false, useTypeImports: true, scalars: { DateTime: 'string', File: 'File' } },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
