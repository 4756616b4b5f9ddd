import { randomBytes } from 'node:crypto';

/** A name no other test run uses: `<prefix>_<pid>_<random>`, valid as a namespace, database or label. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${process.pid.toString(36)}_${randomBytes(4).toString('hex')}`;
}
