// The demo's audiences, as Admin API (v1alpha) Audience JSON. Each is valid per
// src/audience/validate.ts (parseAudience); see docs/audiences.md for the semantics.

type Json = Record<string, unknown>;

const ACROSS = 'AUDIENCE_FILTER_SCOPE_ACROSS_ALL_SESSIONS';
const SAME_SESSION = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_SESSION';
const SAME_EVENT = 'AUDIENCE_FILTER_SCOPE_WITHIN_SAME_EVENT';

/** andGroup of orGroups, each with the given leaves. */
function and(...orGroups: Json[][]): Json {
  return {
    andGroup: { filterExpressions: orGroups.map((leaves) => ({ orGroup: { filterExpressions: leaves } })) },
  };
}

const event = (eventName: string, extra: Json = {}): Json => ({ eventFilter: { eventName, ...extra } });

export const DEMO_AUDIENCES: Json[] = [
  {
    displayName: 'Cart abandoners',
    description: 'Added to cart and never purchased (purchase excludes permanently)',
    membershipDurationDays: 30,
    exclusionDurationMode: 'EXCLUDE_PERMANENTLY',
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: { scope: ACROSS, filterExpression: and([event('add_to_cart')]) },
      },
      { clauseType: 'EXCLUDE', simpleFilter: { scope: ACROSS, filterExpression: and([event('purchase')]) } },
    ],
  },
  {
    displayName: 'High-value purchasers',
    description: 'Net purchase revenue (purchases minus refunds) above 200',
    membershipDurationDays: 90,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: ACROSS,
          filterExpression: and([
            {
              dimensionOrMetricFilter: {
                fieldName: 'purchaseRevenue',
                numericFilter: { operation: 'GREATER_THAN', value: { doubleValue: 200 } },
              },
            },
          ]),
        },
      },
    ],
  },
  {
    displayName: 'Returning visitors',
    description: 'More than 2 sessions in any 7-day period',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: ACROSS,
          filterExpression: and([
            {
              dimensionOrMetricFilter: {
                fieldName: 'sessions',
                inAnyNDayPeriod: 7,
                numericFilter: { operation: 'GREATER_THAN', value: { int64Value: '2' } },
              },
            },
          ]),
        },
      },
    ],
  },
  {
    displayName: 'Searchers who viewed an item',
    description: 'Searched and viewed a product within the same session',
    membershipDurationDays: 14,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: { scope: SAME_SESSION, filterExpression: and([event('search')], [event('view_item')]) },
      },
    ],
  },
  {
    displayName: 'Viewed then purchased within 1 day',
    description: 'view_item followed by a purchase at most 24 hours later',
    membershipDurationDays: 60,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        sequenceFilter: {
          scope: ACROSS,
          sequenceMaximumDuration: '86400s',
          sequenceSteps: [
            { scope: SAME_EVENT, filterExpression: and([event('view_item')]) },
            { scope: SAME_EVENT, filterExpression: and([event('purchase')]) },
          ],
        },
      },
    ],
  },
  {
    displayName: 'Jacket shoppers on mobile',
    description: 'Viewed an item of the Jackets category; latest device is a phone',
    membershipDurationDays: 30,
    filterClauses: [
      {
        clauseType: 'INCLUDE',
        simpleFilter: {
          scope: ACROSS,
          filterExpression: and(
            [
              event('view_item', {
                eventParameterFilterExpression: {
                  andGroup: {
                    filterExpressions: [
                      {
                        dimensionOrMetricFilter: {
                          fieldName: 'itemCategory',
                          stringFilter: { matchType: 'EXACT', value: 'Jackets' },
                        },
                      },
                    ],
                  },
                },
              }),
            ],
            [
              {
                dimensionOrMetricFilter: {
                  fieldName: 'deviceCategory',
                  stringFilter: { matchType: 'EXACT', value: 'mobile' },
                },
              },
            ],
          ),
        },
      },
    ],
  },
];
