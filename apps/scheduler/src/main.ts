import 'reflect-metadata';

import { startScheduler } from './bootstrap.js';
import { loadSchedulerConfig } from './config.js';

await startScheduler(loadSchedulerConfig());
