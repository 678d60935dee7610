-- sql parameters: ["1n","1714608000000000n","1717977600000000n","page_view","1715385600000000n","1715385600000000n","1717977600000000n",6,3]
SELECT u FROM (SELECT user_pseudo_id AS u, event_timestamp AS t, (event_timestamp // 86400000000) AS d FROM events WHERE property_id = $1 AND event_timestamp >= $2 AND event_timestamp <= $3 AND source <> 'audience_trigger' AND event_name = $4 AND event_timestamp >= $5) GROUP BY u
HAVING max(t) > $6 AND sum(CASE WHEN d >= (CAST($7 AS BIGINT) // 86400000000) - $8 THEN 1 ELSE 0 END) > $9
ORDER BY u
