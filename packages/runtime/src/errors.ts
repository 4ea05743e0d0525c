/**
 * Errors raised on purpose carry a stable code (`INGEST_*`, `PROCESSOR_*`): logs, alerts, clients and tests match on
 * the code; the wording is for people. Each service keeps its own table of codes (apps/*\/src/errors.ts); the
 * classes are shared so both services build and report errors alike.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CodedError";
    this.code = code;
  }
}

/**
 * Several configuration problems reported at once, so an operator fixes them in one round trip. Each problem
 * names the variable, what was expected and what was found (env.ts writes them).
 */
export class ConfigError<Code extends string = string> extends CodedError<Code> {
  readonly problems: string[];

  constructor(code: Code, problems: string[]) {
    super(code, `invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}
