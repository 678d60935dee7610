-- sql parameters: ["1n","1714608000000000n","1717977600000000n","add_to_cart","1715385600000000n","1n","1714608000000000n","1717977600000000n","purchase"]
SELECT u FROM (SELECT DISTINCT user_pseudo_id AS u FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND (event_name = 'add_to_cart' AND event_timestamp > 1715385600000000)) AS c0
/* audex_anti_join */ WHERE (u) GLOBAL NOT IN (SELECT u FROM (SELECT user_pseudo_id AS u FROM events WHERE property_id = 1 AND event_timestamp >= 1714608000000000 AND event_timestamp <= 1717977600000000 AND source <> 'audience_trigger' AND event_name = 'purchase') AS c1)
ORDER BY u
