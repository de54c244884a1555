//! Black-box tests of the whole service live in api/ (one test binary).
