"""Camera ingest: RTSP in, encrypted segments out, never decoded (design/storage.md).

- ``daemon``: ``RecorderDaemon`` (entry point ``appliance.daemons: recorder``): reconcile,
  then one ``worker.CameraWorker`` thread per enabled camera and one ``segments.SegmentIndexer``.
- ``worker``: one camera's thread: connect, reconnect with backoff, gaps, status.
- ``session``: one connection's run: packets into segments, cuts, wall clock, live samples;
  ``timeline``: time stamps and wall clock (pure rules).
- ``source``: the ``PacketSource`` protocol a session reads; its implementations ``rtsp``
  (the native RTSP client: ``sdp``, ``auth``, ``client``, ``depacketizer``) and
  ``ffmpeg_source`` (FFmpeg through PyAV).
- ``segments``: temp file, durability order, indexing (with the ledger entry), reconcile.
- ``status``: per-camera state for the API; ``fanout``: the live-view hook.
- ``vaultkey``: the vault *public* key (the recorder never loads a private key, invariant 2).
- ``sim``: simulated cameras for tests and the demo.
"""
