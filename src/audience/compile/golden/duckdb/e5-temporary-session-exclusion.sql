-- sql parameters: ["purchase","1n","1714608000000000n","1717977600000000n","1n","1714608000000000n","1717977600000000n","1715385600000000n","1n","1714608000000000n","1717977600000000n","add_to_cart"]
WITH c1 AS (SELECT u, ks, kq FROM (SELECT user_pseudo_id AS u, COALESCE(ga_session_id, 0) AS ks, CASE WHEN ga_session_id IS NULL THEN ingest_seq ELSE 0 END AS kq, event_name = $1 AS g0_0 FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_name = $1) GROUP BY u, ks, kq HAVING bool_or(g0_0)),
latest AS (SELECT user_pseudo_id AS u, COALESCE(arg_max_null(ga_session_id, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq)), 0) AS ks, arg_max(CASE WHEN ga_session_id IS NULL THEN ingest_seq ELSE 0 END, ((CAST(event_timestamp AS HUGEINT) << 64) | ingest_seq)) AS kq FROM events WHERE property_id = $5 AND event_timestamp >= $6 AND event_timestamp <= $7 AND source <> 'audience_trigger' AND event_timestamp > $8 GROUP BY u)
SELECT u FROM latest
JOIN (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = $9 AND event_timestamp >= $10 AND event_timestamp <= $11 AND source <> 'audience_trigger' AND (event_name = $12 AND event_timestamp > $8)) AS c0 USING (u)
ANTI JOIN (SELECT * FROM c1) AS x1 USING (u, ks, kq)
ORDER BY u
