-- sql parameters: ["view_item","add_to_cart","1n","1714608000000000n","1717977600000000n","1717371000000000n","1800000000n","1717372800000000n"]
WITH c0_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_name = $1 AS c0_h0, event_name = $2 AS c0_h1 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger' AND event_timestamp > $6),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM c0_ev),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND m1 IS NOT NULL THEN m1 END AS b1 FROM (SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY u ORDER BY t, q) <= $7 THEN lag(b0) OVER (PARTITION BY u ORDER BY t, q) END AS m1 FROM c0_s0))
SELECT u FROM (SELECT DISTINCT u FROM c0_s1 WHERE b1 IS NOT NULL AND t > $8) AS c0
ORDER BY u
