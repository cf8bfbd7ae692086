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
    "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        filename\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": typeof types.CreateVideoUploadDocument,
    "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}": typeof types.FollowFrameExtractionDocument,
    "query FrameCollectionFrames($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames {\n      id\n      index\n      url\n      contentType\n    }\n    zipUrl\n  }\n}": typeof types.FrameCollectionFramesDocument,
    "query FrameRenditions($id: ID!, $limit: Int = 100) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames(limit: $limit) {\n      id\n      index\n      thumb: url(width: 240, format: WEBP)\n      thumb2x: url(width: 480, format: WEBP)\n      full: url\n    }\n    sprite(columns: 10, tileWidth: 160, format: JPEG) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n    preview(fps: 4, width: 320, format: WEBP)\n  }\n}": typeof types.FrameRenditionsDocument,
    "mutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on ImportFailedError {\n      url\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": typeof types.ImportVideoDocument,
    "mutation StartFrameExtraction($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      assetId\n      uploadStatus\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": typeof types.StartFrameExtractionDocument,
    "query GatewayTypename {\n  __typename\n}": typeof types.GatewayTypenameDocument,
    "mutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": typeof types.UploadVideoDocument,
    "query VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    extension\n    fileSize\n    uploadStatus\n    url\n  }\n}": typeof types.VideoAssetStatusDocument,
};
const documents: Documents = {
    "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        filename\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": types.CreateVideoUploadDocument,
    "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}": types.FollowFrameExtractionDocument,
    "query FrameCollectionFrames($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames {\n      id\n      index\n      url\n      contentType\n    }\n    zipUrl\n  }\n}": types.FrameCollectionFramesDocument,
    "query FrameRenditions($id: ID!, $limit: Int = 100) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames(limit: $limit) {\n      id\n      index\n      thumb: url(width: 240, format: WEBP)\n      thumb2x: url(width: 480, format: WEBP)\n      full: url\n    }\n    sprite(columns: 10, tileWidth: 160, format: JPEG) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n    preview(fps: 4, width: 320, format: WEBP)\n  }\n}": types.FrameRenditionsDocument,
    "mutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on ImportFailedError {\n      url\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": types.ImportVideoDocument,
    "mutation StartFrameExtraction($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      assetId\n      uploadStatus\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": types.StartFrameExtractionDocument,
    "query GatewayTypename {\n  __typename\n}": types.GatewayTypenameDocument,
    "mutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": types.UploadVideoDocument,
    "query VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    extension\n    fileSize\n    uploadStatus\n    url\n  }\n}": types.VideoAssetStatusDocument,
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
export function graphql(source: "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        filename\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        filename\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}"): (typeof documents)["subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FrameCollectionFrames($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames {\n      id\n      index\n      url\n      contentType\n    }\n    zipUrl\n  }\n}"): (typeof documents)["query FrameCollectionFrames($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames {\n      id\n      index\n      url\n      contentType\n    }\n    zipUrl\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FrameRenditions($id: ID!, $limit: Int = 100) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames(limit: $limit) {\n      id\n      index\n      thumb: url(width: 240, format: WEBP)\n      thumb2x: url(width: 480, format: WEBP)\n      full: url\n    }\n    sprite(columns: 10, tileWidth: 160, format: JPEG) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n    preview(fps: 4, width: 320, format: WEBP)\n  }\n}"): (typeof documents)["query FrameRenditions($id: ID!, $limit: Int = 100) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    frames(limit: $limit) {\n      id\n      index\n      thumb: url(width: 240, format: WEBP)\n      thumb2x: url(width: 480, format: WEBP)\n      full: url\n    }\n    sprite(columns: 10, tileWidth: 160, format: JPEG) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n    preview(fps: 4, width: 320, format: WEBP)\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on ImportFailedError {\n      url\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on ImportFailedError {\n      url\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation StartFrameExtraction($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      assetId\n      uploadStatus\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation StartFrameExtraction($assetId: ID!, $force: Boolean, $idempotencyKey: String) {\n  extractFrames(assetId: $assetId, force: $force, idempotencyKey: $idempotencyKey) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        assetId\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      assetId\n      uploadStatus\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query GatewayTypename {\n  __typename\n}"): (typeof documents)["query GatewayTypename {\n  __typename\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"): (typeof documents)["mutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        filename\n        fileSize\n        uploadStatus\n      }\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    extension\n    fileSize\n    uploadStatus\n    url\n  }\n}"): (typeof documents)["query VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    extension\n    fileSize\n    uploadStatus\n    url\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;