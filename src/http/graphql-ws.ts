/**
 * graphql-ws on Yoga's HTTP server and path. Execution goes through `yoga.getEnveloped`, so websocket operations
 * get the same plugins (armor limits, masking) and context as HTTP and SSE.
 */
import type { Server } from 'node:http';
import { GraphQLError, type DocumentNode } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import { createWsAuth } from '../auth/graphql-ws-auth.js';
import { resolveWsOperation, type PersistedOperations } from './persisted-operations.js';

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
): GraphQLWsHandle {
  const wsServer = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  // connection_init carries the token (4401 when refused or expired); without an authenticator every caller is local.
  const auth = createWsAuth(authenticator);
  const disposable = useServer(
    {
      onConnect: (ctx) => auth.onConnect(ctx),
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
        const enveloped = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params: operation, caller });
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
        return {
          schema: enveloped.schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
      },
    },
    wsServer,
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
