/* eslint-disable */
import * as types from './graphql.js';



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
    "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nquery VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    uploadStatus\n  }\n}": typeof types.CreateVideoUploadDocument,
    "mutation StartFrameExtraction($assetId: ID!) {\n  extractFrames(assetId: $assetId) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      uploadStatus\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": typeof types.StartFrameExtractionDocument,
    "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}": typeof types.FollowFrameExtractionDocument,
    "query FrameGrid($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    zipUrl\n    frames(limit: 1000) {\n      id\n      index\n      small: url(width: 160, format: WEBP)\n      large: url(width: 320, format: WEBP)\n      full: url\n    }\n  }\n}\n\nquery FrameSprite($id: ID!, $columns: Int = 10, $tileWidth: Int = 160) {\n  frameCollection(id: $id) {\n    id\n    sprite(columns: $columns, tileWidth: $tileWidth) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n  }\n}": typeof types.FrameGridDocument,
};
const documents: Documents = {
    "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nquery VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    uploadStatus\n  }\n}": types.CreateVideoUploadDocument,
    "mutation StartFrameExtraction($assetId: ID!) {\n  extractFrames(assetId: $assetId) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      uploadStatus\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}": types.StartFrameExtractionDocument,
    "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}": types.FollowFrameExtractionDocument,
    "query FrameGrid($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    zipUrl\n    frames(limit: 1000) {\n      id\n      index\n      small: url(width: 160, format: WEBP)\n      large: url(width: 320, format: WEBP)\n      full: url\n    }\n  }\n}\n\nquery FrameSprite($id: ID!, $columns: Int = 10, $tileWidth: Int = 160) {\n  frameCollection(id: $id) {\n    id\n    sprite(columns: $columns, tileWidth: $tileWidth) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n  }\n}": types.FrameGridDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreateVideoUpload($filename: String!, $contentType: String) {\n  createVideoUpload(filename: $filename, contentType: $contentType) {\n    __typename\n    ... on VideoUploadTicket {\n      asset {\n        id\n        uploadStatus\n      }\n      uploadUrl\n      method\n      fieldName\n      expiresAt\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation UploadVideo($file: File!) {\n  uploadVideo(file: $file) {\n    __typename\n    ... on UploadVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nmutation ImportVideo($url: String!) {\n  importVideo(url: $url) {\n    __typename\n    ... on ImportVideoSuccess {\n      asset {\n        id\n        uploadStatus\n      }\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}\n\nquery VideoAssetStatus($id: ID!) {\n  videoAsset(id: $id) {\n    id\n    filename\n    uploadStatus\n  }\n}"): typeof import('./graphql.js').CreateVideoUploadDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation StartFrameExtraction($assetId: ID!) {\n  extractFrames(assetId: $assetId) {\n    __typename\n    ... on ExtractFramesSuccess {\n      reused\n      task {\n        id\n        status\n      }\n    }\n    ... on AssetNotReadyError {\n      uploadStatus\n    }\n    ... on UpstreamRateLimitedError {\n      retryAfterSeconds\n    }\n    ... on QuotaExceededError {\n      retryAfterSeconds\n    }\n    ... on Error {\n      message\n      code\n    }\n  }\n}"): typeof import('./graphql.js').StartFrameExtractionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "subscription FollowFrameExtraction($id: ID!) {\n  frameExtractionTask(id: $id) {\n    id\n    status\n    frameCount\n    collectionId\n    error\n  }\n}"): typeof import('./graphql.js').FollowFrameExtractionDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query FrameGrid($id: ID!) {\n  frameCollection(id: $id) {\n    id\n    frameCount\n    zipUrl\n    frames(limit: 1000) {\n      id\n      index\n      small: url(width: 160, format: WEBP)\n      large: url(width: 320, format: WEBP)\n      full: url\n    }\n  }\n}\n\nquery FrameSprite($id: ID!, $columns: Int = 10, $tileWidth: Int = 160) {\n  frameCollection(id: $id) {\n    id\n    sprite(columns: $columns, tileWidth: $tileWidth) {\n      url\n      columns\n      rows\n      tileWidth\n      tileHeight\n      tiles {\n        index\n        x\n        y\n      }\n    }\n  }\n}"): typeof import('./graphql.js').FrameGridDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
