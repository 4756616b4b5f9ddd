import { Injectable } from '@nestjs/common';

/** The meter's clock: `asOf` of queries and the ledger's notion of "now". Replaceable in tests. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
