import { readFileSync } from "node:fs";
import { SETTINGS } from "./settings.ts";

/** Raw values by setting name (environment or file). */
export type Source = Record<string, string | undefined>;

/** The JSON file of SWITCHBOARD_CONFIG, split into setting values and the sections with their own schemas. */
export interface FileValues {
  values: Source;
  namespaces: unknown;
  /** `"extends": "default"`: the file's namespaces are merged over the defaults, one namespace at a time. */
  extendsDefault: boolean;
  socketio?: unknown;
  jobs?: unknown;
  webhooks?: unknown;
}

/** No file (or an unusable one): nothing from it. */
export function noFile(): FileValues {
  return { values: {}, namespaces: undefined, extendsDefault: false };
}

/** Reads the config file; what is wrong with it goes into `problems` (naming the key), and an unreadable file counts as empty. */
export function readConfigFile(path: string, problems: string[]): FileValues {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ? `cannot read ${path} (${(err as NodeJS.ErrnoException).code})` : `${path} is not valid JSON (${(err as Error).message})`;
    problems.push(`SWITCHBOARD_CONFIG: ${why}`);
    return noFile();
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("SWITCHBOARD_CONFIG: the file must hold a JSON object");
    return noFile();
  }
  const values: Source = {};
  let namespaces: unknown;
  let extendsDefault = false;
  let socketio: unknown;
  let jobs: unknown;
  let webhooks: unknown;
  for (const [k, val] of Object.entries(raw)) {
    if (k === "namespaces") namespaces = val;
    else if (k === "webhooks") webhooks = val;
    else if (k === "socketio") socketio = val;
    else if (k === "jobs") jobs = val;
    else if (k === "extends") {
      if (val === "default") extendsDefault = true;
      else problems.push(`extends: must be "default" (keep the default namespaces and override them by name) or left out (the file's namespaces replace the defaults); got ${JSON.stringify(val)}`);
    }
    else if (!(k in SETTINGS)) problems.push(`${k}: unknown key in ${path}`);
    else if (val === null) continue;
    else values[k] = Array.isArray(val) ? val.join(",") : String(val);
  }
  return { values, namespaces, extendsDefault, socketio, jobs, webhooks };
}
