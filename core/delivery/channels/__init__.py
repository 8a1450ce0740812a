"""Where posts go: one module per social network behind the :class:`~core.delivery.channels.base.Channel`
protocol (``base``), listed in ``registry``. Callers ask the registry; none of them names a network.
"""
