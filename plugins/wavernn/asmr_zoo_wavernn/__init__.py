"""WaveRNN for asmr-zoo: baseline, gate-bias (eq. 2) and concat (eq. 3) conditioning, fused generation."""
