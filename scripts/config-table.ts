/** Prints the README configuration table from src/config/settings.ts. */
import { SETTINGS } from "../src/config/settings.ts";

let out = "| variable | default | meaning |\n|---|---|---|\n";
for (const [key, spec] of Object.entries(SETTINGS)) {
  out += `| \`${key}\` | ${spec.default === undefined ? "—" : "`" + spec.default + "`"} | ${spec.doc.replace(/\|/g, "\\|")} |\n`;
}
process.stdout.write(out);
