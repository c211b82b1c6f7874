"""The sharing service of DB23/T 2836-2021: tokens, certificate data and files, verification."""
