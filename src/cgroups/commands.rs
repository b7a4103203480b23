//! Library side of `pause`, `resume`, `update`, `events`, `ps` (filled in below).
