/**
 * emperor/vassal-main: the entry point the emperor runs for each vassal. It is the ordinary usher CLI
 * (`usher --ini FILE`, its own master) plus one thing: it watches the emperor's pipe and stops
 * gracefully when the emperor goes away, so a killed emperor leaves nothing behind.
 * Must not: change how the master runs (it imports the CLI as it is).
 */
import { createLogger } from '../log.js';
import { watchEmperor } from './parent-watch.js';

watchEmperor(createLogger('master'));
await import('../cli.js');
