import { readFileSync } from "node:fs";

/** The running release, from the package.json shipped beside src/ (also in the image). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
})();
