"""WaveNet for asmr-zoo: baseline and global conditioning, cached fast generation (see ``model``)."""
