import { type FieldError } from '@gantry/contracts';
import { fieldErrors, validationFailed } from '@gantry/errors';
import { z } from 'zod';

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  keys?: string[];
  issues?: Issue[];
}

const EXPECTED: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  record: 'an object',
};

/** zod's default sentences, rewritten as the API's ("must be a number, not a string"). */
export function humanize(issue: Issue): Issue {
  const defaulted = /^(Invalid input|Too (big|small))/.test(issue.message);
  if (!defaulted && issue.code !== 'invalid_key') return issue;
  switch (issue.code) {
    case 'invalid_type': {
      const received = /received (\w+)/.exec(issue.message)?.[1];
      if (received === 'undefined') return { ...issue, message: 'is required' };
      const expected = EXPECTED[issue.expected ?? ''] ?? issue.expected ?? 'something else';
      return { ...issue, message: `must be ${expected}${received ? `, not ${article(received)}` : ''}` };
    }
    case 'too_small':
      return { ...issue, message: `must be at least ${String(issue.minimum)}${unit(issue.origin)}` };
    case 'too_big':
      return { ...issue, message: `must be at most ${String(issue.maximum)}${unit(issue.origin)}` };
    case 'invalid_key':
      return { ...issue, message: issue.issues?.[0]?.message ?? 'is not a valid key' };
    default:
      return issue;
  }
}

function article(type: string): string {
  if (type === 'null' || type === 'undefined') return type;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function unit(origin: string | undefined): string {
  if (origin === 'string') return ' characters';
  if (origin === 'array' || origin === 'set') return ' items';
  return '';
}

/** Field errors for zod issues, with the API's wording; `prefix` names where the input came from. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldError[] {
  return fieldErrors((issues as unknown as Issue[]).map(humanize), prefix);
}

/**
 * Validates `value` (a body, a query, a path parameter) with `schema`, or throws a 400
 * VALIDATION_FAILED whose message names the first bad field and whose details list them all.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationFailed(describeIssues(result.error.issues, prefix));
}

/** The query of a route that takes no parameters: any parameter is refused. */
export const NoQuerySchema = z.strictObject({});
