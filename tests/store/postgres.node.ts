/**
 * The PostgreSQL store's suite on Node (node-postgres behind the client seam):
 * bundled and run with node by tests/helpers/on-node.ts, checked case by
 * case by postgres.test.ts.
 */
import { postgresSuite } from "./postgres-suite.ts";

postgresSuite();
