import { onNode } from "../helpers/on-node.ts";
import { POSTGRES_SUITES, postgresSuite } from "./postgres-suite.ts";

// The store contract and PostgreSQL's own cases on Bun (Bun.SQL)…
postgresSuite();
// …and the same suite on Node (tests/store/postgres.node.ts: node-postgres), checked here case by case.
onNode(POSTGRES_SUITES, "tests/store/postgres.node.ts");
