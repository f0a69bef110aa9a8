"""The ``asmr-zoo`` command line."""
