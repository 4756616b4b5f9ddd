import type { QueryRequest, QueryResponse } from '@gantry/contracts';
import { OnQuery } from '@gantry/messaging';
import { Controller } from '@nestjs/common';

import { RegistriesService } from './services/registries.service.js';

/** NATS handler: node agents ask for the credentials of an image's registry before they pull it. */
@Controller()
export class RegistryAuthController {
  constructor(private readonly registries: RegistriesService) {}

  @OnQuery('query.registry-auth.v1')
  auth(q: QueryRequest<'query.registry-auth.v1'>): Promise<QueryResponse<'query.registry-auth.v1'>> {
    return this.registries.auth(q);
  }
}
