-- sql parameters: ["1n","1714608000000000n","1717977600000000n",6,2,2,"1715385600000000n"]
WITH ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq) AS pos, (event_timestamp // 86400000000) AS p0, (CASE WHEN ga_session_id IS NULL THEN 'e' || CAST(ingest_seq AS VARCHAR) ELSE 's' || CAST(COALESCE(ga_session_id, 0) AS VARCHAR) END) AS p3 FROM events WHERE property_id = $1 AND event_timestamp >= $2 AND event_timestamp <= $3 AND source <> 'audience_trigger'),
e1 AS (SELECT ev.*, sum(1) OVER (PARTITION BY u ORDER BY p0 RANGE BETWEEN $4 PRECEDING AND CURRENT ROW) AS w1, sum(1) OVER (PARTITION BY u, p0 ORDER BY t, q ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS w2, count(1) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS w7 FROM ev),
e2 AS (SELECT *, length(list_distinct(list(p3) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN (w1 - COALESCE(w2, 0) - 1) PRECEDING AND CURRENT ROW))) AS w4 FROM e1),
e3 AS (SELECT *, bool_or(COALESCE((w4 > $5), FALSE)) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w5 FROM e2),
e4 AS (SELECT *, COALESCE(lag(w5) OVER (PARTITION BY u ORDER BY t, q), FALSE) AS w6 FROM e3)
SELECT u FROM (SELECT u, max(pos) FILTER (WHERE (w5 AND (w5 AND ((NOT w6) OR ((w7 = 0) AND COALESCE((w4 > $6), FALSE)))))) AS lq, max(pos) FILTER (WHERE (NOT w5)) AS lbad, FALSE AS x FROM e4 GROUP BY u)
WHERE lq IS NOT NULL AND (lbad IS NULL OR lbad < lq) AND CAST(lq >> 64 AS BIGINT) > $7 AND NOT x
ORDER BY u
