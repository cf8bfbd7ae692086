/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Where an extraction task is in its life. SUCCEEDED and FAILED are final; a TIMED_OUT task can still become SUCCEEDED or FAILED. */
export type FrameExtractionStatus =
  /** The upstream reported a failure; see `error`. */
  | 'FAILED'
  /** Submitted upstream; waiting for the result callback. */
  | 'PENDING'
  /** Frames are ready in `collection`. */
  | 'SUCCEEDED'
  /** No callback arrived before the deadline. Not final: a late result still upgrades the task to SUCCEEDED or FAILED, and subscriptions stay open for it during the late-result grace period (TASK_LATE_RESULT_GRACE_SECONDS). */
  | 'TIMED_OUT';

/** Upload state of an asset upstream. Only SUCCESS assets can be used by other operations. */
export type UploadStatus =
  /** Unusable (for example a corrupt or unsupported file). */
  | 'FAILED'
  /** Ready to use. */
  | 'SUCCESS'
  /** Being stored and checked. */
  | 'UPLOADING'
  /** Accepted, not yet processed. */
  | 'WAITING';

export type CreateVideoUploadMutationVariables = Exact<{
  filename: string;
  contentType?: string | null | undefined;
}>;


export type CreateVideoUploadMutation = { createVideoUpload:
    | { __typename: 'InvalidArgumentError', message: string, code: string }
    | { __typename: 'QuotaExceededError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UploadRejectedError', message: string, code: string }
    | { __typename: 'UpstreamRateLimitedError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UpstreamUnavailableError', message: string, code: string }
    | { __typename: 'VideoUploadTicket', uploadUrl: string, method: string, fieldName: string, expiresAt: string, asset: { id: string, uploadStatus: UploadStatus | null } }
   };

export type UploadVideoMutationVariables = Exact<{
  file: File;
}>;


export type UploadVideoMutation = { uploadVideo:
    | { __typename: 'QuotaExceededError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UploadRejectedError', message: string, code: string }
    | { __typename: 'UploadVideoSuccess', asset: { id: string, uploadStatus: UploadStatus | null } }
    | { __typename: 'UpstreamRateLimitedError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UpstreamUnavailableError', message: string, code: string }
   };

export type ImportVideoMutationVariables = Exact<{
  url: string;
}>;


export type ImportVideoMutation = { importVideo:
    | { __typename: 'ImportFailedError', message: string, code: string }
    | { __typename: 'ImportVideoSuccess', asset: { id: string, uploadStatus: UploadStatus | null } }
    | { __typename: 'QuotaExceededError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UploadRejectedError', message: string, code: string }
    | { __typename: 'UpstreamRateLimitedError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UpstreamUnavailableError', message: string, code: string }
   };

export type VideoAssetStatusQueryVariables = Exact<{
  id: string | number;
}>;


export type VideoAssetStatusQuery = { videoAsset: { id: string, filename: string | null, uploadStatus: UploadStatus | null } | null };

export type StartFrameExtractionMutationVariables = Exact<{
  assetId: string | number;
}>;


export type StartFrameExtractionMutation = { extractFrames:
    | { __typename: 'AssetNotFoundError', message: string, code: string }
    | { __typename: 'AssetNotReadyError', uploadStatus: string | null, message: string, code: string }
    | { __typename: 'ExtractFramesSuccess', reused: boolean, task: { id: string, status: FrameExtractionStatus } }
    | { __typename: 'IdempotencyKeyConflictError', message: string, code: string }
    | { __typename: 'InvalidArgumentError', message: string, code: string }
    | { __typename: 'InvalidAssetIdError', message: string, code: string }
    | { __typename: 'NotAVideoError', message: string, code: string }
    | { __typename: 'QuotaExceededError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UpstreamRateLimitedError', retryAfterSeconds: number, message: string, code: string }
    | { __typename: 'UpstreamUnavailableError', message: string, code: string }
   };

export type FollowFrameExtractionSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type FollowFrameExtractionSubscription = { frameExtractionTask: { id: string, status: FrameExtractionStatus, frameCount: number | null, collectionId: string | null, error: string | null } };

export type FrameGridQueryVariables = Exact<{
  id: string | number;
}>;


export type FrameGridQuery = { frameCollection: { id: string, frameCount: number, zipUrl: string, frames: Array<{ id: string, index: number, small: string, large: string, full: string }> } | null };

export type FrameSpriteQueryVariables = Exact<{
  id: string | number;
  columns?: number | null | undefined;
  tileWidth?: number | null | undefined;
}>;


export type FrameSpriteQuery = { frameCollection: { id: string, sprite: { url: string, columns: number, rows: number, tileWidth: number, tileHeight: number, tiles: Array<{ index: number, x: number, y: number }> } } | null };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const CreateVideoUploadDocument = new TypedDocumentString(`
    mutation CreateVideoUpload($filename: String!, $contentType: String) {
  createVideoUpload(filename: $filename, contentType: $contentType) {
    __typename
    ... on VideoUploadTicket {
      asset {
        id
        uploadStatus
      }
      uploadUrl
      method
      fieldName
      expiresAt
    }
    ... on UpstreamRateLimitedError {
      retryAfterSeconds
    }
    ... on QuotaExceededError {
      retryAfterSeconds
    }
    ... on Error {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<CreateVideoUploadMutation, CreateVideoUploadMutationVariables>;
export const UploadVideoDocument = new TypedDocumentString(`
    mutation UploadVideo($file: File!) {
  uploadVideo(file: $file) {
    __typename
    ... on UploadVideoSuccess {
      asset {
        id
        uploadStatus
      }
    }
    ... on UpstreamRateLimitedError {
      retryAfterSeconds
    }
    ... on QuotaExceededError {
      retryAfterSeconds
    }
    ... on Error {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<UploadVideoMutation, UploadVideoMutationVariables>;
export const ImportVideoDocument = new TypedDocumentString(`
    mutation ImportVideo($url: String!) {
  importVideo(url: $url) {
    __typename
    ... on ImportVideoSuccess {
      asset {
        id
        uploadStatus
      }
    }
    ... on UpstreamRateLimitedError {
      retryAfterSeconds
    }
    ... on QuotaExceededError {
      retryAfterSeconds
    }
    ... on Error {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ImportVideoMutation, ImportVideoMutationVariables>;
export const VideoAssetStatusDocument = new TypedDocumentString(`
    query VideoAssetStatus($id: ID!) {
  videoAsset(id: $id) {
    id
    filename
    uploadStatus
  }
}
    `) as unknown as TypedDocumentString<VideoAssetStatusQuery, VideoAssetStatusQueryVariables>;
export const StartFrameExtractionDocument = new TypedDocumentString(`
    mutation StartFrameExtraction($assetId: ID!) {
  extractFrames(assetId: $assetId) {
    __typename
    ... on ExtractFramesSuccess {
      reused
      task {
        id
        status
      }
    }
    ... on AssetNotReadyError {
      uploadStatus
    }
    ... on UpstreamRateLimitedError {
      retryAfterSeconds
    }
    ... on QuotaExceededError {
      retryAfterSeconds
    }
    ... on Error {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<StartFrameExtractionMutation, StartFrameExtractionMutationVariables>;
export const FollowFrameExtractionDocument = new TypedDocumentString(`
    subscription FollowFrameExtraction($id: ID!) {
  frameExtractionTask(id: $id) {
    id
    status
    frameCount
    collectionId
    error
  }
}
    `) as unknown as TypedDocumentString<FollowFrameExtractionSubscription, FollowFrameExtractionSubscriptionVariables>;
export const FrameGridDocument = new TypedDocumentString(`
    query FrameGrid($id: ID!) {
  frameCollection(id: $id) {
    id
    frameCount
    zipUrl
    frames(limit: 1000) {
      id
      index
      small: url(width: 160, format: WEBP)
      large: url(width: 320, format: WEBP)
      full: url
    }
  }
}
    `) as unknown as TypedDocumentString<FrameGridQuery, FrameGridQueryVariables>;
export const FrameSpriteDocument = new TypedDocumentString(`
    query FrameSprite($id: ID!, $columns: Int = 10, $tileWidth: Int = 160) {
  frameCollection(id: $id) {
    id
    sprite(columns: $columns, tileWidth: $tileWidth) {
      url
      columns
      rows
      tileWidth
      tileHeight
      tiles {
        index
        x
        y
      }
    }
  }
}
    `) as unknown as TypedDocumentString<FrameSpriteQuery, FrameSpriteQueryVariables>;