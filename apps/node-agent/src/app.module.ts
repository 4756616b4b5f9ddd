import { MessageBus, MessagingModule } from '@gantry/messaging';
import { HealthModule, Readiness } from '@gantry/runtime';
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';

import { NatsControlPlane } from './agent/control-plane.js';
import { NodeAgent, type NodeAgentOptions } from './agent/node-agent.js';
import type { NodeAgentConfig } from './config.js';
import { DockerDriver } from './driver/docker/docker-driver.js';

export const SERVICE = 'node-agent';

/** Replaceable parts (tests, simulated nodes): by default the Docker driver and HTTP probes. */
export type NodeAgentOverrides = Partial<
  Pick<NodeAgentOptions, 'driver' | 'prober' | 'gpus' | 'policy' | 'probeTiming'>
>;

/** Starts the agent once the app is up, and stops it (containers keep running) before NATS closes. */
@Injectable()
class NodeAgentLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(NodeAgent) private readonly agent: NodeAgent,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const checks = this.agent.readiness();
    this.readiness.register('nats', checks.nats);
    this.readiness.register('docker', checks.docker);
    this.readiness.register('assignments', checks.assignments);
    await this.agent.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.agent.stop();
  }
}

@Module({})
export class NodeAgentModule {
  static forRoot(config: NodeAgentConfig, overrides: NodeAgentOverrides = {}): DynamicModule {
    return {
      module: NodeAgentModule,
      imports: [
        HealthModule,
        MessagingModule.forRoot({
          service: SERVICE,
          natsUrl: config.NATS_URL,
          namespace: config.GANTRY_NAMESPACE,
          replicas: config.GANTRY_NATS_REPLICAS,
        }),
      ],
      providers: [
        {
          provide: NodeAgent,
          useFactory: (bus: MessageBus) =>
            new NodeAgent({
              config,
              plane: new NatsControlPlane(bus, { registryAuthTimeoutMs: config.REGISTRY_AUTH_TIMEOUT_MS }),
              driver: overrides.driver ?? DockerDriver.connect(config.DOCKER_HOST),
              ...overrides,
            }),
          inject: [MessageBus],
        },
        NodeAgentLifecycle,
      ],
      exports: [NodeAgent],
    };
  }
}
