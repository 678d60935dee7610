-- sql parameters: ["purchase","1n","1714608000000000n","1717977600000000n","purchase",3,"1710201600000000n"]
WITH ev AS (SELECT * FROM (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_timestamp AS pos, event_name = $1 AS c0_g0_0 FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_name = $5) WHERE c0_g0_0),
pu AS (SELECT u, CASE WHEN count(*) FILTER (WHERE c0_g0_0) >= $6 THEN min(pos) FILTER (WHERE c0_g0_0) END AS c0_g0_0_f, CASE WHEN count(*) FILTER (WHERE c0_g0_0) >= $6 THEN max(pos) FILTER (WHERE c0_g0_0) END AS c0_g0_0_l FROM ev GROUP BY u),
cl AS (SELECT u, c0_g0_0_f AS c0_f, greatest(c0_f, c0_g0_0_l) AS c0_l FROM pu)
SELECT u FROM cl
WHERE c0_f IS NOT NULL AND c0_l > $7
ORDER BY u
