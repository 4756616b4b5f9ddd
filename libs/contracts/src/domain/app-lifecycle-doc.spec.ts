import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { lifecycleMermaid } from './app-state.js';

describe('docs/app-lifecycle.md', () => {
  it('shows the lifecycle table as it is', () => {
    const doc = readFileSync(new URL('../../../../docs/app-lifecycle.md', import.meta.url), 'utf8');
    const diagram = /```mermaid\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(diagram).toBe(lifecycleMermaid());
  });
});
