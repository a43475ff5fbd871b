-- Blocks with both a live TradingView row and a provider candle, and how far apart their
-- prices are, relative to the provider close.
SELECT bid,
       greatest(abs(o - provider_o), abs(h - provider_h), abs(l - provider_l), abs(c - provider_c))
           / nullif(abs(provider_c), 0) AS divergence
FROM ovc.ovc_blocks_v01
WHERE block_type = '2H' AND block_start >= %(start)s AND block_start < %(end)s
  AND export_min IS NOT NULL AND provider_source IS NOT NULL
ORDER BY divergence DESC NULLS LAST, bid
