import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { Checkpoint } from './checkpoint.js';

describe('Checkpoint', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-checkpoint-'));
    path = join(dir, 'node.json');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps the images pulled with credentials across a reload, with the replicas', async () => {
    const first = await Checkpoint.load(path);
    first.update('r1', { restarts: 2 });
    expect(await first.rememberPrivateImage('sha256:abc', '127.0.0.1:5000')).toBe(true);

    const second = await Checkpoint.load(path);
    expect(second.privateImage('sha256:abc')).toBe('127.0.0.1:5000');
    expect(second.privateImage('sha256:def')).toBeUndefined();
    expect(second.get('r1')).toMatchObject({ restarts: 2 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({
      version: 1,
      privateImages: { 'sha256:abc': '127.0.0.1:5000' },
    });
  });

  it('has a private image on disk by the time it is remembered, without waiting for a later save', async () => {
    const cp = await Checkpoint.load(path);
    cp.update('r1', { restarts: 1 }); // a save is scheduled for later
    await cp.rememberPrivateImage('sha256:abc', '127.0.0.1:5000');
    // Read as a crashed agent's successor would, at once.
    expect((await Checkpoint.load(path)).privateImage('sha256:abc')).toBe('127.0.0.1:5000');
  });

  it('says when a private image could not be recorded', async () => {
    await writeFile(join(dir, 'blocker'), '');
    const cp = await Checkpoint.load(join(dir, 'blocker', 'node.json'));
    expect(await cp.rememberPrivateImage('sha256:abc', '127.0.0.1:5000')).toBe(false);
  });

  it('loads the file of an agent that predates the memory of private images', async () => {
    await writeFile(path, JSON.stringify({ version: 1, replicas: { r1: { restarts: 1, everReady: true } } }));
    const cp = await Checkpoint.load(path);
    expect(cp.get('r1')).toMatchObject({ restarts: 1, everReady: true });
    expect(cp.privateImage('sha256:abc')).toBeUndefined();
  });

  it('drops an invalid memory of private images alone, keeping the replicas', async () => {
    await writeFile(path, JSON.stringify({ version: 1, replicas: { r1: {} }, privateImages: ['nonsense'] }));
    const cp = await Checkpoint.load(path);
    expect(cp.ids()).toEqual(['r1']);
    expect(cp.privateImage('0')).toBeUndefined();
  });
});
