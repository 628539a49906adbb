"""Data in: reading and checking files in the VCC layout, uploads, value spaces, the simulator, the
:class:`~vcc_core.data.dataset.Dataset`, splits, summaries, normalisation and pseudobulk."""
