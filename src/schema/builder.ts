import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ErrorsPlugin from '@pothos/plugin-errors';
import FederationPlugin from '@pothos/plugin-federation';
import type { Context } from '../context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  // Fields are non-null unless they say `nullable: true` (the contract's `!` is the common case here).
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string | number };
    File: { Input: File; Output: never };
  };
}>({
  plugins: [ErrorsPlugin, DirectivesPlugin, FederationPlugin],
  defaultFieldNullability: false,
  errors: { defaultTypes: [] },
});
