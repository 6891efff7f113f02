"""Live workspace metrics: ``workspaceMetrics`` sends a snapshot of a workspace's figures
over a sliding window, then an update at most once per second while they change.

:mod:`~.snapshot` computes the figures with one SQL statement; :mod:`~.ticker` runs one
ticker per workspace and window per process for all its local subscribers; over WebSocket
:mod:`~.protocols` routes the subscribes to :mod:`~.groups`, which execute and encode each
update once per group of identical subscribes (the lifecycle is ``realtime.fanout``'s,
:mod:`~.operation` seats a subscriber in its group);
:mod:`~.subscriptions` is the field itself (HTTP subscriptions read the ticker through it).
"""
