"""Historical candle providers (OANDA v20, CSV files) and their resampling into 2-hour blocks.

Every provider yields *candle frames* in bounded chunks; ``resample`` turns any stream of
them into block frames, one row per New-York-anchored 2-hour block. See ``resample`` for
both frame contracts.
"""
