/**
 * SSRF policy for `importVideo`: which IP addresses a download may connect to, and a `lookup` for node:http(s) that
 * only ever hands the socket public addresses (so the check applies to the address actually connected to: no DNS
 * rebinding window between a check and the connect).
 */
import { promises as dns, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

/** The user-facing reason (an `ImportError` message) for every refused target. */
export const PRIVATE_ADDRESS_MESSAGE = 'the URL resolves to a private or loopback address, which imports may not reach';

/** Raised by {@link publicOnlyLookup} when a host has no public address; it surfaces as the request's error. */
export class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
  readonly code = 'ERR_IMPORT_PRIVATE_ADDRESS';
  constructor(readonly hostname: string) {
    super(`${hostname} resolves only to non-public addresses`);
  }
}

// [network, prefix length]: "this network", private, CGNAT, loopback, link-local, IETF protocol assignments,
// TEST-NETs, benchmarking, and 224/3 (multicast, reserved, broadcast).
const IPV4_REFUSED: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
];

function parseIPv4(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

const IPV4_RANGES = IPV4_REFUSED.map(([network, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { network: parseIPv4(network)!, mask };
});

function isPublicIPv4(n: number): boolean {
  return !IPV4_RANGES.some(({ network, mask }) => ((n & mask) >>> 0) === network);
}

/** Eight 16-bit groups, or undefined when `ip` is not an IPv6 address (a `%zone` suffix is ignored). */
function parseIPv6(ip: string): number[] | undefined {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  if (isIP(s) !== 6) return undefined;
  const lastColon = s.lastIndexOf(':');
  const v4 = parseIPv4(s.slice(lastColon + 1));
  if (v4 !== undefined) s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  const [head = '', tail] = s.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

const zero = (groups: number[], from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
const embeddedIPv4 = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;

function isPublicIPv6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0, , , g5 = 0, g6 = 0, g7 = 0] = g;
  // Forms that carry an IPv4 address are judged by it: compatible ::a.b.c.d (also covers :: and ::1), mapped
  // ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d and 6to4 2002:aabb:ccdd::/48.
  if (zero(g, 0, 6)) return isPublicIPv4(embeddedIPv4(g6, g7));
  if (zero(g, 0, 5) && g5 === 0xffff) return isPublicIPv4(embeddedIPv4(g6, g7));
  if (zero(g, 0, 4) && g[4] === 0xffff && g5 === 0) return isPublicIPv4(embeddedIPv4(g6, g7));
  if (g0 === 0x64 && g1 === 0xff9b && zero(g, 2, 6)) return isPublicIPv4(embeddedIPv4(g6, g7));
  if (g0 === 0x2002) return isPublicIPv4(embeddedIPv4(g1, g2));
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return false; // 64:ff9b:1::/48, local-use NAT64
  if ((g0 & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((g0 & 0xffc0) === 0xfe80 || (g0 & 0xffc0) === 0xfec0) return false; // link-local, old site-local
  if ((g0 & 0xff00) === 0xff00) return false; // multicast
  // Every global unicast allocation is in 2000::/3; the rest of the space is reserved or special-purpose.
  return (g0 & 0xe000) === 0x2000;
}

/** True when `ip` (an IPv4 or IPv6 literal, without brackets) is a public unicast address; false for anything else. */
export function isPublicAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return isPublicIPv4(v4);
  const v6 = parseIPv6(ip);
  return v6 !== undefined && isPublicIPv6(v6);
}

/** The hostname of `url` as node:net wants it: IPv6 literals without their brackets. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Resolves every address of a host (dns.lookup with `all: true`); injectable for tests. */
export type Resolver = (hostname: string, family: LookupOptions['family']) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname, family) => dns.lookup(hostname, { all: true, family: family ?? 0 });

/**
 * A `lookup` for node:http(s) `request` that resolves all addresses, keeps the allowed ones and fails with
 * {@link PrivateAddressError} if none is left. Answers in both shapes node:net asks for (`all` or a single address).
 */
export function publicOnlyLookup(resolve: Resolver = systemResolver, isAllowed: (ip: string) => boolean = isPublicAddress): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options.family).then(
      (addresses) => {
        const allowed = addresses.filter((a) => isAllowed(a.address));
        const first = allowed[0];
        if (!first) callback(new PrivateAddressError(hostname), '');
        else if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
