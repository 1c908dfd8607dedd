"""Camera ingest: RTSP in, encrypted segments out, never decoded (design/storage.md).

- ``service``: ``RecorderDaemon`` (entry point ``appliance.daemons: recorder``): reconcile,
  then one ``worker.CameraWorker`` thread per enabled camera and one ``segments.SegmentIndexer``.
- ``worker``: RTSP sessions, segment cuts, runs and gaps; ``timeline``: time stamps and wall clock.
- ``segments``: temp file, durability order, indexing (with the ledger entry), reconcile.
- ``status``: per-camera state for the API; ``fanout``: the live-view hook.
- ``vaultkey``: the vault *public* key (the recorder never loads a private key, invariant 2).
- ``sim``: simulated cameras for tests and the demo.
"""
