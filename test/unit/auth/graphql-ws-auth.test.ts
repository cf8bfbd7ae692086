import type { WebSocket } from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Authenticator } from '../../../src/auth/authenticator.js';
import { createWsAuth, WS_UNAUTHORIZED } from '../../../src/auth/graphql-ws-auth.js';
import type { Caller } from '../../../src/tenancy.js';
import { createDeferred } from '../../helpers/deferred.js';

const OPEN = 1;
const CLOSED = 3;

/** A graphql-ws connection context over a stand-in socket that records its close. */
function connection(token: string) {
  const socket = { OPEN, readyState: OPEN, close: vi.fn(() => (socket.readyState = CLOSED)) };
  return { socket, ctx: { connectionParams: { authorization: `Bearer ${token}` }, extra: { socket: socket as unknown as WebSocket } } };
}

/** Accepts `Bearer <tenant>` as the tenant, expiring at `expiresAt`. */
const authenticatorUntil = (expiresAt: number): Authenticator => ({
  authenticate: async (header) => ({ tenant: header!.slice('Bearer '.length), authenticated: true, expiresAt }),
});

afterEach(() => {
  vi.useRealTimers();
});

describe('createWsAuth', () => {
  it('closes the sockets of a token with 4401 at its exp on one shared timer, not one that closed first', async () => {
    vi.useFakeTimers();
    const exp = Date.now() + 60_000;
    const auth = createWsAuth(authenticatorUntil(exp));
    const [a, b, gone] = [connection('acme'), connection('acme'), connection('acme')];
    for (const c of [a, b, gone]) expect(await auth.onConnect(c.ctx)).toBe(true);
    expect(auth.callerOf(a.ctx)).toEqual({ tenant: 'acme', authenticated: true, expiresAt: exp });
    expect(vi.getTimerCount()).toBe(1);
    auth.onClose(gone.ctx);
    vi.advanceTimersByTime(59_999);
    expect(a.socket.close).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    for (const c of [a, b]) expect(c.socket.close).toHaveBeenCalledExactlyOnceWith(WS_UNAUTHORIZED, 'Token expired');
    expect(gone.socket.close).not.toHaveBeenCalled();
  });

  it('forgets a socket that went away while its token was checked', async () => {
    vi.useFakeTimers();
    const verified = createDeferred<Caller>();
    const auth = createWsAuth({ authenticate: () => verified.promise });
    const c = connection('acme');
    const connecting = auth.onConnect(c.ctx);
    // graphql-ws calls onClose at once for a socket that closes, even while onConnect waits.
    c.socket.readyState = CLOSED;
    auth.onClose(c.ctx);
    verified.resolve({ tenant: 'acme', authenticated: true, expiresAt: Date.now() + 60_000 });
    expect(await connecting).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('falls back to the upgrade request\'s Authorization header (routers propagate headers there), init first', async () => {
    const auth = createWsAuth(authenticatorUntil(Date.now() + 60_000));
    const socket = { OPEN, readyState: OPEN, close: vi.fn() } as unknown as WebSocket;
    const viaUpgrade = { extra: { socket, request: { headers: { authorization: 'Bearer routed' } } } };
    expect(await auth.onConnect(viaUpgrade)).toBe(true);
    expect(auth.callerOf(viaUpgrade).tenant).toBe('routed');
    const both = { ...viaUpgrade, connectionParams: { authorization: 'Bearer client' } };
    expect(await auth.onConnect(both)).toBe(true);
    expect(auth.callerOf(both).tenant).toBe('client');
  });
});
