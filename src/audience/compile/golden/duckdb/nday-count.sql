-- sql parameters: [6,"1n","1714608000000000n","1717977600000000n","page_view","1714694400000000n","1715385600000000n",3]
SELECT DISTINCT u FROM (SELECT u, t, sum(1) OVER (PARTITION BY u ORDER BY d RANGE BETWEEN $1 PRECEDING AND CURRENT ROW) - COALESCE(sum(1) OVER (PARTITION BY u, d ORDER BY t, q ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0) AS c FROM (SELECT user_pseudo_id AS u, event_timestamp AS t, ingest_seq AS q, (event_timestamp // 86400000000) AS d FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_name = $5 AND event_timestamp >= $6))
WHERE t > $7 AND c > $8
ORDER BY u
