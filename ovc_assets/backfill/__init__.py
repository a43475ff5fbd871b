"""The history backfill engine, free of Dagster: provider candles (OANDA v20, CSV files) ->
New-York-anchored 2H blocks -> checkpointed chunks merged into `ovc.ovc_blocks_v01`.

`sources` opens a provider as a stream of candle frames, `checkpoints` records how far each
symbol's backfill has committed, `engine` runs a window symbol by symbol. `defs/blocks` wires
it to the `ovc_blocks` asset.
"""
