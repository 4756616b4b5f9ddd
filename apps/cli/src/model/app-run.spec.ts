import { describe, expect, it } from '@jest/globals';

import { buildCreateAppBody, buildScalingBody, type ScalingOptions } from './app-run.js';
import { ArgumentError } from './args.js';

describe('buildCreateAppBody: gantry app run → POST /v1/app', () => {
  it('sends only the image when no option is given (the API applies its defaults)', () => {
    expect(buildCreateAppBody('busybox:1.37', {})).toEqual({ image: 'busybox:1.37' });
  });

  it('maps every option to its AppSpecInput field', () => {
    expect(
      buildCreateAppBody(
        'registry.example.com/team/model:1.2',
        {
          name: 'my model',
          cpu: 2,
          flavor: 'ai1-1-cpu',
          replicas: 3,
          env: [
            ['MODEL', 'small'],
            ['EMPTY', ''],
          ],
          label: [['team', 'a']],
          defaultHttpPort: 8501,
          grpcPort: 9000,
          unsecureHttp: true,
          probePath: '/health',
          probePort: 8502,
        },
        ['python', 'serve.py', '--port', '8501'],
      ),
    ).toEqual({
      image: 'registry.example.com/team/model:1.2',
      name: 'my model',
      command: ['python', 'serve.py', '--port', '8501'],
      envVars: [
        { name: 'MODEL', value: 'small' },
        { name: 'EMPTY', value: '' },
      ],
      labels: { team: 'a' },
      resources: { flavor: 'ai1-1-cpu', cpu: 2 },
      scalingStrategy: { fixed: { replicas: 3 } },
      defaultHttpPort: 8501,
      grpcPort: 9000,
      probe: { path: '/health', port: 8502 },
      unsecureHttp: true,
    });
  });

  it('a variable or label given twice keeps its last value', () => {
    const body = buildCreateAppBody('img', {
      env: [
        ['A', '1'],
        ['A', '2'],
      ],
      label: [
        ['team', 'a'],
        ['team', 'b'],
      ],
    });
    expect(body.envVars).toEqual([{ name: 'A', value: '2' }]);
    expect(body.labels).toEqual({ team: 'b' });
  });

  it('sends a GPU request, or a probe with only a path', () => {
    expect(buildCreateAppBody('img', { gpu: 1, probePath: '/ready' })).toEqual({
      image: 'img',
      resources: { gpu: 1 },
      probe: { path: '/ready' },
    });
  });

  it('leaves unsecureHttp out when the flag is absent', () => {
    expect(buildCreateAppBody('img', { unsecureHttp: false })).not.toHaveProperty('unsecureHttp');
  });

  it('refuses --cpu with --gpu', () => {
    expect(() => buildCreateAppBody('img', { cpu: 1, gpu: 1 })).toThrow(ArgumentError);
  });
});

describe('automatic scaling flags → scalingStrategy.automatic', () => {
  it('sends only the flags given (the API applies the defaults)', () => {
    expect(buildCreateAppBody('img', { autoMinReplicas: 1, autoMaxReplicas: 4 })).toEqual({
      image: 'img',
      scalingStrategy: { automatic: { replicasMin: 1, replicasMax: 4 } },
    });
  });

  it('maps every resource and delay flag to its AutomaticScaling field', () => {
    expect(
      buildCreateAppBody('img', {
        autoMinReplicas: 0,
        autoMaxReplicas: 4,
        autoResourceType: 'RAM',
        autoResourceUsageThreshold: 50,
        autoScaleUpStabilizationWindowSeconds: 30,
        autoScaleDownStabilizationWindowSeconds: 600,
        autoCooldownPeriodSeconds: 120,
      }).scalingStrategy,
    ).toEqual({
      automatic: {
        replicasMin: 0,
        replicasMax: 4,
        resourceType: 'RAM',
        averageUsageTarget: 50,
        scaleUpStabilizationWindowSeconds: 30,
        scaleDownStabilizationWindowSeconds: 600,
        cooldownPeriodSeconds: 120,
      },
    });
  });

  it('builds customMetrics from the --auto-custom-* flags', () => {
    expect(
      buildScalingBody({
        autoMinReplicas: 1,
        autoMaxReplicas: 3,
        autoCustomApiUrl: 'http://<SELF>:9100/metrics',
        autoCustomMetricFormat: 'PROMETHEUS',
        autoCustomValueLocation: 'queue_depth{queue="a"}',
        autoCustomTargetValue: 2.5,
        autoCustomMetricAggregationType: 'MAX',
      }),
    ).toEqual({
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        customMetrics: {
          apiUrl: 'http://<SELF>:9100/metrics',
          format: 'PROMETHEUS',
          valueLocation: 'queue_depth{queue="a"}',
          targetValue: 2.5,
          aggregationType: 'MAX',
        },
      },
    });
    // Format and aggregation default on the server (JSON, AVERAGE).
    expect(
      buildScalingBody({
        autoMinReplicas: 1,
        autoMaxReplicas: 3,
        autoCustomApiUrl: 'https://metrics.example.com/q',
        autoCustomValueLocation: 'tasks',
        autoCustomTargetValue: 10,
      }),
    ).toEqual({
      automatic: {
        replicasMin: 1,
        replicasMax: 3,
        customMetrics: { apiUrl: 'https://metrics.example.com/q', valueLocation: 'tasks', targetValue: 10 },
      },
    });
  });

  it('sends out-of-range values as typed: the API names the field', () => {
    expect(
      buildScalingBody({ autoMinReplicas: 5, autoMaxReplicas: 2, autoCooldownPeriodSeconds: 60 }),
    ).toEqual({
      automatic: { replicasMin: 5, replicasMax: 2, cooldownPeriodSeconds: 60 },
    });
  });

  it.each<[string, ScalingOptions, RegExp]>([
    [
      '--replicas with --auto-*',
      { replicas: 2, autoMinReplicas: 1, autoMaxReplicas: 4 },
      /--replicas and --auto-\* cannot be used together/,
    ],
    [
      '--replicas with one delay flag',
      { replicas: 2, autoCooldownPeriodSeconds: 60 },
      /cannot be used together/,
    ],
    ['no maximum', { autoMinReplicas: 1 }, /needs both --auto-min-replicas and --auto-max-replicas/],
    [
      'no bounds at all',
      { autoResourceType: 'CPU' },
      /needs both --auto-min-replicas and --auto-max-replicas/,
    ],
    [
      'a resource with a custom metric',
      {
        autoMinReplicas: 1,
        autoMaxReplicas: 2,
        autoResourceUsageThreshold: 50,
        autoCustomApiUrl: 'http://<SELF>:9100/m',
        autoCustomValueLocation: 'q',
        autoCustomTargetValue: 1,
      },
      /cannot be used with --auto-custom-\*: an app scales on one metric/,
    ],
    [
      'an incomplete custom metric',
      { autoMinReplicas: 1, autoMaxReplicas: 2, autoCustomMetricFormat: 'YAML', autoCustomTargetValue: 1 },
      /\(missing: --auto-custom-api-url, --auto-custom-value-location\)$/,
    ],
  ])('refuses %s', (_, opts, message) => {
    expect(() => buildScalingBody(opts)).toThrow(message);
    expect(() => buildCreateAppBody('img', opts)).toThrow(ArgumentError);
  });
});

describe('buildScalingBody', () => {
  it('is a fixed strategy with --replicas', () => {
    expect(buildScalingBody({ replicas: 3 })).toEqual({ fixed: { replicas: 3 } });
  });

  it('needs --replicas or the automatic bounds', () => {
    expect(() => buildScalingBody({})).toThrow(
      /give --replicas N .* or --auto-min-replicas N --auto-max-replicas M/,
    );
  });
});
