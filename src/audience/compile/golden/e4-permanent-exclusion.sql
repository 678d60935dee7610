-- sql parameters: ["add_to_cart","purchase","1n","1714608000000000n","1717977600000000n","add_to_cart","purchase","1715385600000000n"]
WITH ev AS (SELECT * FROM (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_timestamp AS pos, event_name = $1 AS c0_g0_0, event_name = $2 AS c1_g0_0 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger' AND (event_name = $6 OR event_name = $7)) WHERE (c0_g0_0 OR c1_g0_0)),
pu AS (SELECT u, min(pos) FILTER (WHERE c0_g0_0) AS c0_g0_0_f, max(pos) FILTER (WHERE c0_g0_0) AS c0_g0_0_l, min(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_f, max(pos) FILTER (WHERE c1_g0_0) AS c1_g0_0_l FROM ev GROUP BY u),
cl AS (SELECT u, c0_g0_0_f AS c0_f, greatest(c0_f, c0_g0_0_l) AS c0_l, c1_g0_0_f AS c1_f, greatest(c1_f, c1_g0_0_l) AS c1_l FROM pu)
SELECT u FROM cl
WHERE c1_f IS NULL AND c0_f IS NOT NULL AND c0_l > $8
ORDER BY u
