/**
 * Composes subgraph SDL files into a Federation v2 supergraph with @theguild/federation-composition.
 *
 *   node --import tsx scripts/compose-supergraph.ts [--out supergraph.graphql] name=url:path ...
 *
 * Each subgraph is `name=url:path` (the SDL file follows the URL's last `:`), e.g.
 *   frames=http://localhost:4000/graphql:schema/schema.graphql catalog=http://localhost:4001/graphql:../catalog/schema.graphql
 * Without a `frames=` argument, `frames=http://localhost:4000/graphql:schema/schema.graphql` is added. Writes the
 * supergraph (default `supergraph.graphql`, not committed) or lists the composition errors and exits 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

interface SubgraphArg {
  name: string;
  url: string;
  path: string;
}

const DEFAULT_FRAMES: SubgraphArg = { name: 'frames', url: 'http://localhost:4000/graphql', path: 'schema/schema.graphql' };
const USAGE = 'usage: compose-supergraph.ts [--out supergraph.graphql] name=url:path ...';

function parseSubgraph(arg: string): SubgraphArg {
  const match = /^([A-Za-z][\w-]*)=(https?:\/\/.+):([^:]+)$/.exec(arg);
  if (!match) throw new Error(`"${arg}" is not name=url:path\n${USAGE}`);
  const [, name, url, path] = match as unknown as [string, string, string, string];
  new URL(url); // throws on a malformed URL
  return { name, url, path };
}

function parseArgs(argv: string[]): { out: string; subgraphs: SubgraphArg[] } {
  let out = 'supergraph.graphql';
  const subgraphs: SubgraphArg[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--out' || arg === '-o') {
      const next = argv[++i];
      if (!next) throw new Error(`--out needs a file name\n${USAGE}`);
      out = next;
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      subgraphs.push(parseSubgraph(arg));
    }
  }
  if (!subgraphs.some((s) => s.name === 'frames')) subgraphs.unshift(DEFAULT_FRAMES);
  const names = subgraphs.map((s) => s.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new Error(`subgraph "${duplicate}" given twice`);
  return { out, subgraphs };
}

function main(): void {
  const { out, subgraphs } = parseArgs(process.argv.slice(2));
  const result = composeServices(
    subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(readFileSync(resolve(s.path), 'utf8')) })),
  );
  if (result.errors) {
    for (const error of result.errors) process.stderr.write(`${String(error.extensions.code ?? 'ERROR')}: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(resolve(out), result.supergraphSdl);
  process.stdout.write(`${out} written (${subgraphs.map((s) => `${s.name} ${s.url}`).join(', ')})\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
