export { LIMITS } from "./limits.js";
export { parseRfc3339, parseRfc3339Bytes, rfc3339Problem, type EpochTime, type ParsedTime } from "./rfc3339.js";
export {
  ATTRIBUTE_NAME,
  AttributeChecker,
  CORE_ATTRIBUTES,
  decodeJsonEvent,
  decodeStringAttributes,
  exceedsKeyBytes,
  isJsonMediaType,
  jsonTypeOf,
  KEY_ATTRIBUTES,
  type CloudEvent,
  type DecodeOptions,
  type EventProblem,
  type ExtensionValue,
} from "./cloudevents.js";
export { attributeHeader, eventHeaders, KAFKA_HEADERS, keyOf, STRUCTURED_CONTENT_TYPE } from "./kafka-binding.js";
