/**
 * `node --import tsx bench/operation-limits.ts`: what graphql-armor measures (depth, cost, aliases, directives, tokens)
 * on the largest legitimate documents: every client operation in test/operations, GraphiQL's introspection query and
 * a federation router's batch of aliased `_entities` fetches. The GRAPHQL_MAX_* defaults in src/config.ts are set
 * with headroom above these figures. Uses armor's own rules (the packages @escape.tech/graphql-armor bundles).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { getIntrospectionQuery, Lexer, parse, Source, TokenKind, validate, type ValidationRule } from 'graphql';
import { loadConfig } from '../src/config.js';
import { schema } from '../src/schema/index.js';

const operationsDir = new URL('../test/operations/', import.meta.url);
const documents: Record<string, string> = {};
for (const file of readdirSync(operationsDir)) documents[file] = readFileSync(new URL(file, operationsDir), 'utf8');
documents['GraphiQL introspection'] = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true, directiveIsRepeatable: true });
const entitiesBatch = (n: number) =>
  `query($r: [_Any!]!) { ${Array.from({ length: n }, (_, i) => `_${i}__entities: _entities(representations: $r) { __typename ... on FrameCollection { id frameCount frames { id index url } } }`).join(' ')} }`;
documents['router: 20 aliased _entities'] = entitiesBatch(20);
documents['router: 100 aliased _entities'] = entitiesBatch(100);

/** The figure a rule reports through onAccept (0 where the rule found nothing to count). */
function measure(document: string, build: (onAccept: (ctx: unknown, details: { n: number }) => void) => ValidationRule): number {
  let found = 0;
  validate(schema, parse(document), [build((_ctx, { n }) => (found = n))]);
  return Math.round(found * 100) / 100;
}

// Armor counts lexer tokens up to (not including) <EOF>.
function tokens(document: string): number {
  const lexer = new Lexer(new Source(document));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
}

const big = 1e12;
const common = { onReject: [], propagateOnRejection: false };
const rows = Object.entries(documents).map(([name, document]) => ({
  document: name,
  depth: measure(document, (accept) => maxDepthRule({ n: big, ...common, onAccept: [accept] })),
  cost: measure(document, (accept) => costLimitRule({ maxCost: big, ...common, onAccept: [accept] })),
  aliases: measure(document, (accept) => maxAliasesRule({ n: big, ...common, onAccept: [accept] })),
  directives: measure(document, (accept) => maxDirectivesRule({ n: big, ...common, onAccept: [accept] })),
  tokens: tokens(document),
}));
console.table(rows);
const { limits } = loadConfig({});
console.log('defaults:', limits);
