/**
 * The baseline of `npm run bench:graphql`: a bare graphql-yoga server (yoga's defaults, `createSchema` from an SDL
 * string, no Pothos, no loaders, no plugins) answering the bench's documents from a static list. Run as its own
 * process (through bench/lib/gateway-process.ts, like the gateway, so both carry the same tsx + gc agent and their
 * RSS compare): `BARE_YOGA_DATA=<json file> node --import tsx bench/lib/bare-yoga.ts`.
 *
 * The data file holds what the gateway answered for the same ids (its 100 frames with their signed URLs, one
 * frame, one finished task), so both servers send the same bytes for the same document. It prints the same banner
 * line as src/main.ts (`GraphQL:    http://…/graphql`), which is what the process runner waits for.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';

export interface BareYogaFrame {
  id: string;
  index: number;
  extension: string | null;
  createdAt: string | null;
  url: string;
}

export interface BareYogaTask {
  id: string;
  status: string;
  frameCount: number | null;
  collectionId: string | null;
  error: string | null;
  submittedAt: string;
  completedAt: string | null;
}

export interface BareYogaData {
  collectionId: string;
  frames: BareYogaFrame[];
  task: BareYogaTask;
}

const typeDefs = /* GraphQL */ `
  type Frame {
    id: ID!
    index: Int!
    extension: String
    createdAt: String
    url: String!
  }
  type FrameCollection {
    id: ID!
    frameCount: Int!
    frames(offset: Int = 0, limit: Int = 100): [Frame!]!
  }
  type FrameExtractionTask {
    id: ID!
    status: String!
    frameCount: Int
    collectionId: ID
    error: String
    submittedAt: String!
    completedAt: String
  }
  type Query {
    frameCollection(id: ID!): FrameCollection
    frame(id: ID!): Frame
    frameExtractionTask(id: ID!): FrameExtractionTask
  }
`;

function main(): void {
  const file = process.env.BARE_YOGA_DATA;
  if (!file) throw new Error('BARE_YOGA_DATA must name the data file');
  const data = JSON.parse(readFileSync(file, 'utf8')) as BareYogaData;
  const collection = { id: data.collectionId, frameCount: data.frames.length, frames: data.frames };
  const schema = createSchema({
    typeDefs,
    resolvers: {
      Query: {
        frameCollection: (_root: unknown, { id }: { id: string }) => (id === data.collectionId ? collection : null),
        frame: (_root: unknown, { id }: { id: string }) => data.frames.find((f) => f.id === id) ?? null,
        frameExtractionTask: (_root: unknown, { id }: { id: string }) => (id === data.task.id ? data.task : null),
      },
      FrameCollection: {
        frames: (c: typeof collection, { offset, limit }: { offset: number; limit: number }) => c.frames.slice(offset, offset + limit),
      },
    },
  });
  const yoga = createYoga({ schema });
  const server = createServer(yoga);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`\n  GraphQL:    http://127.0.0.1:${port}/graphql  (bare graphql-yoga baseline)\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
