import type { Flavor } from '@gantry/contracts';

import { SEED_FLAVORS } from '../store/migrations/1764000000000-init.js';

/** The seeded flavor catalog, as the store maps it (ai1-1-cpu and ai1-1-gpu by default, h100-1-gpu). */
export const FLAVORS: Flavor[] = SEED_FLAVORS.map((f) => ({
  id: f.id,
  type: f.type,
  default: f.isDefault,
  description: f.description,
  max: f.maxUnits,
  resourcesPerUnit: {
    cpu: f.cpuPerUnit,
    memory: f.memoryPerUnit,
    ephemeralStorage: f.ephemeralStoragePerUnit,
    publicNetwork: f.publicNetworkPerUnit,
    privateNetwork: f.privateNetworkPerUnit,
  },
  ...(f.gpuBrand
    ? { gpuInformation: { gpuBrand: f.gpuBrand, gpuModel: f.gpuModel, gpuMemory: f.gpuMemory } }
    : {}),
  price: { unitPriceMicros: f.unitPriceMicros, currency: 'EUR' },
}));
