import { onNode } from "../helpers/on-node.ts";
import { STORE_QUEUE_SUITES, storeQueueSuite } from "./store-queue-suite.ts";

// The job queue on both record stores on Bun (bun:sqlite, Bun.SQL)…
storeQueueSuite();
// …and the same suite on Node (tests/jobs/store-queue.node.ts: better-sqlite3, node-postgres), checked here case by case.
onNode(STORE_QUEUE_SUITES, "tests/jobs/store-queue.node.ts");
