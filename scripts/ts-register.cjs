// Lets plain `node` load the program's TypeScript (index.ts, components/, test/ helpers) without a build step:
// each .ts file is transpiled on load with the project's own TypeScript (types are checked by `tsc --noEmit`).
// Used by `npm run verify:upstream`, which evaluates the program under the mocks outside jest.
const ts = require("typescript");
const { readFileSync } = require("node:fs");

require.extensions[".ts"] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, "utf8"), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false },
  });
  module._compile(outputText, filename);
};
