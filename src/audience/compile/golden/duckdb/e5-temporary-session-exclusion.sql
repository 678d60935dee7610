-- sql parameters: ["add_to_cart","purchase","1n","1714608000000000n","1717977600000000n","1715385600000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, event_name = $1 AS p0, event_name = $2 AS p3 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger'),
e1 AS (SELECT ev.*, bool_or(p0) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w1, bool_or(p3) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w4 FROM ev),
e2 AS (SELECT *, COALESCE(lag(w1) OVER (PARTITION BY u ORDER BY t, q), FALSE) AS w2, bool_or(w4) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w5 FROM e1)
SELECT u FROM (SELECT u, max(pos) FILTER (WHERE (w1 AND (w1 AND ((NOT w2) OR p0)))) AS lq, max(pos) FILTER (WHERE NOT w1) AS lbad, arg_max(w5, pos) AS x FROM e2 GROUP BY u)
WHERE lq IS NOT NULL AND (lbad IS NULL OR lbad < lq) AND CAST(lq >> 64 AS BIGINT) > $6 AND NOT x
ORDER BY u
