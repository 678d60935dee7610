-- sql parameters: ["1n","1714608000000000n","1717977600000000n","purchase","1715385600000000n"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND (event_name = 'purchase' AND event_timestamp > 1715385600000000)) AS c0
ORDER BY u
