"""National-algorithm primitives (SM3, SM4) and the at-rest encryption built on them."""
