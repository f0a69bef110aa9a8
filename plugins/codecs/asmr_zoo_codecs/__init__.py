"""Built-in codecs: ``mulaw8`` (mu-law, 256 classes) and ``pcm16`` (16-bit as coarse and fine bytes)."""
