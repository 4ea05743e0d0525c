// Placeholder until the processor service lands: proves the workspace builds.
export const service = "processor";
