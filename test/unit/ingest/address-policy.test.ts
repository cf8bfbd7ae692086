/** The SSRF address policy and its filtering lookup: pure functions, no sockets (the resolver is injected). */
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { hostOf, isPublicAddress, PrivateAddressError, publicOnlyLookup, type Resolver } from '../../../src/ingest/address-policy.js';

describe('isPublicAddress', () => {
  it.each([
    // IPv4 edges just outside every refused range
    '1.0.0.0', '8.8.8.8', '9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '126.255.255.255', '128.0.0.0',
    '169.253.255.255', '169.255.0.0', '172.15.255.255', '172.32.0.0', '192.0.1.255', '192.0.3.0', '192.167.255.255',
    '192.169.0.0', '198.17.255.255', '198.20.0.0', '223.255.255.255',
    // IPv6 global unicast, and IPv4-carrying forms of public IPv4 addresses
    '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001:81c::200e', '3fff:ffff::1',
    '::ffff:8.8.8.8', '::ffff:808:808', '0:0:0:0:0:ffff:808:808', '64:ff9b::8.8.8.8', '64:ff9b::808:808', '2002:808:808::1',
  ])('%s is public', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    // IPv4: both ends of every refused range
    '0.0.0.0', '0.255.255.255', '10.0.0.0', '10.255.255.255', '100.64.0.0', '100.127.255.255', '127.0.0.0', '127.0.0.1',
    '127.255.255.255', '169.254.0.0', '169.254.169.254', '169.254.255.255', '172.16.0.0', '172.31.255.255', '192.0.0.0',
    '192.0.0.255', '192.0.2.1', '192.168.0.0', '192.168.255.255', '198.18.0.0', '198.19.255.255', '198.51.100.7', '203.0.113.9',
    '224.0.0.0', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    // IPv6 special ranges
    '::', '::1', '0:0:0:0:0:0:0:1', 'fc00::', 'fc00::1', 'fd12:3456:789a::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fe80::', 'fe80::1', 'fe80::1%eth0', 'febf:ffff::1', 'fec0::1', 'ff00::', 'ff02::1', 'FF05::1:3', '100::1', 'fbff::1',
    '64:ff9b:1::a00:1',
    // IPv4-mapped / compatible / translated, dotted and hex, any case
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::FFFF:7F00:0001', '0:0:0:0:0:ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a00:1',
    '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:192.168.1.1', '::ffff:c0a8:101', '::ffff:0.0.0.0', '::ffff:ffff:ffff',
    '::127.0.0.1', '::7f00:1', '::10.0.0.1', '::ffff:0:127.0.0.1', '::ffff:0:7f00:1',
    // NAT64 and 6to4 carrying private IPv4 addresses
    '64:ff9b::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b::a00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2002:c0a8:101::',
  ])('%s is refused', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['', 'localhost', 'example.com', '1.2.3', '256.0.0.1', '[::1]', '::1::', '0x7f000001', '2130706433'])(
    '%j is not an IP literal, so it is refused',
    (value) => {
      expect(isPublicAddress(value)).toBe(false);
    },
  );
});

describe('hostOf', () => {
  it('strips the brackets of IPv6 literals only', () => {
    expect(hostOf(new URL('http://[::1]:8080/x'))).toBe('::1');
    expect(hostOf(new URL('http://[::ffff:127.0.0.1]/'))).toBe('::ffff:7f00:1'); // the URL parser normalizes to hex
    expect(hostOf(new URL('http://0x7f.1/'))).toBe('127.0.0.1'); // and IPv4 shorthands to dotted quads
    expect(hostOf(new URL('http://example.com/'))).toBe('example.com');
  });
});

describe('publicOnlyLookup', () => {
  const resolver =
    (table: Record<string, LookupAddress[]>): Resolver =>
    async (hostname) => {
      const found = table[hostname];
      if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return found;
    };
  const table = {
    'public.test': [{ address: '93.184.216.34', family: 4 }],
    'private.test': [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ],
    'mixed.test': [
      { address: '10.0.0.1', family: 4 },
      { address: '2606:4700::1', family: 6 },
      { address: '93.184.216.34', family: 4 },
    ],
  };
  const lookup = publicOnlyLookup(resolver(table));
  const call = (hostname: string, all: boolean) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
      lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })),
    );

  it('answers node:net in the shape it asks for, keeping only public addresses', async () => {
    expect(await call('mixed.test', true)).toEqual({
      err: null,
      address: [
        { address: '2606:4700::1', family: 6 },
        { address: '93.184.216.34', family: 4 },
      ],
      family: undefined,
    });
    expect(await call('mixed.test', false)).toEqual({ err: null, address: '2606:4700::1', family: 6 });
    expect(await call('public.test', false)).toEqual({ err: null, address: '93.184.216.34', family: 4 });
  });

  it('fails with PrivateAddressError when no address is public', async () => {
    for (const all of [true, false]) {
      const { err } = await call('private.test', all);
      expect(err).toBeInstanceOf(PrivateAddressError);
      expect(err).toMatchObject({ hostname: 'private.test', code: 'ERR_IMPORT_PRIVATE_ADDRESS' });
    }
  });

  it('passes resolver errors through', async () => {
    expect((await call('nowhere.test', true)).err).toMatchObject({ code: 'ENOTFOUND' });
  });

  it('uses the injected policy', async () => {
    const loopbackOnly = publicOnlyLookup(resolver(table), (ip) => ip === '::1');
    const answer = await new Promise((resolve) => loopbackOnly('private.test', { all: true }, (_err, address) => resolve(address)));
    expect(answer).toEqual([{ address: '::1', family: 6 }]);
  });
});
