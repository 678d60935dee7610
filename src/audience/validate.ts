// Parsing and validation of the GA4 Admin API v1alpha `Audience` resource (docs/audiences.md
// §2), and its proto3 JSON rendering. Every decision that Google leaves open is marked "audex
// decision" here and listed in docs/audiences.md.
//
// Input is proto3 JSON as the official clients send it: lowerCamel names (the original snake_case
// names are accepted too, as the proto3 JSON mapping requires), enums as names or numbers, int64 as
// string or number, Duration as "1.5s" or {seconds, nanos}. `null` means "not set" (proto3 JSON).
// Scalars have no presence in this proto, so "" / 0 / false / enum 0 are the same as absent.
//
// Validation collects every violation it can find, then throws one INVALID_ARGUMENT whose
// BadRequest lists them with snake_case field paths (`filter_clauses[0].simple_filter.scope`).
//
// The code lives in src/audience/validate/, one file per concern; this module is its public face.

export { LIMITS } from './validate/limits.ts';
export { toSnake, toCamel } from './validate/proto-json.ts';
export { RESERVED_EVENT_NAMES, re2Error, checkPropertyLimits } from './validate/rules.ts';
export { parseAudience, compareNumeric } from './validate/parse.ts';
export { parseAudienceUpdate } from './validate/update.ts';
export { formatDuration, audienceToJson, type AudienceMeta } from './validate/render.ts';
export { BUILTIN_AUDIENCES, type BuiltinAudience } from './validate/builtins.ts';
