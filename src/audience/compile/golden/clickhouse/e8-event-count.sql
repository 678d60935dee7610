-- sql parameters: ["purchase","1n","1714608000000000n","1717977600000000n","purchase",3,"1710201600000000n"]
SELECT u FROM (SELECT u FROM (SELECT user_pseudo_id AS u, event_timestamp AS t, event_name = 'purchase' AS c0_g0_0 FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND event_name = 'purchase') GROUP BY u HAVING (count(*) >= 3 AND max(t) > 1710201600000000)) AS c0
ORDER BY u
