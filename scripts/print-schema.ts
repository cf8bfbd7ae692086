/** Writes schema/schema.graphql from the Pothos schema (subgraph SDL: keeps @link and @key). */
import { writeFileSync } from 'node:fs';
import { printSchemaFile } from '../src/schema/print.js';

writeFileSync(new URL('../schema/schema.graphql', import.meta.url), printSchemaFile());
process.stdout.write('schema/schema.graphql written\n');
