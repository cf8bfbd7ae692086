/**
 * graphql-ws on Yoga's HTTP server and path. Execution goes through `yoga.getEnveloped`, so websocket operations
 * get the same plugins (armor limits, masking) and context as HTTP and SSE.
 *
 * Sockets are driven by our adapter over graphql-ws' `makeServer` (graphql-ws-socket.ts: one write per event per
 * socket), not `graphql-ws/use/ws`.
 *
 * An idle subscriber holds its socket's and its operation's state for hours, so both are kept small: the operation's
 * context starts with only what the per-subscriber plugins read (caller, upgrade headers, params) and is completed
 * (services, loaders) only when the subscription starts an execution of its own (http/subscription-sharing.ts); and
 * once the token is checked, the socket keeps the upgrade request's headers, not the whole IncomingMessage.
 */
import type { IncomingHttpHeaders, Server } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import type { Logger } from '../logger.js';
import { createWsAuth } from '../auth/graphql-ws-auth.js';
import { resolveWsOperation, type PersistedOperations } from './persisted-operations.js';
import { useGraphQLWsServer } from './graphql-ws-socket.js';
import { deferContextBuild } from './subscription-sharing.js';

type EnvelopedRoot = { execute: (args: unknown) => unknown; subscribe: (args: unknown) => unknown };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface GraphQLWsHandle {
  /** Open websocket connections. */
  readonly connections: number;
  /**
   * Closes every socket with 1001 (Going Away: clients reconnect, to another instance once this one stopped
   * accepting) and stops taking upgrades; resolves when every socket has closed.
   */
  dispose(): Promise<void>;
}

export function attachGraphQLWs(
  server: Server,
  yoga: YogaServerInstance<any, any>,
  persistedOperations?: PersistedOperations,
  authenticator?: Authenticator,
  logger?: Logger,
): GraphQLWsHandle {
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  // connection_init carries the token (4401 when refused or expired); without an authenticator every caller is local.
  const auth = createWsAuth(authenticator);
  const disposable = useGraphQLWsServer(
    {
      onConnect: async (ctx) => {
        const accepted = await auth.onConnect(ctx);
        // Read by the token check above and, for trace context, by each operation below: the headers are all it needs.
        const extra = ctx.extra as { request?: { headers: IncomingHttpHeaders } };
        if (extra.request) extra.request = { headers: extra.request.headers };
        return accepted;
      },
      onClose: (ctx) => auth.onClose(ctx),
      // onSubscribe below puts yoga's enveloped execute/subscribe on rootValue.
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, params) => {
        // The persisted-operation plugin hooks yoga's HTTP params, which websockets skip: same rules applied here.
        const query = resolveWsOperation(persistedOperations, params);
        if (typeof query !== 'string') return [query];
        // Same envelop pipeline as HTTP: plugins, masking and context apply to websocket operations too.
        const operation = { ...params, query };
        const caller = auth.callerOf(ctx);
        // `req` for the trace context of the upgrade request; nothing reads the rest of graphql-ws' connection context.
        const initial = { req: ctx.extra.request, params: operation, caller };
        const enveloped = yoga.getEnveloped(initial);
        // A bad operation is an `error` message for that operation: thrown here it would close the whole socket.
        let document: DocumentNode;
        try {
          document = enveloped.parse(query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) return errors;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        // A subscription's context is completed only if it starts an execution (contextFactory fills `initial` in).
        let contextValue: object = initial;
        if (getOperationAST(document, params.operationName)?.operation === 'subscription') {
          deferContextBuild(initial, () => enveloped.contextFactory());
        } else contextValue = await enveloped.contextFactory();
        return {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
    },
    wsServer,
    { logger },
  );
  return {
    get connections() {
      return wsServer.clients.size;
    },
    // graphql-ws sends the 1001 close frames and awaits `wsServer.close`, which waits for every client to go.
    dispose: async () => {
      await disposable.dispose();
    },
  };
}
