// Types of platform.mjs for the TypeScript tests that start a platform of their own.
import type { ChildProcess } from 'node:child_process';

export const ROOT: string;
export const SERVICES: readonly string[];
export type PortName =
  | 'api'
  | 'ingress'
  | 'ingressH2c'
  | 'scheduler'
  | 'agent'
  | 'billing'
  | 'logs'
  | 'ingressAdmin'
  | 'autoscaler';
export const DEFAULT_PORTS: Record<PortName, number>;

export interface AgentOptions {
  id: string;
  port?: number;
  address?: string;
  cpus?: number;
  memory?: number;
  labels?: string;
  simulatedGpus?: string;
}

export interface PlatformOptions {
  natsUrl: string;
  databaseUrl: string;
  namespace: string;
  adminToken: string;
  ports: Record<PortName, number>;
  appsDomain?: string;
  logDir?: string;
  logLevel?: string;
  readyTimeoutMs?: number;
  agents?: AgentOptions[];
  timings?: {
    agent?: Record<string, number>;
    scheduler?: Record<string, number>;
    autoscaler?: Record<string, number>;
    gateway?: Record<string, number>;
  };
  onStart?: (s: Service) => void;
}

export interface Service {
  name: string;
  label: string;
  port: number;
  url: string;
  proc: ChildProcess;
  logFile: string;
}

export interface Platform {
  services: Service[];
  stop(): Promise<void>;
  restart(label: string): Promise<Service>;
  logDir: string;
}

export function freePort(): Promise<number>;
export function freePorts(): Promise<Record<PortName, number>>;
export function startPlatform(opts: PlatformOptions): Promise<Platform>;
export function tail(file: string, lines?: number): string;
/** One service as `serviceEnvs` describes it: what `startService` starts. */
export interface ServiceEnv {
  name: string;
  label?: string;
  port: number;
  env: Record<string, string | number>;
}
export function serviceEnvs(opts: PlatformOptions): ServiceEnv[];
export function waitReady(s: Service, timeoutMs?: number): Promise<void>;
export function startService(svc: ServiceEnv, logDir: string): Service;
export function stopService(s: Service): Promise<void>;
export function supervise(
  svc: ServiceEnv,
  s: Service,
  logDir: string,
  hooks: {
    stopped(): boolean;
    isCurrent(s: Service): boolean;
    replace(s: Service, again: Service): void;
    log?: (line: string) => void;
  },
  delayMs?: number,
): Service;
