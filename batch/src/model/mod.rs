//! linfa models trained on the lake (being built).
