import { describe, expect, it } from '@jest/globals';

import { buildCreateAppBody, buildScalingBody } from './app-run.js';
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

describe('buildScalingBody', () => {
  it('is a fixed strategy', () => {
    expect(buildScalingBody(3)).toEqual({ fixed: { replicas: 3 } });
  });
});
