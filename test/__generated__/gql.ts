/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query CollectionFrames($id: ID!, $offset: Int, $limit: Int) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    complete\n    zipUrl\n    frames(offset: $offset, limit: $limit) {\n      id\n      index\n      extension\n      contentType\n      url\n    }\n  }\n}": typeof types.CollectionFramesDocument,
    "mutation ExtractFrames($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n        submittedAt\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}": typeof types.ExtractFramesDocument,
    "subscription WatchFrameExtractionTask($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    error\n    completedAt\n    collection {\n      id\n      frameCount\n    }\n  }\n}": typeof types.WatchFrameExtractionTaskDocument,
};
const documents: Documents = {
    "query CollectionFrames($id: ID!, $offset: Int, $limit: Int) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    complete\n    zipUrl\n    frames(offset: $offset, limit: $limit) {\n      id\n      index\n      extension\n      contentType\n      url\n    }\n  }\n}": types.CollectionFramesDocument,
    "mutation ExtractFrames($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n        submittedAt\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}": types.ExtractFramesDocument,
    "subscription WatchFrameExtractionTask($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    error\n    completedAt\n    collection {\n      id\n      frameCount\n    }\n  }\n}": types.WatchFrameExtractionTaskDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query CollectionFrames($id: ID!, $offset: Int, $limit: Int) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    complete\n    zipUrl\n    frames(offset: $offset, limit: $limit) {\n      id\n      index\n      extension\n      contentType\n      url\n    }\n  }\n}"): (typeof documents)["query CollectionFrames($id: ID!, $offset: Int, $limit: Int) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    complete\n    zipUrl\n    frames(offset: $offset, limit: $limit) {\n      id\n      index\n      extension\n      contentType\n      url\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ExtractFrames($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n        submittedAt\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}"): (typeof documents)["mutation ExtractFrames($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n        submittedAt\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription WatchFrameExtractionTask($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    error\n    completedAt\n    collection {\n      id\n      frameCount\n    }\n  }\n}"): (typeof documents)["subscription WatchFrameExtractionTask($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    error\n    completedAt\n    collection {\n      id\n      frameCount\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;