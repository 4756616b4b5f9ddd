import { z } from 'zod';

import { IdSchema } from '../wire/common.js';
import { NodeRecordSchema } from '../wire/nodes.js';

/** `GET /v1/node` (admin tokens only): every node of the fleet, as the scheduler sees it. */
export const NodeListSchema = z.strictObject({ items: z.array(NodeRecordSchema) });
export type NodeList = z.infer<typeof NodeListSchema>;

/** Path parameter of `/v1/node/{id}`. */
export const NodeIdSchema = IdSchema;

/** What an operator may do to a node through `PUT /v1/node/{id}/{action}` (delete is `DELETE`). */
export const NODE_ACTIONS = ['cordon', 'uncordon', 'drain'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];
