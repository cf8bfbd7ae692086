import { GraphQLError } from 'graphql';
import { builder } from './builder.js';

/** Upstream times are epoch-millisecond strings; clients get ISO-8601. */
export function toDate(value: Date | string | number): Date {
  if (value instanceof Date) return value;
  const ms = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return new Date(ms);
}

builder.scalarType('DateTime', {
  description: 'An instant in time, serialized as an ISO-8601 string in UTC (e.g. "2026-11-28T18:00:00.000Z").',
  serialize: (value) => {
    const date = toDate(value);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
    return date;
  },
});

builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request spec (https://github.com/jaydenseric/graphql-multipart-request-spec).',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value) => {
    // Yoga hands over its fetch implementation's File (a ponyfill on Node), so check the shape, not the class.
    const file = value as Partial<File> | null;
    if (file && typeof file === 'object' && typeof file.name === 'string' && typeof file.stream === 'function') return file as File;
    throw new GraphQLError('File must be sent as a multipart upload');
  },
});
