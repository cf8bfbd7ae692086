import { builder } from './builder.js';
import './scalars.js';
import './errors.js';
import './frame-extraction-task.js';
import './frame-collection.js';
import './frame.js';
import './image-enums.js';
import './frame-sprite.js';
import './video-asset.js';
import './video-upload.js';
import './frame-extraction-task-connection.js';
import './video-asset-connection.js';
import './video-asset-deletion.js';
import './frame-collection-deletion.js';

builder.queryType({ description: 'Frames and extraction tasks.' });
builder.mutationType({ description: 'Start work upstream, or delete what the caller owns.' });
builder.subscriptionType({ description: 'Live task updates (graphql-ws on /graphql, or SSE).' });

/** Federation v2 subgraph schema (entities: FrameCollection, Frame, VideoAsset, FrameExtractionTask). */
export const schema = builder.toSubGraphSchema({
  linkUrl: 'https://specs.apollo.dev/federation/v2.6',
  federationDirectives: ['@key', '@shareable'],
});
