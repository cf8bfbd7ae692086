import { printSubgraphSchema } from '@apollo/subgraph';
import { lexicographicSortSchema } from 'graphql';
import { schema } from './index.js';

/**
 * The committed SDL (`schema/schema.graphql`): the federation subgraph schema a registry or `rover`/composition
 * consumes. `printSubgraphSchema` keeps `extend schema @link(...)` and every `@key` (`printSchema` would drop them).
 * Types come out sorted by name; fields keep their declaration order, because printSubgraphSchema prints from the
 * AST nodes Pothos attaches to carry directives. Both orders are deterministic, so diffs stay stable.
 */
export function printSchemaFile(): string {
  return `${printSubgraphSchema(lexicographicSortSchema(schema)).trim()}\n`;
}
