"""ASCOM Alpaca drivers over ``alpyca``: devices, a local simulator server, the observatory.

``AlpacaObservatory`` runs a simulated night's actions on Alpaca devices
(registered as instrument ``"alpaca"`` in :data:`steer.instruments.INSTRUMENTS`).
Imported lazily: ``steer.instruments.alpaca.observatory``.
"""
