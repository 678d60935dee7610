-- sql parameters: ["1n","1714608000000000n","1717977600000000n",0,"1671321600000000n"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND (COALESCE((1 > 0), 0) AND event_timestamp > 1671321600000000)) AS c0
ORDER BY u
