/**
 * Call records on both stores on Node: bundled and run with node by
 * tests/helpers/on-node.ts, checked case by case by call-store.test.ts.
 */
import { setDefaultTimeout } from "../helpers/suite.ts";
import { callStoreSuite } from "./call-store-suite.ts";

setDefaultTimeout(60_000);
callStoreSuite();
