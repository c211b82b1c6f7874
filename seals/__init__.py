"""Electronic seals (GB/T 38540-2020): seal making, document sealing and verification."""
