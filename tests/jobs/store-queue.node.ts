/**
 * The job queue suite on Node (better-sqlite3, node-postgres): bundled and
 * run with node by tests/helpers/on-node.ts, checked case by case by
 * store-queue.test.ts.
 */
import { storeQueueSuite } from "./store-queue-suite.ts";

storeQueueSuite();
