/**
 * The fan-out baseline of `bench:scale-out` section 2: the same subscription served by a bare graphql-ws server
 * (`graphql-ws/use/ws` on `ws`, graphql-js `subscribe`, an in-process EventEmitter, no Pothos, no yoga, no registry,
 * no auth, metrics or spans), run as a child process like the gateway (`startGatewayProcess` with this entry), so
 * the gateway's fan-out latency can be read as a ratio to what the stack alone does on the same machine in the
 * same run.
 *
 * It speaks just enough of the gateway's surface for the bench: `subscription { frameExtractionTask(id) { id
 * status } }` yields PENDING at once, then SUCCEEDED when a callback for the task arrives and completes; the
 * callback is the upstream's body POSTed to `/webhooks/mavi/<anything>` (answered 200 with `{"result":"applied"}`);
 * the banner line `GraphQL: http://127.0.0.1:<port>/graphql` tells the bench its port. Every subscriber executes
 * the document on its own (graphql-js' subscribe, as a bare server would).
 */
import { EventEmitter, on } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLID, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

interface Task {
  id: string;
  status: string;
}

const completions = new EventEmitter();
completions.setMaxListeners(0);

const Task = new GraphQLObjectType({
  name: 'FrameExtractionTask',
  fields: { id: { type: new GraphQLNonNull(GraphQLID) }, status: { type: new GraphQLNonNull(GraphQLString) } },
});

const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      frameExtractionTask: {
        type: Task,
        args: { id: { type: new GraphQLNonNull(GraphQLID) } },
        subscribe: async function* (_root: unknown, { id }: { id: string }) {
          // Listening before the first yield, so a completion right after the PENDING event is not missed.
          const events = on(completions, id);
          try {
            yield { frameExtractionTask: { id, status: 'PENDING' } satisfies Task };
            for await (const [task] of events) {
              yield { frameExtractionTask: task as Task };
              return;
            }
          } finally {
            await events.return?.();
          }
        },
      },
    },
  }),
});

const server = createServer((req, res) => {
  if (req.method !== 'POST' || !req.url?.startsWith('/webhooks/mavi/')) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { task_id: string };
    completions.emit(body.task_id, { id: body.task_id, status: 'SUCCEEDED' } satisfies Task);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":"applied"}');
  });
});
const wsServer = new WebSocketServer({ server, path: '/graphql' });
const disposable = useServer({ schema }, wsServer);

server.listen(0, '127.0.0.1', () => {
  console.log(`bare graphql-ws fan-out baseline\nGraphQL: http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`);
});
process.once('SIGTERM', () => {
  void Promise.resolve(disposable.dispose()).finally(() => server.close(() => process.exit(0)));
});
