// Integration tests talk to real PostgreSQL, NATS and Docker: give each test up to a minute.
import { jest } from '@jest/globals';

jest.setTimeout(60_000);
