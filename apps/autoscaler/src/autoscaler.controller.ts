import type { IngressTraffic, NodeUsage } from '@gantry/contracts';
import { OnSignal } from '@gantry/messaging';
import { Controller } from '@nestjs/common';

import { Autoscaler } from './autoscaler.js';

/** The autoscaler's inputs on core NATS (lossy: a lost report is only a sample less). */
@Controller()
export class AutoscalerController {
  constructor(private readonly autoscaler: Autoscaler) {}

  @OnSignal('node.usage.v1')
  onUsage(report: NodeUsage): void {
    this.autoscaler.onUsage(report);
  }

  @OnSignal('ingress.traffic.v1')
  onTraffic(report: IngressTraffic): void {
    this.autoscaler.onTraffic(report);
  }
}
