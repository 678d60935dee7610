import type { AudienceDefinition } from '../../domain/audience.ts';

// ---------------------------------------------------------------------------------------------
// Built-in audiences: every property has them; the API renders them without filterClauses.

export interface BuiltinAudience {
  /** Stable key; the catalog gives them audience ids. */
  key: 'all_users' | 'purchasers';
  definition: AudienceDefinition;
  /** Always true: GetAudience/ListAudiences omit filterClauses for these (pass as AudienceMeta.hideFilterClauses). */
  hideFilterClauses: true;
}

/**
 * audex decisions:
 * - All Users: any event, i.e. `eventCount > 0` WITHIN_SAME_EVENT (true on every event, so every
 *   event renews), membership 540 days (the maximum; GA does not publish its value).
 * - Purchasers: exactly spec example E1 (any `purchase` event, 30 days).
 */
export const BUILTIN_AUDIENCES: readonly BuiltinAudience[] = Object.freeze([
  {
    key: 'all_users',
    hideFilterClauses: true,
    definition: {
      displayName: 'All Users',
      description: 'All users',
      membershipDurationDays: 540,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  {
                    orGroup: {
                      filterExpressions: [
                        {
                          dimensionOrMetricFilter: {
                            fieldName: 'eventCount',
                            numericFilter: { operation: 'GREATER_THAN', value: { int64Value: 0n } },
                            atAnyPointInTime: false,
                          },
                        },
                      ],
                    },
                  },
                ],
              },
            },
          },
        },
      ],
    },
  },
  {
    key: 'purchasers',
    hideFilterClauses: true,
    definition: {
      displayName: 'Purchasers',
      description: 'Users who purchased',
      membershipDurationDays: 30,
      exclusionDurationMode: 'EXCLUDE_TEMPORARILY',
      filterClauses: [
        {
          clauseType: 'INCLUDE',
          simpleFilter: {
            scope: 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS',
            filterExpression: {
              andGroup: {
                filterExpressions: [
                  { orGroup: { filterExpressions: [{ eventFilter: { eventName: 'purchase' } }] } },
                ],
              },
            },
          },
        },
      ],
    },
  },
]);
