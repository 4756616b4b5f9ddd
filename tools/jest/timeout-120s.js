// End-to-end tests drive the whole platform: give each test up to two minutes.
import { jest } from '@jest/globals';

jest.setTimeout(120_000);
