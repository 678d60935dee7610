-- sql parameters: ["add_to_cart","begin_checkout","1n","1714608000000000n","1717977600000000n","add_to_cart","begin_checkout","1715385600000000n"]
WITH ev AS (SELECT * FROM (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_timestamp AS pos, event_name = $1 AS c0_g0_0, event_name = $2 AS c0_g1_0 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger' AND (event_name = $6 OR event_name = $7)) WHERE (c0_g0_0 OR c0_g1_0)),
c0 AS (SELECT u, min(f) AS f, max(l) AS l FROM (SELECT u, CASE WHEN (c0_g0_0_f IS NULL OR c0_g1_0_f IS NULL) THEN NULL ELSE greatest(c0_g0_0_f, c0_g1_0_f) END AS f, greatest(f, c0_g0_0_l, c0_g1_0_l) AS l FROM (SELECT u, min(pos) FILTER (WHERE c0_g0_0) AS c0_g0_0_f, max(pos) FILTER (WHERE c0_g0_0) AS c0_g0_0_l, min(pos) FILTER (WHERE c0_g1_0) AS c0_g1_0_f, max(pos) FILTER (WHERE c0_g1_0) AS c0_g1_0_l FROM ev GROUP BY u, s, CASE WHEN s IS NULL THEN q END) WHERE f IS NOT NULL) GROUP BY u)
SELECT u FROM c0
WHERE c0.l > $8
ORDER BY u
