// What loadConfig (components/config.ts) makes of a stack's configuration as the engine hands it over (engineConfig,
// test/program.ts): the setup that the tests of config keys and their exact messages share.
import { ConfigError, loadConfig, type StackConfig } from "../components/config";
import { engineConfig } from "./program";

/** Reads the engine's values for this stack and overrides, as loadConfig takes a reader. */
export function configReader(stack: string, overrides: Record<string, unknown> = {}): (key: string) => string | undefined {
  const values = engineConfig(stack, overrides);
  return (key) => values[key];
}

/** The configuration the program loads for this stack and overrides, with no environment variables. */
export function loadedConfig(stack: string, overrides: Record<string, unknown> = {}): StackConfig {
  return loadConfig(configReader(stack, overrides), {});
}

/**
 * The problems loadConfig reports, all at once, for these overrides on the dev stack with the environment `env` only;
 * none when it accepts the configuration.
 */
export function configProblems(overrides: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(configReader("dev", overrides), env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
