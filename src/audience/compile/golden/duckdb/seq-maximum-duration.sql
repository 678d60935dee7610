-- sql parameters: ["view_item","add_to_cart","purchase","1n","1714608000000000n","1717977600000000n","1717286400000000n","view_item","add_to_cart","purchase","86400000000n","86400000000n","1717372800000000n"]
WITH c0_ev AS (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_name = $1 AS c0_h0, event_name = $2 AS c0_h1, event_name = $3 AS c0_h2 FROM events WHERE property_id = $4 AND event_timestamp >= $5 AND event_timestamp <= $6 AND source <> 'audience_trigger' AND (event_timestamp > $7 AND (event_name = $8 OR event_name = $9 OR event_name = $10))),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM c0_ev),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND (m1 IS NOT NULL AND t - m1 <= $11) THEN m1 END AS b1 FROM (SELECT *, max(b0) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m1 FROM c0_s0)),
c0_s2 AS (SELECT *, CASE WHEN c0_h2 AND (m2 IS NOT NULL AND t - m2 <= $12) THEN m2 END AS b2 FROM (SELECT *, max(b1) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m2 FROM c0_s1))
SELECT u FROM (SELECT DISTINCT u FROM c0_s2 WHERE b2 IS NOT NULL AND t > $13) AS c0
ORDER BY u
