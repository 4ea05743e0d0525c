export * from "./otlp.js";
