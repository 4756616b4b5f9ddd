import { randomBytes } from 'node:crypto';

const ADJECTIVES = [
  'amber',
  'bold',
  'brave',
  'bright',
  'calm',
  'clever',
  'cosmic',
  'crisp',
  'eager',
  'fancy',
  'gentle',
  'glad',
  'golden',
  'happy',
  'jolly',
  'keen',
  'kind',
  'lively',
  'lucky',
  'merry',
  'nimble',
  'proud',
  'quick',
  'quiet',
  'rapid',
  'shiny',
  'silent',
  'steady',
  'sunny',
  'swift',
  'tidy',
  'vivid',
  'wise',
  'witty',
  'young',
  'zesty',
] as const;

const NOUNS = [
  'badger',
  'beacon',
  'comet',
  'cedar',
  'dolphin',
  'ember',
  'falcon',
  'fjord',
  'galaxy',
  'harbor',
  'heron',
  'island',
  'lagoon',
  'lantern',
  'maple',
  'meadow',
  'nebula',
  'otter',
  'panda',
  'pebble',
  'pine',
  'quasar',
  'raven',
  'river',
  'rocket',
  'sparrow',
  'summit',
  'tiger',
  'tundra',
  'valley',
  'walrus',
  'willow',
  'yak',
  'zephyr',
] as const;

/** Source of randomness: `n` random bytes. Injected so that tests are deterministic. */
export type RandomBytes = (n: number) => Uint8Array;

/**
 * An app name for apps created without one: `adjective-noun-4hex`, e.g. `swift-otter-3f9a`. Names are
 * informative only (apps are addressed by id), so collisions are harmless, merely unlikely.
 */
export function generateAppName(random: RandomBytes = randomBytes): string {
  const b = random(4);
  const adjective = ADJECTIVES[(b[0] ?? 0) % ADJECTIVES.length] ?? ADJECTIVES[0];
  const noun = NOUNS[(b[1] ?? 0) % NOUNS.length] ?? NOUNS[0];
  const hex = Buffer.from([b[2] ?? 0, b[3] ?? 0]).toString('hex');
  return `${adjective}-${noun}-${hex}`;
}
