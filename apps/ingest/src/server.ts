// Placeholder until the ingest service lands: proves the workspace builds.
export const service = "ingest";
