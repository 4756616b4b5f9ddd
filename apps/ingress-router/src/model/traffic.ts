import type { IngressTraffic } from '@gantry/contracts';

export type AppTraffic = IngressTraffic['apps'][number];

/**
 * Most apps in one `ingress.traffic.v1` message: an entry is at most ~150 bytes of JSON (ids are at
 * most 100 characters), so a message stays well under NATS's default 1 MB payload limit.
 */
export const MAX_APPS_PER_REPORT = 1_000;

/**
 * The apps of one traffic report: every app that had requests since the last report or has requests
 * held now, by app id, cut into messages of at most `perMessage` apps. Nothing to tell: no message.
 */
export function trafficReport(
  requests: ReadonlyMap<string, number>,
  held: ReadonlyMap<string, number>,
  perMessage = MAX_APPS_PER_REPORT,
): AppTraffic[][] {
  const apps: AppTraffic[] = [];
  for (const appId of new Set([...requests.keys(), ...held.keys()])) {
    const entry = { appId, requests: requests.get(appId) ?? 0, held: held.get(appId) ?? 0 };
    if (entry.requests > 0 || entry.held > 0) apps.push(entry);
  }
  apps.sort((a, b) => (a.appId < b.appId ? -1 : a.appId > b.appId ? 1 : 0));
  const size = Math.max(1, perMessage);
  const messages: AppTraffic[][] = [];
  for (let i = 0; i < apps.length; i += size) messages.push(apps.slice(i, i + size));
  return messages;
}
