-- sql parameters: ["US","1n","1714608000000000n","1717977600000000n","1715385600000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, COALESCE((geo_country_id IN ($1)), FALSE) AS p0 FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger'),
e1 AS (SELECT ev.*, COALESCE(lag(p0) OVER (PARTITION BY u ORDER BY t, q), FALSE) AS w1 FROM ev)
SELECT u FROM (SELECT u, max(pos) FILTER (WHERE (p0 AND (p0 AND ((NOT w1) OR p0)))) AS lq, max(pos) FILTER (WHERE NOT p0) AS lbad, FALSE AS x FROM e1 GROUP BY u)
WHERE lq IS NOT NULL AND (lbad IS NULL OR lbad < lq) AND CAST(lq >> 64 AS BIGINT) > $5 AND NOT x
ORDER BY u
