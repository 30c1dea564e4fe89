/**
 * The store contract on SqliteStore on Node (better-sqlite3): bundled and
 * run with node by tests/helpers/on-node.ts, checked case by case by
 * sqlite.test.ts.
 */
import { sqliteContract } from "./sqlite-contract.ts";

sqliteContract();
