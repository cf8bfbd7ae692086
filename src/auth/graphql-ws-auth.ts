/**
 * graphql-ws authentication: the token travels once, in the `connection_init` payload
 * (`{ authorization: "Bearer …" }`), since browsers cannot set headers on a websocket. Without one there, the
 * upgrade request's `Authorization` header counts: routers (Apollo Router) propagate headers onto the upgrade, not into
 * `connection_init`. A refused token closes the
 * socket with 4401 (graphql-ws' Unauthorized); a valid one is the caller of every operation on the socket until its
 * `exp`, when the socket closes with 4401 too, so the client reconnects with a fresh token.
 */
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { LOCAL_CALLER, type Caller } from '../tenancy.js';
import { AuthenticationError, type Authenticator } from './authenticator.js';
import { createExpiryScheduler } from './expiry.js';

/** graphql-ws' Unauthorized close code; clients treat it as "get a new token". */
export const WS_UNAUTHORIZED = 4401;
/** Standard "Try Again Later": the JWKS could not be read, the token may be fine. */
const WS_TRY_AGAIN_LATER = 1013;

interface ConnectionContext {
  connectionParams?: Readonly<Record<string, unknown>>;
  extra: { socket: WebSocket; request?: Pick<IncomingMessage, 'headers'> };
}

export interface WsAuth {
  /** graphql-ws `onConnect`: false refuses the connection (the socket is already closing with its code). */
  onConnect(ctx: ConnectionContext): Promise<boolean>;
  /** graphql-ws `onClose`: the socket no longer waits for its token's expiry. */
  onClose(ctx: ConnectionContext): void;
  /** The caller of the connection's operations. */
  callerOf(ctx: ConnectionContext): Caller;
}

interface Connection {
  caller: Caller;
  socket: WebSocket;
}

export function createWsAuth(authenticator: Authenticator | undefined): WsAuth {
  const connections = new WeakMap<ConnectionContext, Connection>();
  // One timer per distinct expiry time, shared by the sockets of one token: graphql-ws returns a closed socket's
  // streams, so a subscription needs no expiry of its own here.
  const expiries = createExpiryScheduler<Connection>(({ socket }) => socket.close(WS_UNAUTHORIZED, 'Token expired'));
  return {
    async onConnect(ctx) {
      if (!authenticator) return true;
      const { socket } = ctx.extra;
      let caller: Caller;
      try {
        caller = await authenticator.authenticate(
          authorizationOf(ctx.connectionParams) ?? ctx.extra.request?.headers.authorization,
        );
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
        // Closed here with our code; graphql-ws' own close (4403) after `false` finds the socket closing and is ignored.
        socket.close(error.reason === 'unavailable' ? WS_TRY_AGAIN_LATER : WS_UNAUTHORIZED, closeReason(error));
        return false;
      }
      // Gone while its token was checked: graphql-ws already called onClose, nothing would forget it.
      if (socket.readyState !== socket.OPEN) return false;
      const connection: Connection = { caller, socket };
      connections.set(ctx, connection);
      if (caller.expiresAt !== null) expiries.add(caller.expiresAt, connection);
      return true;
    },
    onClose(ctx) {
      const connection = connections.get(ctx);
      if (connection?.caller.expiresAt != null) expiries.delete(connection.caller.expiresAt, connection);
      connections.delete(ctx);
    },
    callerOf(ctx) {
      if (!authenticator) return LOCAL_CALLER;
      const connection = connections.get(ctx);
      // graphql-ws refuses a subscribe before the ack, so this only guards against a wiring mistake.
      if (!connection) throw new AuthenticationError('missing', 'Authentication required');
      return connection.caller;
    },
  };
}

function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' ? value : undefined;
}

// A close reason is limited to 123 bytes; ours are short, fixed texts (never the token).
function closeReason(error: AuthenticationError): string {
  return error.reason === 'expired' ? 'Token expired' : error.reason === 'unavailable' ? 'Signing keys unavailable' : 'Unauthorized';
}
