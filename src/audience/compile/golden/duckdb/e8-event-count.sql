-- sql parameters: ["purchase","1n","1714608000000000n","1717977600000000n","purchase",3,"1710201600000000n"]
SELECT u FROM (SELECT u FROM (SELECT user_pseudo_id AS u, event_timestamp AS t, event_name = $1 AS c0_g0_0 FROM events WHERE property_id = $2 AND event_timestamp >= $3 AND event_timestamp <= $4 AND source <> 'audience_trigger' AND event_name = $5) GROUP BY u HAVING (count(*) >= $6 AND max(t) > $7)) AS c0
ORDER BY u
