-- sql parameters: ["view_item","purchase","1n","1714608000000000n","1717977600000000n","1717369200000000n","3600000000n","1717372800000000n"]
WITH c0_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_name = $1 AS c0_h0, event_name = $2 AS c0_h1_0 FROM events WHERE property_id = $3 AND event_timestamp >= $4 AND event_timestamp <= $5 AND source <> 'audience_trigger' AND event_timestamp > $6),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM c0_ev),
c0_s1 AS (SELECT *, CASE WHEN (m1 IS NOT NULL AND t - m1 <= $7) THEN m1 END AS b1 FROM (SELECT *, y1_0 AS m1 FROM (SELECT *, max(CASE WHEN c0_h1_0 THEN x1 END) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS y1_0 FROM (SELECT *, max(CASE WHEN b0 IS NOT NULL THEN t END) OVER (PARTITION BY u, s, CASE WHEN s IS NULL THEN q END ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS x1 FROM c0_s0))))
SELECT u FROM (SELECT DISTINCT u FROM c0_s1 WHERE b1 IS NOT NULL AND t > $8) AS c0
ORDER BY u
