import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ErrorsPlugin from '@pothos/plugin-errors';
import FederationPlugin from '@pothos/plugin-federation';
import type { Context } from '../context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string | number };
    File: { Input: File; Output: never };
  };
}>({
  plugins: [ErrorsPlugin, DirectivesPlugin, FederationPlugin],
  errors: { defaultTypes: [] },
});
