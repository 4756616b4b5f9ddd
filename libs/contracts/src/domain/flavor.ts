import { z } from 'zod';

/** A flavor of the catalog (reference §2.3 `Flavor`), plus its price. */
export const FlavorSchema = z.strictObject({
  id: z.string(),
  type: z.enum(['cpu', 'gpu']),
  default: z.boolean(),
  description: z.string(),
  /** Most units one replica may take. */
  max: z.int().min(1),
  resourcesPerUnit: z.strictObject({
    cpu: z.number().positive(),
    memory: z.int().min(0),
    ephemeralStorage: z.int().min(0),
    publicNetwork: z.int().min(0),
    privateNetwork: z.int().min(0),
  }),
  gpuInformation: z
    .strictObject({ gpuBrand: z.string(), gpuModel: z.string(), gpuMemory: z.int().min(0) })
    .optional(),
  price: z.strictObject({ unitPriceMicros: z.int().min(0), currency: z.string().length(3) }),
});
export type Flavor = z.infer<typeof FlavorSchema>;
