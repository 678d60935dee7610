-- sql parameters: ["US","1n","1714608000000000n","1717977600000000n","1715385600000000n"]
WITH latest AS (SELECT user_pseudo_id AS u, arg_max(COALESCE((geo_country_id IN ($1)), FALSE), ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq)) AS a FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_timestamp > $5 GROUP BY u)
SELECT u FROM latest
WHERE a
ORDER BY u
