// ---------------------------------------------------------------------------------------------
// Limits (audex decisions unless noted; see docs/audiences.md "Validation rules and limits").

export const LIMITS = {
  /** [SPEC] membership_duration_days ≤ 540; [PROPOSAL] ≥ 1. */
  maxMembershipDurationDays: 540,
  /** [SPEC] in_any_n_day_period ≤ 60; [PROPOSAL] ≥ 1. */
  maxInAnyNDayPeriod: 60,
  /** UTF-16 code units, as Property.display_name. */
  maxDisplayNameLength: 100,
  maxDescriptionLength: 1000,
  maxFilterClauses: 50,
  maxExpressionsPerGroup: 100,
  maxSequenceSteps: 10,
  maxInListValues: 1000,
  /** Any filter value, regexp or list entry. */
  maxValueLength: 1000,
  maxFieldNameLength: 100,
  /** [DOC] event names: ≤ 40 chars, letter first, letters/digits/underscore. */
  maxEventNameLength: 40,
  /** Expression nodes over the whole audience (every and/or/not/leaf counts one). */
  maxExpressionNodes: 2000,
  /** Nesting of filter expressions; valid CNF never exceeds 6. */
  maxExpressionDepth: 10,
  /** Violations reported in one error; validation stops collecting after this many. */
  maxViolations: 100,
  /** [DOC] non-archived audiences per property (standard properties). */
  maxAudiencesPerProperty: 100,
  /** [DOC] distinct audience-trigger event names per property. */
  maxTriggerEventNames: 20,
  /** google.protobuf.Duration's own range. */
  maxDurationSeconds: 315_576_000_000n,
} as const;
