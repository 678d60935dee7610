-- sql parameters: ["sign_up","purchase","$.\"value\".\"i\"","$.\"value\".\"d\"","$.\"value\".\"s\"","[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?",20,"1n","1714608000000000n","1717977600000000n","sign_up","purchase","604800000000n","1712793600000000n"]
WITH ev AS (SELECT * FROM (SELECT user_pseudo_id AS u, ga_session_id AS s, event_timestamp AS t, ingest_seq AS q, event_timestamp AS pos, event_name = $1 AS c0_h0, (event_name = $2 AND COALESCE((COALESCE(TRY_CAST(json_extract_string(event_params, $3) AS DOUBLE), TRY_CAST(json_extract_string(event_params, $4) AS DOUBLE), CASE WHEN regexp_full_match(json_extract_string(event_params, $5), $6) AND isfinite(TRY_CAST(json_extract_string(event_params, $5) AS DOUBLE)) THEN TRY_CAST(json_extract_string(event_params, $5) AS DOUBLE) END) > $7), FALSE)) AS c0_h1 FROM events WHERE property_id = $8 AND event_timestamp >= $9 AND event_timestamp <= $10 AND source <> 'audience_trigger' AND (event_name = $11 OR event_name = $12)) WHERE (c0_h0 OR c0_h1)),
c0_s0 AS (SELECT *, CASE WHEN c0_h0 THEN t END AS b0 FROM ev WHERE (c0_h0 OR c0_h1)),
c0_s1 AS (SELECT *, CASE WHEN c0_h1 AND (m1 IS NOT NULL AND t - m1 <= $13) THEN m1 END AS b1 FROM (SELECT *, max(b0) OVER (PARTITION BY u ORDER BY t, q ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS m1 FROM c0_s0)),
c0 AS (SELECT u, min(pos) AS f, max(pos) AS l FROM c0_s1 WHERE b1 IS NOT NULL GROUP BY u)
SELECT u FROM c0
WHERE c0.l > $14
ORDER BY u
