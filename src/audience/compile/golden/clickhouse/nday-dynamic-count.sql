-- sql parameters: ["1n","1714608000000000n","1717977600000000n","page_view","1715385600000000n","1715385600000000n","1717977600000000n",6,3]
SELECT u FROM (SELECT user_pseudo_id AS u, event_timestamp AS t, intDiv(event_timestamp, 86400000000) AS d FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND event_name = 'page_view' AND event_timestamp >= 1715385600000000) GROUP BY u
HAVING max(t) > 1715385600000000 AND sum(CASE WHEN d >= intDiv(CAST(1717977600000000 AS BIGINT), 86400000000) - 6 THEN 1 ELSE 0 END) > 3
ORDER BY u
