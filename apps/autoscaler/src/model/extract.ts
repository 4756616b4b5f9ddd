import { REPLICA_SCRAPE_MAX_BYTES } from '@gantry/contracts';
import { XMLParser } from 'fast-xml-parser';
import { parse as parseYaml } from 'yaml';

/** What a custom metric's answer gave: its number, or why there is none (a sentence, without the URL). */
export type Extracted = { ok: true; value: number } | { ok: false; error: string };

/** The formats a custom metric is read in (`customMetrics.format`). */
export type MetricFormat = 'JSON' | 'YAML' | 'XML' | 'PROMETHEUS';

/** Most segments a dotted path may have (a longer one is refused, not walked). */
const MAX_PATH_SEGMENTS = 64;

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** A value as it may be shown in a message: short, on one line. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

const fail = (error: string): Extracted => ({ ok: false, error });

/**
 * The value found at `location` as a finite number: a JSON/YAML number, or a string holding a plain
 * decimal number (`"12.5"`, as exporters that quote their figures send). Anything else is an error.
 */
function numberAt(value: unknown, location: string): Extracted {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && NUMBER.test(value.trim())) n = Number(value.trim());
  else if (value === null || value === undefined) return fail(`no value at ${location}`);
  else return fail(`the value at ${location} is not a number: ${shown(value)}`);
  if (!Number.isFinite(n)) return fail(`the value at ${location} is ${String(n)}, not a finite number`);
  return { ok: true, value: n };
}

/**
 * A dotted path's segments: `a.b.0.c`; `\.` is a dot inside a key and `\\` a backslash (as in GJSON).
 * Undefined when the path is malformed (an empty segment, a dangling backslash, too many segments).
 */
export function pathSegments(location: string): string[] | undefined {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < location.length; i++) {
    const c = location[i];
    if (c === '\\') {
      const next = location[i + 1];
      if (next === undefined) return undefined;
      current += next;
      i++;
    } else if (c === '.') {
      if (current === '') return undefined;
      segments.push(current);
      current = '';
      if (segments.length >= MAX_PATH_SEGMENTS) return undefined;
    } else current += c;
  }
  if (current === '') return undefined;
  segments.push(current);
  return segments;
}

/**
 * Walks a parsed document along a dotted path: object keys (own properties only), array indexes,
 * and a last segment `#` for the length of an array (GJSON's). Iterative, so a deep document costs
 * no stack.
 */
export function walkPath(root: unknown, location: string): Extracted {
  const segments = pathSegments(location);
  if (!segments) return fail(`invalid value location ${shown(location)}`);
  let current: unknown = root;
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (Array.isArray(current)) {
      if (segment === '#') {
        if (!last) return fail(`"#" (array length) must end the value location ${shown(location)}`);
        return { ok: true, value: current.length };
      }
      if (!/^\d{1,9}$/.test(segment)) return fail(`no value at ${location}`);
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, segment)) return fail(`no value at ${location}`);
      current = (current as Record<string, unknown>)[segment];
    } else return fail(`no value at ${location}`);
  }
  return numberAt(current, location);
}

function parseError(format: string, error: unknown): Extracted {
  const message = error instanceof Error ? error.message : String(error);
  return fail(`not ${format}: ${message.split('\n')[0]?.slice(0, 160) ?? ''}`);
}

function fromJson(body: string, location: string): Extracted {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (error) {
    return parseError('JSON', error);
  }
  return walkPath(doc, location);
}

function fromYaml(body: string, location: string): Extracted {
  let doc: unknown;
  try {
    // Aliases are bounded (a "billion laughs" document is refused, not expanded).
    doc = parseYaml(body, { maxAliasCount: 100, prettyErrors: false });
  } catch (error) {
    return parseError('YAML', error);
  }
  return walkPath(doc, location);
}

/**
 * XML as element paths from the root element (`metrics.queue.depth` in
 * `<metrics><queue><depth>5</depth></queue></metrics>`); repeated elements are arrays. Attributes
 * and entities are ignored: a number needs neither, and entity expansion is a way to blow up memory.
 */
const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 100,
});

function fromXml(body: string, location: string): Extracted {
  let doc: unknown;
  try {
    doc = xml.parse(body, true);
  } catch (error) {
    return parseError('XML', error);
  }
  return walkPath(doc, location);
}

/** A Prometheus series selector: a metric name and labels that must all match. */
interface Selector {
  name: string;
  labels: Array<[string, string]>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Reads a label set `{a="x",b="y"}` starting at `text[0] === '{'`: the labels and what follows the
 * closing brace, or undefined when malformed. Values take Prometheus' escapes (`\\`, `\"`, `\n`).
 */
function readLabels(text: string): { labels: Array<[string, string]>; rest: string } | undefined {
  const labels: Array<[string, string]> = [];
  let i = 1;
  const skipBlanks = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipBlanks();
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = LABEL_NAME.exec(text.slice(i, i + 256))?.[0];
    if (!name) return undefined;
    i += name.length;
    skipBlanks();
    if (text[i] !== '=') return undefined;
    i++;
    skipBlanks();
    if (text[i] !== '"') return undefined;
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) return undefined;
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === undefined) return undefined;
        value += next === 'n' ? '\n' : next;
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    i++;
    labels.push([name, value]);
    skipBlanks();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') return undefined;
  }
}

/** `name` or `name{label="v",…}`, or undefined when it is neither. */
export function parseSelector(location: string): Selector | undefined {
  const text = location.trim();
  const name = METRIC_NAME.exec(text)?.[0];
  if (!name) return undefined;
  const after = text.slice(name.length);
  if (after === '') return { name, labels: [] };
  if (!after.startsWith('{')) return undefined;
  const read = readLabels(after);
  if (!read || read.rest.trim() !== '') return undefined;
  return { name, labels: read.labels };
}

/** A sample value as the exposition format writes it: a float, `NaN`, `+Inf`, `-Inf`. */
function sampleValue(text: string): number | undefined {
  if (NUMBER.test(text)) return Number(text);
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/**
 * The value of the first series of the text exposition format that matches the selector: its name,
 * and every label the selector names with the same value (the series may have more labels). The
 * first, not a sum: most custom metrics are gauges, and adding up gauges of different series (per
 * queue, per worker) gives a figure that is none of them — a selector names the one series meant.
 */
function fromPrometheus(body: string, location: string): Extracted {
  const selector = parseSelector(location);
  if (!selector) return fail(`invalid series selector ${shown(location)} (name or name{label="value"})`);
  let lineNo = 0;
  for (const rawLine of body.split('\n')) {
    lineNo++;
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = METRIC_NAME.exec(line)?.[0];
    if (name !== selector.name) continue;
    let rest = line.slice(name.length);
    let labels: Array<[string, string]> = [];
    if (rest.startsWith('{')) {
      const read = readLabels(rest);
      if (!read) return fail(`line ${lineNo}: malformed labels of ${name}`);
      labels = read.labels;
      rest = read.rest;
    }
    if (!selector.labels.every(([k, v]) => labels.some(([k2, v2]) => k2 === k && v2 === v))) continue;
    const valueText = rest.trim().split(/[ \t]+/)[0] ?? '';
    const value = sampleValue(valueText);
    if (value === undefined)
      return fail(`line ${lineNo}: the value of ${location} is not a number: ${shown(valueText)}`);
    if (!Number.isFinite(value))
      return fail(`the value of ${location} is ${String(value)}, not a finite number`);
    return { ok: true, value };
  }
  return fail(`no series ${location}`);
}

/**
 * The number a custom metric's answer holds at `location` (KEDA's metrics-api `valueLocation`):
 * JSON — a GJSON-like dotted path (`a.b.0.c`, `a.#` for an array's length); YAML and XML — a dotted
 * path; PROMETHEUS — a series selector. Never throws: any hostile or broken body is an error message.
 */
export function extractValue(format: MetricFormat, body: string, location: string): Extracted {
  if (body.length > REPLICA_SCRAPE_MAX_BYTES)
    return fail(`answer over ${REPLICA_SCRAPE_MAX_BYTES / 1024} KiB`);
  try {
    switch (format) {
      case 'JSON':
        return fromJson(body, location);
      case 'YAML':
        return fromYaml(body, location);
      case 'XML':
        return fromXml(body, location);
      case 'PROMETHEUS':
        return fromPrometheus(body, location);
    }
  } catch (error) {
    // A parser's own failure (a stack overflow on a deeply nested document): garbage, not a crash.
    return parseError(format, error);
  }
}
